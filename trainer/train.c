/* train.c — `ztrain train`: the life of one job, one phase per function.
 *
 *   parse_args    the command line (getopt_long)
 *   set_up        boot, the checks that need the job (W, GPUs), communicators,
 *                 claim_ckpt, data, model, engine, metrics file
 *   claim_ckpt    rank 0 locks ckpt.dir and compares the checkpoint's config
 *                 with ours; every rank learns the verdict
 *   resume        load the checkpoint (if any), start the saver
 *   train_loop    the steps; at each step boundary the ranks agree with one
 *                 all-reduce MAX on stopping (a stop signal reached some rank)
 *                 and on whether a background save has finished everywhere
 *   evaluate      loss (and accuracy) over the eval split, on all ranks
 *   finish        the last checkpoint and evaluation, the summary
 *   tear_down     free everything, finalize comms and PMIx
 *
 * Errors leave through zt_fatal with a documented exit code (zt_launcher.h);
 * progress goes through zt_info, so every line carries the job tag. */
#define _GNU_SOURCE      /* sched_getaffinity, CPU_COUNT */
#include "train.h"
#include <cblas.h>       /* openblas_set_num_threads */
#include <sched.h>       /* sched_getaffinity: cores we may use */
#include <stdarg.h>      /* va_list: metric records */
#include <stdio.h>       /* FILE, fopen, snprintf */
#include <stdlib.h>      /* calloc, strtoull */
#include <string.h>      /* strcmp, strerror, strrchr */
#include <errno.h>       /* errno */
#include <sys/stat.h>    /* stat: is ckpt.resume a step dir */
#include <jansson.h>     /* JSONL metrics */
#include "augment.h"     /* data.augment: crop / flip of image rows */
#include "build_info.h"  /* zt_build_has_cuda, zt_gpu_count, version for metrics */
#include "cli.h"         /* zt_cli_getopt */
#include "comm.h"        /* communicators, collectives */
#include "config.h"      /* zt_config, job checks, config diffs */
#include "engine.h"      /* zt_engine and its accessors */
#include "init_from.h"   /* ckpt.init_from: weights for a fresh start */
#include "memplan.h"     /* will the job fit in host memory */
#include "model.h"       /* zt_model, zt_batch */
#include "ops.h"         /* op tables */
#include "optim.h"       /* zt_optim_cfg, zt_lr_at */
#include "saver.h"       /* zt_saver, zt_resume */
#include "zt_ckpt.h"     /* ckpt.dir lock, the checkpoint's saved config */
#include "zt_data.h"     /* loaders, sampler */
#include "zt_launcher.h" /* boot, signals, exit codes */
#include "zt_log.h"      /* zt_info, zt_fatal */

typedef struct {
    const char *cfgfile, *dump;
    char **sets; int nsets;
    int print_cfg;
    uint64_t stop_at;       /* act as if a stop signal arrived after this step (tests) */
} train_args;

/* progress accumulated between two progress lines */
typedef struct { double t0, comm, step, loss; int n; } interval;

typedef struct {
    train_args a;
    zt_config cfg;
    zt_optim_cfg oc;
    zt_proc_t proc;
    zt_comm *comm;          /* tensors (mpi or nccl) */
    zt_comm *ctl;           /* host scalars (mpi) */
    zt_model *model;
    zt_engine *eng;
    zt_saver *saver;
    zt_loader *train, *eval;
    zt_sampler sampler;
    int W, r, k, mb;        /* ranks, rank, this rank's micro-batches per step, micro-batch rows */
    int k_glob, k_max;      /* micro-batches per step over all ranks; most any rank runs */
    int threads;            /* BLAS threads per rank */
    long rows_per_rank;
    /* this rank's rows of one step, double-buffered: the loader's thread
     * fills set (s+1)&1 while step s trains on set s&1 */
    float *xf[2]; int32_t *xi[2], *y[2];
    uint64_t *rows;         /* row indices in the training split (copied by the loader) */
    zt_batch *mbs[2];       /* the k micro-batches over each set */
    zt_augment aug;         /* data.augment; aug_rows, aug_tmp only when on */
    uint64_t *aug_rows; float *aug_tmp;
    FILE *metrics;
    double unigram;         /* text: corpus unigram entropy (nats) */
    int lock_fd;            /* rank 0: flock on ckpt.dir/.lock, held to the end */
    zt_config *ck_cfg;      /* rank 0: config saved in the checkpoint we resume from */
    zt_ck_reader *ck_rd;    /* rank 0: that checkpoint, open: zt_resume takes it (one open) */
    char ck_path[1024];
    uint64_t step, first;   /* steps done; where this run started */
    int stopped, have_eval;
    double t_start, last_loss, eval_loss, eval_acc;
} run;

#ifdef ZT_HAVE_CUDA
#endif

/* ------------------------------------------------------------ helpers */

static int usable_cores(void) {
    cpu_set_t s;
    if (sched_getaffinity(0, sizeof s, &s) == 0) return CPU_COUNT(&s);
    return 1;
}

/* One JSONL metrics record (rank 0, when log.metrics is set): every record
 * is built here, from a json_pack format and its values. */
static void metric(run *R, const char *fmt, ...) {
    if (R->r != 0 || !R->metrics) return;
    va_list ap; va_start(ap, fmt);
    json_error_t je;
    json_t *o = json_vpack_ex(&je, 0, fmt, ap);
    va_end(ap);
    ztCheck(o != NULL, ZT_EXIT_INTERNAL, "metrics record '%s': %s", fmt, je.text);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
    fprintf(R->metrics, "%s\n", s); fflush(R->metrics);
    free(s); json_decref(o);
}

static void fmt_eta(double s, char *out, size_t cap) {
    if (s < 60) snprintf(out, cap, "%.0fs", s);
    else if (s < 3600) snprintf(out, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(out, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void optim_from_config(const zt_config *c, zt_optim_cfg *o) {
    zt_optim_kind kind; zt_optim_kind_parse(c->optim_name, &kind);
    zt_optim_defaults(o, kind);
    o->lr = (float)c->lr; o->weight_decay = (float)c->weight_decay;
    o->momentum = (float)c->momentum; o->nesterov = c->nesterov;
    o->beta1 = (float)c->beta1; o->beta2 = (float)c->beta2; o->eps = (float)c->eps;
    zt_lr_sched_parse(c->lr_schedule, &o->sched);   /* validated: it parses */
    o->warmup_steps = (uint64_t)c->warmup_steps;
    o->total_steps = (uint64_t)c->steps; o->min_lr_frac = (float)c->min_lr_frac;
    o->decay_frac = (float)c->decay_frac;
    o->grad_clip = (float)c->grad_clip;
}

/* ------------------------------------------------------- command line */

static void usage(FILE *f) {
    fprintf(f,
        "usage: ztrain train [-c FILE.ini] [-s section.key=value ...] [options]\n"
        "  -c, --config FILE        training config (ini); without it, the defaults\n"
        "  -s, --set KEY=VALUE      override one key, e.g. --set train.steps=500 (repeatable)\n"
        "      --print-config       print the effective config and exit\n"
        "      --keys               print every config key as a markdown table and exit\n"
        "      --dump-params FILE   write the final parameters (raw float32) to FILE\n"
        "      --stop-at STEP       act as if a stop signal arrived after STEP (tests)\n"
        "  -h, --help               this help\n"
        "exit: 0 done, 2 config or usage, 3 stopped (resumable), 4 data, 5 checkpoint,\n"
        "      6 peer or collective failure\n");
}

static const struct option TRAIN_OPTS[] = {
    { "config",       required_argument, NULL, 'c' },
    { "set",          required_argument, NULL, 's' },
    { "dump-params",  required_argument, NULL, 'd' },
    { "stop-at",      required_argument, NULL, 'S' },
    { "print-config", no_argument,       NULL, 'p' },
    { "keys",         no_argument,       NULL, 'k' },
    { "help",         no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 } };

/* -1: go on and train; otherwise the exit code (--help, --keys: 0). */
static int parse_args(int argc, char **argv, train_args *a) {
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    mallocCheck(a->sets);
    zt_cli_reset();
    for (int o; (o = zt_cli_getopt("train", argc, argv, ":c:s:h", TRAIN_OPTS)) != -1;) {
        char *end;
        switch (o) {
        case 'c': a->cfgfile = optarg; break;
        case 's': a->sets[a->nsets++] = optarg; break;
        case 'd': a->dump = optarg; break;
        case 'S':
            errno = 0;
            a->stop_at = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                zt_error("train: --stop-at: expected a step number, got '%s'", optarg);
                return ZT_EXIT_CONFIG;
            }
            break;
        case 'p': a->print_cfg = 1; break;
        case 'k': zt_config_print_keys(); return ZT_EXIT_OK;
        case 'h': usage(stdout); return ZT_EXIT_OK;
        default: usage(stderr); return ZT_EXIT_CONFIG;
        }
    }
    if (optind < argc) {
        zt_error("train: unexpected argument '%s' (the config goes after --config)", argv[optind]);
        usage(stderr);
        return ZT_EXIT_CONFIG;
    }
    return -1;
}

/* ------------------------------------------------------------- set up */

static void boot(run *R) {
    zt_signals_install();
    if (zt_boot_init(&R->proc)) zt_fatal(ZT_EXIT_INTERNAL, "PMIx bootstrap failed");
    R->W = R->proc.size; R->r = R->proc.rank;
    R->proc.restarts += zt_parse_int_env("ZT_RESUBMITS", 0);   /* sbatch/train.sbatch resubmissions */
    zt_log_set_identity(R->r, R->proc.jobid, R->proc.stepid, R->proc.restarts);   /* "[job J.S restart R]" */
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* The checks that need the job. Every rank checks and prints: the launcher
 * may kill rank 0 before it writes once another rank has exited. */
static void check_job(run *R) {
    zt_config *c = &R->cfg;
    zt_job_shape j = { .world = R->W, .local_ranks = R->proc.local_size > 0 ? R->proc.local_size : 1,
                       .have_cuda = zt_build_has_cuda(), .host = R->proc.hostname };
    if (!strcmp(c->device, "cuda") && j.have_cuda) j.gpus = zt_gpu_count();
    char err[1024];
    if (zt_config_check_job(c, &j, err, sizeof err)) zt_fatal(ZT_EXIT_CONFIG, "config error: %s", err);
    R->mb = (int)c->micro_batch;
    /* rank r runs micro-batches [first, first + k) of the step's k_glob: any W
     * up to k_glob, the counts differing by at most one (zt_sampler_share) */
    R->k_glob = (int)(c->global_batch / R->mb);
    uint64_t first, count;
    zt_sampler_share((uint64_t)R->k_glob, R->W, R->r, &first, &count);
    R->k = (int)count;
    R->k_max = (R->k_glob + R->W - 1) / R->W;
    R->rows_per_rank = (long)R->k_max * R->mb;   /* buffers: the largest share */
    /* train.exact pins what would change a micro-batch's gradient with W: the
     * BLAS thread count per rank (auto would be cores / local ranks) */
    R->threads = c->threads ? c->threads : c->exact ? 1 : usable_cores() / j.local_ranks;
    if (R->threads < 1) R->threads = 1;
    openblas_set_num_threads(R->threads);
    zt_ops_dnnl_set_threads(R->threads);
}

static void open_comms(run *R) {
    zt_config *c = &R->cfg;
    const char *backend = strcmp(c->backend, "auto") ? c->backend : (!strcmp(c->device, "cuda") ? "nccl" : "mpi");
    /* host scalars (flags, losses, norms) always go through MPI; tensors through
     * the backend of their memory space (the same MPI communicator on cpu) */
    R->ctl = zt_comm_create("mpi", &R->proc, c->comm_timeout);
    if (!R->ctl) zt_fatal(ZT_EXIT_INTERNAL, "cannot create the mpi communicator");
    R->comm = strcmp(backend, "mpi") ? zt_comm_create(backend, &R->proc, c->comm_timeout) : R->ctl;
    if (!R->comm) zt_fatal(ZT_EXIT_INTERNAL, "cannot create the %s communicator", backend);
#ifdef ZT_HAVE_CUDA
    /* collectives wait (an event, no host sync) for the compute stream's work */
    if (!strcmp(c->device, "cuda")) zt_comm_set_compute_stream(R->comm, zt_ops_cuda_stream());
#endif
}

/* Rank 0: one job per ckpt.dir (flock on ckpt.dir/.lock, see ckpt_lock.c). */
static void lock_ckpt_dir(run *R, char *why, size_t cap) {
    const zt_config *c = &R->cfg;
    char job[160], err[1024];
    snprintf(job, sizeof job, "%s%s%s", R->proc.jobid, strcmp(R->proc.stepid, "-") ? "." : "",
             strcmp(R->proc.stepid, "-") ? R->proc.stepid : "");
    zt_ck_lock_holder h;
    R->lock_fd = zt_ck_lock(c->ckpt_dir, job, &h, err, sizeof err);
    if (R->lock_fd == ZT_CK_LOCK_BUSY)
        snprintf(why, cap, "ckpt.dir %s is in use by job %s on host %s (pid %ld): one job per checkpoint "
                 "directory; wait for it to end or choose another ckpt.dir (%s)", c->ckpt_dir, h.job, h.host,
                 h.pid, zt_config_origin(c, "ckpt.dir"));
    else if (R->lock_fd < 0)
        snprintf(why, cap, "ckpt.dir (%s): %.900s", zt_config_origin(c, "ckpt.dir"), err);
}

/* Rank 0: the config saved in the checkpoint a resume would start from (the
 * choice zt_resume makes: ckpt.resume names a step dir, or the newest one
 * that opens under the root). Keys a resume cannot follow are a config error
 * here, before the checkpoint is loaded; schedule changes are reported after. */
static void read_ckpt_config(run *R, char *why, size_t cap) {
    const zt_config *c = &R->cfg;
    char *path = R->ck_path, err[2048];
    /* nothing to resume from, or nothing usable: zt_resume says which */
    zt_ck_reader *rd = R->ck_rd = zt_resume_pick(c, R->ck_path, sizeof R->ck_path);
    if (!rd) return;
    zt_config *old = malloc(sizeof *old);
    mallocCheck(old);
    if (zt_config_load_text(old, zt_ck_meta_of(rd)->config, path, err, sizeof err)) {
        zt_warn("resume: the config saved in %s does not parse (%s): not compared with this run's", path, err);
        free(old); old = NULL;
    }
    R->ck_cfg = old;
    char diff[640];
    if (old && zt_config_diff(old, c, ZT_KEYS_RESUME_FIXED, diff, sizeof diff))
        snprintf(why, cap, "cannot resume from %.700s: changed since the checkpoint, and a resume cannot follow: %s "
                 "(use a new ckpt.dir, or ckpt.resume = never)", path, diff);
}

static void claim_ckpt(run *R) {
    char why[2048] = "";    /* rank 0's reason to stop; empty: go on */
    R->lock_fd = -1;
    if (R->r == 0) {
        if (R->cfg.ckpt_dir[0]) lock_ckpt_dir(R, why, sizeof why);
        if (!why[0]) read_ckpt_config(R, why, sizeof why);
    }
    /* every rank prints the reason and exits 2, so no rank is left waiting
     * and the line survives whichever rank the launcher kills first */
    commCheck(R->ctl, zt_bcast(R->ctl, why, sizeof why, ZT_U8, 0), "bcast", "ckpt.dir claim", "at start");
    why[sizeof why - 1] = 0;
    if (why[0]) zt_fatal(ZT_EXIT_CONFIG, "config error: %s", why);
}

static void open_data(run *R) {
    zt_config *c = &R->cfg;
    char err[1024];
    /* the file says what it holds; the model must take that kind */
    zt_ds_kind kind;
    if (zt_data_file_kind(c->data_path, &kind, err, sizeof err)) zt_fatal(ZT_EXIT_DATA, "%s", err);
    int text = kind == ZT_DS_TOKENS, gpt = !strcmp(c->model_name, "gpt"), cnn = !strcmp(c->model_name, "cnn");
    if (gpt != text || (cnn && kind != ZT_DS_IMAGES))
        zt_fatal(ZT_EXIT_CONFIG, "config error: model.name = %s (%s) needs %s data, but data.path %s (%s) holds %s",
                 c->model_name, zt_config_origin(c, "model.name"),
                 gpt ? "tokens" : cnn ? "images" : "images or features",
                 c->data_path, zt_config_origin(c, "data.path"), zt_ds_kind_name(kind));
    R->train = zt_loader_open(c->data_path, kind, "train", c->gpt_ctx, err, sizeof err);
    if (!R->train) zt_fatal(ZT_EXIT_DATA, "%s", err);
    R->eval = zt_loader_open(c->data_path, kind, text ? "val" : "eval", c->gpt_ctx, err, sizeof err);
    if (!R->eval) zt_fatal(ZT_EXIT_DATA, "%s", err);
    const zt_ds_info *di = zt_loader_info(R->train);
    if (zt_loader_require_rows(R->train, (uint64_t)c->global_batch, err, sizeof err))
        zt_fatal(ZT_EXIT_DATA, "%s (train.global_batch, %s)", err, zt_config_origin(c, "train.global_batch"));
    R->sampler = (zt_sampler){ .n_rows = di->n_rows, .global_batch = (uint64_t)c->global_batch,
                               .seed = (uint64_t)c->seed };
    if (text) R->unigram = di->unigram_entropy;   /* counted while the open checked the tokens */
}

/* cpu-bf16 needs bf16 instructions (oneDNN's ISA; DNNL_MAX_CPU_ISA caps it):
 * without them oneDNN emulates bf16 products at ~2.6x the time of the fp32
 * table's (measured at 2048², avx512_core), so bf16 would only be slower:
 * refused (exit 2) rather than allowed with a warning. */
static const zt_ops *cpu_bf16_ops(run *R) {
    int native = 0;
    const char *isa = zt_ops_dnnl_isa(&native);
    if (!native)
        zt_fatal(ZT_EXIT_CONFIG, "%s: train.precision = bf16 on cpu needs bf16 instructions "
                 "(avx512_bf16 or amx); oneDNN reports ISA %s, where bf16 is emulated at ~2.6x "
                 "the time of fp32: use train.precision = fp32", zt_config_origin(&R->cfg, "train.precision"), isa);
    return zt_ops_cpu_bf16();
}

/* The op table: cpu / cpu-bf16, or cuda / cuda-bf16 (fp32 master weights either way). */
static const zt_ops *select_ops(run *R) {
    zt_config *c = &R->cfg;
    if (!strcmp(c->device, "cpu")) return !strcmp(c->precision, "bf16") ? cpu_bf16_ops(R) : &zt_ops_cpu;
#ifdef ZT_HAVE_CUDA
    zt_ops_cuda_stream();   /* create the compute stream now (and link ops_cuda.cu) */
#endif
    const zt_ops *o = zt_ops_by_name(!strcmp(c->precision, "bf16") ? "cuda-bf16" : "cuda");
    if (!o) zt_fatal(ZT_EXIT_CONFIG, "%s: train.device = cuda: this binary has no CUDA op table",
                     zt_config_origin(c, "train.device"));
    return o;
}

static void build_model(run *R) {
    zt_config *c = &R->cfg;
    const zt_ops *ops = select_ops(R);
    const zt_ds_info *di = zt_loader_info(R->train);
    if (!strcmp(c->model_name, "mlp")) {
        zt_mlp_cfg mc = { .in_dim = di->in_dim, .out_dim = di->n_classes };
        mc.n_hidden = zt_config_mlp_hidden(c, mc.hidden, (int)(sizeof mc.hidden / sizeof mc.hidden[0]));
        R->model = zt_mlp_create_ops(&mc, R->mb, ops);
    } else if (!strcmp(c->model_name, "cnn")) {
        zt_cnn_cfg cc = { .h = di->img_h, .w = di->img_w, .c = di->img_c, .n_classes = di->n_classes };
        snprintf(cc.layers, sizeof cc.layers, "%s", c->cnn_layers);
        R->model = zt_cnn_create_ops(&cc, R->mb, ops);
    } else {
        zt_gpt_cfg gc = { .vocab = di->vocab_size, .ctx = c->gpt_ctx, .d_model = c->gpt_d_model,
                          .n_layer = c->gpt_n_layer, .n_head = c->gpt_n_head };
        R->model = zt_gpt_create_ops(&gc, R->mb, ops);
    }
    if (!R->model) zt_fatal(ZT_EXIT_CONFIG, "cannot build model '%s'", c->model_name);
}

static void alloc_rows(run *R, long n, float **xf, int32_t **xi, int32_t **y) {
    const zt_ds_info *di = zt_loader_info(R->train);
    size_t per = di->kind != ZT_DS_TOKENS ? 1 : (size_t)R->cfg.gpt_ctx;
    *xf = NULL; *xi = NULL;
    if (di->kind != ZT_DS_TOKENS) { *xf = calloc((size_t)n * di->in_dim, sizeof(float)); mallocCheck(*xf); }
    else { *xi = calloc((size_t)n * per, sizeof(int32_t)); mallocCheck(*xi); }
    *y = calloc((size_t)n * per, sizeof(int32_t)); mallocCheck(*y);
}

/* micro-batch i of this rank's rows */
static zt_batch micro(run *R, float *xf, int32_t *xi, int32_t *y, int i, int n) {
    const zt_ds_info *di = zt_loader_info(R->train);
    zt_batch b = { .n = n };
    if (di->kind != ZT_DS_TOKENS) { b.xf = xf + (size_t)i * R->mb * di->in_dim; b.y = y + (size_t)i * R->mb; }
    else { size_t T = (size_t)R->cfg.gpt_ctx; b.xi = xi + (size_t)i * R->mb * T; b.y = y + (size_t)i * R->mb * T; }
    return b;
}

static void report_memory(run *R) {
    const zt_engine *e = R->eng;
    size_t P = zt_engine_n_params(e);
    int stage = zt_engine_stage(e), S = zt_engine_n_slots(e);
    zt_mem f; zt_engine_formula(P, R->W, stage, S, &f);
    const zt_mem *m = zt_engine_mem(e);
    if (R->r == 0) {
        zt_info("memory per rank (stage %d, W=%d, P=%zu, %d optimizer slots):", stage, R->W, P, S);
        zt_info("  params %10zu B (formula %10zu)", m->params, f.params);
        zt_info("  grads  %10zu B (formula %10zu)", m->grads, f.grads);
        zt_info("  optim  %10zu B (formula %10zu)", m->optim, f.optim);
        zt_info("  buffers %9zu B (transient: buckets, gathered units)", m->transient);
        zt_info("  ckpt   %10zu B (host snapshot of this rank's partition: async saves; sync saves write in place)", m->ckpt);
        zt_info("  plan   %10zu B (per-rank counts of buckets and units)", m->plan);
        zt_info("  acts   %10zu B (activations: the model's buffers for micro_batch rows)", R->model->act_bytes);
        if (m->exact) zt_info("  exact  %10zu B (train.exact: int64 gradient sums)", m->exact);
    }
    metric(R, "{s:s,s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "event", "memory",
        "stage", stage, "world", R->W, "params", (json_int_t)P,
        "params_bytes", (json_int_t)m->params, "grads_bytes", (json_int_t)m->grads,
        "optim_bytes", (json_int_t)m->optim, "transient_bytes", (json_int_t)m->transient,
        "ckpt_bytes", (json_int_t)m->ckpt, "plan_bytes", (json_int_t)m->plan,
        "formula_params", (json_int_t)f.params, "formula_grads", (json_int_t)f.grads,
        "formula_optim", (json_int_t)f.optim, "activation_bytes", (json_int_t)R->model->act_bytes);
}

static void open_metrics(run *R) {
    zt_config *c = &R->cfg;
    if (R->r != 0 || !c->log_metrics[0]) return;
    char dir[sizeof c->log_metrics], err[1024];
    snprintf(dir, sizeof dir, "%s", c->log_metrics);
    char *slash = strrchr(dir, '/');   /* create its folder (the checkpoint library's mkdir -p) */
    if (slash && slash != dir) { *slash = 0; if (zt_ck_mkdir_p(dir, err, sizeof err)) zt_fatal(ZT_EXIT_CONFIG, "log.metrics: %s", err); }
    R->metrics = fopen(c->log_metrics, "a");
    if (!R->metrics) zt_fatal(ZT_EXIT_CONFIG, "cannot open log.metrics '%s': %s", c->log_metrics, strerror(errno));
    /* the first record of every run (the file is appended to across restarts):
     * which binary wrote what follows */
    metric(R, "{s:s,s:s,s:s,s:s,s:i,s:i}", "event", "start", "version", zt_build_version(),
           "features", zt_build_features(), "job", R->proc.jobid, "world", R->W, "restarts", R->proc.restarts);
}

static void set_up(run *R) {
    zt_config *c = &R->cfg;
    boot(R);
    check_job(R);
    open_comms(R);
    claim_ckpt(R);
    open_data(R);
    build_model(R);
    zt_memplan_check(c, R->model, R->ctl, R->W, R->r, R->proc.local_rank, R->proc.local_size);
    optim_from_config(c, &R->oc);
    R->model->grad_scale = 1.0f / (float)c->global_batch;
    R->eng = zt_engine_create(R->model, R->comm, R->ctl, &R->oc, c->zero_stage, c->bucket_mb);
    zt_engine_set_micro_batches(R->eng, R->k_glob);
    zt_engine_set_exact(R->eng, c->exact);
    if (!strcmp(c->grad_comm, "bf16")) zt_engine_set_grad_comm_bf16(R->eng);
    zt_engine_init_params(R->eng, (uint64_t)c->seed);
    char isa[96] = "";   /* what the CPU offers for bf16 (oneDNN's ISA query) */
    if (!strcmp(c->device, "cpu")) {
        int native = 0;
        const char *name = zt_ops_dnnl_isa(&native);
        snprintf(isa, sizeof isa, " | cpu isa %s, bf16 %s%s", name, native ? "native" : "none",
                 !strcmp(c->grad_comm, "bf16") ? " | gradients reduced in bf16" : "");
    }
    if (R->r == 0)
        zt_info("job %s step %s restart %d | %s on %d rank(s), %d node(s) via %s | %s/%s, %s | stage %d | "
                "global batch %ld = %d micro x %ld rows over %d ranks (%d-%d each)%s | %d BLAS threads/rank%s",
                R->proc.jobid, R->proc.stepid, R->proc.restarts, R->model->kind, R->W, R->proc.num_nodes,
                R->proc.launcher, R->model->ops->name, c->precision, zt_comm_backend(R->comm), c->zero_stage,
                c->global_batch, R->k_glob, c->micro_batch, R->W, R->k_glob / R->W, R->k_max,
                c->exact ? " | exact" : "", R->threads, isa);
    open_metrics(R);
    R->rows = calloc((size_t)R->rows_per_rank, sizeof *R->rows); mallocCheck(R->rows);
    for (int s = 0; s < 2; s++) {
        alloc_rows(R, R->rows_per_rank, &R->xf[s], &R->xi[s], &R->y[s]);
        R->mbs[s] = calloc((size_t)R->k_max, sizeof *R->mbs[s]); mallocCheck(R->mbs[s]);
        for (int i = 0; i < R->k_max; i++) R->mbs[s][i] = micro(R, R->xf[s], R->xi[s], R->y[s], i, R->mb);
    }
    char why[160];
    if (zt_augment_parse(c->augment, &R->aug, why, sizeof why))   /* validated with the config */
        zt_fatal(ZT_EXIT_CONFIG, "%s: data.augment: %s", zt_config_origin(c, "data.augment"), why);
    if (R->aug.crop || R->aug.flip) {
        const zt_ds_info *di = zt_loader_info(R->train);
        R->aug_rows = calloc((size_t)R->rows_per_rank, sizeof *R->aug_rows); mallocCheck(R->aug_rows);
        R->aug_tmp = calloc((size_t)di->in_dim, sizeof(float)); mallocCheck(R->aug_tmp);
    }
}

/* ------------------------------------------------------------- resume */

/* Rank 0, after a resume: a schedule that changed since the checkpoint is
 * followed from here on; say so, with the learning rate it changes. */
static void report_schedule_change(run *R) {
    char diff[640];
    if (!R->ck_cfg || !zt_config_diff(R->ck_cfg, &R->cfg, ZT_KEYS_SCHEDULE, diff, sizeof diff)) return;
    zt_optim_cfg old; optim_from_config(R->ck_cfg, &old);
    zt_info("resume: learning-rate schedule changed since the checkpoint: %s; lr at step %llu: %.6g -> %.6g",
            diff, (unsigned long long)R->step, zt_lr_at(&old, R->step), zt_lr_at(&R->oc, R->step));
}

static void resume(run *R) {
    zt_config *c = &R->cfg;
    R->step = 0;
    zt_ck_reader *rd = R->ck_rd;   /* rank 0's pick from the config check: zt_resume owns it */
    R->ck_rd = NULL;
    if ((c->ckpt_dir[0] || strcmp(c->ckpt_resume, "auto")) && zt_resume(c, R->eng, R->r, rd, R->ck_path, &R->step) == 0)
        report_schedule_change(R);
    else if (c->ckpt_init_from[0]) zt_init_from(c, R->eng, R->r);   /* nothing to resume: a fresh start */
    if (c->ckpt_dir[0]) {
        R->saver = zt_saver_create(c, R->eng, R->r);
        zt_saver_set_rows(R->saver, R->sampler.n_rows);
        zt_saver_set_node(R->saver, R->proc.node_id);
    }
    R->first = R->step;
    /* where this run (re)starts and on how many ranks: `ztrain plot` marks it */
    metric(R, "{s:s,s:I,s:i,s:i}", "event", "start", "step", (json_int_t)R->step, "world", R->W,
           "restart", R->proc.restarts);
    report_memory(R);   /* after the saver: its host snapshot buffer is counted */
}

/* ----------------------------------------------------------- evaluate */

/* Evaluation across ranks: each takes a contiguous share of the eval split.
 * Every rank runs the same number of forwards (ZeRO-3 gathers are collective):
 * a rank out of rows evaluates row 0 and discards it. */
static void evaluate(run *R) {
    const zt_ds_info *di = zt_loader_info(R->eval);
    size_t rows_all = di->n_rows;
    if (R->cfg.eval_max_rows && (size_t)R->cfg.eval_max_rows < rows_all) rows_all = (size_t)R->cfg.eval_max_rows;
    size_t off, len; zt_part(rows_all, R->W, R->r, &off, &len);
    size_t maxlen = (rows_all + R->W - 1) / R->W;
    int chunks = (int)((maxlen + R->mb - 1) / R->mb);
    float *xf; int32_t *xi, *y; alloc_rows(R, R->mb, &xf, &xi, &y);
    uint64_t *rows = calloc((size_t)R->mb, sizeof *rows); mallocCheck(rows);
    double loss = 0, correct = 0, count = 0;
    char err[1024];
    for (int ch = 0; ch < chunks; ch++) {
        size_t a = (size_t)ch * R->mb;
        int n = a < len ? (int)((len - a) < (size_t)R->mb ? len - a : (size_t)R->mb) : 0;
        int real = n;
        if (n == 0) { rows[0] = 0; n = 1; }
        else for (int i = 0; i < n; i++) rows[i] = off + a + (size_t)i;
        if (zt_loader_read(R->eval, rows, n, xf, xi, y, err, sizeof err)) zt_fatal(ZT_EXIT_DATA, "%s", err);
        zt_batch b = micro(R, xf, xi, y, 0, n);
        int corr = 0;
        double l = zt_engine_eval(R->eng, &b, &corr);
        if (real) { loss += l; correct += corr; count += real; }
    }
    double v[3] = { loss, (double)correct, (double)count }, s[3];
    commCheck(R->ctl, zt_allreduce(R->ctl, v, s, 3, ZT_F64, ZT_SUM), "allreduce", "evaluation sums", "at evaluation");
    free(xf); free(xi); free(y); free(rows);
    R->eval_loss = s[0] / s[2]; R->eval_acc = s[1] / s[2]; R->have_eval = 1;
    int mnist = di->kind != ZT_DS_TOKENS;   /* labeled rows: an accuracy */
    metric(R, "{s:I,s:f,s:f}", "step", (json_int_t)R->step, "eval_loss", R->eval_loss,
           mnist ? "eval_acc" : "unigram_entropy", mnist ? R->eval_acc : R->unigram);
    if (R->r != 0) return;
    if (mnist) zt_info("eval step %llu: %s loss %.4f  %s accuracy %.2f%% (%d rows)",
                       (unsigned long long)R->step, di->split, R->eval_loss, di->split, 100 * R->eval_acc, (int)s[2]);
    else zt_info("eval step %llu: val loss %.4f nats/token (unigram entropy %.4f)",
                 (unsigned long long)R->step, R->eval_loss, R->unigram);
}

/* --------------------------------------------------------------- loop */

/* The step boundary: one all-reduce MAX of [stop requested here, a background
 * save still writing here]; the ranks act on the same answer. */
static void agree(run *R, int64_t any[2]) {
    int64_t mine[2] = { zt_signal_pending() != 0 || R->step == R->a.stop_at,
                        R->saver ? zt_saver_local_busy(R->saver) : 0 };
    commCheck(R->ctl, zt_allreduce(R->ctl, mine, any, 2, ZT_I64, ZT_MAX), "allreduce", "stop and save flags",
              "at a step boundary");
    if (R->saver) zt_saver_commit_if_done(R->saver, any[1]);
}

static void log_progress(run *R, interval *iv, float lr, const zt_step_stats *st) {
    zt_config *c = &R->cfg;
    double l = iv->loss, lsum;
    commCheck(R->ctl, zt_allreduce(R->ctl, &l, &lsum, 1, ZT_F64, ZT_SUM), "allreduce", "loss sum", "at a log step");
    double loss = lsum / ((double)c->global_batch * iv->n), now = zt_now();
    double sps = (double)c->global_batch * iv->n / (now - iv->t0);
    double tps = sps * (double)R->model->tokens_per_row;
    double step_ms = 1e3 * iv->step / iv->n, comm_ms = 1e3 * iv->comm / iv->n;
    uint64_t total = (uint64_t)c->steps;
    R->last_loss = loss;
    if (R->r == 0) {
        char eta[32];
        fmt_eta((now - R->t_start) / (double)(R->step - R->first) * (double)(total - R->step), eta, sizeof eta);
        zt_info("step %6llu/%llu | loss %.4f | lr %.2e | gnorm %.3f | %.0f %s | %.1f ms/step "
                "(compute %.1f, comm %.1f) | eta %s", (unsigned long long)R->step, (unsigned long long)total,
                loss, lr, st->grad_norm, tps, R->model->tokens_per_row > 1 ? "tok/s" : "samples/s", step_ms, step_ms - comm_ms, comm_ms, eta);
    }
    /* first_comm_start, backward_end, last_comm_end: this step's timeline
     * (zt_now seconds), the overlap evidence */
    metric(R, "{s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "step", (json_int_t)R->step,
           "loss", loss, "lr", (double)lr, "grad_norm", st->grad_norm, "samples_per_s", sps,
           "tokens_per_s", tps, "step_ms", step_ms, "compute_ms", step_ms - comm_ms, "comm_ms", comm_ms,
           "first_comm_start", st->t_first_comm, "backward_end", st->t_backward_end,
           "last_comm_end", st->t_last_comm_end, "comm_bytes", st->comm_bytes);
    *iv = (interval){ .t0 = now };
}

/* A stop signal reached some rank: checkpoint together, then leave. */
static void stop(run *R) {
    if (R->r == 0) zt_info("stop signal received: checkpointing step %llu and exiting %d (resumable)",
                           (unsigned long long)R->step, ZT_EXIT_STOPPED);
    if (R->saver) {
        zt_saver_begin(R->saver, R->step, 1);
        metric(R, "{s:s,s:I}", "event", "checkpoint", "step", (json_int_t)R->step);
    }
    R->stopped = 1;
}

/* the rows of `step` start loading in the background, straight into set step&1 */
static void prefetch(run *R, uint64_t step) {
    int s = (int)(step & 1);
    uint64_t n = zt_sampler_rows_mb(&R->sampler, step, (uint64_t)R->mb, R->W, R->r, R->rows);
    if (zt_loader_prefetch_into(R->train, R->rows, (int)n, R->xf[s], R->xi[s], R->y[s]))
        zt_fatal(ZT_EXIT_INTERNAL, "loader: a prefetch was queued while another was pending");
}

static void train_loop(run *R) {
    zt_config *c = &R->cfg;
    uint64_t total = (uint64_t)c->steps;
    char err[1024];
    if (R->step < total) prefetch(R, R->step);
    R->t_start = zt_now();
    interval iv = { .t0 = R->t_start };
    while (R->step < total) {
        if (zt_loader_wait(R->train, err, sizeof err)) zt_fatal(ZT_EXIT_DATA, "%s", err);
        const zt_batch *mbs = R->mbs[R->step & 1];
        if (R->aug_rows) {   /* this step's rows again: R->rows is the next step's by now */
            const zt_ds_info *di = zt_loader_info(R->train);
            zt_sampler_rows(&R->sampler, R->step, R->W, R->r, R->aug_rows);
            zt_augment_apply(&R->aug, R->xf[R->step & 1], (int)R->rows_per_rank, di->img_h, di->img_w,
                             di->img_c, R->aug_rows, (uint64_t)c->seed,
                             zt_sampler_epoch(&R->sampler, R->step), R->aug_tmp);
        }
        if (R->step + 1 < total) prefetch(R, R->step + 1);   /* the next step's I/O overlaps this step */
        float lr = zt_lr_at(&R->oc, R->step);
        zt_step_stats st;
        zt_engine_step(R->eng, mbs, R->k, R->step + 1, lr, &st);
        R->step++;
        iv.n++; iv.comm += st.t_exposed_comm; iv.step += st.t_step; iv.loss += st.loss_sum;

        int64_t any[2];
        agree(R, any);
        if (R->step % (uint64_t)c->log_every == 0 || R->step == total || any[0]) log_progress(R, &iv, lr, &st);
        if (c->eval_every && R->step % (uint64_t)c->eval_every == 0 && R->step < total) evaluate(R);
        if (any[0]) { stop(R); return; }
        if (R->saver && c->ckpt_every && R->step % (uint64_t)c->ckpt_every == 0 && R->step < total) {
            double blocked = zt_saver_begin(R->saver, R->step, 0);
            if (R->r == 0) zt_info("checkpoint step %llu started (blocked %.1f ms)", (unsigned long long)R->step,
                                   1e3 * blocked);
            metric(R, "{s:s,s:I}", "event", "checkpoint", "step", (json_int_t)R->step);
        }
    }
}

/* ------------------------------------------------------ finish, tear down */

static void dump_params(run *R, const char *path) {
    size_t P = zt_engine_n_params(R->eng);
    float *full = calloc(P, sizeof(float));
    mallocCheck(full);
    zt_engine_full_params(R->eng, full);
    if (R->r == 0) {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(full, sizeof(float), P, f) != P || fclose(f))
            zt_fatal(ZT_EXIT_INTERNAL, "cannot write --dump-params %s: %s", path, strerror(errno));
    }
    free(full);
}

static void finish(run *R) {
    if (!R->stopped) {   /* the end: last checkpoint (if not just written), last evaluation */
        if (R->saver && zt_saver_last_step(R->saver) != R->step) {
            zt_saver_begin(R->saver, R->step, 1);
            metric(R, "{s:s,s:I}", "event", "checkpoint", "step", (json_int_t)R->step);
        }
        if (R->saver) zt_saver_finish(R->saver);
        evaluate(R);
    } else if (R->saver) zt_saver_finish(R->saver);
    if (R->a.dump) dump_params(R, R->a.dump);
    double wall = zt_now() - R->t_start;
    int acc = R->model->correct && zt_loader_info(R->eval)->kind != ZT_DS_TOKENS;
    json_int_t step = (json_int_t)R->step, run_steps = (json_int_t)(R->step - R->first);
    if (R->have_eval)
        metric(R, "{s:b,s:I,s:I,s:f,s:i,s:i,s:f,s:b,s:f,s:f}", "summary", 1, "step", step, "steps_run", run_steps,
               "loss", R->last_loss, "world", R->W, "stage", R->cfg.zero_stage, "wall_s", wall,
               "stopped", R->stopped, "eval_loss", R->eval_loss,
               acc ? "eval_acc" : "unigram_entropy", acc ? R->eval_acc : R->unigram);
    else   /* stopped before any evaluation */
        metric(R, "{s:b,s:I,s:I,s:f,s:i,s:i,s:f,s:b}", "summary", 1, "step", step, "steps_run", run_steps,
               "loss", R->last_loss, "world", R->W, "stage", R->cfg.zero_stage, "wall_s", wall,
               "stopped", R->stopped);
    if (R->r == 0) zt_info("%s after %llu steps in %.1f s", R->stopped ? "stopped" : "done",
                           (unsigned long long)R->step, wall);
}

static void tear_down(run *R) {
    if (R->metrics) fclose(R->metrics);
    zt_loader_close(R->train); zt_loader_close(R->eval);
    zt_saver_destroy(R->saver);
    zt_engine_destroy(R->eng);
    R->model->destroy(R->model);
    if (R->comm != R->ctl) zt_comm_destroy(R->comm);
    zt_comm_destroy(R->ctl);
    zt_comm_finalize();
    zt_boot_finalize();
    zt_ck_unlock(R->lock_fd);   /* after the last checkpoint is committed */
    for (int s = 0; s < 2; s++) { free(R->xf[s]); free(R->xi[s]); free(R->y[s]); free(R->mbs[s]); }
    free(R->rows); free(R->aug_rows); free(R->aug_tmp);
    free(R->ck_cfg); free(R->a.sets);
}

int zt_train_main(int argc, char **argv) {
    static run RR;   /* zt_config is large: not on the stack */
    run *R = &RR;
    int rc = parse_args(argc, argv, &R->a);
    if (rc >= 0) return rc;
    char err[2048];
    if (zt_config_load(&R->cfg, R->a.cfgfile, R->a.sets, R->a.nsets, err, sizeof err))
        zt_fatal(ZT_EXIT_CONFIG, "config error: %s", err);
    if (R->a.print_cfg) { fputs(R->cfg.text, stdout); return ZT_EXIT_OK; }
    set_up(R);
    resume(R);
    train_loop(R);
    finish(R);
    tear_down(R);
    return R->stopped ? ZT_EXIT_STOPPED : ZT_EXIT_OK;
}
