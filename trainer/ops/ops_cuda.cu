/* ops_cuda.cu — the CUDA op tables `zt_ops_cuda` (fp32) and `zt_ops_cuda_bf16`
 * (bf16 matmul/attention operands, fp32 accumulation and fp32 outputs).
 * Contract and shapes: ops.h; the CPU table (ops_cpu.c) is the reference and
 * tests/gpu/ops_check.c compares the two op by op.
 *
 * Execution model
 *  - Every op is queued on ONE stream (file-static, created lazily on the
 *    device that is current at the first op: the trainer must cudaSetDevice()
 *    its local rank's GPU before touching the table). It is a non-blocking
 *    stream, so it does not serialise with the legacy default stream; code that
 *    uses the table's buffers on another stream (NCCL) orders itself against it
 *    with events: zt_ops_cuda_stream() returns it (as void *, C linkage).
 *  - Ops are asynchronous; `sync`, `to_host` and `sumsq` (returns a host
 *    double) wait. `to_device` also waits, so the caller may reuse or free its
 *    host buffer (pageable or pinned) as soon as it returns. `alloc` returns
 *    zero-filled memory that is ready on return.
 *  - Not thread-safe: call the table from one host thread (the engine's).
 *  - Deterministic: no float atomics except in embed_bwd for very long
 *    batches (B·T > 16384); column sums (bias, LayerNorm gains) use fixed
 *    two-pass reductions, so the same inputs give bit-identical outputs.
 *  - The optimizer and scale kernels use explicitly rounded, never-fused,
 *    flush-to-zero PTX arithmetic, as optim.c / ops_cpu.c compute (IEEE ops,
 *    no FMA contraction, MXCSR FTZ|DAZ), so they give the CPU's bits.
 *  - fp32 matmuls run in true fp32 (cuBLAS default math, no TF32).
 */
#include "ops_cuda_impl.cuh"   /* shared helpers, attention prototypes */

/* ---- stream, cuBLAS handle, scratch -------------------------------------- */

static cudaStream_t g_stream;
cublasHandle_t g_cublas;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_once(void) {
    cudaCheck(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
    cublasCheck(cublasCreate(&g_cublas));
    cublasCheck(cublasSetStream(g_cublas, g_stream));
    /* fp32 stays fp32: no TF32 tensor-op downconversion for CUDA_R_32F GEMMs */
    cublasCheck(cublasSetMathMode(g_cublas, CUBLAS_DEFAULT_MATH));
}
cudaStream_t S(void) {
    pthread_once(&g_once, init_once);
    return g_stream;
}

extern "C" void *zt_ops_cuda_stream(void) { return (void *)S(); }

/* Growable device scratch buffers owned by the table (never shared with the
 * caller): 0 = bf16 GEMM operands, 1 = reduction partials, 2 = overlap copies.
 * Growing waits for the stream first, so a buffer still read by queued work is
 * never freed under it. An op asks for all it needs once, up front. */
static void *g_scr[SCR_N];
static size_t g_scr_bytes[SCR_N];
void *scratch(int which, size_t bytes) {
    if (bytes > g_scr_bytes[which]) {
        cudaStream_t st = S();
        size_t nb = bytes + bytes / 4 + 4096;
        cudaCheck(cudaStreamSynchronize(st));
        cudaCheck(cudaFree(g_scr[which]));
        g_scr[which] = NULL;
        g_scr_bytes[which] = 0;
        cudaCheck(cudaMalloc(&g_scr[which], nb));
        g_scr_bytes[which] = nb;
    }
    return g_scr[which];
}



/* ---- memory -------------------------------------------------------------- */

static void *cu_alloc(size_t bytes) {
    cudaStream_t st = S();
    size_t sz = (bytes + 63) & ~(size_t)63;
    if (sz == 0) sz = 64;
    void *p = NULL;
    if (cudaMalloc(&p, sz) != cudaSuccess) {
        (void)cudaGetLastError(); /* clear the (non-sticky) error: the caller sees NULL */
        return NULL;
    }
    cudaCheck(cudaMemsetAsync(p, 0, sz, st));
    cudaCheck(cudaStreamSynchronize(st));
    return p;
}
static void cu_free(void *p) {
    if (!p) return;
    cudaCheck(cudaStreamSynchronize(S())); /* queued ops may still use p */
    cudaCheck(cudaFree(p));
}
static void cu_zero(void *p, size_t bytes) {
    if (bytes) cudaCheck(cudaMemsetAsync(p, 0, bytes, S()));
}
static void cu_copy(void *dst, const void *src, size_t bytes) {
    if (!bytes || dst == src) return;
    const char *d = (const char *)dst, *s = (const char *)src;
    if (d < s + bytes && s < d + bytes) { /* overlap: memmove semantics via scratch */
        void *t = scratch(SCR_COPY, bytes);
        cudaCheck(cudaMemcpyAsync(t, src, bytes, cudaMemcpyDeviceToDevice, S()));
        cudaCheck(cudaMemcpyAsync(dst, t, bytes, cudaMemcpyDeviceToDevice, S()));
    } else {
        cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, S()));
    }
}
static void cu_to_device(void *dst, const void *host_src, size_t bytes) {
    if (!bytes) return;
    cudaCheck(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyDefault, S()));
    cudaCheck(cudaStreamSynchronize(S()));
}
static void cu_to_host(void *host_dst, const void *src, size_t bytes) {
    if (!bytes) return;
    cudaCheck(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDefault, S()));
    cudaCheck(cudaStreamSynchronize(S()));
}
static void cu_sync(void) { cudaCheck(cudaStreamSynchronize(S())); }

/* ---- bf16 conversion ----------------------------------------------------- */

__global__ void k_to_bf16(__nv_bfloat16 *out, const float *in, size_t n) {
    GRID_STRIDE(i, n) out[i] = __float2bfloat16_rn(in[i]);
}
size_t align256(size_t bytes) { return (bytes + 255) & ~(size_t)255; }
const void *to_bf16(void *dst, const float *src, size_t n) {
    if (n) {
        k_to_bf16<<<grid_for(n, 256), 256, 0, S()>>>((__nv_bfloat16 *)dst, src, n);
        LAUNCH_CHECK();
    }
    return dst;
}

/* ---- GEMM helper: row-major C[M,N] = alpha·op(A)·op(B) + beta·C ----------
 * Row-major X is column-major Xᵀ, so this is the column-major product
 * Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands, keep the transpose flags. A and B are
 * fp32 or bf16 (both the same type), C is fp32, accumulation fp32. Strided
 * batches of `batch` products (strides in elements). */
void gemm_rm(bool tA, bool tB, int M, int N, int K, float alpha, const void *A, int lda,
                    long long sA, const void *B, int ldb, long long sB, float beta, float *C,
                    int ldc, long long sC, int batch, bool bf16) {
    if (M <= 0 || N <= 0 || batch <= 0) return;
    S();
    cudaDataType_t ab = bf16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasOperation_t oA = tA ? CUBLAS_OP_T : CUBLAS_OP_N, oB = tB ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (batch == 1)
        cublasCheck(cublasGemmEx(g_cublas, oB, oA, N, M, K, &alpha, B, ab, ldb, A, ab, lda, &beta,
                                 C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    else
        cublasCheck(cublasGemmStridedBatchedEx(g_cublas, oB, oA, N, M, K, &alpha, B, ab, ldb, sB,
                                               A, ab, lda, sA, &beta, C, CUDA_R_32F, ldc, sC,
                                               batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

/* ---- deterministic column sums: out[c] += Σ_rows f(row, c) ----------------
 * Pass 1: block (32, 8) per (32 columns, chunk of rows) -> partial[chunk, C];
 * pass 2: out[c] += Σ_chunk partial[chunk, c] in chunk order. The chunking
 * depends only on N, so results are reproducible. */
#define CS_TX 32
#define CS_TY 8
static void colsum_plan(int N, int *rpc, int *chunks) {
    int r = (N + 1023) / 1024;
    if (r < 128) r = 128;
    *rpc = r;
    *chunks = (N + r - 1) / r;
    if (*chunks < 1) *chunks = 1;
}
__global__ void k_colsum_finish(float *out, const float *partial, int chunks, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float s = 0.0f;
    for (int k = 0; k < chunks; k++) s += partial[(size_t)k * C + c];
    out[c] += s;
}
/* bias: Σ_rows dout[r, c] */
__global__ void k_colsum_bias(float *partial, const float *dout, int N, int C, int rpc) {
    __shared__ float sh[CS_TY][CS_TX + 1];
    const int c = blockIdx.x * CS_TX + threadIdx.x;
    const int r0 = blockIdx.y * rpc, r1 = min(N, r0 + rpc);
    float s = 0.0f;
    if (c < C)
        for (int r = r0 + threadIdx.y; r < r1; r += CS_TY) s += dout[(size_t)r * C + c];
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float t = 0.0f;
        for (int y = 0; y < CS_TY; y++) t += sh[y][threadIdx.x];
        partial[(size_t)blockIdx.y * C + c] = t;
    }
}
static void colsum_bias_acc(float *dbias, const float *dout, int N, int C) {
    if (N <= 0 || C <= 0) return;
    int rpc, chunks;
    colsum_plan(N, &rpc, &chunks);
    float *part = (float *)scratch(SCR_RED, (size_t)chunks * C * sizeof(float));
    dim3 grid((C + CS_TX - 1) / CS_TX, chunks), block(CS_TX, CS_TY);
    k_colsum_bias<<<grid, block, 0, S()>>>(part, dout, N, C, rpc);
    LAUNCH_CHECK();
    k_colsum_finish<<<(C + 255) / 256, 256, 0, S()>>>(dbias, part, chunks, C);
    LAUNCH_CHECK();
}

/* ---- linear -------------------------------------------------------------- */

__global__ void k_add_bias(float *out, const float *bias, size_t N, int OC) {
    GRID_STRIDE(i, N * (size_t)OC) out[i] += bias[i % (size_t)OC];
}

static void matmul_fwd_impl(float *out, const float *inp, const float *w, const float *bias,
                            int N, int C, int OC, bool bf16) {
    if (N <= 0 || OC <= 0) return;
    const void *A = inp, *B = w;
    if (bf16) {
        size_t na = (size_t)N * C, nb = (size_t)OC * C;
        char *lp = (char *)scratch(SCR_LP, align256(na * 2) + align256(nb * 2));
        A = to_bf16(lp, inp, na);
        B = to_bf16(lp + align256(na * 2), w, nb);
    }
    /* out[N,OC] = inp[N,C] · w[OC,C]ᵀ */
    gemm_rm(false, true, N, OC, C, 1.0f, A, C, 0, B, C, 0, 0.0f, out, OC, 0, 1, bf16);
    if (bias) {
        size_t n = (size_t)N * OC;
        k_add_bias<<<grid_for(n, 256), 256, 0, S()>>>(out, bias, (size_t)N, OC);
        LAUNCH_CHECK();
    }
}

static void matmul_bwd_impl(float *dinp, float *dw, float *dbias, const float *dout,
                            const float *inp, const float *w, int N, int C, int OC, bool bf16) {
    if (N <= 0) return;
    const void *D = dout, *I = inp, *Wt = w;
    if (bf16) {
        size_t nd = (size_t)N * OC, ni = (size_t)N * C, nw = (size_t)OC * C;
        char *lp = (char *)scratch(SCR_LP, align256(nd * 2) + align256(ni * 2) + align256(nw * 2));
        D = to_bf16(lp, dout, nd);
        I = to_bf16(lp + align256(nd * 2), inp, ni);
        Wt = dinp ? to_bf16(lp + align256(nd * 2) + align256(ni * 2), w, nw) : NULL;
    }
    /* dinp[N,C] += dout[N,OC] · w[OC,C] */
    if (dinp) gemm_rm(false, false, N, C, OC, 1.0f, D, OC, 0, Wt, C, 0, 1.0f, dinp, C, 0, 1, bf16);
    /* dw[OC,C] += dout[N,OC]ᵀ · inp[N,C] */
    if (dw) gemm_rm(true, false, OC, C, N, 1.0f, D, OC, 0, I, C, 0, 1.0f, dw, C, 0, 1, bf16);
    if (dbias) colsum_bias_acc(dbias, dout, N, OC);
}

static void cu_matmul_fwd(float *out, const float *inp, const float *w, const float *bias, int N,
                          int C, int OC) {
    matmul_fwd_impl(out, inp, w, bias, N, C, OC, false);
}
static void cu_matmul_fwd_bf16(float *out, const float *inp, const float *w, const float *bias,
                               int N, int C, int OC) {
    matmul_fwd_impl(out, inp, w, bias, N, C, OC, true);
}
static void cu_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout,
                          const float *inp, const float *w, int N, int C, int OC) {
    matmul_bwd_impl(dinp, dw, dbias, dout, inp, w, N, C, OC, false);
}
static void cu_matmul_bwd_bf16(float *dinp, float *dw, float *dbias, const float *dout,
                               const float *inp, const float *w, int N, int C, int OC) {
    matmul_bwd_impl(dinp, dw, dbias, dout, inp, w, N, C, OC, true);
}

/* ---- elementwise --------------------------------------------------------- */

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

__global__ void k_relu_fwd(float *out, const float *inp, size_t n) {
    GRID_STRIDE(i, n) { float x = inp[i]; out[i] = x > 0.0f ? x : 0.0f; }
}
__global__ void k_relu_bwd(float *dinp, const float *out, const float *dout, size_t n) {
    GRID_STRIDE(i, n) dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}
__global__ void k_gelu_fwd(float *out, const float *inp, size_t n) {
    GRID_STRIDE(i, n) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanhf(u));
    }
}
__global__ void k_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n) {
    GRID_STRIDE(i, n) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        float th = tanhf(u);
        float sech2 = 1.0f - th * th;
        float d = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += d * dout[i];
    }
}
__global__ void k_residual(float *out, const float *a, const float *b, size_t n) {
    GRID_STRIDE(i, n) out[i] = a[i] + b[i];
}
__global__ void k_add_acc(float *y, const float *x, size_t n) {
    GRID_STRIDE(i, n) y[i] += x[i];
}

#define EW_LAUNCH(kernel, n, ...)                                              \
    do {                                                                       \
        if ((n) == 0) return;                                                  \
        kernel<<<grid_for((n), 256), 256, 0, S()>>>(__VA_ARGS__);              \
        LAUNCH_CHECK();                                                        \
    } while (0)

static void cu_relu_fwd(float *out, const float *inp, size_t n) { EW_LAUNCH(k_relu_fwd, n, out, inp, n); }
static void cu_relu_bwd(float *dinp, const float *out, const float *dout, size_t n) {
    EW_LAUNCH(k_relu_bwd, n, dinp, out, dout, n);
}
static void cu_gelu_fwd(float *out, const float *inp, size_t n) { EW_LAUNCH(k_gelu_fwd, n, out, inp, n); }
static void cu_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n) {
    EW_LAUNCH(k_gelu_bwd, n, dinp, inp, dout, n);
}
static void cu_residual_fwd(float *out, const float *a, const float *b, size_t n) {
    EW_LAUNCH(k_residual, n, out, a, b, n);
}
static void cu_add_acc(float *y, const float *x, size_t n) { EW_LAUNCH(k_add_acc, n, y, x, n); }

/* ---- layernorm ----------------------------------------------------------- */

__global__ void k_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp,
                                const float *g, const float *b, int N, int C) {
    WARP_ROW(i, (size_t)N);
    const float *x = inp + i * C;
    float *o = out + i * C;
    float m = 0.0f;
    for (int c = lane; c < C; c += 32) m += x[c];
    m = warp_sum(m) / (float)C;
    float v = 0.0f;
    for (int c = lane; c < C; c += 32) { float d = x[c] - m; v += d * d; }
    v = warp_sum(v) / (float)C;
    const float s = 1.0f / sqrtf(v + 1e-5f);
    for (int c = lane; c < C; c += 32) o[c] = (x[c] - m) * s * g[c] + b[c];
    if (lane == 0) { mean[i] = m; rstd[i] = s; }
}
static void cu_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp,
                             const float *g, const float *b, int N, int C) {
    if (N <= 0 || C <= 0) return;
    k_layernorm_fwd<<<row_blocks((size_t)N), 32 * ROWS_PER_BLOCK, 0, S()>>>(out, mean, rstd, inp,
                                                                            g, b, N, C);
    LAUNCH_CHECK();
}

__global__ void k_layernorm_bwd_dx(float *dinp, const float *dout, const float *inp,
                                   const float *g, const float *mean, const float *rstd, int N,
                                   int C) {
    WARP_ROW(i, (size_t)N);
    const float *dy = dout + i * C, *x = inp + i * C;
    float *dx = dinp + i * C;
    const float m = mean[i], s = rstd[i];
    float a = 0.0f, bsum = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float xh = (x[c] - m) * s, dn = g[c] * dy[c];
        a += dn;
        bsum += dn * xh;
    }
    a = warp_sum(a) / (float)C;
    bsum = warp_sum(bsum) / (float)C;
    for (int c = lane; c < C; c += 32) {
        float xh = (x[c] - m) * s, dn = g[c] * dy[c];
        dx[c] += (dn - a - xh * bsum) * s;
    }
}
/* dg partial (rows y = 0) and db partial (rows y = chunks) */
__global__ void k_colsum_ln(float *partial, const float *dout, const float *inp,
                            const float *mean, const float *rstd, int N, int C, int rpc,
                            int chunks) {
    __shared__ float sg[CS_TY][CS_TX + 1], sb[CS_TY][CS_TX + 1];
    const int c = blockIdx.x * CS_TX + threadIdx.x;
    const int r0 = blockIdx.y * rpc, r1 = min(N, r0 + rpc);
    float a = 0.0f, bb = 0.0f;
    if (c < C)
        for (int r = r0 + threadIdx.y; r < r1; r += CS_TY) {
            size_t k = (size_t)r * C + c;
            float dy = dout[k];
            a += (inp[k] - mean[r]) * rstd[r] * dy;
            bb += dy;
        }
    sg[threadIdx.y][threadIdx.x] = a;
    sb[threadIdx.y][threadIdx.x] = bb;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float t = 0.0f, u = 0.0f;
        for (int y = 0; y < CS_TY; y++) { t += sg[y][threadIdx.x]; u += sb[y][threadIdx.x]; }
        partial[(size_t)blockIdx.y * C + c] = t;
        partial[((size_t)chunks + blockIdx.y) * C + c] = u;
    }
}
static void cu_layernorm_bwd(float *dinp, float *dg, float *db, const float *dout,
                             const float *inp, const float *g, const float *mean,
                             const float *rstd, int N, int C) {
    if (N <= 0 || C <= 0) return;
    k_layernorm_bwd_dx<<<row_blocks((size_t)N), 32 * ROWS_PER_BLOCK, 0, S()>>>(
        dinp, dout, inp, g, mean, rstd, N, C);
    LAUNCH_CHECK();
    int rpc, chunks;
    colsum_plan(N, &rpc, &chunks);
    float *part = (float *)scratch(SCR_RED, 2 * (size_t)chunks * C * sizeof(float));
    dim3 grid((C + CS_TX - 1) / CS_TX, chunks), block(CS_TX, CS_TY);
    k_colsum_ln<<<grid, block, 0, S()>>>(part, dout, inp, mean, rstd, N, C, rpc, chunks);
    LAUNCH_CHECK();
    k_colsum_finish<<<(C + 255) / 256, 256, 0, S()>>>(dg, part, chunks, C);
    LAUNCH_CHECK();
    k_colsum_finish<<<(C + 255) / 256, 256, 0, S()>>>(db, part + (size_t)chunks * C, chunks, C);
    LAUNCH_CHECK();
}

/* ---- embedding ----------------------------------------------------------- */

__global__ void k_embed_fwd(float *out, const int32_t *tok, const float *wte, const float *wpe,
                            int B, int T, int C) {
    GRID_STRIDE(i, (size_t)B * T * C) {
        size_t row = i / (size_t)C;
        int c = (int)(i % (size_t)C), t = (int)(row % (size_t)T);
        float e = wte[(size_t)tok[row] * C + c];
        out[i] = wpe ? e + wpe[(size_t)t * C + c] : e;
    }
}
static void cu_embed_fwd(float *out, const int32_t *tok, const float *wte, const float *wpe,
                         int B, int T, int C) {
    size_t n = (size_t)B * T * C;
    EW_LAUNCH(k_embed_fwd, n, out, tok, wte, wpe, B, T, C);
}

/* dwpe[t, c] += Σ_b dout[b, t, c], in b order (like the CPU loop) */
__global__ void k_embed_bwd_wpe(float *dwpe, const float *dout, int B, int T, int C) {
    GRID_STRIDE(i, (size_t)T * C) {
        float acc = dwpe[i];
        for (int b = 0; b < B; b++) acc += dout[(size_t)b * T * C + i];
        dwpe[i] = acc;
    }
}
/* Deterministic scatter without knowing V: block j handles position j only
 * if j is the FIRST position holding its token; it then adds, per channel,
 * every row holding that token in position order (the CPU's order). Cost
 * O((B·T)²/blockDim) token reads plus O(distinct tokens · B·T): fine for
 * B·T up to EMBED_DET_MAX_BT; longer batches use atomics. */
__global__ void k_embed_bwd_wte_det(float *dwte, const float *dout, const int32_t *tok, int BT,
                                    int C) {
    __shared__ int first;
    const int j = blockIdx.x;
    const int32_t v = tok[j];
    if (threadIdx.x == 0) first = 1;
    __syncthreads();
    for (int k = threadIdx.x; k < j; k += blockDim.x)
        if (tok[k] == v) first = 0; /* benign race: every writer stores 0 */
    __syncthreads();
    if (!first) return;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float acc = dwte[(size_t)v * C + c];
        for (int k = j; k < BT; k++)
            if (tok[k] == v) acc += dout[(size_t)k * C + c];
        dwte[(size_t)v * C + c] = acc;
    }
}
__global__ void k_embed_bwd_wte_atomic(float *dwte, const float *dout, const int32_t *tok,
                                       size_t BT, int C) {
    GRID_STRIDE(i, BT * (size_t)C) {
        size_t row = i / (size_t)C;
        int c = (int)(i % (size_t)C);
        atomicAdd(&dwte[(size_t)tok[row] * C + c], dout[i]);
    }
}
#define EMBED_DET_MAX_BT 16384
static void cu_embed_bwd(float *dwte, float *dwpe, const float *dout, const int32_t *tok, int B,
                         int T, int C) {
    const size_t BT = (size_t)B * T;
    if (BT == 0 || C <= 0) return;
    if (BT <= EMBED_DET_MAX_BT) {
        int threads = C >= 256 ? 256 : C <= 128 ? 128 : ((C + 31) / 32) * 32;
        k_embed_bwd_wte_det<<<(unsigned int)BT, threads, 0, S()>>>(dwte, dout, tok, (int)BT, C);
    } else {
        k_embed_bwd_wte_atomic<<<grid_for(BT * C, 256), 256, 0, S()>>>(dwte, dout, tok, BT, C);
    }
    LAUNCH_CHECK();
    if (dwpe) {
        size_t n = (size_t)T * C;
        k_embed_bwd_wpe<<<grid_for(n, 256), 256, 0, S()>>>(dwpe, dout, B, T, C);
        LAUNCH_CHECK();
    }
}

/* ---- softmax cross-entropy ----------------------------------------------- */

/* one warp per row; probs may alias logits: x[target] is read (by every
 * lane) before any lane writes, and each lane rewrites only its own columns */
__global__ void k_softmax_ce_fwd(float *losses, float *probs, const float *logits,
                                 const int32_t *targets, int N, int V) {
    WARP_ROW(i, (size_t)N);
    const float *x = logits + i * V;
    float *p = probs + i * V;
    float mx = -INFINITY;
    for (int j = lane; j < V; j += 32) mx = fmaxf(mx, x[j]);
    mx = warp_max(mx);
    const float xy = x[targets[i]] - mx;
    __syncwarp();
    float sum = 0.0f;
    for (int j = lane; j < V; j += 32) { float e = expf(x[j] - mx); p[j] = e; sum += e; }
    sum = warp_sum(sum);
    const float inv = 1.0f / sum;
    for (int j = lane; j < V; j += 32) p[j] *= inv;
    if (lane == 0) losses[i] = logf(sum) - xy;
}
static void cu_softmax_ce_fwd(float *losses, float *probs, const float *logits,
                              const int32_t *targets, int N, int V) {
    if (N <= 0 || V <= 0) return;
    k_softmax_ce_fwd<<<row_blocks((size_t)N), 32 * ROWS_PER_BLOCK, 0, S()>>>(losses, probs, logits,
                                                                             targets, N, V);
    LAUNCH_CHECK();
}
__global__ void k_softmax_ce_bwd(float *dlogits, const float *probs, const int32_t *targets,
                                 float scale, int N, int V) {
    GRID_STRIDE(i, (size_t)N * V) {
        size_t row = i / (size_t)V;
        int j = (int)(i % (size_t)V);
        float d = dlogits[i] + scale * probs[i];
        if (j == targets[row]) d -= scale; /* same two roundings as the CPU loop */
        dlogits[i] = d;
    }
}
static void cu_softmax_ce_bwd(float *dlogits, const float *probs, const int32_t *targets,
                              float scale, int N, int V) {
    size_t n = (size_t)N * V;
    EW_LAUNCH(k_softmax_ce_bwd, n, dlogits, probs, targets, scale, N, V);
}

/* ---- optimizer (optim.c's elementwise math, explicitly rounded) -----------
 * optim.c and ops_cpu.c compute with IEEE mul/add/sub/div/sqrt, no FMA
 * contraction, and denormals flushed to zero (MXCSR FTZ|DAZ). These helpers
 * are the same operations in PTX: round-to-nearest, never fused (an explicit
 * rounding modifier forbids contraction), .ftz flushing subnormal inputs and
 * results to signed zero. So the CUDA optimizer and scale give the CPU's bits. */
__device__ __forceinline__ float fmul_(float a, float b) {
    float r; asm("mul.rn.ftz.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b)); return r;
}
__device__ __forceinline__ float fadd_(float a, float b) {
    float r; asm("add.rn.ftz.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b)); return r;
}
__device__ __forceinline__ float fsub_(float a, float b) {
    float r; asm("sub.rn.ftz.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b)); return r;
}
__device__ __forceinline__ float fdiv_(float a, float b) {
    float r; asm("div.rn.ftz.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b)); return r;
}
__device__ __forceinline__ float fsqrt_(float a) {
    float r; asm("sqrt.rn.ftz.f32 %0, %1;" : "=f"(r) : "f"(a)); return r;
}

__global__ void k_sgd(float *p, const float *g, float *buf, size_t n, float lr, float gs, float wd,
                      float mu, int mode /* 0 plain, 1 momentum, 2 nesterov */) {
    GRID_STRIDE(i, n) {
        float pi = p[i];
        float gi = fadd_(fmul_(gs, g[i]), fmul_(wd, pi));
        if (mode == 0) {
            p[i] = fsub_(pi, fmul_(lr, gi));
        } else {
            float b = fadd_(fmul_(mu, buf[i]), gi);
            buf[i] = b;
            float u = mode == 2 ? fadd_(gi, fmul_(mu, b)) : b;
            p[i] = fsub_(pi, fmul_(lr, u));
        }
    }
}
__global__ void k_adamw(float *p, const float *g, float *m, float *v, size_t n, float gs, float b1,
                        float b2, float ob1, float ob2, float eps, float step_size, float rbc2,
                        float decay) {
    GRID_STRIDE(i, n) {
        float gi = fmul_(gs, g[i]);
        float mi = fadd_(fmul_(b1, m[i]), fmul_(ob1, gi));
        float vi = fadd_(fmul_(b2, v[i]), fmul_(ob2, fmul_(gi, gi)));
        m[i] = mi;
        v[i] = vi;
        float denom = fadd_(fmul_(fsqrt_(vi), rbc2), eps);
        p[i] = fsub_(fmul_(p[i], decay), fmul_(step_size, fdiv_(mi, denom)));
    }
}
static void cu_optim_step(const struct zt_optim_cfg *c, uint64_t t, float lr, float gscale,
                          float *p, const float *g, float *const *slots, size_t n, float wd) {
    if (n == 0) return;
    if (c->kind == ZT_OPTIM_ADAMW) {
        if (!t) t = 1;
        /* scalars exactly as optim.c computes them (host, double, rounded once) */
        const float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
        const float ob1 = 1.0f - b1, ob2 = 1.0f - b2;
        const double bc1 = 1.0 - pow((double)b1, (double)t);
        const double bc2 = 1.0 - pow((double)b2, (double)t);
        const float step_size = (float)((double)lr / bc1);
        const float rbc2 = (float)(1.0 / sqrt(bc2));
        const float decay = 1.0f - lr * wd;
        k_adamw<<<grid_for(n, 256), 256, 0, S()>>>(p, g, slots[0], slots[1], n, gscale, b1, b2, ob1,
                                                   ob2, eps, step_size, rbc2, decay);
    } else {
        const float mu = c->momentum;
        float *buf = zt_optim_n_slots(c) ? slots[0] : NULL;
        int mode = (mu == 0.0f || !buf) ? 0 : c->nesterov ? 2 : 1;
        k_sgd<<<grid_for(n, 256), 256, 0, S()>>>(p, g, buf, n, lr, gscale, wd, mu, mode);
    }
    LAUNCH_CHECK();
}

/* ---- Σx² in double, scale ------------------------------------------------- */

#define SUMSQ_BLOCK 256
#define SUMSQ_MAX_BLOCKS 1024
__device__ __forceinline__ double block_sum_d(double v, double *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    return sh[0];
}
__global__ void k_sumsq_partial(double *partial, const float *x, size_t n) {
    __shared__ double sh[SUMSQ_BLOCK];
    double s = 0.0;
    GRID_STRIDE(i, n) { double v = (double)x[i]; s += v * v; }
    double t = block_sum_d(s, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = t;
}
__global__ void k_sumsq_final(double *out, const double *partial, int nparts) {
    __shared__ double sh[SUMSQ_BLOCK];
    double s = 0.0;
    for (int i = threadIdx.x; i < nparts; i += blockDim.x) s += partial[i];
    double t = block_sum_d(s, sh);
    if (threadIdx.x == 0) out[0] = t;
}
static double cu_sumsq(const float *x, size_t n) {
    if (n == 0) return 0.0;
    size_t nb = (n + SUMSQ_BLOCK * 8 - 1) / (SUMSQ_BLOCK * 8);
    int blocks = (int)(nb < 1 ? 1 : nb > SUMSQ_MAX_BLOCKS ? SUMSQ_MAX_BLOCKS : nb);
    double *part = (double *)scratch(SCR_RED, (size_t)(blocks + 1) * sizeof(double));
    k_sumsq_partial<<<blocks, SUMSQ_BLOCK, 0, S()>>>(part + 1, x, n);
    LAUNCH_CHECK();
    k_sumsq_final<<<1, SUMSQ_BLOCK, 0, S()>>>(part, part + 1, blocks);
    LAUNCH_CHECK();
    double r = 0.0;
    cudaCheck(cudaMemcpyAsync(&r, part, sizeof r, cudaMemcpyDeviceToHost, S()));
    cudaCheck(cudaStreamSynchronize(S()));
    return r;
}
__global__ void k_scale(float *x, float s, size_t n) {
    GRID_STRIDE(i, n) x[i] = fmul_(x[i], s);
}
static void cu_scale(float *x, float s, size_t n) { EW_LAUNCH(k_scale, n, x, s, n); }

/* ---- the tables ----------------------------------------------------------- */

#define ZT_CUDA_COMMON                                  \
    .device = 1,                                        \
    .alloc = cu_alloc,                                  \
    .free = cu_free,                                    \
    .zero = cu_zero,                                    \
    .copy = cu_copy,                                    \
    .to_device = cu_to_device,                          \
    .to_host = cu_to_host,                              \
    .sync = cu_sync

#define ZT_CUDA_REST                                    \
    .relu_fwd = cu_relu_fwd,                            \
    .relu_bwd = cu_relu_bwd,                            \
    .gelu_fwd = cu_gelu_fwd,                            \
    .gelu_bwd = cu_gelu_bwd,                            \
    .residual_fwd = cu_residual_fwd,                    \
    .add_acc = cu_add_acc,                              \
    .layernorm_fwd = cu_layernorm_fwd,                  \
    .layernorm_bwd = cu_layernorm_bwd,                  \
    .embed_fwd = cu_embed_fwd,                          \
    .embed_bwd = cu_embed_bwd,                          \
    .attn_saved_floats = cu_attn_saved_floats,          \
    .attn_scratch_floats = cu_attn_scratch_floats

/* fp32 activations in both tables (the conv products are their matmuls) */
#define ZT_CUDA_TAIL                                    \
    .softmax_ce_fwd = cu_softmax_ce_fwd,                \
    .softmax_ce_bwd = cu_softmax_ce_bwd,                \
    .im2col3 = cu_im2col3,                              \
    .col2im3 = cu_col2im3,                              \
    .maxpool2_fwd = cu_maxpool2_fwd,                    \
    .maxpool2_bwd = cu_maxpool2_bwd,                    \
    .bn_stats = cu_bn_stats,                            \
    .bn_fwd = cu_bn_fwd,                                \
    .bn_bwd = cu_bn_bwd,                                \
    .optim_step = cu_optim_step,                        \
    .sumsq = cu_sumsq,                                  \
    .scale = cu_scale

extern "C" const zt_ops zt_ops_cuda = {
    .name = "cuda",
    ZT_CUDA_COMMON,
    .matmul_fwd = cu_matmul_fwd,
    .matmul_bwd = cu_matmul_bwd,
    ZT_CUDA_REST,
    .attention_fwd = cu_attention_fwd,
    .attention_bwd = cu_attention_bwd,
    ZT_CUDA_TAIL,
};

extern "C" const zt_ops zt_ops_cuda_bf16 = {
    .name = "cuda-bf16",
    ZT_CUDA_COMMON,
    .matmul_fwd = cu_matmul_fwd_bf16,
    .matmul_bwd = cu_matmul_bwd_bf16,
    ZT_CUDA_REST,
    .attention_fwd = cu_attention_fwd_bf16,
    .attention_bwd = cu_attention_bwd_bf16,
    ZT_CUDA_TAIL,
};
