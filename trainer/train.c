/* train.c — `ztrain train`: boot, config, data, model, engine, resume, then
 * the step loop with progress, metrics, evaluation, checkpoints and the
 * stop-signal protocol (every rank's handler sets a flag; at each step
 * boundary the ranks agree with an all-reduce MAX and stop together). */
#define _GNU_SOURCE      /* sched_getaffinity, CPU_COUNT */
#include "train.h"
#include <cblas.h>       /* openblas_set_num_threads */
#include <sched.h>       /* sched_getaffinity: cores we may use */
#include <stdio.h>       /* printf */
#include <stdlib.h>      /* exit, calloc */
#include <string.h>      /* strcmp, strerror */
#include <errno.h>       /* errno */
#include <sys/stat.h>    /* mkdir */
#include <unistd.h>      /* _exit */
#include <jansson.h>     /* JSONL metrics */
#include "build_info.h"
#include "comm.h"
#include "config.h"
#include "engine.h"
#include "model.h"
#include "ops.h"
#include "optim.h"
#include "saver.h"
#include "zt_data.h"
#include "zt_launcher.h"

typedef struct {
    zt_config cfg;
    zt_proc_t proc;
    zt_comm *comm;          /* tensors (mpi or nccl) */
    zt_comm *ctl;           /* host scalars (mpi) */
    zt_model *model;
    zt_engine *eng;
    zt_saver *saver;
    zt_loader *train, *eval;
    zt_sampler sampler;
    int W, r, k, mb;        /* ranks, rank, micro-batches per step, micro-batch rows */
    long rows_per_rank;
    float *xf; int32_t *xi, *y; /* this rank's rows of one step */
    FILE *metrics;
    double unigram;         /* text: corpus unigram entropy (nats) */
    char tag[96];           /* "[job 123.0 restart 1] " under Slurm: every log line */
} run;

#define R0 if (R->r == 0)
/* printf with the job tag, so interleaved requeued runs stay readable */
#define say(...) do { fputs(R->tag, stdout); printf(__VA_ARGS__); } while (0)

static _Noreturn void die(run *R, int code, const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "%sztrain: rank %d: ", R ? R->tag : "", R ? R->r : 0);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    fflush(NULL);
    _exit(code);  /* no PMIx_Finalize (Slurm ends the step at once), no atexit handlers */
}

/* mkdir -p of the directory part of path (metrics file) */
static void mkdir_parent(const char *path) {
    char d[600]; snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash) return;
    *slash = 0;
    for (char *p = d + 1; *p; p++) if (*p == '/') { *p = 0; mkdir(d, 0755); *p = '/'; }
    mkdir(d, 0755);
}

static int usable_cores(void) {
    cpu_set_t s;
    if (sched_getaffinity(0, sizeof s, &s) == 0) return CPU_COUNT(&s);
    return 1;
}

static void emit(run *R, json_t *o) {
    if (R->r == 0 && R->metrics) {
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
        fprintf(R->metrics, "%s\n", s); fflush(R->metrics); free(s);
    }
    json_decref(o);
}

#ifdef ZT_HAVE_CUDA
void *zt_ops_cuda_stream(void);   /* ops_cuda.cu; a strong reference links the CUDA tables in */
#endif

/* The op table: cpu, or cuda / cuda-bf16 (fp32 master weights either way). */
static const zt_ops *select_ops(run *R) {
    zt_config *c = &R->cfg;
    if (!strcmp(c->device, "cpu")) {
        if (strcmp(c->precision, "fp32"))
            die(R, ZT_EXIT_CONFIG, "%s: train.precision = %s needs train.device = cuda (the CPU path is fp32)",
                zt_config_origin(c, "train.precision"), c->precision);
        return &zt_ops_cpu;
    }
#ifdef ZT_HAVE_CUDA
    zt_ops_cuda_stream();   /* create the compute stream now (and link ops_cuda.cu) */
#endif
    const zt_ops *o = zt_ops_by_name(!strcmp(c->precision, "bf16") ? "cuda-bf16" : "cuda");
    if (!o) die(R, ZT_EXIT_CONFIG, "%s: train.device = cuda: this binary has no CUDA op table%s",
                zt_config_origin(c, "train.device"), "");
    return o;
}

static void build_model(run *R) {
    zt_config *c = &R->cfg;
    const zt_ops *ops = select_ops(R);
    const zt_ds_info *di = zt_loader_info(R->train);
    if (!strcmp(c->model_name, "mlp")) {
        zt_mlp_cfg mc = { .in_dim = di->in_dim, .out_dim = di->n_classes };
        char buf[64]; snprintf(buf, sizeof buf, "%s", c->mlp_hidden);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
            int h = atoi(t);
            if (h <= 0 || mc.n_hidden >= 8)
                die(R, ZT_EXIT_CONFIG, "%s: model.hidden: expected up to 8 positive widths, got '%s'",
                    zt_config_origin(c, "model.hidden"), c->mlp_hidden);
            mc.hidden[mc.n_hidden++] = h;
        }
        R->model = zt_mlp_create_ops(&mc, R->mb, ops);
    } else {
        zt_gpt_cfg gc = { .vocab = di->vocab_size, .ctx = c->gpt_ctx, .d_model = c->gpt_d_model,
                          .n_layer = c->gpt_n_layer, .n_head = c->gpt_n_head };
        R->model = zt_gpt_create_ops(&gc, R->mb, ops);
    }
    if (!R->model) die(R, ZT_EXIT_CONFIG, "cannot build model '%s'%s", c->model_name, "");
}

static void optim_from_config(const zt_config *c, zt_optim_cfg *o) {
    zt_optim_kind kind; zt_optim_kind_parse(c->optim_name, &kind);
    zt_optim_defaults(o, kind);
    o->lr = (float)c->lr; o->weight_decay = (float)c->weight_decay;
    o->momentum = (float)c->momentum; o->nesterov = c->nesterov;
    o->beta1 = (float)c->beta1; o->beta2 = (float)c->beta2; o->eps = (float)c->eps;
    o->sched = ZT_LR_COSINE; o->warmup_steps = (uint64_t)c->warmup_steps;
    o->total_steps = (uint64_t)c->steps; o->min_lr_frac = (float)c->min_lr_frac;
    o->grad_clip = (float)c->grad_clip;
}

static void open_data(run *R) {
    zt_config *c = &R->cfg;
    char err[1024];
    int text = !strcmp(c->model_name, "gpt");
    zt_ds_kind kind = text ? ZT_DS_TEXT : ZT_DS_MNIST;
    R->train = zt_loader_open(c->data_path, kind, "train", c->gpt_ctx, err, sizeof err);
    if (!R->train) die(R, ZT_EXIT_DATA, "%s%s", err, "");
    R->eval = zt_loader_open(c->data_path, kind, text ? "val" : "test", c->gpt_ctx, err, sizeof err);
    if (!R->eval) die(R, ZT_EXIT_DATA, "%s%s", err, "");
    const zt_ds_info *di = zt_loader_info(R->train);
    if (zt_loader_require_rows(R->train, (uint64_t)c->global_batch, err, sizeof err))
        die(R, ZT_EXIT_DATA, "%s (train.global_batch, %s)", err, zt_config_origin(c, "train.global_batch"));
    R->sampler = (zt_sampler){ .n_rows = di->n_rows, .global_batch = (uint64_t)c->global_batch,
                               .seed = (uint64_t)c->seed };
    if (text) R->unigram = zt_text_unigram_entropy(c->data_path, "train");
}

static void alloc_rows(run *R, long n, float **xf, int32_t **xi, int32_t **y) {
    const zt_ds_info *di = zt_loader_info(R->train);
    if (di->kind == ZT_DS_MNIST) {
        *xf = calloc((size_t)n * di->in_dim, sizeof(float)); *xi = NULL;
        *y = calloc((size_t)n, sizeof(int32_t));
    } else {
        *xf = NULL; *xi = calloc((size_t)n * R->cfg.gpt_ctx, sizeof(int32_t));
        *y = calloc((size_t)n * R->cfg.gpt_ctx, sizeof(int32_t));
    }
}

/* micro-batch i of this rank's rows */
static zt_batch micro(run *R, float *xf, int32_t *xi, int32_t *y, int i, int n) {
    const zt_ds_info *di = zt_loader_info(R->train);
    zt_batch b = { .n = n };
    if (di->kind == ZT_DS_MNIST) { b.xf = xf + (size_t)i * R->mb * di->in_dim; b.y = y + (size_t)i * R->mb; }
    else { size_t T = (size_t)R->cfg.gpt_ctx; b.xi = xi + (size_t)i * R->mb * T; b.y = y + (size_t)i * R->mb * T; }
    return b;
}

/* Evaluation across ranks: each takes a contiguous share of the eval split.
 * Every rank runs the same number of forwards (ZeRO-3 gathers are collective):
 * a rank out of rows evaluates row 0 and discards it. */
static void evaluate(run *R, uint64_t step, double *loss_out, double *acc_out) {
    const zt_ds_info *di = zt_loader_info(R->eval);
    size_t rows_all = di->n_rows;
    if (R->cfg.eval_max_rows && (size_t)R->cfg.eval_max_rows < rows_all) rows_all = (size_t)R->cfg.eval_max_rows;
    size_t off, len; zt_part(rows_all, R->W, R->r, &off, &len);
    size_t maxlen = (rows_all + R->W - 1) / R->W;
    int chunks = (int)((maxlen + R->mb - 1) / R->mb);
    float *xf; int32_t *xi, *y; alloc_rows(R, R->mb, &xf, &xi, &y);
    uint64_t *rows = calloc((size_t)R->mb, sizeof *rows);
    double loss = 0, correct = 0, count = 0;
    char err[1024];
    for (int ch = 0; ch < chunks; ch++) {
        size_t a = (size_t)ch * R->mb;
        int n = a < len ? (int)((len - a) < (size_t)R->mb ? len - a : (size_t)R->mb) : 0;
        int real = n;
        if (n == 0) { rows[0] = 0; n = 1; }
        else for (int i = 0; i < n; i++) rows[i] = off + a + (size_t)i;
        if (zt_loader_read(R->eval, rows, n, xf, xi, y, err, sizeof err)) die(R, ZT_EXIT_DATA, "%s%s", err, "");
        zt_batch b = micro(R, xf, xi, y, 0, n);
        int corr = 0;
        double l = zt_engine_eval(R->eng, &b, &corr);
        if (real) { loss += l; correct += corr; count += real; }
    }
    float v[3] = { (float)loss, (float)correct, (float)count }, s[3];
    zt_allreduce(R->ctl, v, s, 3, ZT_F32, ZT_SUM);
    *loss_out = s[0] / s[2]; *acc_out = s[1] / s[2];
    free(xf); free(xi); free(y); free(rows);
    json_t *o = json_object();
    json_object_set_new(o, "step", json_integer((json_int_t)step));
    json_object_set_new(o, "eval_loss", json_real(*loss_out));
    if (di->kind == ZT_DS_MNIST) json_object_set_new(o, "eval_acc", json_real(*acc_out));
    else json_object_set_new(o, "unigram_entropy", json_real(R->unigram));
    emit(R, o);
    R0 {
        if (di->kind == ZT_DS_MNIST) say("eval step %llu: test loss %.4f  test accuracy %.2f%% (%d rows)\n",
                                            (unsigned long long)step, *loss_out, 100 * *acc_out, (int)s[2]);
        else say("eval step %llu: val loss %.4f nats/char (unigram entropy %.4f)\n",
                    (unsigned long long)step, *loss_out, R->unigram);
        fflush(stdout);
    }
}

static void report_memory(run *R) {
    zt_mem f; zt_engine_formula(R->eng->P, R->W, R->eng->stage, R->eng->nslots, &f);
    const zt_mem *m = &R->eng->mem;
    R0 {
        say("memory per rank (stage %d, W=%d, P=%zu, %d optimizer slots):\n"
               "  params %10zu B (formula %10zu)\n  grads  %10zu B (formula %10zu)\n"
               "  optim  %10zu B (formula %10zu)\n  buffers %9zu B (transient: buckets, gathered units)\n",
               R->eng->stage, R->W, R->eng->P, R->eng->nslots, m->params, f.params, m->grads, f.grads,
               m->optim, f.optim, m->transient);
    }
    json_t *o = json_pack("{s:s,s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "event", "memory",
        "stage", R->eng->stage, "world", R->W, "params", (json_int_t)R->eng->P,
        "params_bytes", (json_int_t)m->params, "grads_bytes", (json_int_t)m->grads,
        "optim_bytes", (json_int_t)m->optim, "transient_bytes", (json_int_t)m->transient,
        "formula_params", (json_int_t)f.params, "formula_grads", (json_int_t)f.grads,
        "formula_optim", (json_int_t)f.optim);
    emit(R, o);
}

static void fmt_eta(double s, char *out, size_t cap) {
    if (s < 60) snprintf(out, cap, "%.0fs", s);
    else if (s < 3600) snprintf(out, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(out, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void dump_params(run *R, const char *path) {
    float *full = calloc(R->eng->P, sizeof(float));
    zt_engine_full_params(R->eng, full);
    R0 {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(full, sizeof(float), R->eng->P, f) != R->eng->P)
            die(R, ZT_EXIT_INTERNAL, "cannot write %s%s", path, "");
        fclose(f);
    }
    free(full);
}

static void usage(void) {
    fprintf(stderr,
        "usage: ztrain train --config FILE.ini [--set section.key=value ...]\n"
        "                    [--dump-params FILE] [--stop-at STEP] [--print-config] [--keys]\n");
}

int zt_train_main(int argc, char **argv) {
    const char *cfgfile = NULL, *dump = NULL;
    char **sets = calloc((size_t)argc, sizeof *sets); int nsets = 0, print_cfg = 0;
    uint64_t stop_at = 0;   /* act as if a stop signal arrived after this step (tests) */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) cfgfile = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) sets[nsets++] = argv[++i];
        else if (!strcmp(argv[i], "--dump-params") && i + 1 < argc) dump = argv[++i];
        else if (!strcmp(argv[i], "--stop-at") && i + 1 < argc) stop_at = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--print-config")) print_cfg = 1;
        else if (!strcmp(argv[i], "--keys")) { zt_config_print_keys(); return 0; }
        else { fprintf(stderr, "ztrain train: unknown argument '%s'\n", argv[i]); usage(); return ZT_EXIT_CONFIG; }
    }
    static run RR; run *R = &RR;
    char err[2048];
    if (zt_config_load(&R->cfg, cfgfile, sets, nsets, err, sizeof err)) {
        fprintf(stderr, "ztrain: config error: %s\n", err); return ZT_EXIT_CONFIG;
    }
    if (print_cfg) { fputs(R->cfg.text, stdout); return 0; }
    zt_config *c = &R->cfg;

    zt_signals_install();
    if (zt_boot_init(&R->proc)) { fprintf(stderr, "ztrain: PMIx bootstrap failed\n"); return ZT_EXIT_INTERNAL; }
    R->W = R->proc.size; R->r = R->proc.rank;
    R->proc.restarts += zt_parse_int_env("ZT_RESUBMITS", 0);   /* sbatch/train.sbatch resubmissions */
    if (!strcmp(R->proc.launcher, "slurm"))
        snprintf(R->tag, sizeof R->tag, "[job %.32s.%.16s restart %d] ", R->proc.jobid, R->proc.stepid, R->proc.restarts);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (c->global_batch % ((long)R->W * c->micro_batch)) {
        /* every rank prints: the launcher may kill rank 0 before it writes
         * once another rank has exited with the same error */
        fprintf(stderr, "ztrain: rank %d: config error: %s: train.global_batch = %ld is not divisible by "
                   "W (%d) x train.micro_batch (%ld)\n", R->r, zt_config_origin(c, "train.global_batch"),
                   c->global_batch, R->W, c->micro_batch);
        return ZT_EXIT_CONFIG;
    }
    if (!strcmp(c->device, "cuda") && !strcmp(zt_build_gpu(), "none")) {
        fprintf(stderr, "ztrain: rank %d: config error: %s: train.device = cuda but this binary was built without CUDA\n",
                R->r, zt_config_origin(c, "train.device"));
        return ZT_EXIT_CONFIG;
    }
    R->mb = (int)c->micro_batch;
    R->rows_per_rank = c->global_batch / R->W;
    R->k = (int)(R->rows_per_rank / R->mb);
    int threads = c->threads ? c->threads : usable_cores() / (R->proc.local_size > 0 ? R->proc.local_size : 1);
    if (threads < 1) threads = 1;
    openblas_set_num_threads(threads);

    const char *backend = strcmp(c->backend, "auto") ? c->backend : (!strcmp(c->device, "cuda") ? "nccl" : "mpi");
    /* host scalars (flags, losses, norms) always go through MPI; tensors through
     * the backend of their memory space (the same MPI communicator on cpu) */
    R->ctl = zt_comm_create("mpi", &R->proc, c->comm_timeout);
    if (!R->ctl) die(R, ZT_EXIT_INTERNAL, "cannot create the %s communicator%s", "mpi", "");
    R->comm = strcmp(backend, "mpi") ? zt_comm_create(backend, &R->proc, c->comm_timeout) : R->ctl;
    if (!R->comm) die(R, ZT_EXIT_INTERNAL, "cannot create the %s communicator%s", backend, "");
#ifdef ZT_HAVE_CUDA
    /* collectives wait (an event, no host sync) for the compute stream's work */
    if (!strcmp(c->device, "cuda")) zt_comm_set_compute_stream(R->comm, zt_ops_cuda_stream());
#endif

    open_data(R);
    build_model(R);
    zt_optim_cfg oc; optim_from_config(c, &oc);
    R->model->grad_scale = 1.0f / (float)c->global_batch;
    R->eng = zt_engine_create(R->model, R->comm, R->ctl, &oc, c->zero_stage, c->bucket_mb);
    zt_engine_init_params(R->eng, (uint64_t)c->seed);

    R0 {
        printf("ztrain: job %s step %s restart %d | %s on %d rank(s), %d node(s) via %s | %s/%s, %s | stage %d | "
               "global batch %ld = %d ranks x %d micro x %ld rows | %d BLAS threads/rank\n",
               R->proc.jobid, R->proc.stepid, R->proc.restarts, R->model->kind, R->W, R->proc.num_nodes,
               R->proc.launcher, R->model->ops->name, c->precision, zt_comm_backend(R->comm), c->zero_stage, c->global_batch, R->W, R->k, c->micro_batch, threads);
        if (c->log_metrics[0]) {
            mkdir_parent(c->log_metrics);
            R->metrics = fopen(c->log_metrics, "a");
            if (!R->metrics) die(R, ZT_EXIT_CONFIG, "cannot open log.metrics '%s': %s", c->log_metrics, strerror(errno));
        }
    }
    report_memory(R);

    uint64_t step = 0;
    if (c->ckpt_dir[0] || strcmp(c->ckpt_resume, "auto")) zt_resume(c, R->eng, R->r, &step);
    if (c->ckpt_dir[0]) {
        R->saver = zt_saver_create(c, R->eng, R->r);
        zt_saver_set_rows(R->saver, R->sampler.n_rows);
    }

    alloc_rows(R, R->rows_per_rank, &R->xf, &R->xi, &R->y);
    uint64_t *rows = calloc((size_t)R->rows_per_rank, sizeof *rows);
    zt_batch *mbs = calloc((size_t)R->k, sizeof *mbs);
    for (int i = 0; i < R->k; i++) mbs[i] = micro(R, R->xf, R->xi, R->y, i, R->mb);

    uint64_t total = (uint64_t)c->steps;
    if (step < total) { zt_sampler_rows(&R->sampler, step, R->W, R->r, rows); zt_loader_prefetch(R->train, rows, (int)R->rows_per_rank); }
    double t_start = zt_now(), t_int = t_start, comm_int = 0, step_int = 0, loss_int = 0;
    uint64_t first = step; int n_int = 0, stopped = 0;
    double last_loss = 0, eval_loss = 0, eval_acc = 0;
    int have_eval = 0;
    while (step < total) {
        if (zt_loader_take(R->train, R->xf, R->xi, R->y, err, sizeof err)) die(R, ZT_EXIT_DATA, "%s%s", err, "");
        if (step + 1 < total) {   /* overlap the next step's I/O with this step */
            zt_sampler_rows(&R->sampler, step + 1, R->W, R->r, rows);
            zt_loader_prefetch(R->train, rows, (int)R->rows_per_rank);
        }
        float lr = zt_lr_at(&oc, step);
        zt_step_stats st;
        zt_engine_step(R->eng, mbs, R->k, step + 1, lr, &st);
        step++;
        n_int++; comm_int += st.t_exposed_comm; step_int += st.t_step; loss_int += st.loss_sum;

        /* step boundary: agree on stop, and on whether a background save finished */
        float flags[2] = { (float)(zt_signal_pending() != 0 || step == stop_at), R->saver ? zt_saver_local_busy(R->saver) : 0 }, any[2];
        zt_allreduce(R->ctl, flags, any, 2, ZT_F32, ZT_MAX);
        if (R->saver) zt_saver_commit_if_done(R->saver, any[1]);

        int log_now = step % (uint64_t)c->log_every == 0 || step == total || any[0];
        if (log_now) {
            float l = (float)loss_int, lsum;
            zt_allreduce(R->ctl, &l, &lsum, 1, ZT_F32, ZT_SUM);
            double loss = lsum / ((double)c->global_batch * n_int), now = zt_now();
            double sps = (double)c->global_batch * n_int / (now - t_int);
            double eta = (now - t_start) / (double)(step - first) * (double)(total - step);
            last_loss = loss;
            R0 {
                char e[32]; fmt_eta(eta, e, sizeof e);
                const char *unit = R->model->tokens_per_row > 1 ? "tok/s" : "samples/s";
                say("step %6llu/%llu | loss %.4f | lr %.2e | gnorm %.3f | %.0f %s | %.1f ms/step "
                       "(compute %.1f, comm %.1f) | eta %s\n", (unsigned long long)step,
                       (unsigned long long)total, loss, lr, st.grad_norm,
                       sps * (double)R->model->tokens_per_row, unit, 1e3 * step_int / n_int,
                       1e3 * (step_int - comm_int) / n_int, 1e3 * comm_int / n_int, e);
            }
            json_t *o = json_object();
            json_object_set_new(o, "step", json_integer((json_int_t)step));
            json_object_set_new(o, "loss", json_real(loss));
            json_object_set_new(o, "lr", json_real(lr));
            json_object_set_new(o, "grad_norm", json_real(st.grad_norm));
            json_object_set_new(o, "samples_per_s", json_real(sps));
            json_object_set_new(o, "tokens_per_s", json_real(sps * (double)R->model->tokens_per_row));
            json_object_set_new(o, "step_ms", json_real(1e3 * step_int / n_int));
            json_object_set_new(o, "compute_ms", json_real(1e3 * (step_int - comm_int) / n_int));
            json_object_set_new(o, "comm_ms", json_real(1e3 * comm_int / n_int));
            /* overlap evidence from this step's timeline (ms since the step began) */
            json_object_set_new(o, "first_comm_start", json_real(st.t_first_comm));
            json_object_set_new(o, "backward_end", json_real(st.t_backward_end));
            json_object_set_new(o, "last_comm_end", json_real(st.t_last_comm_end));
            emit(R, o);
            t_int = now; comm_int = step_int = loss_int = 0; n_int = 0;
        }
        if (c->eval_every && step % (uint64_t)c->eval_every == 0 && step < total) {
            evaluate(R, step, &eval_loss, &eval_acc); have_eval = 1;
        }
        if (any[0]) {   /* stop signal somewhere: checkpoint together and leave */
            R0 say("ztrain: stop signal received: checkpointing step %llu and exiting %d (resumable)\n",
                      (unsigned long long)step, ZT_EXIT_STOPPED);
            if (R->saver) { zt_saver_begin(R->saver, step, 1); }
            stopped = 1;
            break;
        }
        if (R->saver && c->ckpt_every && step % (uint64_t)c->ckpt_every == 0 && step < total) {
            double blocked = zt_saver_begin(R->saver, step, 0);
            R0 say("ztrain: checkpoint step %llu started (blocked %.1f ms)\n", (unsigned long long)step, 1e3 * blocked);
        }
    }
    if (!stopped) {
        if (R->saver && zt_saver_last_step(R->saver) != step) zt_saver_begin(R->saver, step, 1);
        if (R->saver) zt_saver_finish(R->saver);
        evaluate(R, step, &eval_loss, &eval_acc); have_eval = 1;
    } else if (R->saver) zt_saver_finish(R->saver);
    if (dump) dump_params(R, dump);
    double wall = zt_now() - t_start;
    json_t *o = json_object();
    json_object_set_new(o, "summary", json_true());
    json_object_set_new(o, "step", json_integer((json_int_t)step));
    json_object_set_new(o, "steps_run", json_integer((json_int_t)(step - first)));
    json_object_set_new(o, "loss", json_real(last_loss));
    json_object_set_new(o, "world", json_integer(R->W));
    json_object_set_new(o, "stage", json_integer(c->zero_stage));
    json_object_set_new(o, "wall_s", json_real(wall));
    json_object_set_new(o, "stopped", json_boolean(stopped));
    if (have_eval) {
        json_object_set_new(o, "eval_loss", json_real(eval_loss));
        if (R->model->correct && zt_loader_info(R->eval)->kind == ZT_DS_MNIST)
            json_object_set_new(o, "eval_acc", json_real(eval_acc));
        else json_object_set_new(o, "unigram_entropy", json_real(R->unigram));
    }
    emit(R, o);
    R0 say("ztrain: %s after %llu steps in %.1f s\n", stopped ? "stopped" : "done",
              (unsigned long long)step, wall);
    if (R->metrics) fclose(R->metrics);
    zt_loader_close(R->train); zt_loader_close(R->eval);
    zt_saver_destroy(R->saver);
    zt_engine_destroy(R->eng);
    R->model->destroy(R->model);
    if (R->comm != R->ctl) zt_comm_destroy(R->comm);
    zt_comm_destroy(R->ctl);
    zt_comm_finalize();
    zt_boot_finalize();
    free(rows); free(mbs); free(sets);
    return stopped ? ZT_EXIT_STOPPED : ZT_EXIT_OK;
}
