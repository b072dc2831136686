/* model_ref.h — an independent float64 reference for the model tests: naive
 * textbook loops for every op's FORWARD, the two models built from them, and
 * central finite differences. Nothing here shares code with trainer/ops/ops_cpu.c
 * (no BLAS, no saved state, no backward formulas), so a gradient that agrees
 * with these finite differences is checked against the math, not against
 * itself. Header-only: each test file includes it once. */
#ifndef ZT_MODEL_REF_H
#define ZT_MODEL_REF_H
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

/* ---- deterministic test data -------------------------------------------- */
static uint64_t ref_rng_state = 0x1234567ULL;
static inline void ref_seed(uint64_t s) { ref_rng_state = s * 0x9E3779B97F4A7C15ULL + 1; }
static inline double ref_unif(void) { /* [0,1) */
    ref_rng_state ^= ref_rng_state << 13;
    ref_rng_state ^= ref_rng_state >> 7;
    ref_rng_state ^= ref_rng_state << 17;
    return (double)(ref_rng_state >> 11) * 0x1.0p-53;
}
/* uniform in ±[lo, hi]: never zero, never tiny */
static inline float ref_nz(double lo, double hi) {
    double u = lo + (hi - lo) * ref_unif();
    return (float)(ref_unif() < 0.5 ? -u : u);
}
static inline void ref_fill(float *x, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) x[i] = ref_nz(lo, hi);
}
static inline int ref_randint(int n) { return (int)(ref_unif() * n); }

/* ---- float64 forward ops ----------------------------------------------- */
static void ref_matmul(double *out, const double *inp, const double *w, const double *bias,
                       int N, int C, int OC) {
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int c = 0; c < C; c++) s += inp[i * C + c] * w[o * C + c];
            out[i * OC + o] = s;
        }
}
static double ref_gelu1(double x) {
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
static void ref_layernorm(double *out, const double *inp, const double *g, const double *b,
                          int N, int C) {
    for (int i = 0; i < N; i++) {
        const double *x = inp + (size_t)i * C;
        double m = 0, v = 0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= C;
        for (int c = 0; c < C; c++) out[i * C + c] = (x[c] - m) / sqrt(v + 1e-5) * g[c] + b[c];
    }
}
static void ref_embed(double *out, const int32_t *tok, const double *wte, const double *wpe,
                      int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                out[((size_t)b * T + t) * C + c] =
                    wte[(size_t)tok[b * T + t] * C + c] + (wpe ? wpe[(size_t)t * C + c] : 0.0);
}
/* causal multi-head attention straight from the definition */
static void ref_attention(double *out, const double *qkv, int B, int T, int C, int NH) {
    const int hs = C / NH;
    double *w = malloc(sizeof(double) * T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                double mx = -INFINITY;
                for (int j = 0; j <= t; j++) {
                    const double *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    double s = 0;
                    for (int d = 0; d < hs; d++) s += q[d] * k[d];
                    w[j] = s / sqrt((double)hs);
                    if (w[j] > mx) mx = w[j];
                }
                double z = 0;
                for (int j = 0; j <= t; j++) { w[j] = exp(w[j] - mx); z += w[j]; }
                for (int d = 0; d < hs; d++) {
                    double s = 0;
                    for (int j = 0; j <= t; j++)
                        s += w[j] / z * qkv[((size_t)b * T + j) * 3 * C + 2 * C + h * hs + d];
                    out[((size_t)b * T + t) * C + h * hs + d] = s;
                }
            }
    free(w);
}
static void ref_softmax_ce(double *losses, const double *logits, const int32_t *y, int N, int V) {
    for (int i = 0; i < N; i++) {
        const double *x = logits + (size_t)i * V;
        double mx = x[0], z = 0;
        for (int j = 1; j < V; j++) if (x[j] > mx) mx = x[j];
        for (int j = 0; j < V; j++) z += exp(x[j] - mx);
        losses[i] = log(z) + mx - x[y[i]];
    }
}

/* ---- float64 models over the flat parameter vector ---------------------- */
static const double *ref_t(const zt_model *m, const double *p, const char *name) {
    const zt_tensor *t = zt_model_tensor(m, name);
    if (!t) abort();
    return p + t->off;
}

/* Σ over rows of the row loss (mlp: CE of the row) */
/* logits_out [n, out_dim] may be NULL */
__attribute__((unused)) static double ref_mlp_loss(const zt_model *m, const zt_mlp_cfg *c, const double *p,
                           const zt_batch *b, double *logits_out) {
    int L = c->n_hidden + 1, dim[10];
    dim[0] = c->in_dim;
    for (int i = 0; i < c->n_hidden; i++) dim[i + 1] = c->hidden[i];
    dim[L] = c->out_dim;
    int maxd = 0;
    for (int i = 0; i <= L; i++) if (dim[i] > maxd) maxd = dim[i];
    double *x = malloc(sizeof(double) * b->n * maxd), *y = malloc(sizeof(double) * b->n * maxd);
    for (int i = 0; i < b->n * c->in_dim; i++) x[i] = b->xf[i];
    for (int l = 0; l < L; l++) {
        char wn[32], bn[32];
        snprintf(wn, sizeof wn, "fc%d.w", l);
        snprintf(bn, sizeof bn, "fc%d.b", l);
        ref_matmul(y, x, ref_t(m, p, wn), ref_t(m, p, bn), b->n, dim[l], dim[l + 1]);
        if (l < L - 1)
            for (int i = 0; i < b->n * dim[l + 1]; i++) y[i] = y[i] > 0 ? y[i] : 0;
        double *tmp = x; x = y; y = tmp;
    }
    double *losses = malloc(sizeof(double) * b->n), s = 0;
    if (logits_out) memcpy(logits_out, x, sizeof(double) * b->n * c->out_dim);
    ref_softmax_ce(losses, x, b->y, b->n, c->out_dim);
    for (int i = 0; i < b->n; i++) s += losses[i];
    free(x); free(y); free(losses);
    return s;
}

/* Σ over rows of (mean over T of the position losses) */
__attribute__((unused)) static double ref_gpt_loss(const zt_model *m, const zt_gpt_cfg *c, const double *p,
                           const zt_batch *b) {
    const int B = b->n, T = c->ctx, C = c->d_model, V = c->vocab, NH = c->n_head;
    const int N = B * T;
    double *x = malloc(sizeof(double) * N * C), *ln = malloc(sizeof(double) * N * C);
    double *qkv = malloc(sizeof(double) * N * 3 * C), *att = malloc(sizeof(double) * N * C);
    double *tmp = malloc(sizeof(double) * N * 4 * C), *h = malloc(sizeof(double) * N * 4 * C);
    double *logits = malloc(sizeof(double) * N * V), *losses = malloc(sizeof(double) * N);
    ref_embed(x, b->xi, ref_t(m, p, "wte"), ref_t(m, p, "wpe"), B, T, C);
    for (int l = 0; l < c->n_layer; l++) {
        char nm[64];
#define P_(s) (snprintf(nm, sizeof nm, "h%d.%s", l, s), ref_t(m, p, nm))
        ref_layernorm(ln, x, P_("ln1.g"), P_("ln1.b"), N, C);
        ref_matmul(qkv, ln, P_("attn.qkv.w"), P_("attn.qkv.b"), N, C, 3 * C);
        ref_attention(att, qkv, B, T, C, NH);
        ref_matmul(tmp, att, P_("attn.proj.w"), P_("attn.proj.b"), N, C, C);
        for (int i = 0; i < N * C; i++) x[i] += tmp[i];
        ref_layernorm(ln, x, P_("ln2.g"), P_("ln2.b"), N, C);
        ref_matmul(h, ln, P_("mlp.fc.w"), P_("mlp.fc.b"), N, C, 4 * C);
        for (int i = 0; i < N * 4 * C; i++) h[i] = ref_gelu1(h[i]);
        ref_matmul(tmp, h, P_("mlp.proj.w"), P_("mlp.proj.b"), N, 4 * C, C);
        for (int i = 0; i < N * C; i++) x[i] += tmp[i];
#undef P_
    }
    ref_layernorm(ln, x, ref_t(m, p, "lnf.g"), ref_t(m, p, "lnf.b"), N, C);
    ref_matmul(logits, ln, ref_t(m, p, "wte"), NULL, N, C, V);   /* the head is tied to wte */
    ref_softmax_ce(losses, logits, b->y, N, V);
    double s = 0;
    for (int i = 0; i < N; i++) s += losses[i];
    free(x); free(ln); free(qkv); free(att); free(tmp); free(h); free(logits); free(losses);
    return s / T;
}

/* ---- comparison ---------------------------------------------------------- */
/* Max elementwise error |a - r| relative to max|r| (scale-aware: gradients
 * that should be ~0 are judged against the tensor's scale), and the count of
 * elements that miss |a - r| <= atol_rel·max|r| + rtol·|r|. */
typedef struct { double max_err, ref_scale; long bad; long n; } ref_cmp;
__attribute__((unused)) static ref_cmp ref_compare(const float *a, const double *r, size_t n, double atol_rel,
                           double rtol) {
    ref_cmp c = {0, 0, 0, (long)n};
    for (size_t i = 0; i < n; i++) if (fabs(r[i]) > c.ref_scale) c.ref_scale = fabs(r[i]);
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - r[i]);
        if (e > c.max_err) c.max_err = e;
        if (!(e <= atol_rel * c.ref_scale + rtol * fabs(r[i]))) c.bad++;
    }
    if (c.ref_scale > 0) c.max_err /= c.ref_scale;
    if (getenv("ZT_TEST_VERBOSE"))
        fprintf(stderr, "  compare n=%ld max|ref|=%.3g max err (rel. to it)=%.3g bad=%ld\n",
                c.n, c.ref_scale, c.max_err, c.bad);
    return c;
}
#endif
