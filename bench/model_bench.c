/* model_bench.c — 1-rank training-step throughput of the models on the CPU
 * op table: forward + backward + global-norm clip + AdamW over the whole
 * flat buffer, exactly what a W=1 DDP step does minus the data loader.
 * bench/torch_ref.py runs the identical model, batch, threads and data in
 * PyTorch; bench/models.sh runs both and prints the ratio.
 *
 *   model_bench mlp [--hidden 256,128] [--batch 64] [--threads 2] [--steps 300]
 *   model_bench gpt [--vocab 96 --ctx 64 --d_model 64 --n_layer 2 --n_head 4]
 *                   [--batch 16] [--threads 2] [--steps 40]
 *   model_bench sgemm [--n 2048] [--threads 1] [--steps 10]
 *                   the machine's sgemm rate through the same OpenBLAS: C = A·B,
 *                   square n x n, 2n³ FLOPs per call (bench/gpt_torch.sh)
 *   model_bench conv [--batch 32] [--threads 1] [--steps 20]
 *                   the CNN's two convolution layers, forward + backward, on
 *                   the CPU table: GFLOP/s of their GEMMs (bench/cnn_torch.sh)
 *   model_bench cnn [--batch 64] [--threads 2] [--steps 40]
 *                   configs/fashion_cnn.ini's network on 28x28x1 images
 *                   (BatchNorm in training mode, as a step runs it)
 *   either with [--precision fp32|bf16] (bf16: the cpu-bf16 op table)
 * A fixed number of steps (after 3 untimed ones), so both sides time the same
 * stretch of training (the values met, denormals included, depend on it).
 * Prints one line: key=value pairs (model, params, batch, threads, steps,
 * ms_per_step, samples_per_s, tokens_per_s, gflops, loss_first, loss_last). */
#include <cblas.h>        /* openblas_set_num_threads, cblas_sgemm */
#include <stdint.h>       /* uint64_t, int32_t */
#include <stdio.h>        /* printf: the one result line */
#include <stdlib.h>       /* atoi, strtol, malloc */
#include <string.h>       /* strcmp */
#include <time.h>         /* clock_gettime */
#include "model.h"        /* the models under test */
#include "ops.h"          /* zt_ops_cpu */
#include "optim.h"        /* AdamW and the clip, as a step runs them */
#include "zt_launcher.h"  /* ZT_EXIT_CONFIG */
#include "zt_log.h"       /* zt_fatal */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
/* CPU seconds of the process: on a loaded machine the time it computed, not
 * the time it waited for a core */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* the same data as torch_ref.py: element i of the stream is
 * splitmix64(i + 1) >> 33, a counter-based hash (vectorizes in numpy) */
static uint64_t ctr = 0;
static uint32_t rnd32(void) {
    uint64_t z = (++ctr) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (uint32_t)((z ^ (z >> 31)) >> 33);
}

static _Noreturn void usage(void) {
    zt_fatal(ZT_EXIT_CONFIG, "usage: model_bench mlp|gpt [--batch N] [--threads N] [--steps S] "
                             "[--hidden a,b,..] [--vocab V --ctx T --d_model C --n_layer L --n_head H]");
}

/* GFLOP/s of square sgemm, the best of `steps` timed calls after 2 untimed
 * ones (the rate the machine can do, for a percentage of it). */
static int sgemm_rate(int argc, char **argv) {
    int n = 2048, threads = 1, steps = 10;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else usage();
    }
    openblas_set_num_threads(threads);
    size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    if (!a || !b || !c) zt_fatal(ZT_EXIT_INTERNAL, "sgemm: out of memory");
    for (size_t i = 0; i < nn; i++) { a[i] = (float)(rnd32() % 1000) / 1000.0f; b[i] = (float)(rnd32() % 1000) / 1000.0f; }
    double best = 1e30, sum = 0;
    for (int it = 0; it < steps + 2; it++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t = now() - t;
        if (it >= 2) { if (t < best) best = t; sum += t; }
    }
    double fl = 2.0 * n * (double)n * n;
    printf("model=sgemm n=%d threads=%d steps=%d gflops_best=%.2f gflops_mean=%.2f blas=%s\n", n, threads, steps,
           fl / best * 1e-9, fl / (sum / steps) * 1e-9, zt_ops_cpu_blas_corename());
    free(a); free(b); free(c);
    return 0;
}

/* The convolution layers of configs/fashion_cnn.ini (3x3, pad 1: 28x28x1 ->
 * 32 and 14x14x32 -> 64) at --batch rows, as the CNN runs them on the CPU
 * table: forward = im2col + GEMM (+ bias), backward = the weight GEMM
 * (+ the input GEMM and col2im for the second layer, whose input needs a
 * gradient). FLOPs counted: 2·M·K·Co per GEMM, M = rows·H·W, K = 9·C (im2col
 * and col2im count none). Prints a line per layer and one for both. */
static int conv_rate(int argc, char **argv) {
    int batch = 32, threads = 1, steps = 20;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else usage();
    }
    openblas_set_num_threads(threads);
    const zt_ops *o = &zt_ops_cpu;
    const struct { int H, W, C, Co, din; } L[2] = {{28, 28, 1, 32, 0}, {14, 14, 32, 64, 1}};
    double all_fl = 0, all_t = 0;
    for (int l = 0; l < 2; l++) {
        const int H = L[l].H, W = L[l].W, C = L[l].C, Co = L[l].Co, K = 9 * C, M = batch * H * W;
        size_t nin = (size_t)M * C, ncol = (size_t)M * K, nout = (size_t)M * Co, nw = (size_t)Co * K;
        float *in = malloc(nin * 4), *col = malloc(ncol * 4), *out = malloc(nout * 4), *w = malloc(nw * 4),
              *bias = calloc((size_t)Co, 4), *dw = calloc(nw, 4), *db = calloc((size_t)Co, 4),
              *dcol = malloc(ncol * 4), *din = malloc(nin * 4);
        if (!in || !col || !out || !w || !bias || !dw || !db || !dcol || !din) zt_fatal(ZT_EXIT_INTERNAL, "conv: out of memory");
        for (size_t i = 0; i < nin; i++) in[i] = (float)(rnd32() % 1000) / 1000.0f;
        for (size_t i = 0; i < nw; i++) w[i] = (float)(rnd32() % 1000) / 1000.0f - 0.5f;
        double best = 1e30;
        for (int it = 0; it < steps + 2; it++) {
            double t = now();
            o->im2col3(col, in, batch, H, W, C);
            o->matmul_fwd(out, col, w, bias, M, K, Co);
            if (L[l].din) memset(dcol, 0, ncol * 4);
            o->matmul_bwd(L[l].din ? dcol : NULL, dw, db, out, col, w, M, K, Co);
            if (L[l].din) o->col2im3(din, dcol, batch, H, W, C);
            t = now() - t;
            if (it >= 2 && t < best) best = t;
        }
        double fl = 2.0 * M * (double)K * Co * (2 + L[l].din);
        printf("conv layer=%d in=%dx%dx%d out=%d batch=%d threads=%d gemms=%d ms=%.3f gflops=%.2f\n", l + 1, H, W,
               C, Co, batch, threads, 2 + L[l].din, best * 1e3, fl / best * 1e-9);
        all_fl += fl; all_t += best;
        free(in); free(col); free(out); free(w); free(bias); free(dw); free(db); free(dcol); free(din);
    }
    printf("conv layer=all batch=%d threads=%d ms=%.3f gflops=%.2f\n", batch, threads, all_t * 1e3,
           all_fl / all_t * 1e-9);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    if (!strcmp(argv[1], "sgemm")) return sgemm_rate(argc, argv);
    if (!strcmp(argv[1], "conv")) return conv_rate(argc, argv);
    const char *kind = argv[1];
    int batch = -1, threads = 2, vocab = 96, ctx = 64, d_model = 64, n_layer = 2, n_head = 4;
    int nsteps = -1;
    int bf16 = 0;   /* --precision bf16: the cpu-bf16 table, weights converted once per step */
    zt_mlp_cfg mc = {.in_dim = 784, .out_dim = 10, .n_hidden = 2, .hidden = {256, 128}};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--steps")) nsteps = atoi(v);
        else if (!strcmp(a, "--vocab")) vocab = atoi(v);
        else if (!strcmp(a, "--ctx")) ctx = atoi(v);
        else if (!strcmp(a, "--d_model")) d_model = atoi(v);
        else if (!strcmp(a, "--n_layer")) n_layer = atoi(v);
        else if (!strcmp(a, "--n_head")) n_head = atoi(v);
        else if (!strcmp(a, "--precision")) bf16 = !strcmp(v, "bf16");
        else if (!strcmp(a, "--hidden")) {
            mc.n_hidden = 0;
            for (char *s = (char *)v; *s && mc.n_hidden < 8;) {
                mc.hidden[mc.n_hidden++] = (int)strtol(s, &s, 10);
                if (*s == ',') s++;
                else if (*s) usage();
            }
        } else usage();
    }
    openblas_set_num_threads(threads);
    zt_ops_dnnl_set_threads(threads);
    const zt_ops *ops = bf16 ? zt_ops_cpu_bf16() : &zt_ops_cpu;

    zt_model *m;
    int is_gpt = !strcmp(kind, "gpt");
    if (is_gpt) {
        if (batch < 0) batch = 16;
        zt_gpt_cfg gc = {.vocab = vocab, .ctx = ctx, .d_model = d_model, .n_layer = n_layer, .n_head = n_head};
        m = zt_gpt_create_ops(&gc, batch, ops);
    } else if (!strcmp(kind, "mlp")) {
        if (batch < 0) batch = 64;
        m = zt_mlp_create_ops(&mc, batch, ops);
    } else if (!strcmp(kind, "cnn")) {
        if (batch < 0) batch = 64;
        zt_cnn_cfg cc = {.h = 28, .w = 28, .c = 1, .n_classes = 10,
                         .layers = "conv32-bn-relu-pool,conv64-bn-relu-pool,fc128-relu"};
        mc.in_dim = 784; mc.out_dim = 10;   /* the images and labels below */
        m = zt_cnn_create_ops(&cc, batch, ops);
        if (m) m->training = 1;
    } else usage();
    if (!m) zt_fatal(ZT_EXIT_CONFIG, "model_bench: cannot build the %s model (see above)", kind);
    if (nsteps <= 0) nsteps = is_gpt || !strcmp(kind, "cnn") ? 40 : 300;

    /* data: 64 random batches, cycled (enough that the bench does not
     * memorise them: a loss near 0 would fill Adam's state with denormals) */
    enum { NB = 64 };
    zt_batch b[NB];
    for (int k = 0; k < NB; k++) {
        b[k].n = batch;
        if (is_gpt) {
            int32_t *x = malloc(sizeof(int32_t) * batch * ctx), *y = malloc(sizeof(int32_t) * batch * ctx);
            for (int i = 0; i < batch * ctx; i++) { x[i] = rnd32() % vocab; y[i] = rnd32() % vocab; }
            b[k].xi = x; b[k].y = y; b[k].xf = NULL;
        } else {
            float *x = malloc(sizeof(float) * batch * mc.in_dim);
            int32_t *y = malloc(sizeof(int32_t) * batch);
            for (int i = 0; i < batch * mc.in_dim; i++) x[i] = (float)(rnd32() % 256) / 255.0f;
            for (int i = 0; i < batch; i++) y[i] = rnd32() % mc.out_dim;
            b[k].xf = x; b[k].y = y; b[k].xi = NULL;
        }
    }

    const size_t P = m->n_params;
    float *p = malloc(P * sizeof(float)), *g = malloc(P * sizeof(float));
    float *s0 = calloc(P, sizeof(float)), *s1 = calloc(P, sizeof(float));
    zt_model_init_range(m, 1234, 0, P, p);
    zt_optim_cfg oc;
    zt_optim_defaults(&oc, ZT_OPTIM_ADAMW);
    oc.lr = 1e-3f;
    oc.weight_decay = 0.01f;
    m->grad_scale = 1.0f / (float)batch;

    double loss_first = 0, loss_last = 0;
    int steps = 0, warm = 3;
    double t0 = 0, t_end = 0, t_fb = 0, t_opt = 0, c0 = 0, c_end = 0;
    for (int it = 0;; it++) {
        if (it == warm) { t0 = now(); c0 = cpu_now(); }
        double ta = now();
        memset(g, 0, P * sizeof(float));
        if (ops->weights_ready)   /* as the engine: each unit's bf16 copy, once per step */
            for (int u = 0; u < m->n_units; u++) ops->weights_ready(p + m->unit_off[u], m->unit_len[u]);
        double l = zt_model_loss_and_grad(m, &b[it % NB], p, g) / batch;
        double tb = now();
        float gs = zt_clip_scale(&oc, zt_grad_sumsq(g, P));
        float lr = oc.lr;
        for (int i = 0; i < m->n_tensors; i++) {
            const zt_tensor *t = &m->tensors[i];
            float *sl[2] = {s0 + t->off, s1 + t->off};
            zt_optim_step(&oc, (uint64_t)it + 1, lr, gs, p + t->off, g + t->off, sl, t->numel,
                          zt_optim_tensor_wd(&oc, t));
        }
        if (ops->weights_ready) ops->weights_ready(NULL, 0);
        if (it >= warm) { t_fb += tb - ta; t_opt += now() - tb; }
        if (it == 0) loss_first = l;
        loss_last = l;
        if (it >= warm) {
            steps++;
            t_end = now();
            c_end = cpu_now();
            if (steps >= nsteps) break;
        }
    }
    double dt = (t_end - t0) / steps;
    double rows_s = batch / dt;
    printf("model=%s params=%zu batch=%d threads=%d steps=%d ms_per_step=%.3f samples_per_s=%.1f "
           "tokens_per_s=%.1f gflops=%.2f loss_first=%.4f loss_last=%.4f blas=%s "
           "ms_fwd_bwd=%.3f ms_clip_optim=%.3f table=%s cpu_ms_per_step=%.3f\n",
           kind, P, batch, threads, steps, dt * 1e3, rows_s, rows_s * m->tokens_per_row,
           m->flops_per_row * rows_s * 1e-9, loss_first, loss_last, zt_ops_cpu_blas_corename(),
           t_fb / steps * 1e3, t_opt / steps * 1e3, ops->name, (c_end - c0) / steps * 1e3);
    for (int k = 0; k < NB; k++) { free((void *)b[k].xf); free((void *)b[k].xi); free((void *)b[k].y); }
    free(p); free(g); free(s0); free(s1);
    m->destroy(m);
    return 0;
}
