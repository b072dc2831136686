/* ops_cuda_conv.cu — the convolution pieces of the CUDA op tables (fp32 and
 * bf16 share them: they move and normalize fp32 activations; the products
 * are the tables' matmul_fwd/matmul_bwd over the im2col matrix, i.e. one
 * cuBLAS GEMM over the whole micro-batch). Contract: ops.h; reference: the
 * CPU kernels in ops_conv.c, which tests/gpu/ops_check.c compares against.
 *
 * Deterministic, like the rest of the tables: no atomics anywhere.
 *  - im2col3 and maxpool2_fwd are pure gathers (bit-identical to the CPU).
 *  - col2im3 is a gather too: one thread per input element adds its <= 9
 *    contributions in the order the CPU loop adds them.
 *  - maxpool2_bwd scatters, but the 2x2 stride-2 windows are disjoint, so no
 *    two outputs share an argmax element and no two threads write one place.
 *  - BatchNorm's per-channel sums accumulate in double (as the CPU does) in
 *    two passes: (32 channels x a fixed chunk of rows) blocks write partial
 *    sums, then one thread per channel adds the chunks in order. The chunking
 *    depends only on M, so a rerun gives the same bits. */
#include "ops_cuda_impl.cuh"   /* stream, scratch, launch helpers */

#define BN_EPS 1e-5
#define BN_TX 32    /* channels per block (one warp: coalesced NHWC rows) */
#define BN_TY 8     /* row lanes per block */

/* ---- im2col / col2im ----------------------------------------------------
 * col[r, (ky·3 + kx)·C + c], r = (i·H + y)·W + x, holds inp[i, y+ky-1, x+kx-1, c]
 * or 0 outside the image. One thread per col element: consecutive threads
 * read consecutive channels of one neighbour. */
__global__ void k_im2col3(float *col, const float *inp, int n, int H, int W, int C) {
    const size_t K = 9 * (size_t)C;
    GRID_STRIDE(i, (size_t)n * H * W * K) {
        const size_t r = i / K;
        const int k = (int)(i % K), kk = k / C, c = k % C;
        const int x = (int)(r % W), y = (int)((r / W) % H);
        const size_t img = r / ((size_t)H * W);
        const int sy = y + kk / 3 - 1, sx = x + kk % 3 - 1;
        col[i] = (sy < 0 || sy >= H || sx < 0 || sx >= W)
                     ? 0.0f
                     : inp[((img * H + sy) * W + sx) * C + c];
    }
}
void cu_im2col3(float *col, const float *inp, int n, int H, int W, int C) {
    const size_t total = (size_t)n * H * W * 9 * C;
    if (n <= 0 || H <= 0 || W <= 0 || C <= 0) return;
    k_im2col3<<<grid_for(total, 256), 256, 0, S()>>>(col, inp, n, H, W, C);
    LAUNCH_CHECK();
}

/* Input pixel (sy, sx) receives column (ky, kx) of output pixel
 * (sy - ky + 1, sx - kx + 1). The CPU walks output pixels row-major, so it
 * adds them with ky and kx descending: the same order here, into dinp's
 * value, gives the CPU's sums. */
__global__ void k_col2im3(float *dinp, const float *dcol, int n, int H, int W, int C) {
    const size_t K = 9 * (size_t)C;
    GRID_STRIDE(e, (size_t)n * H * W * C) {
        const int c = (int)(e % C);
        const size_t p = e / C;
        const int sx = (int)(p % W), sy = (int)((p / W) % H);
        const size_t img = p / ((size_t)H * W);
        float acc = dinp[e];
        for (int ky = 2; ky >= 0; ky--) {
            const int y = sy - ky + 1;
            if (y < 0 || y >= H) continue;
            for (int kx = 2; kx >= 0; kx--) {
                const int x = sx - kx + 1;
                if (x < 0 || x >= W) continue;
                acc += dcol[((img * H + y) * W + x) * K + (size_t)(ky * 3 + kx) * C + c];
            }
        }
        dinp[e] = acc;
    }
}
void cu_col2im3(float *dinp, const float *dcol, int n, int H, int W, int C) {
    const size_t total = (size_t)n * H * W * C;
    if (n <= 0 || H <= 0 || W <= 0 || C <= 0) return;
    k_col2im3<<<grid_for(total, 256), 256, 0, S()>>>(dinp, dcol, n, H, W, C);
    LAUNCH_CHECK();
}

/* ---- 2x2 max-pool ---------------------------------------------------- */
__global__ void k_maxpool2_fwd(float *out, int32_t *arg, const float *inp, int n, int H, int W,
                               int C) {
    const int Ho = H / 2, Wo = W / 2;
    GRID_STRIDE(o, (size_t)n * Ho * Wo * C) {
        const int c = (int)(o % C);
        const size_t p = o / C;
        const int x = (int)(p % Wo), y = (int)((p / Wo) % Ho);
        const size_t img = p / ((size_t)Ho * Wo);
        const size_t a = ((img * H + 2 * y) * W + 2 * x) * C + c;
        const size_t q[4] = { a, a + C, a + (size_t)W * C, a + (size_t)W * C + C };
        /* first maximum wins ties (strict >), as the CPU table */
        size_t best = q[0];
        float m = inp[best];
        for (int k = 1; k < 4; k++) {
            const float v = inp[q[k]];
            if (v > m) { m = v; best = q[k]; }
        }
        out[o] = m;
        arg[o] = (int32_t)best;
    }
}
void cu_maxpool2_fwd(float *out, int32_t *arg, const float *inp, int n, int H, int W, int C) {
    const size_t total = (size_t)n * (H / 2) * (W / 2) * C;
    if (total == 0 || n <= 0 || C <= 0) return;
    k_maxpool2_fwd<<<grid_for(total, 256), 256, 0, S()>>>(out, arg, inp, n, H, W, C);
    LAUNCH_CHECK();
}

/* disjoint windows: every arg[j] is a different element (see the header) */
__global__ void k_maxpool2_bwd(float *dinp, const float *dout, const int32_t *arg, size_t nout) {
    GRID_STRIDE(j, nout) dinp[arg[j]] += dout[j];
}
void cu_maxpool2_bwd(float *dinp, const float *dout, const int32_t *arg, size_t nout) {
    if (nout == 0) return;
    k_maxpool2_bwd<<<grid_for(nout, 256), 256, 0, S()>>>(dinp, dout, arg, nout);
    LAUNCH_CHECK();
}

/* ---- BatchNorm --------------------------------------------------------- */
/* Rows per chunk: at least 128, at most ~1024 chunks. */
static void bn_plan(int M, int *rpc, int *chunks) {
    int r = (M + 1023) / 1024;
    if (r < 128) r = 128;
    *rpc = r;
    *chunks = (M + r - 1) / r;
    if (*chunks < 1) *chunks = 1;
}

/* Block (BN_TX, BN_TY) over channels [bx·32, +32) and rows of chunk by: thread
 * (tx, ty) sums rows r0+ty, r0+ty+8, ...; the 8 lanes are added in order.
 * mode 0: Σx -> p0.  mode 1: Σ(x - mu)² -> p0 (mu double [C]).
 * mode 2: Σdy -> p0 and Σ dy·x̂ -> p1, x̂ = (x - mean)·rstd in float (coef:
 * rstd[C] | mean[C] floats, as the CPU computes them). */
__global__ void k_bn_partial(double *p0, double *p1, const float *inp, const float *dout,
                             const double *mu, const float *coef, int M, int C, int rpc, int mode) {
    __shared__ double s0[BN_TY][BN_TX + 1], s1[BN_TY][BN_TX + 1];
    const int c = blockIdx.x * BN_TX + threadIdx.x;
    const int r0 = blockIdx.y * rpc, r1 = min(M, r0 + rpc);
    double a = 0.0, b = 0.0;
    if (c < C) {
        if (mode == 0) {
            for (int r = r0 + threadIdx.y; r < r1; r += BN_TY) a += inp[(size_t)r * C + c];
        } else if (mode == 1) {
            const double m = mu[c];
            for (int r = r0 + threadIdx.y; r < r1; r += BN_TY) {
                const double d = inp[(size_t)r * C + c] - m;
                a += d * d;
            }
        } else {
            const float rstd = coef[c], mean = coef[C + c];
            for (int r = r0 + threadIdx.y; r < r1; r += BN_TY) {
                const size_t k = (size_t)r * C + c;
                const float dy = dout[k], xh = (inp[k] - mean) * rstd;
                a += dy;
                b += dy * xh;
            }
        }
    }
    s0[threadIdx.y][threadIdx.x] = a;
    s1[threadIdx.y][threadIdx.x] = b;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        double t = 0.0, u = 0.0;
        for (int y = 0; y < BN_TY; y++) { t += s0[y][threadIdx.x]; u += s1[y][threadIdx.x]; }
        p0[(size_t)blockIdx.y * C + c] = t;
        if (mode == 2) p1[(size_t)blockIdx.y * C + c] = u;
    }
}
static void bn_partial(double *p0, double *p1, const float *inp, const float *dout, const double *mu,
                       const float *coef, int M, int C, int rpc, int chunks, int mode) {
    dim3 grid((C + BN_TX - 1) / BN_TX, chunks), block(BN_TX, BN_TY);
    k_bn_partial<<<grid, block, 0, S()>>>(p0, p1, inp, dout, mu, coef, M, C, rpc, mode);
    LAUNCH_CHECK();
}

/* Σ over the chunks, in chunk order */
__device__ __forceinline__ double chunk_sum(const double *p, int chunks, int C, int c) {
    double s = 0.0;
    for (int k = 0; k < chunks; k++) s += p[(size_t)k * C + c];
    return s;
}
__global__ void k_bn_mean(float *mean, double *mu, const double *p, int chunks, int M, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double m = chunk_sum(p, chunks, C, c) / M;
    mu[c] = m;
    mean[c] = (float)m;
}
__global__ void k_bn_var(float *var, const double *p, int chunks, int M, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    var[c] = (float)(chunk_sum(p, chunks, C, c) / M);
}

/* Two passes in double, as the CPU: the mean, then Σ(x - mean)² around it. */
void cu_bn_stats(float *mean, float *var, const float *inp, int M, int C) {
    if (M <= 0 || C <= 0) return;
    int rpc, chunks;
    bn_plan(M, &rpc, &chunks);
    const size_t np = (size_t)chunks * C;
    double *part = (double *)scratch(SCR_RED, (np + C) * sizeof(double));
    double *mu = part + np;
    const unsigned g = (unsigned)((C + 255) / 256);
    bn_partial(part, NULL, inp, NULL, NULL, NULL, M, C, rpc, chunks, 0);
    k_bn_mean<<<g, 256, 0, S()>>>(mean, mu, part, chunks, M, C);
    LAUNCH_CHECK();
    bn_partial(part, NULL, inp, NULL, mu, NULL, M, C, rpc, chunks, 1);
    k_bn_var<<<g, 256, 0, S()>>>(var, part, chunks, M, C);
    LAUNCH_CHECK();
}

/* rstd exactly as the CPU: (float)(1/√(var + eps)) in double (IEEE sqrt and
 * division on the device too, no fast math) */
__device__ __forceinline__ float bn_rstd(float var) {
    return (float)(1.0 / sqrt((double)var + BN_EPS));
}

/* coef[0..C) = g·rstd, coef[C..2C) = b - mean·(g·rstd) */
__global__ void k_bn_fwd_coef(float *coef, const float *mean, const float *var, const float *g,
                              const float *b, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const float sc = g[c] * bn_rstd(var[c]);
    coef[c] = sc;
    coef[C + c] = b[c] - mean[c] * sc;
}
__global__ void k_bn_fwd(float *out, const float *inp, const float *coef, int M, int C) {
    GRID_STRIDE(i, (size_t)M * C) {
        const int c = (int)(i % C);
        out[i] = inp[i] * coef[c] + coef[C + c];
    }
}
void cu_bn_fwd(float *out, const float *inp, const float *mean, const float *var,
                      const float *g, const float *b, int M, int C) {
    if (M <= 0 || C <= 0) return;
    float *coef = (float *)scratch(SCR_RED, 2 * (size_t)C * sizeof(float));
    k_bn_fwd_coef<<<(C + 255) / 256, 256, 0, S()>>>(coef, mean, var, g, b, C);
    LAUNCH_CHECK();
    const size_t n = (size_t)M * C;
    k_bn_fwd<<<grid_for(n, 256), 256, 0, S()>>>(out, inp, coef, M, C);
    LAUNCH_CHECK();
}

/* coef: rstd | mean (read by the partial sums), then a = g·rstd, k1 = Σdy/M,
 * k2 = Σdy·x̂/M (read by the dx kernel) */
__global__ void k_bn_bwd_coef(float *coef, const float *mean, const float *var, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    coef[c] = bn_rstd(var[c]);
    coef[C + c] = mean[c];
}
__global__ void k_bn_bwd_sums(float *dg, float *db, float *coef, const double *psd,
                              const double *psdx, const float *g, int chunks, int M, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double sd = chunk_sum(psd, chunks, C, c), sdx = chunk_sum(psdx, chunks, C, c);
    db[c] += (float)sd;
    dg[c] += (float)sdx;
    coef[2 * C + c] = g[c] * coef[c];
    coef[3 * C + c] = (float)(sd / M);
    coef[4 * C + c] = (float)(sdx / M);
}
/* dx = g·rstd·(dy - Σdy/M - x̂·Σ(dy·x̂)/M), as ops_conv.c */
__global__ void k_bn_bwd_dx(float *dinp, const float *dout, const float *inp, const float *coef,
                            int M, int C) {
    GRID_STRIDE(i, (size_t)M * C) {
        const int c = (int)(i % C);
        const float xh = (inp[i] - coef[C + c]) * coef[c];
        dinp[i] += coef[2 * C + c] * (dout[i] - coef[3 * C + c] - xh * coef[4 * C + c]);
    }
}
void cu_bn_bwd(float *dinp, float *dg, float *db, const float *dout, const float *inp,
                      const float *mean, const float *var, const float *g, int M, int C) {
    if (M <= 0 || C <= 0) return;
    int rpc, chunks;
    bn_plan(M, &rpc, &chunks);
    const size_t np = (size_t)chunks * C;
    /* 2·np doubles of partial sums, then 5·C floats of coefficients */
    double *part = (double *)scratch(SCR_RED, 2 * np * sizeof(double) + 5 * (size_t)C * sizeof(float));
    float *coef = (float *)(part + 2 * np);
    const unsigned gc = (unsigned)((C + 255) / 256);
    k_bn_bwd_coef<<<gc, 256, 0, S()>>>(coef, mean, var, C);
    LAUNCH_CHECK();
    bn_partial(part, part + np, inp, dout, NULL, coef, M, C, rpc, chunks, 2);
    k_bn_bwd_sums<<<gc, 256, 0, S()>>>(dg, db, coef, part, part + np, g, chunks, M, C);
    LAUNCH_CHECK();
    if (!dinp) return;
    const size_t n = (size_t)M * C;
    k_bn_bwd_dx<<<grid_for(n, 256), 256, 0, S()>>>(dinp, dout, inp, coef, M, C);
    LAUNCH_CHECK();
}
