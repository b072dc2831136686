/* model_gpt.c — decoder-only transformer as GPT-2 defines it.
 *   unit 0        : x = wte[tok] + wpe[t]   (learned position embeddings)
 *   unit 1+l      : pre-LN block l: x += proj(attn(ln1(x))); x += mlp(ln2(x)),
 *                   mlp = fc (C→4C) · GELU(tanh) · proj (4C→C)
 *   unit L+1      : lnf, logits = lnf(x) · wteᵀ, softmax cross-entropy
 * row loss = mean over the T positions. Tensor names and shapes: model.h.
 * All device work goes through the op table (ops.h), llm.c-style buffers.
 *
 * Weight tying. The head is wte itself, but wte lives in unit 0 and the head
 * runs in the last unit, and a unit's forward/backward only sees its own
 * parameters (under ZeRO-3 the gathered copy of unit 0 is gone by then). So:
 *  - forward(0) copies wte into the model's own buffer `wte_head` (V·C floats,
 *    counted in act_bytes); the head's forward and backward read that copy;
 *  - backward(L+1) computes d lnf = dlogits · wte and keeps dlogits; the
 *    head's share of d wte (dlogitsᵀ · lnf) is added in backward(0), into unit
 *    0's gradient next to the embedding's share, so d wte = sum of both uses
 *    and arrives where the engine reduces unit 0 — at any W and ZeRO stage,
 *    with no change to the engine. */
#include "model.h"
#include "ops.h"          /* the op table every kernel call goes through */
#include "zt_launcher.h"  /* ZT_EXIT_DATA, ZT_EXIT_INTERNAL */
#include "zt_log.h"       /* zt_error, zt_fatal */
#include <math.h>         /* sqrtf */
#include <stdio.h>        /* snprintf */
#include <stdlib.h>       /* calloc, free */
#include <string.h>       /* memset */

/* per-layer parameter pointers inside a unit's range (offsets in floats) */
enum { P_LN1G, P_LN1B, P_QKVW, P_QKVB, P_PROJW, P_PROJB, P_LN2G, P_LN2B,
       P_FCW, P_FCB, P_MPROJW, P_MPROJB, P_NBLOCK };

/* The activations, llm.c-style: a size table (fill_in_activation_sizes), one
 * allocation through the op table (malloc_and_point_activations), pointers
 * into it. A per-layer tensor holds its L slices back to back. Each slice
 * starts on a 64-byte boundary, as each had its own allocation once, so the
 * kernels see the same alignment. Shapes use B = max rows, NT = B·T. */
enum { A_RES, A_LN1, A_LN1_MEAN, A_LN1_RSTD, A_QKV, A_ATT, A_ATTY, A_RES1, A_LN2,
       A_LN2_MEAN, A_LN2_RSTD, A_FCH, A_FCH_GELU, A_LNF, A_LNF_MEAN, A_LNF_RSTD, A_PROBS,
       A_LOSSES, A_DRES, A_DSCRATCH, A_DLOGITS, A_DLNF, A_ATT_SCRATCH, A_TOK, A_TGT, A_WTE_HEAD,
       A_NUM };

typedef struct {
    float *res;                        /* [L+1, B,T,C] slice l: block l's input; slice L: final x */
    float *ln1, *ln1_mean, *ln1_rstd;  /* [L, B,T,C], [L, B,T], [L, B,T] */
    float *qkv;                        /* [L, B,T,3C] */
    float *att;                        /* [L, attn_saved_floats] */
    float *atty;                       /* [L, B,T,C] attention output before proj */
    float *res1;                       /* [L, B,T,C] x after the attention residual */
    float *ln2, *ln2_mean, *ln2_rstd;  /* [L, B,T,C], [L, B,T], [L, B,T] */
    float *fch;                        /* [L, B,T,4C] pre-GELU */
    float *fch_gelu;                   /* [L, B,T,4C] */
    float *lnf, *lnf_mean, *lnf_rstd;  /* [B,T,C], [B,T], [B,T] */
    float *probs;                      /* [B,T,V] logits, then probs in place */
    float *losses;                     /* [B,T] */
    /* gradients of activations, shared by all layers */
    float *dres;                       /* [B,T,C] d loss / d residual stream */
    float *dscratch;                   /* [B,T,14C] one zeroing: dfch_gelu|dfch|dln2|datty|dqkv|dln1 */
    float *dlogits;                    /* [B,T,V] */
    float *dlnf;                       /* [B,T,C] */
    float *att_scratch;                /* attn_scratch_floats, temporary */
    int32_t *tok, *tgt;                /* [B,T] (device tables only: a host table reads the batch) */
    float *wte_head;                   /* [V,C] forward(0)'s copy of wte, for the tied head */
} gpt_acts;

typedef struct {                   /* layer l's slices of the per-layer tensors */
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *att, *atty, *res1;
    float *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu;
} gpt_layer;

typedef struct {
    const zt_ops *ops;
    int V, T, C, L, NH, B;   /* B = max rows */
    int n;                   /* rows of the current batch */
    size_t blk_off[P_NBLOCK];
    gpt_acts a;
    const int32_t *tok, *tgt;          /* this batch's ids [n,T]: the batch's own, or a.tok / a.tgt */
    void *mem;               /* the one allocation the pointers in `a` point into */
    size_t n_slices[A_NUM], slice_floats[A_NUM];  /* the size table */
    /* this batch's parts of a.dscratch, packed for n·T rows so that one
     * zero() of a prefix clears all of them */
    float *dfch_gelu, *dfch, *dln2, *datty, *dqkv, *dln1;
    float *h_losses;         /* host [B,T] */
} gpt_impl;

static size_t pad16(size_t floats) { return (floats + 15) & ~(size_t)15; }

/* Slices and floats per slice of every activation tensor (int32 ones count in
 * 4-byte units, the size of a float). */
static void fill_in_activation_sizes(gpt_impl *s) {
    const size_t NT = (size_t)s->B * s->T, C = (size_t)s->C, V = (size_t)s->V;
    const size_t L = (size_t)s->L;
    size_t *n = s->n_slices, *f = s->slice_floats;
    for (int i = 0; i < A_NUM; i++) n[i] = 1;
    f[A_RES] = NT * C;       n[A_RES] = L + 1;
    f[A_LN1] = NT * C;       n[A_LN1] = L;
    f[A_LN1_MEAN] = NT;      n[A_LN1_MEAN] = L;
    f[A_LN1_RSTD] = NT;      n[A_LN1_RSTD] = L;
    f[A_QKV] = NT * 3 * C;   n[A_QKV] = L;
    f[A_ATT] = s->ops->attn_saved_floats(s->B, s->T, s->C, s->NH); n[A_ATT] = L;
    f[A_ATTY] = NT * C;      n[A_ATTY] = L;
    f[A_RES1] = NT * C;      n[A_RES1] = L;
    f[A_LN2] = NT * C;       n[A_LN2] = L;
    f[A_LN2_MEAN] = NT;      n[A_LN2_MEAN] = L;
    f[A_LN2_RSTD] = NT;      n[A_LN2_RSTD] = L;
    f[A_FCH] = NT * 4 * C;   n[A_FCH] = L;
    f[A_FCH_GELU] = NT * 4 * C; n[A_FCH_GELU] = L;
    f[A_LNF] = NT * C;
    f[A_LNF_MEAN] = NT;
    f[A_LNF_RSTD] = NT;
    f[A_PROBS] = NT * V;
    f[A_LOSSES] = NT;
    f[A_DRES] = NT * C;
    f[A_DSCRATCH] = NT * 14 * C;   /* dfch_gelu 4C | dfch 4C | dln2 C | datty C | dqkv 3C | dln1 C */
    f[A_DLOGITS] = NT * V;
    f[A_DLNF] = NT * C;
    f[A_ATT_SCRATCH] = s->ops->attn_scratch_floats(s->B, s->T, s->C, s->NH) + 1;
    f[A_TOK] = s->ops->device * NT;   /* a host table reads the batch's own ids */
    f[A_TGT] = s->ops->device * NT;
    f[A_WTE_HEAD] = V * C;
}

/* One zero-filled allocation for the whole table; points a's fields into it.
 * Returns the bytes allocated, 0 if the allocation failed. */
static size_t malloc_and_point_activations(gpt_impl *s) {
    void **ptrs[A_NUM] = {
        (void **)&s->a.res, (void **)&s->a.ln1, (void **)&s->a.ln1_mean, (void **)&s->a.ln1_rstd,
        (void **)&s->a.qkv, (void **)&s->a.att, (void **)&s->a.atty, (void **)&s->a.res1,
        (void **)&s->a.ln2, (void **)&s->a.ln2_mean, (void **)&s->a.ln2_rstd, (void **)&s->a.fch,
        (void **)&s->a.fch_gelu, (void **)&s->a.lnf, (void **)&s->a.lnf_mean,
        (void **)&s->a.lnf_rstd, (void **)&s->a.probs, (void **)&s->a.losses, (void **)&s->a.dres,
        (void **)&s->a.dscratch, (void **)&s->a.dlogits, (void **)&s->a.dlnf,
        (void **)&s->a.att_scratch, (void **)&s->a.tok, (void **)&s->a.tgt,
        (void **)&s->a.wte_head,
    };
    size_t total = 0;
    for (int i = 0; i < A_NUM; i++) total += s->n_slices[i] * pad16(s->slice_floats[i]);
    float *base = s->ops->alloc(total * sizeof(float));
    if (!base) return 0;
    s->mem = base;
    for (int i = 0; i < A_NUM; i++) {
        *ptrs[i] = base;
        base += s->n_slices[i] * pad16(s->slice_floats[i]);
    }
    return total * sizeof(float);
}

/* Residual stream slice l [B,T,C]: block l's input; l = L is the final x. */
static float *res_at(const gpt_impl *s, int l) {
    return s->a.res + (size_t)l * pad16(s->slice_floats[A_RES]);
}

static gpt_layer layer_at(const gpt_impl *s, int l) {
#define SL(field, id) s->a.field + (size_t)l * pad16(s->slice_floats[id])
    gpt_layer y = {
        .ln1 = SL(ln1, A_LN1), .ln1_mean = SL(ln1_mean, A_LN1_MEAN), .ln1_rstd = SL(ln1_rstd, A_LN1_RSTD),
        .qkv = SL(qkv, A_QKV), .att = SL(att, A_ATT), .atty = SL(atty, A_ATTY), .res1 = SL(res1, A_RES1),
        .ln2 = SL(ln2, A_LN2), .ln2_mean = SL(ln2_mean, A_LN2_MEAN), .ln2_rstd = SL(ln2_rstd, A_LN2_RSTD),
        .fch = SL(fch, A_FCH), .fch_gelu = SL(fch_gelu, A_FCH_GELU),
    };
#undef SL
    return y;
}

/* b->xi and b->y are [n,T] token ids on the host. */
static void gpt_set_batch(zt_model *m, const zt_batch *b) {
    gpt_impl *s = m->impl;
    if (b->n > s->B)
        zt_fatal(ZT_EXIT_INTERNAL, "gpt: micro-batch of %d rows > max_batch %d", b->n, s->B);
    s->n = b->n;
    size_t nt = (size_t)b->n * s->T;   /* ids were checked by the batch's producer (model.h) */
    s->tok = zt_model_batch_in(s->ops, s->a.tok, b->xi, nt * sizeof(int32_t));
    s->tgt = zt_model_batch_in(s->ops, s->a.tgt, b->y, nt * sizeof(int32_t));
    const size_t C = (size_t)s->C;
    s->dfch_gelu = s->a.dscratch;           /* [n,T,4C] */
    s->dfch = s->dfch_gelu + nt * 4 * C;    /* [n,T,4C] */
    s->dln2 = s->dfch + nt * 4 * C;         /* [n,T,C] */
    s->datty = s->dln2 + nt * C;            /* [n,T,C] */
    s->dqkv = s->datty + nt * C;            /* [n,T,3C] */
    s->dln1 = s->dqkv + nt * 3 * C;         /* [n,T,C] */
}

/* Unit u's forward; pu is that unit's parameters. Below B = rows of this
 * batch, N = B·T. */
static void gpt_forward(zt_model *m, int u, const float *pu) {
    gpt_impl *s = m->impl;
    const zt_ops *o = s->ops;
    const int B = s->n, T = s->T, C = s->C, V = s->V, NH = s->NH, L = s->L;
    const int N = B * T;
    if (u == 0) {
        /* tok is [B,T]; wte [V,C], wpe [T,C]; res[0] is [B,T,C] */
        const float *wte = pu, *wpe = pu + (size_t)V * C;
        o->embed_fwd(res_at(s, 0), s->tok, wte, wpe, B, T, C);
        o->copy(s->a.wte_head, wte, (size_t)V * C * sizeof(float));   /* the tied head's */
    } else if (u <= L) {
        const int l = u - 1;
        const gpt_layer a = layer_at(s, l);
        const size_t *q = s->blk_off;
        float *x = res_at(s, l), *y = res_at(s, l + 1);   /* both [B,T,C] */
        /* ln1 [B,T,C], ln1_mean/rstd [B,T] */
        o->layernorm_fwd(a.ln1, a.ln1_mean, a.ln1_rstd, x, pu + q[P_LN1G], pu + q[P_LN1B], N, C);
        /* qkv [B,T,3C] */
        o->matmul_fwd(a.qkv, a.ln1, pu + q[P_QKVW], pu + q[P_QKVB], N, C, 3 * C);
        /* atty [B,T,C] */
        o->attention_fwd(a.atty, a.att, s->a.att_scratch, a.qkv, B, T, C, NH);
        /* res1 = x + proj(atty), [B,T,C]: proj into res1, then add the residual */
        o->matmul_fwd(a.res1, a.atty, pu + q[P_PROJW], pu + q[P_PROJB], N, C, C);
        o->residual_fwd(a.res1, a.res1, x, (size_t)N * C);
        /* ln2 [B,T,C] */
        o->layernorm_fwd(a.ln2, a.ln2_mean, a.ln2_rstd, a.res1, pu + q[P_LN2G], pu + q[P_LN2B],
                         N, C);
        /* fch, fch_gelu [B,T,4C] */
        o->matmul_fwd(a.fch, a.ln2, pu + q[P_FCW], pu + q[P_FCB], N, C, 4 * C);
        o->gelu_fwd(a.fch_gelu, a.fch, (size_t)N * 4 * C);
        /* y = res1 + proj(fch_gelu), [B,T,C] */
        o->matmul_fwd(y, a.fch_gelu, pu + q[P_MPROJW], pu + q[P_MPROJB], N, 4 * C, C);
        o->residual_fwd(y, y, a.res1, (size_t)N * C);
    } else {
        /* lnf [B,T,C]; probs [B,T,V]; losses [B,T] */
        const float *g = pu, *b = pu + C, *head = s->a.wte_head;
        o->layernorm_fwd(s->a.lnf, s->a.lnf_mean, s->a.lnf_rstd, res_at(s, L), g, b, N, C);
        o->matmul_fwd(s->a.probs, s->a.lnf, head, NULL, N, C, V);
        o->softmax_ce_fwd(s->a.losses, s->a.probs, s->a.probs, s->tgt, N, V);
    }
}

/* Unit u's backward: accumulates into gu (that unit's gradients). Shapes as in
 * gpt_forward; every d* activation has its activation's shape. */
static void gpt_backward(zt_model *m, int u, const float *pu, float *gu) {
    gpt_impl *s = m->impl;
    const zt_ops *o = s->ops;
    const int B = s->n, T = s->T, C = s->C, V = s->V, NH = s->NH, L = s->L;
    const int N = B * T;
    if (u == L + 1) {
        const float *g = pu, *head = s->a.wte_head;
        float *dg = gu, *db = gu + C;
        o->zero(s->a.dlogits, (size_t)N * V * sizeof(float));
        o->zero(s->a.dlnf, (size_t)N * C * sizeof(float));
        o->zero(s->a.dres, (size_t)N * C * sizeof(float));
        /* dlogits [B,T,V] -> dlnf [B,T,C] -> dres = d loss / d res[L] [B,T,C];
         * dlogits stays for backward(0), which adds the head's share of dwte */
        o->softmax_ce_bwd(s->a.dlogits, s->a.probs, s->tgt, m->grad_scale / (float)T, N, V);
        o->matmul_bwd(s->a.dlnf, NULL, NULL, s->a.dlogits, s->a.lnf, head, N, C, V);
        o->layernorm_bwd(s->a.dres, dg, db, s->a.dlnf, res_at(s, L), g, s->a.lnf_mean,
                         s->a.lnf_rstd, N, C);
    } else if (u >= 1) {
        const int l = u - 1;
        const gpt_layer a = layer_at(s, l);
        const size_t *q = s->blk_off;
        float *dres = s->a.dres;   /* d loss / d res[l+1] on entry, d loss / d res[l] on exit */
        o->zero(s->a.dscratch, (size_t)N * 14 * C * sizeof(float));
        /* dfch_gelu [B,T,4C] */
        o->matmul_bwd(s->dfch_gelu, gu + q[P_MPROJW], gu + q[P_MPROJB], dres, a.fch_gelu,
                      pu + q[P_MPROJW], N, 4 * C, C);
        /* dfch [B,T,4C] */
        o->gelu_bwd(s->dfch, a.fch, s->dfch_gelu, (size_t)N * 4 * C);
        /* dln2 [B,T,C] */
        o->matmul_bwd(s->dln2, gu + q[P_FCW], gu + q[P_FCB], s->dfch, a.ln2, pu + q[P_FCW], N, C,
                      4 * C);
        /* dres += d through ln2: now d loss / d res1 [B,T,C] */
        o->layernorm_bwd(dres, gu + q[P_LN2G], gu + q[P_LN2B], s->dln2, a.res1, pu + q[P_LN2G],
                         a.ln2_mean, a.ln2_rstd, N, C);
        /* datty [B,T,C] */
        o->matmul_bwd(s->datty, gu + q[P_PROJW], gu + q[P_PROJB], dres, a.atty, pu + q[P_PROJW],
                      N, C, C);
        /* dqkv [B,T,3C] */
        o->attention_bwd(s->dqkv, s->a.att_scratch, s->datty, a.qkv, a.att, B, T, C, NH);
        /* dln1 [B,T,C] */
        o->matmul_bwd(s->dln1, gu + q[P_QKVW], gu + q[P_QKVB], s->dqkv, a.ln1, pu + q[P_QKVW], N,
                      C, 3 * C);
        /* dres += d through ln1: now d loss / d res[l] [B,T,C] */
        o->layernorm_bwd(dres, gu + q[P_LN1G], gu + q[P_LN1B], s->dln1, res_at(s, l),
                         pu + q[P_LN1G], a.ln1_mean, a.ln1_rstd, N, C);
    } else {
        /* dwte [V,C] and dwpe [T,C] from dres [B,T,C]; dwte += the tied
         * head's share dlogits[N,V]ᵀ · lnf[N,C] (dinp NULL: not needed) */
        float *dwte = gu, *dwpe = gu + (size_t)V * C;
        o->embed_bwd(dwte, dwpe, s->a.dres, s->tok, B, T, C);
        o->matmul_bwd(NULL, dwte, NULL, s->a.dlogits, s->a.lnf, s->a.wte_head, N, C, V);
    }
}

static double gpt_loss_sum(zt_model *m) {
    gpt_impl *s = m->impl;
    size_t nt = (size_t)s->n * s->T;
    s->ops->to_host(s->h_losses, s->a.losses, nt * sizeof(float));
    double sum = 0.0;
    for (size_t i = 0; i < nt; i++) sum += s->h_losses[i];
    return sum / (double)s->T;
}

static int gpt_correct(zt_model *m) { return 0; }

const float *zt_gpt_probs(const zt_model *m) {
    if (!m || strcmp(m->kind, "gpt") || m->ops->device) return NULL;
    return ((const gpt_impl *)m->impl)->a.probs;
}

static void gpt_destroy(zt_model *m) {
    if (!m) return;
    gpt_impl *s = m->impl;
    if (s) {
        s->ops->free(s->mem);
        free(s->h_losses);
        free(s);
    }
    zt_model_free(m);
}

zt_model *zt_gpt_create_ops(const zt_gpt_cfg *c, int max_batch, const zt_ops *ops) {
    if (!ops) ops = &zt_ops_cpu;
    if (!c || c->vocab <= 1 || c->ctx <= 0 || c->d_model <= 0 || c->n_layer <= 0 ||
        c->n_head <= 0 || c->d_model % c->n_head != 0 || max_batch <= 0) {
        zt_error("gpt: invalid config (vocab > 1, ctx > 0, d_model %% n_head == 0, n_layer > 0, "
                 "max_batch > 0)");
        return NULL;
    }
    zt_model *m = calloc(1, sizeof *m);
    gpt_impl *s = calloc(1, sizeof *s);
    if (!m || !s) {
        zt_error("gpt: out of memory for the model");
        free(m); free(s);
        return NULL;
    }
    m->impl = s;
    m->ops = ops;
    m->destroy = gpt_destroy;
    s->ops = ops;
    const int V = c->vocab, T = c->ctx, C = c->d_model, L = c->n_layer, NH = c->n_head;
    s->V = V; s->T = T; s->C = C; s->L = L; s->NH = NH; s->B = max_batch;
    snprintf(m->kind, sizeof m->kind, "gpt");

    /* ---- tensors ---- */
    const float std = 0.02f, std_res = 0.02f / sqrtf(2.0f * (float)L);
    int ok = zt_model_add_tensor(m, 0, "wte", (size_t)V, (size_t)C, ZT_INIT_NORMAL, std) >= 0 &&
             zt_model_add_tensor(m, 0, "wpe", (size_t)T, (size_t)C, ZT_INIT_NORMAL, std) >= 0;
    for (int l = 0; ok && l < L; l++) {
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
        for (int i = 0; ok && i < P_NBLOCK; i++) {
            snprintf(nm, sizeof nm, "h%d.%s", l, spec[i].sfx);
            int ti = zt_model_add_tensor(m, u, nm, spec[i].d0, spec[i].d1, spec[i].init, spec[i].sc);
            ok = ti >= 0;
            if (ok && l == 0) s->blk_off[i] = m->tensors[ti].off - m->unit_off[u];
        }
    }
    ok = ok && zt_model_add_tensor(m, L + 1, "lnf.g", (size_t)C, 0, ZT_INIT_ONES, 0) >= 0 &&
         zt_model_add_tensor(m, L + 1, "lnf.b", (size_t)C, 0, ZT_INIT_ZEROS, 0) >= 0;
    if (!ok) {   /* zt_model_add_tensor has said why */
        zt_error("gpt: cannot build the tensor table (n_layer %d, d_model %d)", L, C);
        gpt_destroy(m);
        return NULL;
    }

    m->max_batch = max_batch;
    m->tokens_per_row = (size_t)T;
    m->n_ids = V;
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

    /* ---- activations ---- */
    fill_in_activation_sizes(s);
    m->act_bytes = malloc_and_point_activations(s);
    s->h_losses = calloc((size_t)max_batch * T, sizeof(float));
    if (!m->act_bytes || !s->h_losses) {
        size_t want = 0;
        for (int i = 0; i < A_NUM; i++) want += s->n_slices[i] * pad16(s->slice_floats[i]);
        zt_error("gpt: out of memory for activations (%zu bytes on %s)", want * sizeof(float),
                 ops->name);
        gpt_destroy(m);
        return NULL;
    }
    return m;
}

zt_model *zt_gpt_create(const zt_gpt_cfg *c, int max_batch) {
    return zt_gpt_create_ops(c, max_batch, &zt_ops_cpu);
}
