/* cblas_ref.c — plain-C cblas_sgemm (see cblas.h beside it), accumulated in
 * double. op(B) is packed into a contiguous K x N copy first so the inner loop
 * runs over contiguous memory and the compiler can vectorise it: the
 * production-shape attention checks of ops_check (B=2, T=1024, C=768, 12
 * heads) are ~10 G multiply-adds on this side, minutes with strided naive
 * loops, seconds like this. */
#include "cblas.h"
#include <stddef.h>   /* size_t */
#include <stdio.h>    /* fprintf */
#include <stdlib.h>   /* malloc, free, exit */

void cblas_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K,
                 float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                 float *C, int ldc) {
    if (order == CblasColMajor) {   /* column-major C = op(A)op(B) is row-major Cᵀ = op(B)ᵀop(A)ᵀ */
        cblas_sgemm(CblasRowMajor, tb, ta, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
        return;
    }
    if (M <= 0 || N <= 0) return;
    const int tA = ta != CblasNoTrans, tB = tb != CblasNoTrans;
    double *bp = malloc((size_t)K * N * sizeof(double) + 8);   /* op(B) as K x N, row-major */
    double *acc = malloc((size_t)N * sizeof(double) + 8);
    if (!bp || !acc) { fprintf(stderr, "cblas_ref: out of memory (K=%d N=%d)\n", K, N); exit(2); }
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++)
            bp[(size_t)k * N + j] = tB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) acc[j] = 0.0;
        for (int k = 0; k < K; k++) {
            const double a = tA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
            const double *restrict brow = bp + (size_t)k * N;
            double *restrict s = acc;
            for (int j = 0; j < N; j++) s[j] += a * brow[j];
        }
        float *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++)
            c[j] = (float)(alpha * acc[j] + (beta == 0.0f ? 0.0 : (double)beta * c[j]));
    }
    free(bp);
    free(acc);
}

void openblas_set_num_threads(int n) { (void)n; }

/* ops_cpu.c reports the OpenBLAS kernel set; this reference has none */
char *openblas_get_corename(void) { return (char *)"cblas_ref"; }
