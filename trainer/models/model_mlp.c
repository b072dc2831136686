/* model_mlp.c — multi-layer perceptron: in_dim → hidden… → out_dim, ReLU
 * between layers, softmax cross-entropy head. One unit per Linear layer
 * (unit i owns fc{i}.w [out,in] and fc{i}.b [out]); the last unit also runs
 * the loss. All device work goes through the op table. */
#include "model.h"
#include "ops.h"          /* the op table every kernel call goes through */
#include "zt_launcher.h"  /* ZT_EXIT_DATA, ZT_EXIT_INTERNAL */
#include "zt_log.h"       /* zt_error, zt_fatal */
#include <math.h>         /* sqrtf */
#include <stdio.h>        /* snprintf */
#include <stdlib.h>       /* calloc, free */
#include <string.h>       /* memcpy */

/* zt_mlp_cfg.hidden has 8 entries: at most 9 Linear layers */
#define MLP_MAX_LAYERS 9

typedef struct {
    const zt_ops *ops;
    int L;                          /* Linear layers = n_hidden + 1 */
    int dim[MLP_MAX_LAYERS + 1];    /* dim[0] = in, dim[L] = out */
    int B;                          /* max rows */
    int n;                          /* rows of the current batch */
    /* activations: one allocation through the op table (mem), pointers into it */
    void *mem;
    float *act[MLP_MAX_LAYERS + 1]; /* act[l] for l >= 1: layer l-1's output [B,dim[l]], post-ReLU; probs for the last */
    const float *x;                 /* the input [n,in]: the batch's own buffer on the host, x_dev on a device */
    float *x_dev;                   /* [B,in] (device tables only) */
    float *dact[MLP_MAX_LAYERS + 1];/* dact[l]: d loss / d act[l] [B,dim[l]] for 1 <= l < L */
    float *dz;                      /* d loss / d pre-activation of the current layer [B, max dim] */
    const int32_t *y;               /* targets [n] (table space: the batch's, or y_dev) */
    int32_t *y_dev;                 /* [B] (device tables only) */
    float *losses;                  /* [B] (table space) */
    const int32_t *y_host;          /* the batch's targets [n] (host) */
    float *h_buf;                   /* host scratch [B * max(out, 1)] */
    int max_dim;
} mlp_impl;

static void mlp_set_batch(zt_model *m, const zt_batch *b) {
    mlp_impl *s = m->impl;
    int n = b->n;
    if (n > s->B) zt_fatal(ZT_EXIT_INTERNAL, "mlp: micro-batch of %d rows > max_batch %d", n, s->B);
    s->n = n;   /* labels were checked by the batch's producer (model.h) */
    s->x = zt_model_batch_in(s->ops, s->x_dev, b->xf, (size_t)n * s->dim[0] * sizeof(float));
    s->y = zt_model_batch_in(s->ops, s->y_dev, b->y, (size_t)n * sizeof(int32_t));
    s->y_host = b->y;
}

/* Layer u: act[u+1] [n,out] = act[u] [n,in] · w [out,in]ᵀ + b [out], then ReLU,
 * or softmax cross-entropy for the last layer. */
static void mlp_forward(zt_model *m, int u, const float *pu) {
    mlp_impl *s = m->impl;
    const zt_ops *o = s->ops;
    const int in = s->dim[u], out = s->dim[u + 1], n = s->n;
    const float *w = pu, *bias = pu + (size_t)out * in;
    o->matmul_fwd(s->act[u + 1], u ? s->act[u] : s->x, w, bias, n, in, out);
    if (u < s->L - 1)
        o->relu_fwd(s->act[u + 1], s->act[u + 1], (size_t)n * out);
    else  /* probs overwrite the logits */
        o->softmax_ce_fwd(s->losses, s->act[u + 1], s->act[u + 1], s->y, n, out);
}

/* Layer u: dz [n,out] from the loss or through the ReLU; dw [out,in], db [out]
 * and dact[u] [n,in] accumulate from it. */
static void mlp_backward(zt_model *m, int u, const float *pu, float *gu) {
    mlp_impl *s = m->impl;
    const zt_ops *o = s->ops;
    const int in = s->dim[u], out = s->dim[u + 1], n = s->n;
    const float *w = pu;
    float *dw = gu, *db = gu + (size_t)out * in;
    o->zero(s->dz, (size_t)n * out * sizeof(float));
    if (u == s->L - 1)
        o->softmax_ce_bwd(s->dz, s->act[u + 1], s->y, m->grad_scale, n, out);
    else
        o->relu_bwd(s->dz, s->act[u + 1], s->dact[u + 1], (size_t)n * out);
    float *dinp = NULL;
    if (u > 0) {
        dinp = s->dact[u];
        o->zero(dinp, (size_t)n * in * sizeof(float));
    }
    o->matmul_bwd(dinp, dw, db, s->dz, u ? s->act[u] : s->x, w, n, in, out);
}

static double mlp_loss_sum(zt_model *m) {
    mlp_impl *s = m->impl;
    return zt_model_row_loss_sum(s->ops, s->h_buf, s->losses, s->n);
}

static int mlp_correct(zt_model *m) {
    mlp_impl *s = m->impl;
    const int V = s->dim[s->L];
    return zt_model_argmax_hits(s->ops, s->h_buf, s->act[s->L], s->y_host, s->n, V);
}

static void mlp_destroy(zt_model *m) {
    if (!m) return;
    mlp_impl *s = m->impl;
    if (s) {
        s->ops->free(s->mem);
        free(s->h_buf);
        free(s);
    }
    zt_model_free(m);
}

zt_model *zt_mlp_create_ops(const zt_mlp_cfg *c, int max_batch, const zt_ops *ops) {
    if (!ops) ops = &zt_ops_cpu;
    if (!c || c->in_dim <= 0 || c->out_dim <= 1 || c->n_hidden < 0 ||
        c->n_hidden > MLP_MAX_LAYERS - 1 || max_batch <= 0) {
        zt_error("mlp: invalid config (in_dim > 0, out_dim > 1, 0 <= n_hidden <= %d, max_batch > 0)",
                 MLP_MAX_LAYERS - 1);
        return NULL;
    }
    for (int i = 0; i < c->n_hidden; i++)
        if (c->hidden[i] <= 0) {
            zt_error("mlp: hidden[%d] = %d must be > 0", i, c->hidden[i]);
            return NULL;
        }
    zt_model *m = calloc(1, sizeof *m);
    mlp_impl *s = calloc(1, sizeof *s);
    if (!m || !s) {
        zt_error("mlp: out of memory for the model");
        free(m); free(s);
        return NULL;
    }
    m->impl = s;
    m->ops = ops;
    m->destroy = mlp_destroy;
    s->ops = ops;
    s->L = c->n_hidden + 1;
    s->B = max_batch;
    s->dim[0] = c->in_dim;
    for (int i = 0; i < c->n_hidden; i++) s->dim[i + 1] = c->hidden[i];
    s->dim[s->L] = c->out_dim;

    snprintf(m->kind, sizeof m->kind, "mlp");
    double flops = 0.0;
    for (int l = 0; l < s->L; l++) {
        const int in = s->dim[l], out = s->dim[l + 1];
        char name[64];
        /* He-uniform for layers followed by a ReLU (bound √(6/in)), PyTorch's
         * default bound 1/√in for the output layer; zero biases. */
        float bound = l < s->L - 1 ? sqrtf(6.0f / (float)in) : 1.0f / sqrtf((float)in);
        snprintf(name, sizeof name, "fc%d.w", l);
        int ok = zt_model_add_tensor(m, l, name, (size_t)out, (size_t)in, ZT_INIT_UNIFORM, bound) >= 0;
        snprintf(name, sizeof name, "fc%d.b", l);
        ok = ok && zt_model_add_tensor(m, l, name, (size_t)out, 0, ZT_INIT_ZEROS, 0.0f) >= 0;
        if (!ok) {   /* zt_model_add_tensor has said why */
            zt_error("mlp: cannot build the tensor table");
            mlp_destroy(m);
            return NULL;
        }
        flops += 6.0 * in * out;
    }
    m->max_batch = max_batch;
    m->tokens_per_row = 1;
    m->n_ids = c->out_dim;
    m->flops_per_row = flops;
    m->grad_scale = 1.0f;
    m->set_batch = mlp_set_batch;
    m->forward = mlp_forward;
    m->backward = mlp_backward;
    m->loss_sum = mlp_loss_sum;
    m->correct = mlp_correct;

    /* ---- activations: a size table, one allocation, pointers into it; each
     * buffer starts on a 64-byte boundary, as when each had its own ---- */
    const size_t B = (size_t)max_batch;
    s->max_dim = 0;
    for (int l = 0; l <= s->L; l++) if (s->dim[l] > s->max_dim) s->max_dim = s->dim[l];
    enum { MAXBUF = 2 * (MLP_MAX_LAYERS + 1) + 3 };
    void **ptrs[MAXBUF];
    size_t floats[MAXBUF];   /* 4-byte units: int32 targets count as floats */
    int nb = 0;
    const size_t dev = ops->device;   /* a host table reads the batch in place */
    ptrs[nb] = (void **)&s->x_dev; floats[nb++] = dev * B * s->dim[0];
    for (int l = 1; l <= s->L; l++) { ptrs[nb] = (void **)&s->act[l]; floats[nb++] = B * s->dim[l]; }
    for (int l = 1; l < s->L; l++) { ptrs[nb] = (void **)&s->dact[l]; floats[nb++] = B * s->dim[l]; }
    ptrs[nb] = (void **)&s->dz; floats[nb++] = B * s->max_dim;
    ptrs[nb] = (void **)&s->y_dev; floats[nb++] = dev * B;
    ptrs[nb] = (void **)&s->losses; floats[nb++] = B;
    size_t total = 0;
    for (int i = 0; i < nb; i++) total += (floats[i] + 15) & ~(size_t)15;
    float *base = ops->alloc(total * sizeof(float));
    s->mem = base;
    for (int i = 0; base && i < nb; i++) {
        *ptrs[i] = base;
        base += (floats[i] + 15) & ~(size_t)15;
    }
    s->h_buf = calloc(B * (size_t)c->out_dim + B, sizeof(float));
    m->act_bytes = s->mem ? total * sizeof(float) : 0;
    if (!s->mem || !s->h_buf) {
        zt_error("mlp: out of memory for activations (%zu bytes on %s)", total * sizeof(float),
                 ops->name);
        mlp_destroy(m);
        return NULL;
    }
    return m;
}

zt_model *zt_mlp_create(const zt_mlp_cfg *c, int max_batch) {
    return zt_mlp_create_ops(c, max_batch, &zt_ops_cpu);
}
