/* cblas.h (tests/gpu/cblas_ref) — the one CBLAS entry point the CPU op table
 * (trainer/ops/ops_cpu.c) uses, for building tests/gpu/ops_check standalone with
 * nvcc on a machine without OpenBLAS headers (tests/gpu/run.sh). Plain loops
 * accumulated in double: slower than OpenBLAS but exact enough to be the
 * reference. Not used by CMake.
 * ops_cpu.c also calls openblas_get_corename(), defined in cblas_ref.c. */
#ifndef ZT_CBLAS_REF_H
#define ZT_CBLAS_REF_H
#ifdef __cplusplus
extern "C" {
#endif
enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112, CblasConjTrans = 113 };
typedef enum CBLAS_ORDER CBLAS_ORDER;
typedef enum CBLAS_TRANSPOSE CBLAS_TRANSPOSE;
void cblas_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K,
                 float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                 float *C, int ldc);
void openblas_set_num_threads(int n);
char *openblas_get_corename(void);
#ifdef __cplusplus
}
#endif
#endif
