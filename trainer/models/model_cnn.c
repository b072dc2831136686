/* model_cnn.c — a small convolutional network over NHWC images, its layer
 * stack given by a spec string (model.layers):
 *
 *   conv32-bn-relu-pool,conv64-bn-relu-pool,fc128-relu
 *
 * Items are separated by commas; each item is one unit (one ZeRO-3 gather,
 * one gradient bucket boundary) and starts with convN (3x3, stride 1,
 * padding 1, N output channels) or fcN (Linear to N features; the image is
 * flattened in NHWC order first), followed by any of bn (BatchNorm), relu and
 * pool (2x2 max, stride 2). A last unit, added here, is the Linear head to
 * the classes with softmax cross-entropy.
 *
 * Tensors of item i: l{i}.conv.w [N, 9·C] (columns (ky·3+kx)·C + c, the
 * im2col order) or l{i}.fc.w [N, in]; l{i}.conv.b / l{i}.fc.b [N] only when
 * the next layer is not bn (BatchNorm's shift makes a bias redundant);
 * l{i}.bn{j}.g, .b [C] trained, .mean, .var [C] buffers (running statistics);
 * head.w [classes, in], head.b [classes].
 *
 * BatchNorm normalizes with the statistics of the micro-batch when training
 * (so a step's arithmetic is the same at any W: micro-batches do not depend
 * on W) and with the running statistics when evaluating. The running
 * statistics advance once per optimizer step with the statistics of the whole
 * global batch (the per-micro-batch mean/var of every rank, combined in global
 * micro-batch order, through the engine's buffer hook: model.h), momentum 0.1
 * and the unbiased variance, as PyTorch's SyncBatchNorm over that batch. */
#include "model.h"
#include "ops.h"          /* the op table every kernel call goes through */
#include "zt_launcher.h"  /* ZT_EXIT_DATA, ZT_EXIT_INTERNAL */
#include "zt_log.h"       /* zt_error, zt_fatal */
#include <math.h>         /* sqrtf */
#include <stdio.h>        /* snprintf */
#include <stdlib.h>       /* calloc, free, strtol */
#include <string.h>       /* memcpy, strcmp, strtok_r */

#define CNN_MAX_OPS 64
#define BN_MOMENTUM 0.1

typedef enum { OP_CONV, OP_FC, OP_BN, OP_RELU, OP_POOL } cnn_opkind;

typedef struct {
    cnn_opkind kind;
    int unit;
    int H, W, C;            /* input per row (H = W = 1 once flat) */
    int Ho, Wo, Co;         /* output per row */
    size_t in_n, out_n;     /* floats per row */
    int tw, tb, tg, tbeta, tmean, tvar;   /* tensor indices, -1 = none */
    size_t pw, pb, pg, pbeta, pmean, pvar;  /* offsets inside the unit's params */
    float *in, *out;        /* activations [B, in_n], [B, out_n] (relu: out == in) */
    float *col;             /* conv: [B·H·W, 9C] */
    int32_t *arg;           /* pool: [B, out_n] */
    float *mean, *var;      /* bn: statistics of the last training micro-batch [C] */
} cnn_op;

typedef struct {
    const zt_ops *ops;
    int nops, U, V, B, n;   /* ops, units, classes, max rows, rows now */
    cnn_op op[CNN_MAX_OPS];
    int first[CNN_MAX_OPS + 1];   /* unit u runs ops [first[u], first[u+1]) */
    void *mem;
    float *x;               /* input [B, H·W·C], when x_copy (else op 0 reads the batch's buffer) */
    int x_copy;             /* a device table, or a leading relu (in place): copy the input */
    float *g[2];            /* gradient ping-pong [B, max row] */
    int gcur;               /* which g holds d loss / d (output of the op being undone) */
    float *dcol;            /* [B·H·W, 9C] of the largest conv that needs dinp */
    const int32_t *y;       /* targets [n] (table space: the batch's, or y_dev) */
    int32_t *y_dev;         /* [B] (device tables only) */
    float *losses;          /* [B] */
    const int32_t *y_host;  /* the batch's targets [n] (host) */
    float *h_buf;           /* host scratch: probs or statistics */
} cnn_impl;

/* ---- spec parsing ------------------------------------------------------ */
static int add_op(cnn_impl *s, cnn_opkind k, int unit, int *H, int *W, int *C, int n_out,
                  const char *item, int idx) {
    if (s->nops >= CNN_MAX_OPS) { zt_error("cnn: model.layers: more than %d layers", CNN_MAX_OPS); return -1; }
    cnn_op *o = &s->op[s->nops];
    memset(o, 0, sizeof *o);
    o->kind = k; o->unit = unit; o->H = *H; o->W = *W; o->C = *C;
    o->tw = o->tb = o->tg = o->tbeta = o->tmean = o->tvar = -1;
    switch (k) {
    case OP_CONV:
        o->Ho = *H; o->Wo = *W; o->Co = n_out; break;
    case OP_FC: o->Ho = 1; o->Wo = 1; o->Co = n_out; break;
    case OP_BN: case OP_RELU: o->Ho = *H; o->Wo = *W; o->Co = *C; break;
    case OP_POOL:
        if (*H < 2 || *W < 2) {
            zt_error("cnn: model.layers item %d '%s': pool needs at least 2x2 pixels, the input is %dx%d",
                     idx, item, *H, *W);
            return -1;
        }
        o->Ho = *H / 2; o->Wo = *W / 2; o->Co = *C; break;
    }
    o->in_n = (size_t)o->H * o->W * o->C;
    o->out_n = (size_t)o->Ho * o->Wo * o->Co;
    *H = o->Ho; *W = o->Wo; *C = o->Co;
    s->nops++;
    return 0;
}

/* Parse c->layers into ops; returns the number of units (items + head) or -1. */
static int parse_spec(cnn_impl *s, const zt_cnn_cfg *c) {
    char buf[sizeof c->layers], *save = NULL;
    snprintf(buf, sizeof buf, "%s", c->layers);
    int H = c->h, W = c->w, C = c->c, unit = 0, flat = 0;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save), unit++) {
        char orig[128], *save2 = NULL;
        snprintf(orig, sizeof orig, "%s", item);
        s->first[unit] = s->nops;
        int tok_i = 0;
        for (char *t = strtok_r(item, "-", &save2); t; t = strtok_r(NULL, "-", &save2), tok_i++) {
            int rc = 0;
            if (!strncmp(t, "conv", 4) || !strncmp(t, "fc", 2)) {
                int conv = t[0] == 'c';
                char *end;
                long n = strtol(t + (conv ? 4 : 2), &end, 10);
                if (*end || n <= 0 || n > 65536) {
                    zt_error("cnn: model.layers item %d '%s': '%s' needs a width, e.g. conv32 or fc128", unit, orig, t);
                    return -1;
                }
                if (tok_i != 0) {
                    zt_error("cnn: model.layers item %d '%s': '%s' must start its item (one conv/fc per item)", unit, orig, t);
                    return -1;
                }
                if (conv && flat) {
                    zt_error("cnn: model.layers item %d '%s': conv after fc (the image is flat by then)", unit, orig);
                    return -1;
                }
                if (!conv) { flat = 1; C = H * W * C; H = W = 1; }
                rc = add_op(s, conv ? OP_CONV : OP_FC, unit, &H, &W, &C, (int)n, orig, unit);
            } else if (tok_i == 0) {
                zt_error("cnn: model.layers item %d '%s': an item starts with convN or fcN", unit, orig);
                return -1;
            } else if (!strcmp(t, "bn"))   rc = add_op(s, OP_BN, unit, &H, &W, &C, 0, orig, unit);
            else if (!strcmp(t, "relu"))   rc = add_op(s, OP_RELU, unit, &H, &W, &C, 0, orig, unit);
            else if (!strcmp(t, "pool"))   rc = add_op(s, OP_POOL, unit, &H, &W, &C, 0, orig, unit);
            else {
                zt_error("cnn: model.layers item %d '%s': unknown layer '%s' (expected convN, fcN, bn, relu, pool)",
                         unit, orig, t);
                return -1;
            }
            if (rc) return -1;
        }
        if (tok_i == 0) { zt_error("cnn: model.layers item %d is empty", unit); return -1; }
    }
    /* the head */
    s->first[unit] = s->nops;
    C = H * W * C; H = W = 1;
    if (add_op(s, OP_FC, unit, &H, &W, &C, c->n_classes, "head", unit)) return -1;
    unit++;
    s->first[unit] = s->nops;
    return unit;
}

/* ---- forward / backward ----------------------------------------------- */
static void cnn_set_batch(zt_model *m, const zt_batch *b) {
    cnn_impl *s = m->impl;
    int n = b->n;
    if (n > s->B) zt_fatal(ZT_EXIT_INTERNAL, "cnn: micro-batch of %d rows > max_batch %d", n, s->B);
    s->n = n;   /* labels were checked by the batch's producer (model.h) */
    if (s->x_copy) s->ops->to_device(s->x, b->xf, (size_t)n * s->op[0].in_n * sizeof(float));
    else s->op[0].in = (float *)b->xf;   /* only read: the first op is not a relu in place */
    s->y = zt_model_batch_in(s->ops, s->y_dev, b->y, (size_t)n * sizeof(int32_t));
    s->y_host = b->y;
}

static void cnn_forward(zt_model *m, int u, const float *pu) {
    cnn_impl *s = m->impl;
    const zt_ops *o = s->ops;
    const int n = s->n;
    for (int i = s->first[u]; i < s->first[u + 1]; i++) {
        cnn_op *p = &s->op[i];
        const int M = n * p->H * p->W;
        switch (p->kind) {
        case OP_CONV:
            o->im2col3(p->col, p->in, n, p->H, p->W, p->C);
            o->matmul_fwd(p->out, p->col, pu + p->pw, p->tb >= 0 ? pu + p->pb : NULL, M, 9 * p->C, p->Co);
            break;
        case OP_FC:
            o->matmul_fwd(p->out, p->in, pu + p->pw, p->tb >= 0 ? pu + p->pb : NULL, n, (int)p->in_n, p->Co);
            break;
        case OP_BN:
            if (m->training) {
                o->bn_stats(p->mean, p->var, p->in, M, p->C);
                o->bn_fwd(p->out, p->in, p->mean, p->var, pu + p->pg, pu + p->pbeta, M, p->C);
            } else
                o->bn_fwd(p->out, p->in, pu + p->pmean, pu + p->pvar, pu + p->pg, pu + p->pbeta, M, p->C);
            break;
        case OP_RELU: o->relu_fwd(p->out, p->in, (size_t)n * p->in_n); break;
        case OP_POOL: o->maxpool2_fwd(p->out, p->arg, p->in, n, p->H, p->W, p->C); break;
        }
    }
    if (u == s->U - 1) {   /* probs overwrite the logits */
        cnn_op *h = &s->op[s->nops - 1];
        o->softmax_ce_fwd(s->losses, h->out, h->out, s->y, n, s->V);
    }
}

static void cnn_backward(zt_model *m, int u, const float *pu, float *gu) {
    cnn_impl *s = m->impl;
    const zt_ops *o = s->ops;
    const int n = s->n;
    if (u == s->U - 1) {
        s->gcur = 0;
        o->zero(s->g[0], (size_t)n * s->V * sizeof(float));
        o->softmax_ce_bwd(s->g[0], s->op[s->nops - 1].out, s->y, m->grad_scale, n, s->V);
    }
    for (int i = s->first[u + 1] - 1; i >= s->first[u]; i--) {
        cnn_op *p = &s->op[i];
        const int M = n * p->H * p->W;
        const float *dout = s->g[s->gcur];
        float *din = i > 0 ? s->g[s->gcur ^ 1] : NULL;   /* the input image needs no gradient */
        if (din) o->zero(din, (size_t)n * p->in_n * sizeof(float));
        switch (p->kind) {
        case OP_CONV:
            if (din) o->zero(s->dcol, (size_t)M * 9 * p->C * sizeof(float));
            o->matmul_bwd(din ? s->dcol : NULL, gu + p->pw, p->tb >= 0 ? gu + p->pb : NULL, dout,
                          p->col, pu + p->pw, M, 9 * p->C, p->Co);
            if (din) o->col2im3(din, s->dcol, n, p->H, p->W, p->C);
            break;
        case OP_FC:
            o->matmul_bwd(din, gu + p->pw, p->tb >= 0 ? gu + p->pb : NULL, dout, p->in, pu + p->pw,
                          n, (int)p->in_n, p->Co);
            break;
        case OP_BN:
            o->bn_bwd(din, gu + p->pg, gu + p->pbeta, dout, p->in, p->mean, p->var, pu + p->pg, M, p->C);
            break;
        case OP_RELU: if (din) o->relu_bwd(din, p->out, dout, (size_t)n * p->in_n); break;
        case OP_POOL: if (din) o->maxpool2_bwd(din, dout, p->arg, (size_t)n * p->out_n); break;
        }
        s->gcur ^= 1;
    }
}

static double cnn_loss_sum(zt_model *m) {
    cnn_impl *s = m->impl;
    return zt_model_row_loss_sum(s->ops, s->h_buf, s->losses, s->n);
}

static int cnn_correct(zt_model *m) {
    cnn_impl *s = m->impl;
    return zt_model_argmax_hits(s->ops, s->h_buf, s->op[s->nops - 1].out, s->y_host, s->n, s->V);
}

/* ---- running statistics (model.h: buffers) ------------------------------
 * Per micro-batch and BN layer: rows M, then mean[C], biased var[C]. */
static void cnn_batch_stats(zt_model *m, double *out) {
    cnn_impl *s = m->impl;
    for (int i = 0; i < s->nops; i++) {
        cnn_op *p = &s->op[i];
        if (p->kind != OP_BN) continue;
        *out++ = (double)s->n * p->H * p->W;
        s->ops->to_host(s->h_buf, p->mean, (size_t)p->C * sizeof(float));
        s->ops->to_host(s->h_buf + p->C, p->var, (size_t)p->C * sizeof(float));
        for (int c = 0; c < 2 * p->C; c++) *out++ = s->h_buf[c];
    }
}

/* Combine the n_mb micro-batches (in order: the same sums on every rank at
 * every W) into the global batch's mean and unbiased variance, then
 * running = (1 - momentum)·running + momentum·batch for the elements of
 * [lo, hi) — elementwise, so every partition agrees. p is in the table's
 * memory: each layer's held part of mean|var (adjacent tensors) makes one
 * round trip through h_buf. */
static void cnn_update_buffers(zt_model *m, const double *stats, int n_mb, size_t lo, size_t hi, float *p) {
    cnn_impl *s = m->impl;
    const int ns = m->n_stats;
    size_t soff = 0;   /* this layer's place inside one micro-batch's stats */
    for (int i = 0; i < s->nops; i++) {
        cnn_op *q = &s->op[i];
        if (q->kind != OP_BN) continue;
        const int C = q->C;
        const size_t gm = m->tensors[q->tmean].off, gv = m->tensors[q->tvar].off;
        if (gv != gm + (size_t)C)
            zt_fatal(ZT_EXIT_INTERNAL, "cnn: BatchNorm mean and var of layer %d are not adjacent", i);
        const size_t a = gm > lo ? gm : lo, e = gv + C < hi ? gv + C : hi;   /* held span */
        if (a >= e) { soff += 1 + 2 * (size_t)C; continue; }
        float *h = s->h_buf;   /* h[k] is flat element a + k */
        s->ops->to_host(h, p + (a - lo), (e - a) * sizeof(float));
        for (int c = 0; c < C; c++) {
            const int has_m = gm + c >= a && gm + c < e, has_v = gv + c >= a && gv + c < e;
            if (!has_m && !has_v) continue;
            double N = 0, s1 = 0;
            for (int b = 0; b < n_mb; b++) {
                const double *st = stats + (size_t)b * ns + soff;
                N += st[0]; s1 += st[0] * st[1 + c];
            }
            const double mu = s1 / N;
            double s2 = 0;
            for (int b = 0; b < n_mb; b++) {
                const double *st = stats + (size_t)b * ns + soff;
                const double d = st[1 + c] - mu;
                s2 += st[0] * (st[1 + C + c] + d * d);
            }
            const double var = N > 1 ? s2 / (N - 1) : s2;
            if (has_m) h[gm + c - a] = (float)((1 - BN_MOMENTUM) * h[gm + c - a] + BN_MOMENTUM * mu);
            if (has_v) h[gv + c - a] = (float)((1 - BN_MOMENTUM) * h[gv + c - a] + BN_MOMENTUM * var);
        }
        s->ops->to_device(p + (a - lo), h, (e - a) * sizeof(float));
        soff += 1 + 2 * (size_t)C;
    }
}

static void cnn_destroy(zt_model *m) {
    if (!m) return;
    cnn_impl *s = m->impl;
    if (s) {
        s->ops->free(s->mem);
        free(s->h_buf);
        free(s);
    }
    zt_model_free(m);
}

/* ---- construction ------------------------------------------------------ */
static int add_tensors(zt_model *m, cnn_impl *s) {
    int bn_j = 0;
    for (int i = 0; i < s->nops; i++) {
        cnn_op *p = &s->op[i];
        const int u = p->unit, head = u == s->U - 1;
        const int next_bn = i + 1 < s->first[u + 1] && s->op[i + 1].kind == OP_BN;
        char name[64];
        if (p->kind == OP_CONV || p->kind == OP_FC) {
            const size_t fan_in = p->kind == OP_CONV ? 9 * (size_t)p->C : p->in_n;
            /* He-uniform (bound √(6/fan_in)) before ReLU/BN, PyTorch's default
             * bound 1/√fan_in for the head; zero biases */
            float bound = head ? 1.0f / sqrtf((float)fan_in) : sqrtf(6.0f / (float)fan_in);
            const char *kind = p->kind == OP_CONV ? "conv" : "fc";
            if (head) snprintf(name, sizeof name, "head.w");
            else snprintf(name, sizeof name, "l%d.%s.w", u, kind);
            p->tw = zt_model_add_tensor(m, u, name, (size_t)p->Co, fan_in, ZT_INIT_UNIFORM, bound);
            if (p->tw < 0) return -1;
            if (!next_bn) {
                if (head) snprintf(name, sizeof name, "head.b");
                else snprintf(name, sizeof name, "l%d.%s.b", u, kind);
                if ((p->tb = zt_model_add_tensor(m, u, name, (size_t)p->Co, 0, ZT_INIT_ZEROS, 0)) < 0) return -1;
            }
        } else if (p->kind == OP_BN) {
            static const char *sfx[4] = { "g", "b", "mean", "var" };
            int *idx[4] = { &p->tg, &p->tbeta, &p->tmean, &p->tvar };
            for (int k = 0; k < 4; k++) {
                snprintf(name, sizeof name, "l%d.bn%d.%s", u, bn_j, sfx[k]);
                *idx[k] = zt_model_add_tensor(m, u, name, (size_t)p->C, 0,
                                              k == 0 || k == 3 ? ZT_INIT_ONES : ZT_INIT_ZEROS, 0);
                if (*idx[k] < 0) return -1;
                if (k >= 2) m->tensors[*idx[k]].buffer = 1;
            }
            bn_j++;
            m->n_stats += 1 + 2 * p->C;
        }
    }
    /* offsets inside each unit, now that the units' starts are known */
    for (int i = 0; i < s->nops; i++) {
        cnn_op *p = &s->op[i];
        const size_t base = m->unit_off[p->unit];
#define REL(t, f) if (p->t >= 0) p->f = m->tensors[p->t].off - base
        REL(tw, pw); REL(tb, pb); REL(tg, pg); REL(tbeta, pbeta); REL(tmean, pmean); REL(tvar, pvar);
#undef REL
    }
    return 0;
}

zt_model *zt_cnn_create_ops(const zt_cnn_cfg *c, int max_batch, const zt_ops *ops) {
    if (!ops) ops = &zt_ops_cpu;
    if (!c || c->h <= 0 || c->w <= 0 || c->c <= 0 || c->n_classes <= 1 || max_batch <= 0) {
        zt_error("cnn: invalid config (image h, w, c > 0, classes > 1, max_batch > 0)");
        return NULL;
    }
    if (!ops->im2col3 || !ops->bn_fwd || !ops->maxpool2_fwd) {
        zt_error("cnn: the '%s' op table has no convolution ops (im2col3, bn_fwd, maxpool2_fwd)", ops->name);
        return NULL;
    }
    zt_model *m = calloc(1, sizeof *m);
    cnn_impl *s = calloc(1, sizeof *s);
    if (!m || !s) { zt_error("cnn: out of memory for the model"); free(m); free(s); return NULL; }
    m->impl = s; m->ops = ops; m->destroy = cnn_destroy;
    s->ops = ops; s->B = max_batch; s->V = c->n_classes;
    snprintf(m->kind, sizeof m->kind, "cnn");
    s->U = parse_spec(s, c);
    if (s->U < 0 || add_tensors(m, s)) { cnn_destroy(m); return NULL; }

    double flops = 0;
    for (int i = 0; i < s->nops; i++) {
        const cnn_op *p = &s->op[i];
        if (p->kind == OP_CONV) flops += 6.0 * p->H * p->W * 9.0 * p->C * p->Co;
        if (p->kind == OP_FC) flops += 6.0 * (double)p->in_n * p->Co;
    }
    m->max_batch = max_batch; m->tokens_per_row = 1; m->n_ids = c->n_classes; m->flops_per_row = flops; m->grad_scale = 1.0f;
    m->set_batch = cnn_set_batch; m->forward = cnn_forward; m->backward = cnn_backward;
    m->loss_sum = cnn_loss_sum; m->correct = cnn_correct;
    m->batch_stats = cnn_batch_stats; m->update_buffers = cnn_update_buffers;

    /* ---- activations: a size table, one allocation, pointers into it ---- */
    const size_t B = (size_t)max_batch;
    enum { MAXBUF = 4 * CNN_MAX_OPS + 8 };
    void **ptrs[MAXBUF];
    size_t floats[MAXBUF];
    int nb = 0;
    size_t maxrow = s->op[0].in_n, maxcol = 0;
    s->x_copy = ops->device || s->op[0].kind == OP_RELU;
    ptrs[nb] = (void **)&s->x; floats[nb++] = (size_t)s->x_copy * B * s->op[0].in_n;
    for (int i = 0; i < s->nops; i++) {
        cnn_op *p = &s->op[i];
        if (p->out_n > maxrow) maxrow = p->out_n;
        if (p->kind != OP_RELU) { ptrs[nb] = (void **)&p->out; floats[nb++] = B * p->out_n; }
        if (p->kind == OP_CONV) {
            size_t col = B * p->H * p->W * 9 * (size_t)p->C;
            ptrs[nb] = (void **)&p->col; floats[nb++] = col;
            if (i > 0 && col > maxcol) maxcol = col;
        }
        if (p->kind == OP_POOL) { ptrs[nb] = (void **)&p->arg; floats[nb++] = B * p->out_n; }
        if (p->kind == OP_BN) {
            ptrs[nb] = (void **)&p->mean; floats[nb++] = (size_t)p->C;
            ptrs[nb] = (void **)&p->var; floats[nb++] = (size_t)p->C;
        }
    }
    ptrs[nb] = (void **)&s->g[0]; floats[nb++] = B * maxrow;
    ptrs[nb] = (void **)&s->g[1]; floats[nb++] = B * maxrow;
    ptrs[nb] = (void **)&s->dcol; floats[nb++] = maxcol;
    ptrs[nb] = (void **)&s->y_dev; floats[nb++] = (size_t)ops->device * B;
    ptrs[nb] = (void **)&s->losses; floats[nb++] = B;
    size_t total = 0;
    for (int i = 0; i < nb; i++) total += (floats[i] + 15) & ~(size_t)15;
    float *base = ops->alloc(total * sizeof(float));
    s->mem = base;
    for (int i = 0; base && i < nb; i++) { *ptrs[i] = base; base += (floats[i] + 15) & ~(size_t)15; }
    /* each op reads the previous op's output (relu works in place) */
    for (int i = 0; s->mem && i < s->nops; i++) {
        cnn_op *p = &s->op[i];
        p->in = i == 0 ? s->x : s->op[i - 1].out;
        if (p->kind == OP_RELU) p->out = p->in;
    }
    size_t hb = B * (size_t)s->V;
    for (int i = 0; i < s->nops; i++) if (s->op[i].kind == OP_BN && 2 * (size_t)s->op[i].C > hb) hb = 2 * (size_t)s->op[i].C;
    s->h_buf = calloc(hb + B, sizeof(float));
    m->act_bytes = s->mem ? total * sizeof(float) : 0;
    if (!s->mem || !s->h_buf) {
        zt_error("cnn: out of memory for activations (%zu bytes on %s)", total * sizeof(float), ops->name);
        cnn_destroy(m);
        return NULL;
    }
    return m;
}
