/* bf16_matmul.c — the machine's matrix-product rates, for bench/bf16.sh:
 * out[N,N] = a[N,N]·w[N,N]ᵀ through the op tables' matmul_fwd — fp32 (cpu
 * table: OpenBLAS sgemm) and bf16 (cpu-bf16 table: oneDNN, weights converted
 * once as the engine does, activations converted on each call) — plus the
 * bf16 backward (dinp and dw products). Best of REPS timed calls after one
 * untimed, in process CPU time (BF16_WALL=1: wall time); prints key=value
 * pairs (GFLOP/s).
 *   bf16_matmul [N (2048)] [threads (1)] [reps (5)] */
#include <cblas.h>     /* openblas_set_num_threads */
#include <stdio.h>     /* printf */
#include <stdlib.h>    /* atoi, malloc */
#include <time.h>      /* clock_gettime */
#include "ops.h"       /* the cpu and cpu-bf16 tables, ISA query */

/* CPU seconds of the process (the bench runs 1 thread): on a loaded machine
 * the time it computed, not the time it waited for a core. BF16_WALL=1: wall. */
static double now(void) {
    struct timespec ts;
    clock_gettime(getenv("BF16_WALL") ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int N = argc > 1 ? atoi(argv[1]) : 2048, th = argc > 2 ? atoi(argv[2]) : 1;
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    openblas_set_num_threads(th);
    zt_ops_dnnl_set_threads(th);
    const zt_ops *f = &zt_ops_cpu, *b = zt_ops_cpu_bf16();
    size_t n = (size_t)N * N;
    float *a = f->alloc(n * 4), *w = f->alloc(n * 4), *o = f->alloc(n * 4);
    float *da = f->alloc(n * 4), *dw = f->alloc(n * 4);
    for (size_t i = 0; i < n; i++) { a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f; w[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f; }
    const double fl = 2.0 * N * (double)N * N;
    double best[3] = { 1e30, 1e30, 1e30 };
    b->weights_ready(w, n);
    for (int r = 0; r <= reps; r++) {
        double t0 = now();
        f->matmul_fwd(o, a, w, NULL, N, N, N);
        double t1 = now();
        b->matmul_fwd(o, a, w, NULL, N, N, N);
        double t2 = now();
        b->matmul_bwd(da, dw, NULL, o, a, w, N, N, N);
        double t3 = now();
        if (r == 0) continue;
        if (t1 - t0 < best[0]) best[0] = t1 - t0;
        if (t2 - t1 < best[1]) best[1] = t2 - t1;
        if ((t3 - t2) / 2 < best[2]) best[2] = (t3 - t2) / 2;
    }
    int native = 0;
    const char *isa = zt_ops_dnnl_isa(&native);
    printf("clock=%s N=%d threads=%d isa=%s bf16_native=%d fp32_gflops=%.1f bf16_gflops=%.1f bf16_bwd_gflops=%.1f\n",
           getenv("BF16_WALL") ? "wall" : "cpu", N, th, isa, native, fl / best[0] * 1e-9, fl / best[1] * 1e-9, fl / best[2] * 1e-9);
    return 0;
}
