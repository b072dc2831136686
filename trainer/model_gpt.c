/* model_gpt.c — character-level decoder-only transformer (GPT-2 layout).
 *   unit 0        : x = wte[tok] + wpe[t]
 *   unit 1+l      : pre-LN block l: x += proj(attn(ln1(x))); x += mlp(ln2(x)),
 *                   mlp = fc (C→4C) · GELU(tanh) · proj (4C→C)
 *   unit L+1      : lnf, logits = lnf(x) · head.wᵀ, softmax cross-entropy
 * row loss = mean over the T positions. Tensor names and shapes: model.h.
 * All device work goes through the op table (ops.h), llm.c-style buffers. */
#include "model.h"
#include "ops.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* per-layer parameter pointers inside a unit's range (offsets in floats) */
enum { P_LN1G, P_LN1B, P_QKVW, P_QKVB, P_PROJW, P_PROJB, P_LN2G, P_LN2B,
       P_FCW, P_FCB, P_MPROJW, P_MPROJB, P_NBLOCK };

typedef struct {                  /* saved per layer for its backward */
    float *ln1, *ln1_mean, *ln1_rstd;  /* [B,T,C], [B,T], [B,T] */
    float *qkv;                        /* [B,T,3C] */
    float *att;                        /* attn_saved_floats */
    float *atty;                       /* [B,T,C] attention output (before proj) */
    float *res1;                       /* [B,T,C] x after the attention residual */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *fch;                        /* [B,T,4C] pre-GELU */
    float *fch_gelu;                   /* [B,T,4C] */
} gpt_layer_acts;

typedef struct {
    const zt_ops *ops;
    int V, T, C, L, NH, B;   /* B = max rows */
    int n;                   /* rows of the current batch */
    size_t blk_off[P_NBLOCK];
    float *res[ZT_MAX_UNITS];            /* res[l]: block l input [B,T,C]; res[L] = final x */
    gpt_layer_acts *la;                  /* [L] */
    float *lnf, *lnf_mean, *lnf_rstd;    /* [B,T,C], [B,T], [B,T] */
    float *probs;                        /* [B,T,V] logits, then probs in place */
    float *losses;                       /* [B,T] */
    int32_t *tok, *tgt;                  /* [B,T] */
    /* gradients of activations (shared by all layers) */
    float *dres;                         /* [B,T,C] d loss / d residual stream */
    float *dscratch;                     /* one zeroing: dfch_gelu|dfch|dln2|datty|dqkv|dln1 */
    float *dfch_gelu, *dfch, *dln2, *datty, *dqkv, *dln1;
    size_t dscratch_floats;
    float *dlogits;                      /* [B,T,V] */
    float *dlnf;                         /* [B,T,C] */
    float *att_scratch;
    float *h_losses;                     /* host [B,T] */
} gpt_impl;

static void gpt_set_batch(zt_model *m, const zt_batch *b) {
    gpt_impl *s = m->impl;
    if (b->n > s->B) {
        fprintf(stderr, "gpt: batch of %d rows > max_batch %d\n", b->n, s->B);
        abort();
    }
    s->n = b->n;
    size_t nt = (size_t)b->n * s->T;
    for (size_t i = 0; i < nt; i++)   /* an id >= vocab would index past wte */
        if ((uint32_t)b->xi[i] >= (uint32_t)s->V || (uint32_t)b->y[i] >= (uint32_t)s->V) {
            fprintf(stderr, "gpt: token id %d / target %d at position %zu outside the vocabulary [0, %d)\n",
                    b->xi[i], b->y[i], i, s->V);
            abort();
        }
    s->ops->to_device(s->tok, b->xi, nt * sizeof(int32_t));
    s->ops->to_device(s->tgt, b->y, nt * sizeof(int32_t));
    /* the layer-gradient parts, packed for this batch's n·T rows so that one
     * zero() of a prefix of dscratch clears all of them */
    const size_t C = (size_t)s->C;
    s->dfch_gelu = s->dscratch;
    s->dfch = s->dfch_gelu + nt * 4 * C;
    s->dln2 = s->dfch + nt * 4 * C;
    s->datty = s->dln2 + nt * C;
    s->dqkv = s->datty + nt * C;
    s->dln1 = s->dqkv + nt * 3 * C;
}

static void gpt_forward(zt_model *m, int u, const float *pu) {
    gpt_impl *s = m->impl;
    const zt_ops *o = s->ops;
    const int B = s->n, T = s->T, C = s->C, V = s->V, NH = s->NH, L = s->L;
    const int N = B * T;
    if (u == 0) {
        const float *wte = pu, *wpe = pu + (size_t)V * C;
        o->embed_fwd(s->res[0], s->tok, wte, wpe, B, T, C);
    } else if (u <= L) {
        const int l = u - 1;
        gpt_layer_acts *a = &s->la[l];
        const size_t *q = s->blk_off;
        o->layernorm_fwd(a->ln1, a->ln1_mean, a->ln1_rstd, s->res[l], pu + q[P_LN1G],
                         pu + q[P_LN1B], N, C);
        o->matmul_fwd(a->qkv, a->ln1, pu + q[P_QKVW], pu + q[P_QKVB], N, C, 3 * C);
        o->attention_fwd(a->atty, a->att, s->att_scratch, a->qkv, B, T, C, NH);
        /* res1 = res[l] + proj(atty): proj into res1, then add the residual */
        o->matmul_fwd(a->res1, a->atty, pu + q[P_PROJW], pu + q[P_PROJB], N, C, C);
        o->residual_fwd(a->res1, a->res1, s->res[l], (size_t)N * C);
        o->layernorm_fwd(a->ln2, a->ln2_mean, a->ln2_rstd, a->res1, pu + q[P_LN2G],
                         pu + q[P_LN2B], N, C);
        o->matmul_fwd(a->fch, a->ln2, pu + q[P_FCW], pu + q[P_FCB], N, C, 4 * C);
        o->gelu_fwd(a->fch_gelu, a->fch, (size_t)N * 4 * C);
        o->matmul_fwd(s->res[l + 1], a->fch_gelu, pu + q[P_MPROJW], pu + q[P_MPROJB], N,
                      4 * C, C);
        o->residual_fwd(s->res[l + 1], s->res[l + 1], a->res1, (size_t)N * C);
    } else {
        const float *g = pu, *b = pu + C, *head = pu + 2 * (size_t)C;
        o->layernorm_fwd(s->lnf, s->lnf_mean, s->lnf_rstd, s->res[L], g, b, N, C);
        o->matmul_fwd(s->probs, s->lnf, head, NULL, N, C, V);
        o->softmax_ce_fwd(s->losses, s->probs, s->probs, s->tgt, N, V);
    }
}

static void gpt_backward(zt_model *m, int u, const float *pu, float *gu) {
    gpt_impl *s = m->impl;
    const zt_ops *o = s->ops;
    const int B = s->n, T = s->T, C = s->C, V = s->V, NH = s->NH, L = s->L;
    const int N = B * T;
    if (u == L + 1) {
        const float *g = pu, *head = pu + 2 * (size_t)C;
        float *dg = gu, *db = gu + C, *dhead = gu + 2 * (size_t)C;
        o->zero(s->dlogits, (size_t)N * V * sizeof(float));
        o->zero(s->dlnf, (size_t)N * C * sizeof(float));
        o->zero(s->dres, (size_t)N * C * sizeof(float));
        o->softmax_ce_bwd(s->dlogits, s->probs, s->tgt, m->grad_scale / (float)T, N, V);
        o->matmul_bwd(s->dlnf, dhead, NULL, s->dlogits, s->lnf, head, N, C, V);
        o->layernorm_bwd(s->dres, dg, db, s->dlnf, s->res[L], g, s->lnf_mean, s->lnf_rstd,
                         N, C);
    } else if (u >= 1) {
        const int l = u - 1;
        gpt_layer_acts *a = &s->la[l];
        const size_t *q = s->blk_off;
        /* dres holds d loss / d res[l+1] on entry, d loss / d res[l] on exit */
        o->zero(s->dscratch, (size_t)N * 14 * C * sizeof(float));
        o->matmul_bwd(s->dfch_gelu, gu + q[P_MPROJW], gu + q[P_MPROJB], s->dres, a->fch_gelu,
                      pu + q[P_MPROJW], N, 4 * C, C);
        o->gelu_bwd(s->dfch, a->fch, s->dfch_gelu, (size_t)N * 4 * C);
        o->matmul_bwd(s->dln2, gu + q[P_FCW], gu + q[P_FCB], s->dfch, a->ln2, pu + q[P_FCW], N,
                      C, 4 * C);
        o->layernorm_bwd(s->dres, gu + q[P_LN2G], gu + q[P_LN2B], s->dln2, a->res1,
                         pu + q[P_LN2G], a->ln2_mean, a->ln2_rstd, N, C);
        o->matmul_bwd(s->datty, gu + q[P_PROJW], gu + q[P_PROJB], s->dres, a->atty,
                      pu + q[P_PROJW], N, C, C);
        o->attention_bwd(s->dqkv, s->att_scratch, s->datty, a->qkv, a->att, B, T, C, NH);
        o->matmul_bwd(s->dln1, gu + q[P_QKVW], gu + q[P_QKVB], s->dqkv, a->ln1, pu + q[P_QKVW],
                      N, C, 3 * C);
        o->layernorm_bwd(s->dres, gu + q[P_LN1G], gu + q[P_LN1B], s->dln1, s->res[l],
                         pu + q[P_LN1G], a->ln1_mean, a->ln1_rstd, N, C);
    } else {
        float *dwte = gu, *dwpe = gu + (size_t)V * C;
        o->embed_bwd(dwte, dwpe, s->dres, s->tok, B, T, C);
    }
}

static double gpt_loss_sum(zt_model *m) {
    gpt_impl *s = m->impl;
    size_t nt = (size_t)s->n * s->T;
    s->ops->to_host(s->h_losses, s->losses, nt * sizeof(float));
    double sum = 0.0;
    for (size_t i = 0; i < nt; i++) sum += s->h_losses[i];
    return sum / (double)s->T;
}

static int gpt_correct(zt_model *m) { return 0; }

static void gpt_destroy(zt_model *m) {
    if (!m) return;
    gpt_impl *s = m->impl;
    if (s) {
        const zt_ops *o = s->ops;
        for (int l = 0; l <= s->L; l++) o->free(s->res[l]);
        if (s->la)
            for (int l = 0; l < s->L; l++) {
                gpt_layer_acts *a = &s->la[l];
                float *bufs[] = {a->ln1, a->ln1_mean, a->ln1_rstd, a->qkv, a->att, a->atty,
                                 a->res1, a->ln2, a->ln2_mean, a->ln2_rstd, a->fch, a->fch_gelu};
                for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) o->free(bufs[i]);
            }
        free(s->la);
        float *bufs[] = {s->lnf, s->lnf_mean, s->lnf_rstd, s->probs, s->losses, s->dres,
                         s->dscratch, s->dlogits, s->dlnf, s->att_scratch};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) o->free(bufs[i]);
        o->free(s->tok);
        o->free(s->tgt);
        free(s->h_losses);
        free(s);
    }
    free(m);
}

zt_model *zt_gpt_create_ops(const zt_gpt_cfg *c, int max_batch, const zt_ops *ops) {
    if (!ops) ops = &zt_ops_cpu;
    if (!c || c->vocab <= 1 || c->ctx <= 0 || c->d_model <= 0 || c->n_layer <= 0 ||
        c->n_head <= 0 || c->d_model % c->n_head != 0 || c->n_layer > ZT_MAX_UNITS - 2 ||
        max_batch <= 0) {
        fprintf(stderr, "gpt: invalid config (vocab > 1, ctx > 0, d_model %% n_head == 0, "
                        "1 <= n_layer <= %d, max_batch > 0)\n", ZT_MAX_UNITS - 2);
        return NULL;
    }
    zt_model *m = calloc(1, sizeof *m);
    gpt_impl *s = calloc(1, sizeof *s);
    if (!m || !s) { free(m); free(s); return NULL; }
    m->impl = s;
    m->ops = ops;
    s->ops = ops;
    const int V = c->vocab, T = c->ctx, C = c->d_model, L = c->n_layer, NH = c->n_head;
    s->V = V; s->T = T; s->C = C; s->L = L; s->NH = NH; s->B = max_batch;
    s->la = calloc((size_t)L, sizeof *s->la);
    snprintf(m->kind, sizeof m->kind, "gpt");

    /* ---- tensors ---- */
    const float std = 0.02f, std_res = 0.02f / sqrtf(2.0f * (float)L);
    zt_model_add_tensor(m, 0, "wte", (size_t)V, (size_t)C, ZT_INIT_NORMAL, std);
    zt_model_add_tensor(m, 0, "wpe", (size_t)T, (size_t)C, ZT_INIT_NORMAL, std);
    for (int l = 0; l < L; l++) {
        char nm[64];
        const int u = l + 1;
        struct { const char *sfx; size_t d0, d1; zt_init_kind init; float sc; } spec[P_NBLOCK] = {
            {"ln1.g", C, 0, ZT_INIT_ONES, 0}, {"ln1.b", C, 0, ZT_INIT_ZEROS, 0},
            {"attn.qkv.w", 3 * (size_t)C, C, ZT_INIT_NORMAL, std},
            {"attn.qkv.b", 3 * (size_t)C, 0, ZT_INIT_ZEROS, 0},
            {"attn.proj.w", C, C, ZT_INIT_NORMAL, std_res},
            {"attn.proj.b", C, 0, ZT_INIT_ZEROS, 0},
            {"ln2.g", C, 0, ZT_INIT_ONES, 0}, {"ln2.b", C, 0, ZT_INIT_ZEROS, 0},
            {"mlp.fc.w", 4 * (size_t)C, C, ZT_INIT_NORMAL, std},
            {"mlp.fc.b", 4 * (size_t)C, 0, ZT_INIT_ZEROS, 0},
            {"mlp.proj.w", C, 4 * (size_t)C, ZT_INIT_NORMAL, std_res},
            {"mlp.proj.b", C, 0, ZT_INIT_ZEROS, 0},
        };
        for (int i = 0; i < P_NBLOCK; i++) {
            snprintf(nm, sizeof nm, "h%d.%s", l, spec[i].sfx);
            int ti = zt_model_add_tensor(m, u, nm, spec[i].d0, spec[i].d1, spec[i].init, spec[i].sc);
            if (l == 0) s->blk_off[i] = m->tensors[ti].off - m->unit_off[u];
        }
    }
    zt_model_add_tensor(m, L + 1, "lnf.g", (size_t)C, 0, ZT_INIT_ONES, 0);
    zt_model_add_tensor(m, L + 1, "lnf.b", (size_t)C, 0, ZT_INIT_ZEROS, 0);
    zt_model_add_tensor(m, L + 1, "head.w", (size_t)V, (size_t)C, ZT_INIT_NORMAL, std);

    m->max_batch = max_batch;
    m->tokens_per_row = (size_t)T;
    /* 6 FLOPs per matmul weight per token (fwd 2 + bwd 4), plus attention:
     * QKᵀ and PV, 4·T·C per token forward, ×3 with the backward. */
    size_t n_mat = (size_t)L * 12 * C * C + (size_t)V * C;
    m->flops_per_row = 6.0 * (double)n_mat * T + 12.0 * L * (double)T * T * C;
    m->grad_scale = 1.0f;
    m->set_batch = gpt_set_batch;
    m->forward = gpt_forward;
    m->backward = gpt_backward;
    m->loss_sum = gpt_loss_sum;
    m->correct = gpt_correct;
    m->destroy = gpt_destroy;

    /* ---- activations ---- */
    const size_t BT = (size_t)max_batch * T, F = sizeof(float);
    size_t bytes = 0;
    int ok = s->la != NULL;
#define ALLOC(p, nfl) do { size_t nb_ = (nfl) * F; (p) = ops->alloc(nb_); ok &= (p) != NULL; bytes += nb_; } while (0)
    if (ok) {
        for (int l = 0; l <= L; l++) ALLOC(s->res[l], BT * C);
        const size_t att_saved = ops->attn_saved_floats(max_batch, T, C, NH);
        for (int l = 0; l < L; l++) {
            gpt_layer_acts *a = &s->la[l];
            ALLOC(a->ln1, BT * C); ALLOC(a->ln1_mean, BT); ALLOC(a->ln1_rstd, BT);
            ALLOC(a->qkv, BT * 3 * C);
            ALLOC(a->att, att_saved);
            ALLOC(a->atty, BT * C);
            ALLOC(a->res1, BT * C);
            ALLOC(a->ln2, BT * C); ALLOC(a->ln2_mean, BT); ALLOC(a->ln2_rstd, BT);
            ALLOC(a->fch, BT * 4 * C);
            ALLOC(a->fch_gelu, BT * 4 * C);
        }
        ALLOC(s->lnf, BT * C); ALLOC(s->lnf_mean, BT); ALLOC(s->lnf_rstd, BT);
        ALLOC(s->probs, BT * V);
        ALLOC(s->losses, BT);
        ALLOC(s->dres, BT * C);
        /* dfch_gelu 4C | dfch 4C | dln2 C | datty C | dqkv 3C | dln1 C  per token */
        s->dscratch_floats = BT * 14 * C;
        ALLOC(s->dscratch, s->dscratch_floats);
        ALLOC(s->dlogits, BT * V);
        ALLOC(s->dlnf, BT * C);
        ALLOC(s->att_scratch, ops->attn_scratch_floats(max_batch, T, C, NH) + 1);
        s->tok = ops->alloc(BT * sizeof(int32_t));
        s->tgt = ops->alloc(BT * sizeof(int32_t));
        ok &= s->tok && s->tgt;
        bytes += 2 * BT * sizeof(int32_t);
    }
#undef ALLOC
    m->act_bytes = bytes;
    s->h_losses = calloc(BT, sizeof(float));
    if (!ok || !s->h_losses) {
        fprintf(stderr, "gpt: out of memory for activations (%zu bytes)\n", bytes);
        gpt_destroy(m);
        return NULL;
    }
    return m;
}

zt_model *zt_gpt_create(const zt_gpt_cfg *c, int max_batch) {
    return zt_gpt_create_ops(c, max_batch, &zt_ops_cpu);
}
