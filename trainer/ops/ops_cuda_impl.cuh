/* ops_cuda_impl.cuh — what the CUDA op-table files share (ops_cuda.cu:
 * stream, cuBLAS, scratch, memory, linear, elementwise, norms, optimizer and
 * the tables; ops_cuda_attn.cu: attention; ops_cuda_conv.cu: im2col, pooling,
 * BatchNorm). Private to trainer/. */
#ifndef ZT_OPS_CUDA_IMPL_CUH
#define ZT_OPS_CUDA_IMPL_CUH
#include <cublas_v2.h>     /* cuBLAS handle and GEMMs */
#include <cuda_bf16.h>     /* __nv_bfloat16 for the bf16 table */
#include <cuda_runtime.h>  /* streams, memory, kernel launches */
#include <math.h>          /* sqrtf, expf, tanhf */
#include <pthread.h>       /* the once-only stream/handle setup */
#include <stdint.h>        /* int32_t token ids */
#include <stdlib.h>        /* NULL, size_t */

extern "C" {
#include "ops.h"           /* the op table this file fills */
#include "optim.h"         /* zt_optim_cfg for the optimizer kernels */
/* the launcher headers are C17; C++ spells _Noreturn differently */
#define _Noreturn __attribute__((noreturn))
#include "zt_launcher.h"   /* ZT_EXIT_* */
#include "zt_log.h"        /* zt_fatal */
#undef _Noreturn
}

/* ---- error checking (llm.c style) ---------------------------------------- */
/* A failed CUDA or cuBLAS call is a bug or a broken device: exit 1 through the
 * logger, naming file:line and the call. */

static inline void cuda_check_(cudaError_t e, const char *call, const char *file, int line) {
    if (e != cudaSuccess)
        zt_fatal(ZT_EXIT_INTERNAL, "CUDA error at %s:%d: %s: %s (%s)", file, line, call,
                 cudaGetErrorString(e), cudaGetErrorName(e));
}
static inline void cublas_check_(cublasStatus_t s, const char *call, const char *file, int line) {
    if (s != CUBLAS_STATUS_SUCCESS)
        zt_fatal(ZT_EXIT_INTERNAL, "cuBLAS error at %s:%d: %s: status %d (%s)", file, line, call,
                 (int)s, cublasGetStatusString(s));
}
#define cudaCheck(call) cuda_check_((call), #call, __FILE__, __LINE__)
#define cublasCheck(call) cublas_check_((call), #call, __FILE__, __LINE__)
#define LAUNCH_CHECK() cuda_check_(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)

/* ---- shared state and helpers (defined in ops_cuda.cu) -------------------- */
cudaStream_t S(void);                 /* the table's one stream (created lazily) */
extern cublasHandle_t g_cublas;       /* bound to S() */
enum { SCR_LP = 0, SCR_RED = 1, SCR_COPY = 2, SCR_N = 3 };
void *scratch(int which, size_t bytes);
size_t align256(size_t bytes);
const void *to_bf16(void *dst, const float *src, size_t n);   /* on S(); returns dst */
void gemm_rm(bool tA, bool tB, int M, int N, int K, float alpha, const void *A, int lda,
             long long sA, const void *B, int ldb, long long sB, float beta, float *C,
             int ldc, long long sC, int batch, bool bf16);
static inline unsigned int grid_for(size_t n, int block) {
    size_t g = (n + (size_t)block - 1) / (size_t)block;
    const size_t cap = 132u * 64u; /* grid-stride beyond this */
    return (unsigned int)(g < 1 ? 1 : g > cap ? cap : g);
}
#define GRID_STRIDE(i, n) \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (size_t)blockDim.x * gridDim.x)

/* ---- warp helpers -------------------------------------------------------- */

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
/* one warp per row, 8 rows per block of 256 */
#define ROWS_PER_BLOCK 8
static inline unsigned int row_blocks(size_t rows) {
    return (unsigned int)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
}
#define WARP_ROW(row, rows)                                                            \
    const size_t row = (size_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32;         \
    const int lane = threadIdx.x % 32;                                                 \
    if (row >= (rows)) return

/* ---- attention (ops_cuda_attn.cu) ----------------------------------------- */
size_t cu_attn_saved_floats(int B, int T, int C, int NH);
size_t cu_attn_scratch_floats(int B, int T, int C, int NH);
void cu_attention_fwd(float *out, float *saved, float *scratch_, const float *qkv, int B, int T, int C, int NH);
void cu_attention_bwd(float *dqkv, float *scratch_, const float *dout, const float *qkv,
                      const float *saved, int B, int T, int C, int NH);
void cu_attention_fwd_bf16(float *out, float *saved, float *scratch_, const float *qkv, int B, int T, int C, int NH);
void cu_attention_bwd_bf16(float *dqkv, float *scratch_, const float *dout, const float *qkv,
                           const float *saved, int B, int T, int C, int NH);

/* ---- convolution pieces, BatchNorm (ops_cuda_conv.cu) --------------------- */
void cu_im2col3(float *col, const float *inp, int n, int H, int W, int C);
void cu_col2im3(float *dinp, const float *dcol, int n, int H, int W, int C);
void cu_maxpool2_fwd(float *out, int32_t *arg, const float *inp, int n, int H, int W, int C);
void cu_maxpool2_bwd(float *dinp, const float *dout, const int32_t *arg, size_t nout);
void cu_bn_stats(float *mean, float *var, const float *inp, int M, int C);
void cu_bn_fwd(float *out, const float *inp, const float *mean, const float *var,
               const float *g, const float *b, int M, int C);
void cu_bn_bwd(float *dinp, float *dg, float *db, const float *dout, const float *inp,
               const float *mean, const float *var, const float *g, int M, int C);
#endif
