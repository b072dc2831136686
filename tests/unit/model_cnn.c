/* model_cnn.c — the CNN pieces of the CPU op table (ops_conv.c) and the cnn
 * model: convolution (im2col + matmul), 2x2 max-pool and BatchNorm, each
 * forward against a naive float64 loop written here (direct 3x3 convolution,
 * no im2col), each backward against central finite differences of that
 * float64 forward; the whole model's gradient against finite differences of
 * its own loss; the running statistics against float64 statistics of the
 * union of the micro-batches. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model_ref.h"   /* deterministic test data, ref_compare */
#include "ops.h"

static const zt_ops *O = &zt_ops_cpu;
#define FD_H 1e-5

static double *to_d(const float *x, size_t n) {
    double *d = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}
static float *frand(size_t n, double lo, double hi) {
    float *x = calloc(n ? n : 1, sizeof(float));
    ref_fill(x, n, lo, hi);
    return x;
}
static void expect_close(const char *what, const float *a, const double *r, size_t n, double tol) {
    ref_cmp c = ref_compare(a, r, n, tol, tol);
    cr_expect(c.ref_scale > 0, "%s: reference is all zero", what);
    cr_expect(c.bad == 0, "%s: %ld of %ld elements off, max err %.3g (rel. to max|ref| %.3g)", what,
              c.bad, c.n, c.max_err, c.ref_scale);
}

/* ---- float64 references ------------------------------------------------ */
/* direct 3x3 convolution, padding 1, NHWC; w [OC, (ky·3+kx)·C + c] */
static void ref_conv(double *out, const double *x, const double *w, int n, int H, int W, int C, int OC) {
    for (int i = 0; i < n; i++)
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++)
                for (int o = 0; o < OC; o++) {
                    double s = 0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int sy = y + ky - 1, sx = xx + kx - 1;
                            if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                            for (int c = 0; c < C; c++)
                                s += x[(((size_t)i * H + sy) * W + sx) * C + c] *
                                     w[(size_t)o * 9 * C + (ky * 3 + kx) * C + c];
                        }
                    out[(((size_t)i * H + y) * W + xx) * OC + o] = s;
                }
}
static void ref_pool(double *out, const double *x, int n, int H, int W, int C) {
    int Ho = H / 2, Wo = W / 2;
    for (int i = 0; i < n; i++)
        for (int y = 0; y < Ho; y++)
            for (int xx = 0; xx < Wo; xx++)
                for (int c = 0; c < C; c++) {
                    double m = -INFINITY;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++) {
                            double v = x[(((size_t)i * H + 2 * y + dy) * W + 2 * xx + dx) * C + c];
                            if (v > m) m = v;
                        }
                    out[(((size_t)i * Ho + y) * Wo + xx) * C + c] = m;
                }
}
/* training-mode BatchNorm over M rows of C: batch mean, biased variance */
static void ref_bn(double *out, const double *x, const double *g, const double *b, int M, int C) {
    for (int c = 0; c < C; c++) {
        double m = 0, v = 0;
        for (int r = 0; r < M; r++) m += x[(size_t)r * C + c];
        m /= M;
        for (int r = 0; r < M; r++) v += (x[(size_t)r * C + c] - m) * (x[(size_t)r * C + c] - m);
        v /= M;
        for (int r = 0; r < M; r++)
            out[(size_t)r * C + c] = (x[(size_t)r * C + c] - m) / sqrt(v + 1e-5) * g[c] + b[c];
    }
}

/* J = Σ dout ⊙ f(args); FD of J over one argument array */
typedef void (*eval_fn)(void *ctx, double *out);
static double J(eval_fn f, void *ctx, const float *dout, size_t nout) {
    double *o = malloc(nout * sizeof(double)), s = 0;
    f(ctx, o);
    for (size_t i = 0; i < nout; i++) s += dout[i] * o[i];
    free(o);
    return s;
}
static void fd(eval_fn f, void *ctx, const float *dout, size_t nout, double *x, size_t n, double *g) {
    for (size_t i = 0; i < n; i++) {
        double s = x[i];
        x[i] = s + FD_H; double p = J(f, ctx, dout, nout);
        x[i] = s - FD_H; double m = J(f, ctx, dout, nout);
        x[i] = s;
        g[i] = (p - m) / (2 * FD_H);
    }
}

/* ---- convolution ------------------------------------------------------- */
typedef struct { double *x, *w; int n, H, W, C, OC; } conv_ctx;
static void conv_eval(void *v, double *out) {
    conv_ctx *c = v;
    ref_conv(out, c->x, c->w, c->n, c->H, c->W, c->C, c->OC);
}

Test(cnn_ops, conv_forward_backward_vs_fd) {
    ref_seed(11);
    const int n = 2, H = 5, W = 4, C = 3, OC = 4, M = n * H * W, K = 9 * C;
    float *x = frand((size_t)M * C, 0.1, 1), *w = frand((size_t)OC * K, 0.1, 1);
    float *dout = frand((size_t)M * OC, 0.1, 1);
    float *col = calloc((size_t)M * K, 4), *out = calloc((size_t)M * OC, 4);
    O->im2col3(col, x, n, H, W, C);
    O->matmul_fwd(out, col, w, NULL, M, K, OC);
    conv_ctx cc = { to_d(x, (size_t)M * C), to_d(w, (size_t)OC * K), n, H, W, C, OC };
    double *ro = malloc(sizeof(double) * M * OC);
    conv_eval(&cc, ro);
    expect_close("conv forward", out, ro, (size_t)M * OC, 1e-5);
    /* backward: matmul_bwd into dcol, col2im into dx (accumulating onto 0.5s) */
    float *dcol = calloc((size_t)M * K, 4), *dw = calloc((size_t)OC * K, 4), *dx = malloc((size_t)M * C * 4);
    for (int i = 0; i < M * C; i++) dx[i] = 0.5f;
    O->matmul_bwd(dcol, dw, NULL, dout, col, w, M, K, OC);
    O->col2im3(dx, dcol, n, H, W, C);
    for (int i = 0; i < M * C; i++) dx[i] -= 0.5f;
    double *gx = malloc(sizeof(double) * M * C), *gw = malloc(sizeof(double) * OC * K);
    fd(conv_eval, &cc, dout, (size_t)M * OC, cc.x, (size_t)M * C, gx);
    fd(conv_eval, &cc, dout, (size_t)M * OC, cc.w, (size_t)OC * K, gw);
    expect_close("conv dinp", dx, gx, (size_t)M * C, 1e-4);
    expect_close("conv dw", dw, gw, (size_t)OC * K, 1e-4);
    free(x); free(w); free(dout); free(col); free(out); free(ro); free(dcol); free(dw); free(dx);
    free(gx); free(gw); free(cc.x); free(cc.w);
}

/* ---- max-pool (odd size: the last row/column is dropped) ---------------- */
typedef struct { double *x; int n, H, W, C; } pool_ctx;
static void pool_eval(void *v, double *out) { pool_ctx *p = v; ref_pool(out, p->x, p->n, p->H, p->W, p->C); }

Test(cnn_ops, maxpool_forward_backward_vs_fd) {
    ref_seed(12);
    const int n = 2, H = 5, W = 6, C = 3, Ho = 2, Wo = 3;
    const size_t ni = (size_t)n * H * W * C, no = (size_t)n * Ho * Wo * C;
    float *x = frand(ni, 0.1, 1), *dout = frand(no, 0.1, 1), *out = calloc(no, 4), *dx = calloc(ni, 4);
    int32_t *arg = calloc(no, 4);
    O->maxpool2_fwd(out, arg, x, n, H, W, C);
    pool_ctx pc = { to_d(x, ni), n, H, W, C };
    double *ro = malloc(sizeof(double) * no), *gx = malloc(sizeof(double) * ni);
    pool_eval(&pc, ro);
    expect_close("pool forward", out, ro, no, 1e-7);
    O->maxpool2_bwd(dx, dout, arg, no);
    fd(pool_eval, &pc, dout, no, pc.x, ni, gx);
    expect_close("pool dinp", dx, gx, ni, 1e-4);
    free(x); free(dout); free(out); free(dx); free(arg); free(pc.x); free(ro); free(gx);
}

/* ---- BatchNorm (training statistics) ------------------------------------ */
typedef struct { double *x, *g, *b; int M, C; } bn_ctx;
static void bn_eval(void *v, double *out) { bn_ctx *p = v; ref_bn(out, p->x, p->g, p->b, p->M, p->C); }

Test(cnn_ops, batchnorm_forward_backward_vs_fd) {
    ref_seed(13);
    const int M = 24, C = 5;
    const size_t nx = (size_t)M * C;
    float *x = frand(nx, 0.1, 2), *g = frand(C, 0.5, 1.5), *b = frand(C, 0.1, 1), *dout = frand(nx, 0.1, 1);
    for (size_t i = 0; i < nx; i++) x[i] += 3.0f * (float)(i % C);   /* per-channel offsets */
    float mean[5], var[5], *out = calloc(nx, 4), *dx = calloc(nx, 4), dg[5] = {0}, db[5] = {0};
    O->bn_stats(mean, var, x, M, C);
    O->bn_fwd(out, x, mean, var, g, b, M, C);
    bn_ctx bc = { to_d(x, nx), to_d(g, C), to_d(b, C), M, C };
    double *ro = malloc(sizeof(double) * nx);
    bn_eval(&bc, ro);
    expect_close("bn forward", out, ro, nx, 1e-5);
    O->bn_bwd(dx, dg, db, dout, x, mean, var, g, M, C);
    double *gx = malloc(sizeof(double) * nx), gg[5], gb[5];
    fd(bn_eval, &bc, dout, nx, bc.x, nx, gx);
    fd(bn_eval, &bc, dout, nx, bc.g, C, gg);
    fd(bn_eval, &bc, dout, nx, bc.b, C, gb);
    expect_close("bn dinp", dx, gx, nx, 1e-4);
    expect_close("bn dg", dg, gg, C, 1e-4);
    expect_close("bn db", db, gb, C, 1e-4);
    free(x); free(g); free(b); free(dout); free(out); free(dx); free(ro); free(gx);
    free(bc.x); free(bc.g); free(bc.b);
}

/* ---- the model ----------------------------------------------------------- */
static zt_model *small_cnn(const char *layers, int B) {
    zt_cnn_cfg c = { .h = 6, .w = 5, .c = 2, .n_classes = 3 };
    snprintf(c.layers, sizeof c.layers, "%s", layers);
    return zt_cnn_create_ops(&c, B, O);
}

Test(cnn_model, spec_errors_name_the_item) {
    cr_expect_null(small_cnn("conv4-bx", 2));
    cr_expect_null(small_cnn("fc8,conv4", 2));
    cr_expect_null(small_cnn("bn-conv4", 2));
    cr_expect_null(small_cnn("conv4-pool-pool-pool", 2));   /* 6x5 -> 3x2 -> 1x1 -> no room */
    cr_expect_null(small_cnn("conv", 2));
    zt_model *m = small_cnn("conv4-bn-relu-pool,fc7-relu", 2);
    cr_assert_not_null(m);
    cr_expect_eq(m->n_units, 3);
    cr_expect_not_null(zt_model_tensor(m, "l0.conv.w"));
    cr_expect_null(zt_model_tensor(m, "l0.conv.b"));        /* bn follows: no bias */
    cr_expect_not_null(zt_model_tensor(m, "l1.fc.b"));
    cr_expect(zt_model_tensor(m, "l0.bn0.mean")->buffer);
    cr_expect_not(zt_model_tensor(m, "l0.bn0.g")->buffer);
    m->destroy(m);
}

/* The gradient of the training loss (BatchNorm on batch statistics) against
 * central differences of the same loss in float, over every parameter. */
Test(cnn_model, gradient_vs_fd_of_loss) {
    ref_seed(14);
    const int n = 4;
    zt_model *m = small_cnn("conv4-bn-relu-pool,conv3-relu,fc6-bn-relu", n);
    cr_assert_not_null(m);
    const size_t P = m->n_params;
    float *p = calloc(P, 4), *gr = calloc(P, 4), *xf = frand((size_t)n * 60, 0.0, 1.0);
    zt_model_init_range(m, 7, 0, P, p);
    for (int t = 0; t < m->n_tensors; t++)   /* non-trivial BN affine params */
        if (strstr(m->tensors[t].name, ".bn") && !m->tensors[t].buffer)
            for (size_t i = 0; i < m->tensors[t].numel; i++) p[m->tensors[t].off + i] += ref_nz(0.1, 0.3);
    int32_t y[4] = { 0, 2, 1, 2 };
    zt_batch b = { .n = n, .xf = xf, .y = y };
    m->training = 1;
    m->grad_scale = 1.0f;
    zt_model_loss_and_grad(m, &b, p, gr);
    float *g0 = calloc(P, 4);
    double worst = 0; long bad = 0, checked = 0, kinks = 0;
    for (size_t i = 0; i < P; i++) {
        int buf = 0;
        for (int t = 0; t < m->n_tensors; t++)
            if (i >= m->tensors[t].off && i < m->tensors[t].off + m->tensors[t].numel) buf = m->tensors[t].buffer;
        if (buf) { cr_expect_eq(gr[i], 0.0f, "buffer element %zu got a gradient", i); continue; }
        /* ReLU and max-pool have kinks: a difference quotient that changes
         * between step h and h/2 straddles one, and that element is skipped */
        double q[2];
        for (int k = 0; k < 2; k++) {
            const float s = p[i], h = k ? 1e-3f : 2e-3f;
            p[i] = s + h; double lp = zt_model_loss_and_grad(m, &b, p, g0);
            p[i] = s - h; double lm = zt_model_loss_and_grad(m, &b, p, g0);
            p[i] = s;
            q[k] = (lp - lm) / (2 * (double)h);
        }
        double fdv = q[1], e = fabs(fdv - gr[i]);
        double tol = 2e-3 + 2e-2 * fabs(fdv);
        if (fabs(q[0] - q[1]) > tol / 2) { kinks++; continue; }
        if (e > tol) bad++;
        if (e > worst) worst = e;
        checked++;
    }
    cr_expect(bad == 0, "%ld of %ld gradient elements off FD (worst abs err %.3g)", bad, checked, worst);
    cr_expect(kinks * 5 < checked, "%ld of %ld elements at a kink: the check is too weak", kinks, checked);
    free(p); free(gr); free(g0); free(xf);
    m->destroy(m);
}

/* Running statistics after one step of two micro-batches = momentum 0.1 blend
 * toward the float64 mean / unbiased variance of all their rows, and any
 * split of the flat range gives the same values. */
Test(cnn_model, running_stats_use_the_global_batch) {
    ref_seed(15);
    const int n = 3;
    zt_model *m = small_cnn("conv4-bn-relu", n);
    cr_assert_not_null(m);
    const size_t P = m->n_params;
    float *p = calloc(P, 4);
    zt_model_init_range(m, 3, 0, P, p);
    float *xa = frand((size_t)n * 60, 0.0, 1.0), *xb = frand((size_t)n * 60, 0.0, 1.0);
    for (int i = 0; i < n * 60; i++) xb[i] += 0.7f;   /* the two micro-batches differ */
    int32_t y[3] = { 0, 1, 2 };
    double *st = calloc(2 * (size_t)m->n_stats, sizeof(double));
    m->training = 1;
    float *conv_out = calloc((size_t)2 * n * 30 * 4, 4);   /* conv output rows of both */
    const zt_tensor *w = zt_model_tensor(m, "l0.conv.w");
    for (int k = 0; k < 2; k++) {
        zt_batch b = { .n = n, .xf = k ? xb : xa, .y = y };
        m->set_batch(m, &b);
        for (int u = 0; u < m->n_units; u++) m->forward(m, u, p + m->unit_off[u]);
        m->batch_stats(m, st + (size_t)k * m->n_stats);
        double *xd = to_d(k ? xb : xa, (size_t)n * 60), *wd = to_d(p + w->off, w->numel);
        double *o = malloc(sizeof(double) * n * 30 * 4);
        ref_conv(o, xd, wd, n, 6, 5, 2, 4);
        for (int i = 0; i < n * 30 * 4; i++) conv_out[(size_t)k * n * 120 + i] = (float)o[i];
        free(xd); free(wd); free(o);
    }
    float *full = malloc(P * 4), *split = malloc(P * 4);
    memcpy(full, p, P * 4); memcpy(split, p, P * 4);
    m->update_buffers(m, st, 2, 0, P, full);
    const size_t cut = zt_model_tensor(m, "l0.bn0.mean")->off + 2;   /* inside a buffer */
    m->update_buffers(m, st, 2, 0, cut, split);
    m->update_buffers(m, st, 2, cut, P, split + cut);
    cr_expect_arr_eq(full, split, P * 4, "a split range gives other running statistics");
    const zt_tensor *rm = zt_model_tensor(m, "l0.bn0.mean"), *rv = zt_model_tensor(m, "l0.bn0.var");
    const int R = 2 * n * 30;
    for (int c = 0; c < 4; c++) {
        double mu = 0, v = 0;
        for (int r = 0; r < R; r++) mu += conv_out[(size_t)r * 4 + c];
        mu /= R;
        for (int r = 0; r < R; r++) v += (conv_out[(size_t)r * 4 + c] - mu) * (conv_out[(size_t)r * 4 + c] - mu);
        v /= R - 1;
        cr_expect(fabs(full[rm->off + c] - 0.1 * mu) < 1e-5 * (1 + fabs(mu)), "mean[%d] %g vs %g", c,
                  full[rm->off + c], 0.1 * mu);
        cr_expect(fabs(full[rv->off + c] - (0.9 + 0.1 * v)) < 1e-5 * (1 + v), "var[%d] %g vs %g", c,
                  full[rv->off + c], 0.9 + 0.1 * v);
    }
    free(p); free(xa); free(xb); free(st); free(conv_out); free(full); free(split);
    m->destroy(m);
}

/* Evaluation normalizes with the running statistics: with mean 0 / var 1
 * buffers and identity affine, BN passes its input through (up to eps). */
Test(cnn_model, eval_uses_running_statistics) {
    ref_seed(16);
    zt_model *a = small_cnn("conv4-bn-relu", 2), *b = small_cnn("conv4-relu", 2);
    cr_assert(a && b);
    float *pa = calloc(a->n_params, 4), *pb = calloc(b->n_params, 4);
    zt_model_init_range(a, 5, 0, a->n_params, pa);
    /* same conv weights; b's conv has a zero bias; a: g = 1, beta = 0, mean 0, var 1 */
    const zt_tensor *wa = zt_model_tensor(a, "l0.conv.w"), *wb = zt_model_tensor(b, "l0.conv.w");
    memcpy(pb + wb->off, pa + wa->off, wa->numel * 4);
    const zt_tensor *ha = zt_model_tensor(a, "head.w"), *hb = zt_model_tensor(b, "head.w");
    memcpy(pb + hb->off, pa + ha->off, (ha->numel + 3) * 4);   /* head.w and head.b */
    float *xf = frand(120, 0.0, 1.0);
    int32_t y[2] = { 1, 2 };
    zt_batch bt = { .n = 2, .xf = xf, .y = y };
    a->training = 0; b->training = 0;
    float *g = calloc(a->n_params + b->n_params, 4);
    a->set_batch(a, &bt); b->set_batch(b, &bt);
    for (int u = 0; u < a->n_units; u++) a->forward(a, u, pa + a->unit_off[u]);
    for (int u = 0; u < b->n_units; u++) b->forward(b, u, pb + b->unit_off[u]);
    double la = a->loss_sum(a), lb = b->loss_sum(b);
    cr_expect(fabs(la - lb) < 1e-4 * (1 + fabs(lb)), "eval loss with identity BN %g != without BN %g", la, lb);
    free(pa); free(pb); free(xf); free(g);
    a->destroy(a); b->destroy(b);
}
