/* comm_bench.c — all-reduce bus bandwidth of the comm layer (MPI backend)
 * next to raw MPI_Allreduce of the same bytes, measured in the same run.
 *
 *   mpirun -n W comm_bench [--min BYTES] [--max BYTES] [--step 2|4]
 *                          [--iters N] [--inplace] [--seconds S]
 *
 * For every message size (4 KB ... 64 MB, powers of 4 by default) it runs,
 * interleaved and alternating which goes first: raw MPI_Allreduce (fp32 SUM,
 * on a duplicate of MPI_COMM_WORLD), zt_allreduce, and zt_iallreduce +
 * zt_wait. Each sample is the slowest rank's time of one call after a
 * barrier; the table shows the median sample as bus bandwidth
 * busbw = 2(W-1)/W * bytes / time (algbw = bytes / time at W = 1) and the
 * ratio comm/raw (>= 0.9 from 256 KB up is the goal).
 * A second table (W > 1, 256 KB ... 16 MB) shows whether an async all-reduce
 * overlapped with computation on the calling thread beats compute-then-
 * blocking-all-reduce. ZT_COMM_ASYNC (polled|blocking|deferred) selects how
 * the MPI backend runs async ops (trainer/comm/comm_mpi.c).
 *
 *   mpirun -n W comm_bench --rs [--sizes MB,MB,...] [--seconds S]
 *
 * The ZeRO-2/3 gradient path instead: for each size (default 4, 32, 147 MB)
 * seven variants, interleaved with the order rotating every iteration, in one
 * process: raw MPI_Allreduce, raw MPI_Reduce_scatter_block, raw
 * MPI_Reduce_scatter (uneven counts as zt_part makes them), the comm layer's
 * async reduce-scatter as the buckets call it (zt_ireduce_scatter_v +
 * zt_wait) on a comm made with ZT_COMM_RS=mpi and on one with ZT_COMM_RS=ring,
 * and its async all-reduce (zt_iallreduce + zt_wait, as DDP's buckets) with
 * ZT_COMM_AR=mpi and =ring. Median ms of the slowest rank, and each
 * variant's time relative to raw MPI_Allreduce. */
#include <mpi.h>      /* the raw MPI side of every comparison */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>     /* the date in the header line */
#include "comm.h"     /* the comm layer under test */

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* "compute": dependent FMAs on an L1-resident array (no memory traffic). */
static float g_work[256];
static void compute(long k) {
    float a = 1.0001f, b = 0.9999f;
    for (long i = 0; i < k; i++)
        for (int j = 0; j < 256; j++) g_work[j] = g_work[j] * a + b;
}

/* Overlap: for each size, a computation as long as the raw all-reduce of
 * that size, measured interleaved three ways: compute alone; compute then a
 * blocking zt_allreduce (serial); zt_iallreduce, compute, zt_wait
 * (overlapped). gain = serial / overlapped (> 1: the overlap pays). */
static void overlap_table(zt_comm *c, MPI_Comm raw, float *sb, float *recv, size_t min_b,
                          size_t max_b, const size_t *sizes, const double *t_raw, int nsizes,
                          double seconds) {
    int R = zt_comm_rank(c);
    long k1 = 1000;   /* calibrate the compute rate: median of 5 runs of >= 10 ms */
    for (;;) {
        double a = MPI_Wtime(); compute(k1);
        if (MPI_Wtime() - a > 0.01) break;
        k1 *= 2;
    }
    double tk[5];
    for (int i = 0; i < 5; i++) { double a = MPI_Wtime(); compute(k1); tk[i] = MPI_Wtime() - a; }
    double t = median(tk, 5);
    MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, raw);
    double rate = (double)k1 / t;   /* compute units per second (slowest rank) */
    if (R == 0)
        printf("\n# overlap: computation as long as the raw all-reduce, on the calling thread\n"
               "%10s %6s | %9s %11s %11s | %6s\n", "bytes", "iters", "comp ms", "serial ms",
               "overlap ms", "gain");
    for (int si = 0; si < nsizes; si++) {
        size_t bytes = sizes[si], n = bytes / 4;
        if (bytes < min_b || bytes > max_b) continue;
        long k = (long)(t_raw[si] * rate) + 1;
        int it = (int)(seconds / (5.0 * t_raw[si] + 1e-4));
        if (it < 9) it = 9;
        if (it > 300) it = 300;
        double *v = malloc(3 * (size_t)it * sizeof(double));
        for (int i = 0; i < it; i++) {
            for (int j0 = 0; j0 < 3; j0++) {
                int j = (j0 + i) % 3;
                MPI_Barrier(raw);
                double a = MPI_Wtime();
                if (j == 0) {
                    compute(k);
                } else if (j == 1) {
                    compute(k);
                    zt_allreduce(c, sb, recv, n, ZT_F32, ZT_SUM);
                } else {
                    zt_req *q = zt_iallreduce(c, sb, recv, n, ZT_F32, ZT_SUM);
                    compute(k);
                    zt_wait(q);
                }
                v[j * it + i] = MPI_Wtime() - a;
            }
        }
        MPI_Allreduce(MPI_IN_PLACE, v, 3 * it, MPI_DOUBLE, MPI_MAX, raw);
        double tcomp = median(v, it), tser = median(v + it, it), tov = median(v + 2 * it, it);
        if (R == 0)
            printf("%10zu %6d | %9.3f %11.3f %11.3f | %6.2f\n", bytes, it, tcomp * 1e3, tser * 1e3,
                   tov * 1e3, tser / tov);
        free(v);
    }
}

/* --rs: the ZeRO-2/3 table (see the top of the file). */
static void rs_table(zt_comm *c, MPI_Comm raw, const double *mb, int nmb, double seconds) {
    int R = zt_comm_rank(c), W = zt_comm_size(c);
    enum { NV = 7 };
    static const char *names[NV] = {"MPI_Allreduce", "MPI_Red_sc_block", "MPI_Reduce_scatter",
                                    "zt RS v mpi", "zt RS v ring", "zt iAR mpi", "zt iAR ring"};
    setenv("ZT_COMM_RS", "mpi", 1);
    setenv("ZT_COMM_AR", "mpi", 1);
    zt_comm *cm = zt_comm_create("mpi", NULL, 300.0);
    setenv("ZT_COMM_RS", "ring", 1);
    setenv("ZT_COMM_AR", "ring", 1);
    zt_comm *cr = zt_comm_create("mpi", NULL, 300.0);
    if (!cm || !cr) exit(1);
    if (R == 0) {
        printf("# reduce-scatter table: W=%d, fp32 SUM; median ms of the slowest rank "
               "(x = time / MPI_Allreduce time)\n", W);
        printf("%7s %5s", "MB", "iters");
        for (int v = 0; v < NV; v++) printf(" | %16s", names[v]);
        printf("\n");
    }
    for (int si = 0; si < nmb; si++) {
        size_t n = (size_t)(mb[si] * 1e6 / 4) / (size_t)W * (size_t)W + 1;   /* uneven by one */
        size_t *cnt = malloc((size_t)W * sizeof *cnt);
        int *icnt = malloc((size_t)W * sizeof *icnt);
        for (int q = 0; q < W; q++) {
            size_t o, l;
            zt_part(n, W, q, &o, &l);
            cnt[q] = l; icnt[q] = (int)l;
        }
        float *x = malloc(n * 4), *y = malloc(n * 4);
        for (size_t i = 0; i < n; i++) x[i] = (float)(i % 13) * 0.5f;
        int blk = (int)(n / (size_t)W);
        /* one warm-up round, then as many rounds as fit in `seconds` */
        double t0 = MPI_Wtime();
        MPI_Allreduce(x, y, (int)n, MPI_FLOAT, MPI_SUM, raw);
        double one = MPI_Wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &one, 1, MPI_DOUBLE, MPI_MAX, raw);
        int it = (int)(seconds / (NV * one + 1e-4));
        if (it < 9) it = 9;
        if (it > 200) it = 200;
        double *t = malloc((size_t)NV * (size_t)it * sizeof *t);
        for (int k = -1; k < it; k++) {
            for (int v0 = 0; v0 < NV; v0++) {
                int v = (v0 + (k < 0 ? 0 : k)) % NV;
                MPI_Barrier(raw);
                double a = MPI_Wtime();
                int rc = 0;
                switch (v) {
                case 0: rc = MPI_Allreduce(x, y, (int)n, MPI_FLOAT, MPI_SUM, raw); break;
                case 1: rc = MPI_Reduce_scatter_block(x, y, blk, MPI_FLOAT, MPI_SUM, raw); break;
                case 2: rc = MPI_Reduce_scatter(x, y, icnt, MPI_FLOAT, MPI_SUM, raw); break;
                case 3: rc = zt_wait(zt_ireduce_scatter_v(cm, x, y, cnt, ZT_F32, ZT_SUM)); break;
                case 4: rc = zt_wait(zt_ireduce_scatter_v(cr, x, y, cnt, ZT_F32, ZT_SUM)); break;
                case 5: rc = zt_wait(zt_iallreduce(cm, x, y, n, ZT_F32, ZT_SUM)); break;
                case 6: rc = zt_wait(zt_iallreduce(cr, x, y, n, ZT_F32, ZT_SUM)); break;
                }
                if (rc != 0) { fprintf(stderr, "%s failed\n", names[v]); exit(1); }
                if (k >= 0) t[v * it + k] = MPI_Wtime() - a;
            }
        }
        MPI_Allreduce(MPI_IN_PLACE, t, NV * it, MPI_DOUBLE, MPI_MAX, raw);
        if (R == 0) {
            double m[NV];
            for (int v = 0; v < NV; v++) m[v] = median(t + v * it, it);
            printf("%7.1f %5d", (double)n * 4 / 1e6, it);
            for (int v = 0; v < NV; v++) printf(" | %8.2f %5.2fx", m[v] * 1e3, m[v] / m[0]);
            printf("\n");
            fflush(stdout);
        }
        free(t); free(x); free(y); free(cnt); free(icnt);
    }
    zt_comm_destroy(cm);
    zt_comm_destroy(cr);
}

int main(int argc, char **argv) {
    size_t min_b = 4096, max_b = (size_t)64 << 20;
    int step = 4, iters = 0, inplace = 0, do_overlap = 1, rs = 0;
    double seconds = 1.5;   /* per size, all three variants together */
    double rs_mb[16] = {4, 32, 147};
    int rs_n = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--min") && i + 1 < argc) min_b = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--max") && i + 1 < argc) max_b = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--step") && i + 1 < argc) step = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--inplace")) inplace = 1;
        else if (!strcmp(argv[i], "--no-overlap")) do_overlap = 0;
        else if (!strcmp(argv[i], "--rs")) rs = 1;
        else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
            rs_n = 0;
            for (char *tok = strtok(argv[++i], ","); tok && rs_n < 16; tok = strtok(NULL, ","))
                rs_mb[rs_n++] = atof(tok);
        }
        else { fprintf(stderr, "usage: %s [--min B] [--max B] [--step 2|4] [--iters N] [--seconds S] [--inplace] [--no-overlap] | --rs [--sizes MB,..]\n", argv[0]); return 2; }
    }
    if (step < 2) step = 2;

    zt_comm *c = zt_comm_create("mpi", NULL, 300.0);   /* initialises MPI (THREAD_MULTIPLE) */
    if (!c) return 1;
    int R = zt_comm_rank(c), W = zt_comm_size(c);
    MPI_Comm raw;
    MPI_Comm_dup(MPI_COMM_WORLD, &raw);
    int provided = 0;
    MPI_Query_thread(&provided);
    if (rs) {
        rs_table(c, raw, rs_mb, rs_n, seconds);
        MPI_Comm_free(&raw);
        zt_comm_destroy(c);
        zt_comm_finalize();
        return 0;
    }

    float *send = malloc(max_b), *recv = malloc(max_b);
    if (!send || !recv) { fprintf(stderr, "out of memory\n"); return 1; }
    for (size_t i = 0; i < max_b / 4; i++) { send[i] = (float)(i % 13) * 0.5f; recv[i] = 0; }
    float *sb = inplace ? recv : send;

    if (R == 0) {
        char date[32];
        time_t now = time(NULL);
        strftime(date, sizeof date, "%Y-%m-%d", localtime(&now));
        printf("# comm_bench: W=%d, fp32 SUM, %s, MPI thread level %d, %s\n", W,
               inplace ? "in place" : "out of place", provided, date);
        printf("# busbw = 2(W-1)/W * bytes / t%s; t = median over iterations of the slowest rank\n",
               W == 1 ? " (W=1: algbw = bytes / t)" : "");
        printf("%10s %6s | %12s %12s %7s | %12s %7s\n", "bytes", "iters", "MPI GB/s",
               "zt GB/s", "ratio", "zt-async", "ratio");
    }

    size_t sizes[64];
    double t_raw[64];
    int nsizes = 0;
    for (size_t bytes = min_b; bytes <= max_b && nsizes < 64; bytes *= (size_t)step) {
        size_t n = bytes / 4;
        /* calibrate: one raw call (after warm-up) decides the iteration count */
        for (int w = 0; w < 3; w++) MPI_Allreduce(sb, recv, (int)n, MPI_FLOAT, MPI_SUM, raw);
        MPI_Barrier(raw);
        double t0 = MPI_Wtime();
        MPI_Allreduce(sb, recv, (int)n, MPI_FLOAT, MPI_SUM, raw);
        double one = MPI_Wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &one, 1, MPI_DOUBLE, MPI_MAX, raw);
        int it = iters > 0 ? iters : (int)(seconds / (3.0 * (one + 20e-6)));
        if (it < 11) it = 11;
        if (it > 1000) it = 1000;
        for (int w = 0; w < 3; w++) {
            zt_allreduce(c, sb, recv, n, ZT_F32, ZT_SUM);
            zt_wait(zt_iallreduce(c, sb, recv, n, ZT_F32, ZT_SUM));
        }

        double *tr = malloc(3 * (size_t)it * sizeof(double));
        for (int k = 0; k < it; k++) {
            for (int v0 = 0; v0 < 3; v0++) {
                int v = (v0 + k) % 3;   /* rotate the order */
                MPI_Barrier(raw);
                double a = MPI_Wtime();
                if (v == 0) MPI_Allreduce(sb, recv, (int)n, MPI_FLOAT, MPI_SUM, raw);
                else if (v == 1) zt_allreduce(c, sb, recv, n, ZT_F32, ZT_SUM);
                else zt_wait(zt_iallreduce(c, sb, recv, n, ZT_F32, ZT_SUM));
                tr[v * it + k] = MPI_Wtime() - a;
            }
        }
        MPI_Allreduce(MPI_IN_PLACE, tr, 3 * it, MPI_DOUBLE, MPI_MAX, raw);
        double m[3];
        for (int v = 0; v < 3; v++) m[v] = median(tr + v * it, it);
        free(tr);
        sizes[nsizes] = bytes;
        t_raw[nsizes++] = m[0];
        if (R == 0) {
            double f = W > 1 ? 2.0 * (W - 1) / W : 1.0;
            double bw[3];
            for (int v = 0; v < 3; v++) bw[v] = f * (double)bytes / m[v] / 1e9;
            printf("%10zu %6d | %12.3f %12.3f %7.3f | %12.3f %7.3f\n", bytes, it, bw[0], bw[1],
                   bw[1] / bw[0], bw[2], bw[2] / bw[0]);
            fflush(stdout);
        }
    }
    if (do_overlap && W > 1) {
        size_t lo = min_b < ((size_t)256 << 10) ? (size_t)256 << 10 : min_b;
        size_t hi = max_b > ((size_t)16 << 20) ? (size_t)16 << 20 : max_b;
        overlap_table(c, raw, sb, recv, lo, hi, sizes, t_raw, nsizes, seconds);
    }
    free(send);
    free(recv);
    MPI_Comm_free(&raw);
    zt_comm_destroy(c);
    zt_comm_finalize();
    return 0;
}
