/* cblas_ref.c — naive cblas_sgemm (see cblas.h beside it). */
#include "cblas.h"
#include <stddef.h>

void cblas_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K,
                 float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                 float *C, int ldc) {
    if (order == CblasColMajor) {   /* column-major C = op(A)op(B) is row-major Cᵀ = op(B)ᵀop(A)ᵀ */
        cblas_sgemm(CblasRowMajor, tb, ta, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
        return;
    }
    const int tA = ta != CblasNoTrans, tB = tb != CblasNoTrans;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                double a = tA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = tB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
}

void openblas_set_num_threads(int n) { (void)n; }

/* ops_cpu.c reports the OpenBLAS kernel set; this reference has none */
char *openblas_get_corename(void) { return (char *)"cblas_ref"; }
