/* cost_bench.c — the per-op costs bench/cost_model.py builds its step-time
 * prediction from (bench/cost_measure.sh runs every mode and keeps the lines).
 *
 *   cost_bench layers gpt --vocab V --ctx T --d_model C --n_layer L --n_head H
 *                         [--batch B] [--threads N] [--reps R]
 *   cost_bench layers mlp [--hidden a,b,..] [--batch B] [--threads N] [--reps R]
 *       forward and backward time of every unit (the engine's granularity:
 *       gpt unit 0 = embeddings, 1..L = blocks, L+1 = final LN + head; mlp one
 *       unit per layer), median of R repetitions after one untimed pass.
 *       One line per unit: "layer model=M unit=U params=N batch=B rows_tokens=K
 *       threads=N fwd_ms=F bwd_ms=G fwd_min_ms=.. bwd_min_ms=.." (medians, minima).
 *   cost_bench optim [--n N] [--reps R]
 *       AdamW update (trainer/optim.c, as the engine runs it) over N params:
 *       "optim adamw n=N ns_per_param=X".
 *   mpirun -n W cost_bench comm [--min BYTES] [--max BYTES] [--seconds S]
 *       blocking zt_allreduce, zt_reduce_scatter and zt_allgather (MPI
 *       backend, the collectives the buckets and ZeRO-3 gathers use) at
 *       sizes min..max (x4); each sample is the slowest rank's time after a
 *       barrier; the median and the fastest sample are printed:
 *       "comm op=OP W=W bytes=B ms=T min_ms=M samples=K". On a shared
 *       machine a descheduled rank inflates the median by orders of
 *       magnitude; the fastest sample is the uncontended cost the model fits.
 * Wall-clock medians only: the machine is shared, so cost_measure.sh records
 * the load average next to them. */
#include <cblas.h>        /* openblas_set_num_threads */
#include <mpi.h>          /* MPI_Allreduce(MAX) of a sample's time, MPI_Finalize */
#include <stdint.h>       /* int32_t */
#include <stdio.h>        /* printf: the result lines */
#include <stdlib.h>       /* malloc, atoi, qsort */
#include <string.h>       /* strcmp, memset */
#include "comm.h"         /* the comm layer's collectives */
#include "model.h"        /* models and their units */
#include "optim.h"        /* zt_optim_step */
#include "zt_launcher.h"  /* ZT_EXIT_CONFIG */
#include "zt_log.h"       /* zt_fatal */

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) { qsort(v, (size_t)n, sizeof *v, cmp_d); return v[n / 2]; }

static _Noreturn void usage(void) {
    zt_fatal(ZT_EXIT_CONFIG, "usage: cost_bench layers gpt|mlp [opts] | optim [--n N] | comm [--min B --max B]");
}

/* a counter-based hash: the same pseudo-random tokens/pixels at any run */
static uint32_t rnd32(uint64_t i) {
    uint64_t z = (i + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (uint32_t)((z ^ (z >> 31)) >> 33);
}

static int layers(int argc, char **argv) {
    if (argc < 1) usage();
    const char *kind = argv[0];
    int is_gpt = !strcmp(kind, "gpt");
    if (!is_gpt && strcmp(kind, "mlp")) usage();
    int batch = is_gpt ? 4 : 64, threads = 1, reps = 5;
    zt_gpt_cfg gc = {.vocab = 96, .ctx = 64, .d_model = 64, .n_layer = 2, .n_head = 4};
    zt_mlp_cfg mc = {.in_dim = 784, .out_dim = 10, .n_hidden = 2, .hidden = {256, 128}};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--reps")) reps = atoi(v);
        else if (!strcmp(a, "--vocab")) gc.vocab = atoi(v);
        else if (!strcmp(a, "--ctx")) gc.ctx = atoi(v);
        else if (!strcmp(a, "--d_model")) gc.d_model = atoi(v);
        else if (!strcmp(a, "--n_layer")) gc.n_layer = atoi(v);
        else if (!strcmp(a, "--n_head")) gc.n_head = atoi(v);
        else if (!strcmp(a, "--hidden")) {
            mc.n_hidden = 0;
            for (char *s = (char *)v; *s && mc.n_hidden < 8;) {
                mc.hidden[mc.n_hidden++] = (int)strtol(s, &s, 10);
                if (*s == ',') s++; else if (*s) usage();
            }
        } else usage();
    }
    if (reps < 1) reps = 1;
    openblas_set_num_threads(threads);
    zt_model *m = is_gpt ? zt_gpt_create(&gc, batch) : zt_mlp_create(&mc, batch);
    if (!m) zt_fatal(ZT_EXIT_CONFIG, "cost_bench: cannot build the %s model (see above)", kind);
    size_t P = m->n_params;
    float *p = malloc(P * sizeof(float)), *g = calloc(P, sizeof(float));
    if (!p || !g) zt_fatal(ZT_EXIT_INTERNAL, "cost_bench: out of memory for %zu params", P);
    zt_model_init_range(m, 1234, 0, P, p);
    m->grad_scale = 1.0f / (float)batch;
    zt_batch b = {.n = batch};
    int32_t *xi = NULL, *y = NULL; float *xf = NULL;
    if (is_gpt) {
        size_t n = (size_t)batch * gc.ctx;
        xi = malloc(n * sizeof *xi); y = malloc(n * sizeof *y);
        for (size_t i = 0; i < n; i++) { xi[i] = (int32_t)(rnd32(2 * i) % gc.vocab); y[i] = (int32_t)(rnd32(2 * i + 1) % gc.vocab); }
        b.xi = xi; b.y = y;
    } else {
        xf = malloc((size_t)batch * mc.in_dim * sizeof *xf); y = malloc((size_t)batch * sizeof *y);
        for (size_t i = 0; i < (size_t)batch * mc.in_dim; i++) xf[i] = (float)(rnd32(i) % 256) / 255.0f;
        for (int i = 0; i < batch; i++) y[i] = (int32_t)(rnd32(1u << 30 | (unsigned)i) % mc.out_dim);
        b.xf = xf; b.y = y;
    }
    int U = m->n_units;
    double *tf = malloc(sizeof(double) * (size_t)U * reps), *tb = malloc(sizeof(double) * (size_t)U * reps);
    m->set_batch(m, &b);
    for (int it = -1; it < reps; it++) {   /* it = -1: untimed warm-up */
        for (int u = 0; u < U; u++) {
            double t0 = zt_now();
            m->forward(m, u, p + m->unit_off[u]);
            if (it >= 0) tf[u * reps + it] = zt_now() - t0;
        }
        for (int u = U - 1; u >= 0; u--) {
            double t0 = zt_now();
            m->backward(m, u, p + m->unit_off[u], g + m->unit_off[u]);
            if (it >= 0) tb[u * reps + it] = zt_now() - t0;
        }
    }
    for (int u = 0; u < U; u++) {
        double mf = median(tf + u * reps, reps), mb = median(tb + u * reps, reps);   /* sorted: [0] = min */
        printf("layer model=%s unit=%d params=%zu batch=%d rows_tokens=%zu threads=%d fwd_ms=%.4f bwd_ms=%.4f "
               "fwd_min_ms=%.4f bwd_min_ms=%.4f\n", kind, u, m->unit_len[u], batch,
               (size_t)batch * m->tokens_per_row, threads, 1e3 * mf, 1e3 * mb, 1e3 * tf[u * reps], 1e3 * tb[u * reps]);
    }
    m->destroy(m);
    free(p); free(g); free(tf); free(tb); free(xi); free(xf); free(y);
    return 0;
}

static int optim(int argc, char **argv) {
    size_t n = 4u << 20;
    int reps = 5;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else usage();
    }
    float *p = malloc(n * 4), *g = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4);
    if (!p || !g || !m || !v) zt_fatal(ZT_EXIT_INTERNAL, "cost_bench: out of memory");
    for (size_t i = 0; i < n; i++) { p[i] = (float)(rnd32(i) % 1000) * 1e-3f; g[i] = (float)(rnd32(i + n) % 1000) * 1e-4f; }
    zt_optim_cfg oc;
    zt_optim_defaults(&oc, ZT_OPTIM_ADAMW);
    float *sl[2] = {m, v};
    double *t = malloc(sizeof(double) * (size_t)reps);
    for (int it = -1; it < reps; it++) {
        double t0 = zt_now();
        zt_optim_step(&oc, (uint64_t)it + 2, 1e-3f, 1.0f, p, g, sl, n, 0.01f);
        if (it >= 0) t[it] = zt_now() - t0;
    }
    printf("optim adamw n=%zu ns_per_param=%.4f\n", n, 1e9 * median(t, reps) / (double)n);
    free(p); free(g); free(m); free(v); free(t);
    return 0;
}

static int comm(int argc, char **argv) {
    size_t lo = 4096, hi = 256u << 20;
    double seconds = 1.0;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--min")) lo = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--max")) hi = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else usage();
    }
    zt_comm *c = zt_comm_create("mpi", NULL, 600.0);   /* initialises MPI */
    if (!c) zt_fatal(ZT_EXIT_PEER, "cost_bench: no communicator");
    int W = zt_comm_size(c), r = zt_comm_rank(c);
    size_t nmax = hi / 4;
    float *a = malloc(nmax * 4), *b = malloc(nmax * 4);
    if (!a || !b) zt_fatal(ZT_EXIT_INTERNAL, "cost_bench: out of memory for %zu bytes", hi);
    for (size_t i = 0; i < nmax; i++) a[i] = b[i] = 1.0f;
    const char *ops[3] = {"allreduce", "reduce_scatter", "allgather"};
    enum { MAXS = 64 };
    double s[MAXS];
    for (size_t bytes = lo; bytes <= hi; bytes *= 4) {
        size_t n = bytes / 4, off, len;
        zt_part(n, W, r, &off, &len);
        for (int o = 0; o < 3; o++) {
            int k = 0;
            double spent = 0;
            /* at least 5 samples, then until `seconds` or MAXS */
            while (k < MAXS && (k < 5 || spent < seconds)) {
                zt_barrier(c);
                double t0 = zt_now();
                int rc = o == 0 ? zt_allreduce(c, a, b, n, ZT_F32, ZT_SUM)
                       : o == 1 ? zt_reduce_scatter(c, a, b, n, ZT_F32, ZT_SUM)
                                : zt_allgather(c, a + off, b, n, ZT_F32);
                double dt = zt_now() - t0, mx;
                if (rc) zt_fatal(ZT_EXIT_PEER, "cost_bench: %s of %zu bytes: %s", ops[o], bytes, zt_comm_error(c));
                MPI_Allreduce(&dt, &mx, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
                s[k++] = mx; spent += mx;
            }
            double med = median(s, k);   /* sorts s: s[0] is the fastest */
            if (r == 0) printf("comm op=%s W=%d bytes=%zu ms=%.4f min_ms=%.4f samples=%d\n", ops[o], W, bytes, 1e3 * med, 1e3 * s[0], k);
            fflush(stdout);
        }
    }
    free(a); free(b);
    zt_comm_destroy(c);
    zt_comm_finalize();
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    if (!strcmp(argv[1], "layers")) return layers(argc - 2, argv + 2);
    if (!strcmp(argv[1], "optim")) return optim(argc - 2, argv + 2);
    if (!strcmp(argv[1], "comm")) return comm(argc - 2, argv + 2);
    usage();
}
