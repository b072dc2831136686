/* model_ops.c — every op of the CPU table (trainer/ops/ops.h): forward against a
 * float64 reference, and the analytic backward against central finite
 * differences of that float64 reference (model_ref.h), on random non-zero
 * inputs. Also the += contract of every backward, and the memory ops. */
#include <criterion/criterion.h>
#include <stdio.h>
#include "model_ref.h"
#include "ops.h"

static const zt_ops *O = &zt_ops_cpu;

/* tolerances: analytic fp32 gradient vs float64 finite differences */
#define ATOL_REL 5e-6   /* × max|ref| of the tensor */
#define RTOL     2e-5   /* × |ref| of the element */
#define FD_H     1e-5

static double *to_d(const float *x, size_t n) {
    double *d = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}
static float *falloc(size_t n) { return calloc(n ? n : 1, sizeof(float)); }
static float *frand(size_t n, double lo, double hi) {
    float *x = falloc(n);
    ref_fill(x, n, lo, hi);
    return x;
}

/* objective J(x) = Σ dout ⊙ f(x), f a float64 reference forward */
typedef void (*fwd_fn)(void *ctx, double *out);
typedef struct { fwd_fn f; void *ctx; const float *dout; size_t nout; } objective;
static double obj_eval(const objective *o) {
    double *out = malloc(sizeof(double) * o->nout), s = 0;
    o->f(o->ctx, out);
    for (size_t i = 0; i < o->nout; i++) s += (double)o->dout[i] * out[i];
    free(out);
    return s;
}
static void fd_grad(const objective *o, double *x, size_t n, double *g) {
    for (size_t i = 0; i < n; i++) {
        double s = x[i];
        x[i] = s + FD_H; double fp = obj_eval(o);
        x[i] = s - FD_H; double fm = obj_eval(o);
        x[i] = s;
        g[i] = (fp - fm) / (2 * FD_H);
    }
}
static void expect_close(const char *what, const float *a, const double *r, size_t n) {
    ref_cmp c = ref_compare(a, r, n, ATOL_REL, RTOL);
    cr_expect(c.ref_scale > 0, "%s: reference is all zero", what);
    cr_expect(c.bad == 0, "%s: %ld of %ld elements off, max err %.3g (rel. to max|ref| %.3g)",
              what, c.bad, c.n, c.max_err, c.ref_scale);
}
static void expect_fwd(const char *what, const float *a, const double *r, size_t n) {
    ref_cmp c = ref_compare(a, r, n, 1e-5, 1e-5);
    cr_expect(c.bad == 0, "%s forward: %ld of %ld off, max err %.3g", what, c.bad, c.n, c.max_err);
}
/* backward accumulates: g_acc (run on a buffer prefilled with pre) == pre + g0 */
static void expect_acc(const char *what, const float *g_acc, const float *pre, const float *g0,
                       size_t n) {
    long bad = 0;
    for (size_t i = 0; i < n; i++) {
        double want = (double)pre[i] + g0[i];
        if (fabs(g_acc[i] - want) > 1e-5 * (fabs(pre[i]) + fabs(g0[i])) + 1e-30) bad++;
    }
    cr_expect(bad == 0, "%s: backward does not accumulate (+=): %ld of %zu elements", what, bad, n);
}

/* ---------------------------------------------------------------- matmul */
typedef struct { int N, C, OC; double *inp, *w, *b; } mm_ctx;
static void mm_f(void *p, double *out) {
    mm_ctx *c = p;
    ref_matmul(out, c->inp, c->w, c->b, c->N, c->C, c->OC);
}

static void check_matmul(int N, int C, int OC, int with_bias) {
    ref_seed(11 + N * 100 + C * 10 + OC);
    float *inp = frand((size_t)N * C, 0.1, 1.0), *w = frand((size_t)OC * C, 0.1, 1.0);
    float *b = with_bias ? frand(OC, 0.1, 1.0) : NULL;
    float *dout = frand((size_t)N * OC, 0.1, 1.0);
    float *out = falloc((size_t)N * OC);
    O->matmul_fwd(out, inp, w, b, N, C, OC);
    mm_ctx ctx = {N, C, OC, to_d(inp, (size_t)N * C), to_d(w, (size_t)OC * C),
                  b ? to_d(b, OC) : NULL};
    double *ro = malloc(sizeof(double) * N * OC);
    mm_f(&ctx, ro);
    expect_fwd("matmul", out, ro, (size_t)N * OC);

    float *dinp = falloc((size_t)N * C), *dw = falloc((size_t)OC * C), *db = falloc(OC);
    O->matmul_bwd(dinp, dw, b ? db : NULL, dout, inp, w, N, C, OC);
    objective o = {mm_f, &ctx, dout, (size_t)N * OC};
    double *g = malloc(sizeof(double) * (size_t)N * C * OC);
    fd_grad(&o, ctx.inp, (size_t)N * C, g);  expect_close("matmul dinp", dinp, g, (size_t)N * C);
    fd_grad(&o, ctx.w, (size_t)OC * C, g);   expect_close("matmul dw", dw, g, (size_t)OC * C);
    if (b) { fd_grad(&o, ctx.b, OC, g);      expect_close("matmul dbias", db, g, OC); }

    /* += : prefilled buffers, and dinp = NULL allowed */
    float *pi = frand((size_t)N * C, 0.1, 1), *pw = frand((size_t)OC * C, 0.1, 1), *pb = frand(OC, 0.1, 1);
    float *ai = falloc((size_t)N * C), *aw = falloc((size_t)OC * C), *ab = falloc(OC);
    memcpy(ai, pi, sizeof(float) * N * C); memcpy(aw, pw, sizeof(float) * OC * C); memcpy(ab, pb, sizeof(float) * OC);
    O->matmul_bwd(ai, aw, b ? ab : NULL, dout, inp, w, N, C, OC);
    expect_acc("matmul dinp", ai, pi, dinp, (size_t)N * C);
    expect_acc("matmul dw", aw, pw, dw, (size_t)OC * C);
    if (b) expect_acc("matmul dbias", ab, pb, db, OC);
    memset(aw, 0, sizeof(float) * OC * C);
    O->matmul_bwd(NULL, aw, NULL, dout, inp, w, N, C, OC);
    cr_expect(memcmp(aw, dw, sizeof(float) * OC * C) == 0, "matmul dw differs with dinp = NULL");

    free(inp); free(w); free(b); free(dout); free(out); free(ro); free(dinp); free(dw); free(db);
    free(ctx.inp); free(ctx.w); free(ctx.b); free(g); free(pi); free(pw); free(pb);
    free(ai); free(aw); free(ab);
}
Test(ops, matmul) { check_matmul(6, 5, 7, 1); }
Test(ops, matmul_no_bias) { check_matmul(3, 9, 4, 0); }
Test(ops, matmul_wide) { check_matmul(17, 33, 12, 1); }

/* ------------------------------------------------------------ elementwise */
typedef struct { size_t n; double *x; int kind; } ew_ctx;
static void ew_f(void *p, double *out) {
    ew_ctx *c = p;
    for (size_t i = 0; i < c->n; i++)
        out[i] = c->kind == 0 ? (c->x[i] > 0 ? c->x[i] : 0) : ref_gelu1(c->x[i]);
}
static void check_ew(int kind) {
    const size_t n = 257;
    ref_seed(23 + kind);
    float *x = frand(n, kind == 0 ? 0.01 : 0.05, 6.0), *dout = frand(n, 0.1, 1.0);
    float *out = falloc(n), *dx = falloc(n);
    ew_ctx ctx = {n, to_d(x, n), kind};
    double *r = malloc(sizeof(double) * n), *g = malloc(sizeof(double) * n);
    ew_f(&ctx, r);
    if (kind == 0) {
        O->relu_fwd(out, x, n);
        expect_fwd("relu", out, r, n);
        O->relu_bwd(dx, out, dout, n);
    } else {
        O->gelu_fwd(out, x, n);
        expect_fwd("gelu", out, r, n);
        O->gelu_bwd(dx, x, dout, n);
    }
    objective o = {ew_f, &ctx, dout, n};
    fd_grad(&o, ctx.x, n, g);
    expect_close(kind == 0 ? "relu dinp" : "gelu dinp", dx, g, n);
    float *pre = frand(n, 0.1, 1.0), *acc = falloc(n);
    memcpy(acc, pre, sizeof(float) * n);
    if (kind == 0) O->relu_bwd(acc, out, dout, n); else O->gelu_bwd(acc, x, dout, n);
    expect_acc(kind == 0 ? "relu dinp" : "gelu dinp", acc, pre, dx, n);
    if (kind == 0) {   /* in place */
        memcpy(acc, x, sizeof(float) * n);
        O->relu_fwd(acc, acc, n);
        cr_expect(memcmp(acc, out, sizeof(float) * n) == 0, "relu in place differs");
    }
    free(x); free(dout); free(out); free(dx); free(ctx.x); free(r); free(g); free(pre); free(acc);
}
Test(ops, relu) { check_ew(0); }
Test(ops, gelu) { check_ew(1); }

Test(ops, residual_add_acc) {
    const size_t n = 101;
    ref_seed(5);
    float *a = frand(n, 0.1, 2), *b = frand(n, 0.1, 2), *o = falloc(n), *y = falloc(n);
    O->residual_fwd(o, a, b, n);
    for (size_t i = 0; i < n; i++) cr_expect_eq(o[i], a[i] + b[i]);
    memcpy(y, a, sizeof(float) * n);
    O->add_acc(y, b, n);
    for (size_t i = 0; i < n; i++) cr_expect_eq(y[i], a[i] + b[i]);
    O->residual_fwd(a, a, b, n);   /* out may alias a */
    cr_expect(memcmp(a, o, sizeof(float) * n) == 0);
    free(a); free(b); free(o); free(y);
}

/* -------------------------------------------------------------- layernorm */
typedef struct { int N, C; double *x, *g, *b; } ln_ctx;
static void ln_f(void *p, double *out) {
    ln_ctx *c = p;
    ref_layernorm(out, c->x, c->g, c->b, c->N, c->C);
}
static void check_layernorm(int N, int C, double spread, double offset) {
    ref_seed(31 + N + C);
    float *x = frand((size_t)N * C, 0.1, 2.0), *g = frand(C, 0.5, 1.5), *b = frand(C, 0.1, 0.5);
    /* rows with non-zero means; `spread` scales the row's variance (small:
     * eps = 1e-5 matters) */
    for (int i = 0; i < N * C; i++) x[i] = (float)(spread * x[i] + offset * (i / C));
    float *dout = frand((size_t)N * C, 0.1, 1.0), *out = falloc((size_t)N * C);
    float *mean = falloc(N), *rstd = falloc(N);
    O->layernorm_fwd(out, mean, rstd, x, g, b, N, C);
    ln_ctx ctx = {N, C, to_d(x, (size_t)N * C), to_d(g, C), to_d(b, C)};
    double *r = malloc(sizeof(double) * N * C);
    ln_f(&ctx, r);
    expect_fwd("layernorm", out, r, (size_t)N * C);
    float *dx = falloc((size_t)N * C), *dg = falloc(C), *db = falloc(C);
    O->layernorm_bwd(dx, dg, db, dout, x, g, mean, rstd, N, C);
    objective o = {ln_f, &ctx, dout, (size_t)N * C};
    fd_grad(&o, ctx.x, (size_t)N * C, r); expect_close("layernorm dinp", dx, r, (size_t)N * C);
    fd_grad(&o, ctx.g, C, r);             expect_close("layernorm dg", dg, r, C);
    fd_grad(&o, ctx.b, C, r);             expect_close("layernorm db", db, r, C);
    float *px = frand((size_t)N * C, .1, 1), *pg = frand(C, .1, 1), *pb = frand(C, .1, 1);
    float *ax = falloc((size_t)N * C), *ag = falloc(C), *ab = falloc(C);
    memcpy(ax, px, sizeof(float) * N * C); memcpy(ag, pg, sizeof(float) * C); memcpy(ab, pb, sizeof(float) * C);
    O->layernorm_bwd(ax, ag, ab, dout, x, g, mean, rstd, N, C);
    expect_acc("layernorm dinp", ax, px, dx, (size_t)N * C);
    expect_acc("layernorm dg", ag, pg, dg, C);
    expect_acc("layernorm db", ab, pb, db, C);
    free(x); free(g); free(b); free(dout); free(out); free(mean); free(rstd); free(r);
    free(dx); free(dg); free(db); free(ctx.x); free(ctx.g); free(ctx.b);
    free(px); free(pg); free(pb); free(ax); free(ag); free(ab);
}
Test(ops, layernorm) { check_layernorm(5, 12, 1.0, 0.7); }
/* variance ~1e-5, comparable to eps: a wrong eps shows */
Test(ops, layernorm_small_variance) { check_layernorm(3, 16, 0.003, 0.002); }

/* -------------------------------------------------------------- embedding */
typedef struct { int B, T, C; const int32_t *tok; double *wte, *wpe; } em_ctx;
static void em_f(void *p, double *out) {
    em_ctx *c = p;
    ref_embed(out, c->tok, c->wte, c->wpe, c->B, c->T, c->C);
}
Test(ops, embedding) {
    const int B = 3, T = 4, C = 5, V = 6;
    ref_seed(41);
    int32_t tok[3 * 4];
    for (int i = 0; i < B * T; i++) tok[i] = ref_randint(V);
    tok[0] = tok[5] = tok[11] = 2;   /* repeated tokens: the backward must scatter-add */
    float *wte = frand((size_t)V * C, 0.1, 1), *wpe = frand((size_t)T * C, 0.1, 1);
    float *dout = frand((size_t)B * T * C, 0.1, 1), *out = falloc((size_t)B * T * C);
    O->embed_fwd(out, tok, wte, wpe, B, T, C);
    em_ctx ctx = {B, T, C, tok, to_d(wte, (size_t)V * C), to_d(wpe, (size_t)T * C)};
    double *r = malloc(sizeof(double) * B * T * C);
    em_f(&ctx, r);
    expect_fwd("embedding", out, r, (size_t)B * T * C);
    float *dwte = falloc((size_t)V * C), *dwpe = falloc((size_t)T * C);
    O->embed_bwd(dwte, dwpe, dout, tok, B, T, C);
    objective o = {em_f, &ctx, dout, (size_t)B * T * C};
    double *g = malloc(sizeof(double) * V * C * 2);
    fd_grad(&o, ctx.wte, (size_t)V * C, g);
    /* rows of tokens that never occur have zero gradient: compare all */
    ref_cmp c = ref_compare(dwte, g, (size_t)V * C, ATOL_REL, RTOL);
    cr_expect(c.bad == 0, "embedding dwte: %ld off, max err %.3g", c.bad, c.max_err);
    fd_grad(&o, ctx.wpe, (size_t)T * C, g); expect_close("embedding dwpe", dwpe, g, (size_t)T * C);
    float *pre = frand((size_t)V * C, .1, 1), *acc = falloc((size_t)V * C);
    memcpy(acc, pre, sizeof(float) * V * C);
    float *dwpe2 = falloc((size_t)T * C);
    O->embed_bwd(acc, dwpe2, dout, tok, B, T, C);
    expect_acc("embedding dwte", acc, pre, dwte, (size_t)V * C);
    /* wpe = NULL: token embedding only */
    O->embed_fwd(out, tok, wte, NULL, B, T, C);
    for (int i = 0; i < B * T; i++)
        cr_expect(memcmp(out + (size_t)i * C, wte + (size_t)tok[i] * C, sizeof(float) * C) == 0);
    free(wte); free(wpe); free(dout); free(out); free(r); free(dwte); free(dwpe); free(g);
    free(ctx.wte); free(ctx.wpe); free(pre); free(acc); free(dwpe2);
}

/* -------------------------------------------------------------- attention */
typedef struct { int B, T, C, NH; double *qkv; } at_ctx;
static void at_f(void *p, double *out) {
    at_ctx *c = p;
    ref_attention(out, c->qkv, c->B, c->T, c->C, c->NH);
}
static void check_attention(int B, int T, int C, int NH) {
    ref_seed(51 + B + T + C + NH);
    const size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C;
    float *qkv = frand(nq, 0.1, 1.5), *dout = frand(no, 0.1, 1), *out = falloc(no);
    float *saved = falloc(O->attn_saved_floats(B, T, C, NH));
    float *scratch = falloc(O->attn_scratch_floats(B, T, C, NH));
    O->attention_fwd(out, saved, scratch, qkv, B, T, C, NH);
    at_ctx ctx = {B, T, C, NH, to_d(qkv, nq)};
    double *r = malloc(sizeof(double) * nq);
    at_f(&ctx, r);
    expect_fwd("attention", out, r, no);
    float *dqkv = falloc(nq);
    O->attention_bwd(dqkv, scratch, dout, qkv, saved, B, T, C, NH);
    objective o = {at_f, &ctx, dout, no};
    fd_grad(&o, ctx.qkv, nq, r);
    expect_close("attention dqkv", dqkv, r, nq);
    float *pre = frand(nq, .1, 1), *acc = falloc(nq);
    memcpy(acc, pre, sizeof(float) * nq);
    O->attention_bwd(acc, scratch, dout, qkv, saved, B, T, C, NH);
    expect_acc("attention dqkv", acc, pre, dqkv, nq);
    free(qkv); free(dout); free(out); free(saved); free(scratch); free(ctx.qkv); free(r);
    free(dqkv); free(pre); free(acc);
}
Test(ops, attention) { check_attention(2, 5, 8, 2); }
Test(ops, attention_3heads) { check_attention(1, 7, 12, 3); }
Test(ops, attention_1head_T1) { check_attention(3, 1, 4, 1); }

/* ---------------------------------------------------- softmax cross-entropy */
typedef struct { int N, V; const int32_t *y; double *x; double scale; } ce_ctx;
static void ce_f(void *p, double *out) {   /* out[0] = scale · Σ losses */
    ce_ctx *c = p;
    double *l = malloc(sizeof(double) * c->N), s = 0;
    ref_softmax_ce(l, c->x, c->y, c->N, c->V);
    for (int i = 0; i < c->N; i++) s += l[i];
    out[0] = c->scale * s;
    free(l);
}
Test(ops, softmax_cross_entropy) {
    const int N = 6, V = 9;
    ref_seed(61);
    int32_t y[6];
    for (int i = 0; i < N; i++) y[i] = ref_randint(V);
    float *x = frand((size_t)N * V, 0.1, 3.0), *probs = falloc((size_t)N * V), *loss = falloc(N);
    x[3] = 40.0f;   /* a large logit: stable softmax */
    O->softmax_ce_fwd(loss, probs, x, y, N, V);
    ce_ctx ctx = {N, V, y, to_d(x, (size_t)N * V), 0.37};
    double *rl = malloc(sizeof(double) * N);
    ref_softmax_ce(rl, ctx.x, y, N, V);
    expect_fwd("cross-entropy loss", loss, rl, N);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < V; j++) s += probs[i * V + j];
        cr_expect(fabs(s - 1.0) < 1e-5, "row %d of probs sums to %g", i, s);
    }
    float *dx = falloc((size_t)N * V);
    O->softmax_ce_bwd(dx, probs, y, 0.37f, N, V);
    float one = 1.0f;
    objective o = {ce_f, &ctx, &one, 1};
    double *g = malloc(sizeof(double) * N * V);
    fd_grad(&o, ctx.x, (size_t)N * V, g);
    expect_close("cross-entropy dlogits", dx, g, (size_t)N * V);
    float *pre = frand((size_t)N * V, .1, 1), *acc = falloc((size_t)N * V);
    memcpy(acc, pre, sizeof(float) * N * V);
    O->softmax_ce_bwd(acc, probs, y, 0.37f, N, V);
    expect_acc("cross-entropy dlogits", acc, pre, dx, (size_t)N * V);
    /* in place: probs over the logits */
    float *ip = falloc((size_t)N * V), *il = falloc(N);
    memcpy(ip, x, sizeof(float) * N * V);
    O->softmax_ce_fwd(il, ip, ip, y, N, V);
    cr_expect(memcmp(ip, probs, sizeof(float) * N * V) == 0, "in-place probs differ");
    cr_expect(memcmp(il, loss, sizeof(float) * N) == 0, "in-place losses differ");
    free(x); free(probs); free(loss); free(ctx.x); free(rl); free(dx); free(g); free(pre);
    free(acc); free(ip); free(il);
}

/* ------------------------------------------------------- memory, flat ops */
Test(ops, memory_and_flat) {
    float *a = O->alloc(1000 * sizeof(float));
    cr_assert_not_null(a);
    cr_expect(((uintptr_t)a & 63) == 0, "alloc not 64-byte aligned");
    for (int i = 0; i < 1000; i++) cr_expect_eq(a[i], 0.0f);
    float h[1000], back[1000];
    for (int i = 0; i < 1000; i++) h[i] = (float)i - 500.5f;
    O->to_device(a, h, sizeof h);
    float *b = O->alloc(sizeof h);
    O->copy(b, a, sizeof h);
    O->to_host(back, b, sizeof h);
    cr_expect(memcmp(back, h, sizeof h) == 0);
    double s = O->sumsq(b, 1000), want = 0;
    for (int i = 0; i < 1000; i++) want += (double)h[i] * h[i];
    cr_expect(fabs(s - want) <= 1e-12 * want, "sumsq %.17g != %.17g", s, want);
    O->scale(b, 0.5f, 1000);
    O->to_host(back, b, sizeof h);
    for (int i = 0; i < 1000; i++) cr_expect_eq(back[i], h[i] * 0.5f);
    O->zero(b, sizeof h);
    O->to_host(back, b, sizeof h);
    for (int i = 0; i < 1000; i++) cr_expect_eq(back[i], 0.0f);
    O->sync();
    O->free(a);
    O->free(b);
    O->free(NULL);
    cr_expect(zt_ops_by_name("cpu") == &zt_ops_cpu);
    cr_expect(zt_ops_by_name("no-such-device") == NULL);
}

Test(ops, blas_coretype_hint) {
    const char *core = zt_ops_cpu_blas_corename();
    cr_assert_not_null(core);
    unsetenv("OPENBLAS_CORETYPE");
    const char *h = zt_ops_cpu_blas_coretype_hint();
    cr_expect(h == NULL || !strcmp(h, "SkylakeX") || !strcmp(h, "Haswell"), "hint %s", h);
    if (h) cr_expect(strcmp(core, h) != 0);
    setenv("OPENBLAS_CORETYPE", "Haswell", 1);   /* set by the user: never second-guessed */
    cr_expect_null(zt_ops_cpu_blas_coretype_hint());
}
