/* ops_conv.c — the CPU convolution pieces of the op table (ops.h): im2col /
 * col2im for a 3x3 stride-1 padding-1 convolution over NHWC images (the
 * product itself is matmul_fwd/matmul_bwd, i.e. one OpenBLAS sgemm over the
 * whole micro-batch), 2x2 max-pooling and BatchNorm. No allocation: per-
 * channel sums live in fixed stack blocks of BN_BLK channels. Every op runs
 * with denormals flushed to zero, like the rest of the CPU table. */
#include "ops.h"
#include <math.h>     /* sqrt */
#include <string.h>   /* memcpy, memset */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(ZT_NO_CLONES)
#define ZT_VEC __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("O3")))
#else
#define ZT_VEC
#endif

#define BN_EPS 1e-5
#define BN_BLK 256    /* channels per block of stack accumulators */

/* ---- im2col / col2im ----------------------------------------------------
 * Row r = (i·H + y)·W + x of col holds the 3x3 neighbourhood of pixel (y, x)
 * of image i: nine runs of C channels, (ky, kx) row-major, zero where the
 * neighbour falls outside the image. NHWC keeps each run contiguous. */
ZT_VEC static void k_im2col3(float *col, const float *inp, int n, int H, int W, int C) {
    const size_t K = 9 * (size_t)C;
    for (int i = 0; i < n; i++) {
        const float *img = inp + (size_t)i * H * W * C;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                float *row = col + (((size_t)i * H + y) * W + x) * K;
                for (int ky = 0; ky < 3; ky++) {
                    int sy = y + ky - 1;
                    for (int kx = 0; kx < 3; kx++) {
                        int sx = x + kx - 1;
                        float *dst = row + (size_t)(ky * 3 + kx) * C;
                        if (sy < 0 || sy >= H || sx < 0 || sx >= W) memset(dst, 0, (size_t)C * sizeof(float));
                        else if (C == 1) dst[0] = img[(size_t)sy * W + sx];
                        else memcpy(dst, img + ((size_t)sy * W + sx) * C, (size_t)C * sizeof(float));
                    }
                }
            }
    }
}

ZT_VEC static void k_col2im3(float *dinp, const float *dcol, int n, int H, int W, int C) {
    const size_t K = 9 * (size_t)C;
    for (int i = 0; i < n; i++) {
        float *img = dinp + (size_t)i * H * W * C;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const float *row = dcol + (((size_t)i * H + y) * W + x) * K;
                for (int ky = 0; ky < 3; ky++) {
                    int sy = y + ky - 1;
                    if (sy < 0 || sy >= H) continue;
                    for (int kx = 0; kx < 3; kx++) {
                        int sx = x + kx - 1;
                        if (sx < 0 || sx >= W) continue;
                        const float *src = row + (size_t)(ky * 3 + kx) * C;
                        float *dst = img + ((size_t)sy * W + sx) * C;
                        for (int c = 0; c < C; c++) dst[c] += src[c];
                    }
                }
            }
    }
}

/* ---- 2x2 max-pool ---------------------------------------------------- */
ZT_VEC static void k_maxpool2_fwd(float *out, int32_t *arg, const float *inp, int n, int H, int W, int C) {
    const int Ho = H / 2, Wo = W / 2;
    for (int i = 0; i < n; i++)
        for (int y = 0; y < Ho; y++)
            for (int x = 0; x < Wo; x++) {
                const size_t o = (((size_t)i * Ho + y) * Wo + x) * C;
                const size_t a = (((size_t)i * H + 2 * y) * W + 2 * x) * C;
                const size_t q[4] = { a, a + C, a + (size_t)W * C, a + (size_t)W * C + C };
                for (int c = 0; c < C; c++) {
                    /* first maximum wins ties, as PyTorch's CPU kernel */
                    size_t best = q[0] + c;
                    float m = inp[best];
                    for (int k = 1; k < 4; k++) {
                        float v = inp[q[k] + c];
                        if (v > m) { m = v; best = q[k] + c; }
                    }
                    out[o + c] = m;
                    arg[o + c] = (int32_t)best;
                }
            }
}

static void k_maxpool2_bwd(float *dinp, const float *dout, const int32_t *arg, size_t nout) {
    for (size_t j = 0; j < nout; j++) dinp[arg[j]] += dout[j];
}

/* ---- BatchNorm --------------------------------------------------------- */
/* Two passes in double over each block of channels: mean, then Σ(x - mean)². */
ZT_VEC static void k_bn_stats(float *mean, float *var, const float *inp, int M, int C) {
    for (int c0 = 0; c0 < C; c0 += BN_BLK) {
        const int nc = C - c0 < BN_BLK ? C - c0 : BN_BLK;
        double s[BN_BLK], q[BN_BLK], mu[BN_BLK];
        for (int c = 0; c < nc; c++) { s[c] = 0; q[c] = 0; }
        for (int r = 0; r < M; r++) {
            const float *x = inp + (size_t)r * C + c0;
            for (int c = 0; c < nc; c++) s[c] += x[c];
        }
        for (int c = 0; c < nc; c++) mu[c] = s[c] / M;
        for (int r = 0; r < M; r++) {
            const float *x = inp + (size_t)r * C + c0;
            for (int c = 0; c < nc; c++) { double d = x[c] - mu[c]; q[c] += d * d; }
        }
        for (int c = 0; c < nc; c++) { mean[c0 + c] = (float)mu[c]; var[c0 + c] = (float)(q[c] / M); }
    }
}

ZT_VEC static void k_bn_fwd(float *out, const float *inp, const float *mean, const float *var,
                            const float *g, const float *b, int M, int C) {
    for (int c0 = 0; c0 < C; c0 += BN_BLK) {
        const int nc = C - c0 < BN_BLK ? C - c0 : BN_BLK;
        float sc[BN_BLK], sh[BN_BLK];
        for (int c = 0; c < nc; c++) {
            float rstd = (float)(1.0 / sqrt((double)var[c0 + c] + BN_EPS));
            sc[c] = g[c0 + c] * rstd;
            sh[c] = b[c0 + c] - mean[c0 + c] * sc[c];
        }
        for (int r = 0; r < M; r++) {
            const float *x = inp + (size_t)r * C + c0;
            float *y = out + (size_t)r * C + c0;
            for (int c = 0; c < nc; c++) y[c] = x[c] * sc[c] + sh[c];
        }
    }
}

/* With x̂ = (x - μ)·rstd, y = g·x̂ + b and μ, σ² from the same rows:
 * dx = g·rstd·(dy - Σdy/M - x̂·Σ(dy·x̂)/M). */
ZT_VEC static void k_bn_bwd(float *dinp, float *dg, float *db, const float *dout, const float *inp,
                            const float *mean, const float *var, const float *g, int M, int C) {
    for (int c0 = 0; c0 < C; c0 += BN_BLK) {
        const int nc = C - c0 < BN_BLK ? C - c0 : BN_BLK;
        double sd[BN_BLK], sdx[BN_BLK];
        float rstd[BN_BLK], mu[BN_BLK], a[BN_BLK], k1[BN_BLK], k2[BN_BLK];
        for (int c = 0; c < nc; c++) {
            sd[c] = 0; sdx[c] = 0;
            rstd[c] = (float)(1.0 / sqrt((double)var[c0 + c] + BN_EPS));
            mu[c] = mean[c0 + c];
        }
        for (int r = 0; r < M; r++) {
            const float *x = inp + (size_t)r * C + c0, *dy = dout + (size_t)r * C + c0;
            for (int c = 0; c < nc; c++) {
                float xh = (x[c] - mu[c]) * rstd[c];
                sd[c] += dy[c];
                sdx[c] += dy[c] * xh;
            }
        }
        for (int c = 0; c < nc; c++) {
            db[c0 + c] += (float)sd[c];
            dg[c0 + c] += (float)sdx[c];
            a[c] = g[c0 + c] * rstd[c];
            k1[c] = (float)(sd[c] / M);
            k2[c] = (float)(sdx[c] / M);
        }
        if (!dinp) continue;
        for (int r = 0; r < M; r++) {
            const float *x = inp + (size_t)r * C + c0, *dy = dout + (size_t)r * C + c0;
            float *dx = dinp + (size_t)r * C + c0;
            for (int c = 0; c < nc; c++) {
                float xh = (x[c] - mu[c]) * rstd[c];
                dx[c] += a[c] * (dy[c] - k1[c] - xh * k2[c]);
            }
        }
    }
}

/* ---- the table's entry points: FTZ around each kernel ------------------- */
#define WRAP(name, params, args) \
    void zt_cpu_##name params { unsigned s_ = zt_ftz_enter(); k_##name args; zt_ftz_leave(s_); }
WRAP(im2col3, (float *col, const float *inp, int n, int H, int W, int C), (col, inp, n, H, W, C))
WRAP(col2im3, (float *dinp, const float *dcol, int n, int H, int W, int C), (dinp, dcol, n, H, W, C))
WRAP(maxpool2_fwd, (float *out, int32_t *arg, const float *inp, int n, int H, int W, int C),
     (out, arg, inp, n, H, W, C))
WRAP(maxpool2_bwd, (float *dinp, const float *dout, const int32_t *arg, size_t nout),
     (dinp, dout, arg, nout))
WRAP(bn_stats, (float *mean, float *var, const float *inp, int M, int C), (mean, var, inp, M, C))
WRAP(bn_fwd, (float *out, const float *inp, const float *mean, const float *var, const float *g,
              const float *b, int M, int C), (out, inp, mean, var, g, b, M, C))
WRAP(bn_bwd, (float *dinp, float *dg, float *db, const float *dout, const float *inp,
              const float *mean, const float *var, const float *g, int M, int C),
     (dinp, dg, db, dout, inp, mean, var, g, M, C))
