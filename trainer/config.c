/* config.c — table-driven ini parsing with libinih. One row per key: type,
 * where it lives in zt_config, default, doc. Unknown keys and bad values are
 * errors that name the file, line and key. */
#include "config.h"
#include <ini.h>      /* ini_parse_stream: the ini reader */
#include <stdio.h>    /* FILE, snprintf, fmemopen */
#include <stdlib.h>   /* strtol, strtod, getenv */
#include <string.h>   /* strcmp, strncpy */
#include <errno.h>    /* errno */
#include <stddef.h>   /* offsetof */
#include <sys/stat.h> /* stat: a config path that is a directory */
#include "optim.h"    /* zt_lr_sched_parse: the schedule names */
#include "augment.h"  /* zt_augment_parse: data.augment */

typedef enum { T_STR, T_INT, T_LONG, T_DBL, T_BOOL } ktype;
typedef struct {
    const char *key;        /* section.key */
    ktype       type;
    size_t      off, size;
    const char *dflt;
    const char *doc;
} keydef;

#define S(k, f, d, doc) { k, T_STR,  offsetof(zt_config, f), sizeof(((zt_config *)0)->f), d, doc }
#define I(k, f, d, doc) { k, T_INT,  offsetof(zt_config, f), sizeof(int), d, doc }
#define L(k, f, d, doc) { k, T_LONG, offsetof(zt_config, f), sizeof(long), d, doc }
#define D(k, f, d, doc) { k, T_DBL,  offsetof(zt_config, f), sizeof(double), d, doc }
#define B(k, f, d, doc) { k, T_BOOL, offsetof(zt_config, f), sizeof(int), d, doc }

static const keydef KEYS[] = {
    S("model.name",         model_name,  "mlp",    "mlp | gpt | cnn"),
    S("model.hidden",       mlp_hidden,  "256,128","mlp: hidden widths, comma separated (input width and classes come from the data file)"),
    I("model.ctx",          gpt_ctx,     "64",     "gpt: context length T"),
    I("model.d_model",      gpt_d_model, "64",     "gpt: embedding width C"),
    I("model.n_layer",      gpt_n_layer, "2",      "gpt: transformer blocks"),
    I("model.n_head",       gpt_n_head,  "4",      "gpt: attention heads (divides d_model)"),
    S("model.preset",       gpt_preset,  "",       "gpt2 (C=768, L=12, H=12, T=1024) | gpt2-medium (C=1024, L=24, H=16, T=1024): sets model.name = gpt and the sizes; any key set explicitly wins"),
    S("model.layers",       cnn_layers,  "conv32-bn-relu-pool,conv64-bn-relu-pool,fc128-relu", "cnn: layer items (convN 3x3 pad 1 | fcN, then any of bn, relu, pool 2x2), comma separated; the head is added"),
    L("train.global_batch", global_batch,"64",     "rows per optimizer step, fixed whatever W is"),
    L("train.micro_batch",  micro_batch, "32",     "rows per forward/backward; divides global_batch; rank r runs ceil or floor of (global_batch / micro_batch) / W"),
    L("train.steps",        steps,       "100",    "optimizer steps in total"),
    I("train.zero_stage",   zero_stage,  "0",      "0 = DDP, 1, 2, 3 = ZeRO stage"),
    D("train.bucket_mb",    bucket_mb,   "1",      "gradient bucket size (MB) for the all-reduce / reduce-scatter"),
    L("train.seed",         seed,        "1234",   "parameter init and data order"),
    S("train.device",       device,      "cpu",    "cpu | cuda (one GPU per local rank)"),
    S("train.precision",    precision,   "fp32",   "fp32 | bf16: matrix products (linear, attention) in bf16 with fp32 accumulation, on cpu (oneDNN) and cuda; master weights, gradients, optimizer state fp32"),
    S("train.grad_comm",    grad_comm,   "fp32",   "fp32 | bf16: dtype of the gradient all-reduce / reduce-scatter (bf16: half the bytes, cpu only)"),
    S("train.backend",      backend,     "auto",   "auto | mpi | nccl (auto: nccl on cuda, else mpi)"),
    I("train.threads",      threads,     "0",      "BLAS threads per rank; 0 = cores / local ranks"),
    D("train.comm_timeout", comm_timeout,"60",     "seconds before a stuck collective aborts the job (exit 6)"),
    B("train.mem_check",    mem_check,   "true",   "before allocating, project host bytes per node and exit 2 (suggesting a ZeRO stage) if MemAvailable is short"),
    S("optim.name",         optim_name,  "adamw",  "sgd | adamw"),
    D("optim.lr",           lr,          "0.001",  "peak learning rate"),
    D("optim.momentum",     momentum,    "0.9",    "sgd momentum"),
    B("optim.nesterov",     nesterov,    "false",  "sgd: Nesterov momentum"),
    D("optim.beta1",        beta1,       "0.9",    "adamw beta1"),
    D("optim.beta2",        beta2,       "0.999",  "adamw beta2"),
    D("optim.eps",          eps,         "1e-8",   "adamw epsilon"),
    D("optim.weight_decay", weight_decay,"0.0",    "weight decay on 2-D weights (adamw: decoupled; sgd: L2, as PyTorch)"),
    S("optim.schedule",     lr_schedule, "cosine", "cosine | linear | constant | wsd: learning rate after the warmup (wsd: warmup-stable-decay)"),
    L("optim.warmup_steps", warmup_steps,"0",      "linear warmup steps"),
    D("optim.min_lr_frac",  min_lr_frac, "0.1",    "decay floor, fraction of lr, reached at train.steps (cosine, linear, wsd)"),
    D("optim.decay_frac",   decay_frac,  "0.2",    "wsd: fraction of the steps after warmup spent decaying linearly to the floor"),
    D("optim.grad_clip",    grad_clip,   "0",      "clip global grad norm to this (0 = off)"),
    S("data.path",          data_path,   "data/mnist.h5", "HDF5 dataset from `ztrain data prep`"),
    S("data.augment",       augment,     "",       "images: cropN (random crop, zero padding N), flip (left-right), comma separated; empty = none"),
    L("eval.every",         eval_every,  "0",      "evaluate every N steps (0 = only at the end)"),
    L("eval.max_rows",      eval_max_rows,"2048",  "evaluate on the first N rows of the test/val split (0 = all)"),
    S("log.metrics",        log_metrics, "",       "JSONL metrics file (empty = none)"),
    L("log.every",          log_every,   "10",     "progress line every N steps"),
    S("ckpt.dir",           ckpt_dir,    "",       "checkpoint root (empty = no checkpoints)"),
    L("ckpt.every",         ckpt_every,  "0",      "save every N steps (0 = only at the end and on stop)"),
    L("ckpt.keep_last",     ckpt_keep_last, "3",   "keep the newest N checkpoints (0 = all)"),
    L("ckpt.keep_every",    ckpt_keep_every,"0",   "also keep every step that is a multiple of N (0 = none)"),
    S("ckpt.resume",        ckpt_resume, "auto",   "auto (resume from ckpt.dir/latest if any) | never | PATH"),
    B("ckpt.async",         ckpt_async,  "true",   "write checkpoints in a background thread"),
    S("ckpt.init_from",     ckpt_init_from, "",    "weights only (fresh optimizer, step 0) from a safetensors export (dir or file) or a checkpoint, when there is nothing to resume"),
    B("train.exact",        exact,       "false",  "bitwise-identical parameters at any W and ZeRO stage (fixed-point gradient sums; cpu)"),
    S("ckpt.layout",        ckpt_layout, "per-rank", "per-rank (a shard file per rank) | per-node (one per node)"),
};
#define NKEYS (int)(sizeof KEYS / sizeof KEYS[0])
_Static_assert(sizeof KEYS / sizeof KEYS[0] <= 64, "grow zt_config.origin");

static int find_key(const char *k) {
    for (int i = 0; i < NKEYS; i++) if (!strcmp(KEYS[i].key, k)) return i;
    return -1;
}

/* Parse v into the field of key i; -1 with a reason in why. */
static int set_value(zt_config *c, int i, const char *v, char *why, size_t wl) {
    const keydef *k = &KEYS[i];
    char *p = (char *)c + k->off, *end;
    errno = 0;
    switch (k->type) {
    case T_STR:
        if (strlen(v) >= k->size) { snprintf(why, wl, "value longer than %zu bytes", k->size - 1); return -1; }
        strcpy(p, v); return 0;
    case T_INT: case T_LONG: {
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end) { snprintf(why, wl, "expected an integer, got '%s'", v); return -1; }
        if (k->type == T_INT) *(int *)p = (int)x; else *(long *)p = x;
        return 0; }
    case T_DBL: {
        double x = strtod(v, &end);
        if (errno || end == v || *end) { snprintf(why, wl, "expected a number, got '%s'", v); return -1; }
        *(double *)p = x; return 0; }
    case T_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) *(int *)p = 1;
        else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) *(int *)p = 0;
        else { snprintf(why, wl, "expected true or false, got '%s'", v); return -1; }
        return 0;
    }
    return -1;
}

typedef struct {
    zt_config *c;
    const char *file;
    FILE *f;
    int line;
    char *err; size_t errlen;
    int failed, fail_line;
    size_t bytes;           /* read so far: 0 at the end means an empty file */
} parse_ctx;

static char *reader(char *str, int num, void *stream) {
    parse_ctx *x = stream;
    char *r = fgets(str, num, x->f);
    if (r) { x->line++; x->bytes += strlen(r); }
    return r;
}

static int set_key(zt_config *c, const char *key, const char *value, const char *origin,
                   char *err, size_t errlen) {
    int i = find_key(key);
    if (i < 0) { snprintf(err, errlen, "%s: unknown key '%s' (see `ztrain train --keys`)", origin, key); return -1; }
    char why[160];
    if (set_value(c, i, value, why, sizeof why)) {
        snprintf(err, errlen, "%s: %s: %s", origin, key, why); return -1;
    }
    snprintf(c->origin[i], sizeof c->origin[i], "%s", origin);
    return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value) {
    parse_ctx *x = user;
    char key[160], origin[96];
    snprintf(key, sizeof key, "%s.%s", section, name);
    snprintf(origin, sizeof origin, "%s:%d", x->file, x->line);
    if (!x->failed && !section[0]) {
        snprintf(x->err, x->errlen, "%s: key '%s' is outside any [section]", origin, name);
        x->failed = 1; x->fail_line = x->line; return 0;
    }
    if (!x->failed && set_key(x->c, key, value, origin, x->err, x->errlen)) {
        x->failed = 1; x->fail_line = x->line; return 0;
    }
    return 1;
}

int zt_config_mlp_hidden(const zt_config *c, int *out, int cap) {
    char buf[sizeof c->mlp_hidden], *save = NULL;
    int n = 0;
    snprintf(buf, sizeof buf, "%s", c->mlp_hidden);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        long h = strtol(t, &end, 10);
        if (end == t || *end || h <= 0 || h > 1 << 20 || n >= cap) return -1;
        out[n++] = (int)h;
    }
    return n ? n : -1;
}

/* Range checks after everything is set; messages name where the key came from. */
static int validate(zt_config *c, char *err, size_t errlen) {
#define BAD(key, ...) do { snprintf(err, errlen, "%s: %s: ", zt_config_origin(c, key), key); \
        size_t n_ = strlen(err); snprintf(err + n_, errlen - n_, __VA_ARGS__); return -1; } while (0)
    if (strcmp(c->model_name, "mlp") && strcmp(c->model_name, "gpt") && strcmp(c->model_name, "cnn")) BAD("model.name", "expected mlp, gpt or cnn, got '%s'", c->model_name);
    int hidden[ZT_MLP_MAX_HIDDEN];
    if (!strcmp(c->model_name, "mlp") && zt_config_mlp_hidden(c, hidden, ZT_MLP_MAX_HIDDEN) < 0)
        BAD("model.hidden", "expected 1 to %d positive widths separated by commas, got '%s'", ZT_MLP_MAX_HIDDEN, c->mlp_hidden);
    if (c->global_batch <= 0) BAD("train.global_batch", "must be > 0");
    if (c->micro_batch <= 0) BAD("train.micro_batch", "must be > 0");
    if (c->global_batch % c->micro_batch)
        BAD("train.micro_batch", "must divide train.global_batch (%ld, %s), got %ld", c->global_batch,
            zt_config_origin(c, "train.global_batch"), c->micro_batch);
    if (c->steps <= 0) BAD("train.steps", "must be > 0");
    if (c->zero_stage < 0 || c->zero_stage > 3) BAD("train.zero_stage", "expected 0, 1, 2 or 3, got %d", c->zero_stage);
    if (c->bucket_mb <= 0) BAD("train.bucket_mb", "must be > 0");
    if (strcmp(c->device, "cpu") && strcmp(c->device, "cuda")) BAD("train.device", "expected cpu or cuda, got '%s'", c->device);
    if (strcmp(c->precision, "fp32") && strcmp(c->precision, "bf16")) BAD("train.precision", "expected fp32 or bf16, got '%s'", c->precision);
    if (strcmp(c->grad_comm, "fp32") && strcmp(c->grad_comm, "bf16")) BAD("train.grad_comm", "expected fp32 or bf16, got '%s'", c->grad_comm);
    if (strcmp(c->backend, "auto") && strcmp(c->backend, "mpi") && strcmp(c->backend, "nccl")) BAD("train.backend", "expected auto, mpi or nccl, got '%s'", c->backend);
    /* tensors live where the device is: MPI moves host memory, NCCL GPU memory */
    int cuda = !strcmp(c->device, "cuda");
    if (cuda && !strcmp(c->backend, "mpi"))
        BAD("train.backend", "mpi cannot carry train.device = cuda tensors (%s): use nccl or auto",
            zt_config_origin(c, "train.device"));
    if (!cuda && !strcmp(c->backend, "nccl"))
        BAD("train.backend", "nccl needs train.device = cuda (%s is %s): use mpi or auto",
            zt_config_origin(c, "train.device"), c->device);
    if (cuda && c->exact)
        BAD("train.exact", "needs train.device = cpu (%s is cuda): the fixed-point sums are host code",
            zt_config_origin(c, "train.device"));
    if (cuda && !strcmp(c->grad_comm, "bf16"))
        BAD("train.grad_comm", "bf16 is implemented for train.device = cpu only (%s is cuda)",
            zt_config_origin(c, "train.device"));
    if (c->exact && !strcmp(c->grad_comm, "bf16"))
        BAD("train.grad_comm", "bf16 reductions are not exact: train.exact needs train.grad_comm = fp32");
    if (c->threads < 0) BAD("train.threads", "must be >= 0");
    if (c->comm_timeout <= 0) BAD("train.comm_timeout", "must be > 0");
    if (strcmp(c->optim_name, "sgd") && strcmp(c->optim_name, "adamw")) BAD("optim.name", "expected sgd or adamw, got '%s'", c->optim_name);
    if (c->lr <= 0) BAD("optim.lr", "must be > 0");
    if (c->beta1 < 0 || c->beta1 >= 1) BAD("optim.beta1", "must be in [0, 1)");
    if (c->beta2 < 0 || c->beta2 >= 1) BAD("optim.beta2", "must be in [0, 1)");
    if (c->min_lr_frac < 0 || c->min_lr_frac > 1) BAD("optim.min_lr_frac", "must be in [0, 1]");
    zt_lr_sched sched;
    if (zt_lr_sched_parse(c->lr_schedule, &sched))
        BAD("optim.schedule", "expected cosine, linear, constant or wsd, got '%s'", c->lr_schedule);
    if (c->decay_frac < 0 || c->decay_frac > 1) BAD("optim.decay_frac", "must be in [0, 1]");
    if (c->grad_clip < 0) BAD("optim.grad_clip", "must be >= 0");
    if (c->warmup_steps < 0) BAD("optim.warmup_steps", "must be >= 0");
    zt_augment aug; char awhy[160];
    if (zt_augment_parse(c->augment, &aug, awhy, sizeof awhy)) BAD("data.augment", "%s", awhy);
    if ((aug.crop || aug.flip) && !strcmp(c->model_name, "gpt")) BAD("data.augment", "is for images (model.name = gpt reads tokens)");
    if (c->log_every <= 0) BAD("log.every", "must be > 0");
    if (c->eval_every < 0) BAD("eval.every", "must be >= 0");
    if (c->eval_max_rows < 0) BAD("eval.max_rows", "must be >= 0");
    if (c->ckpt_every < 0) BAD("ckpt.every", "must be >= 0");
    if (c->ckpt_keep_last < 0) BAD("ckpt.keep_last", "must be >= 0");
    if (c->ckpt_keep_every < 0) BAD("ckpt.keep_every", "must be >= 0");
    if (strcmp(c->ckpt_layout, "per-rank") && strcmp(c->ckpt_layout, "per-node"))
        BAD("ckpt.layout", "expected per-rank or per-node, got '%s'", c->ckpt_layout);
    if (!strcmp(c->model_name, "gpt")) {
        if (c->gpt_ctx <= 0) BAD("model.ctx", "must be > 0");
        if (c->gpt_n_layer <= 0) BAD("model.n_layer", "must be > 0");
        if (c->gpt_n_head <= 0 || c->gpt_d_model <= 0 || c->gpt_d_model % c->gpt_n_head)
            BAD("model.n_head", "must divide model.d_model (%d)", c->gpt_d_model);
    }
#undef BAD
    return 0;
}

/* Defaults for every key. */
static int set_defaults(zt_config *c, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    char why[160];
    for (int i = 0; i < NKEYS; i++) {
        if (set_value(c, i, KEYS[i].dflt, why, sizeof why)) {
            snprintf(err, errlen, "internal: default of %s: %s", KEYS[i].key, why); return -1;
        }
        snprintf(c->origin[i], sizeof c->origin[i], "default");
    }
    return 0;
}

/* The ini text of f (named `name` in messages) over what c holds. */
static int parse_stream(zt_config *c, FILE *f, const char *name, char *err, size_t errlen) {
    parse_ctx x = { .c = c, .file = name, .f = f, .err = err, .errlen = errlen };
    int rc = ini_parse_stream(reader, &x, handler, &x);
    if (x.failed && rc == x.fail_line) return -1;
    if (rc != 0) { snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", name, rc); return -1; }
    if (x.bytes == 0) { snprintf(err, errlen, "%s: the config file is empty", name); return -1; }
    return 0;
}

/* A config path a person typed: a directory (`--config configs`) or an empty
 * file would otherwise train the defaults without a word. */
static int parse_file(zt_config *c, const char *file, char *err, size_t errlen) {
    struct stat st;
    if (stat(file, &st) < 0) { snprintf(err, errlen, "%s: cannot open config: %s", file, strerror(errno)); return -1; }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, not a config file (expected --config FILE.ini)", file); return -1;
    }
    FILE *f = fopen(file, "r");
    if (!f) { snprintf(err, errlen, "%s: cannot open config: %s", file, strerror(errno)); return -1; }
    int rc = parse_stream(c, f, file, err, errlen);
    if (rc == 0 && ferror(f)) { snprintf(err, errlen, "%s: cannot read config: %s", file, strerror(errno)); rc = -1; }
    fclose(f);
    return rc;
}

/* model.preset: GPT-2's published sizes, applied after the file and --set so
 * that an explicit key wins wherever it appears; a preset value's origin
 * names the preset. */
static const struct { const char *name, *kv[5][2]; } PRESETS[] = {
    {"gpt2",        {{"model.name", "gpt"}, {"model.ctx", "1024"}, {"model.d_model", "768"},
                     {"model.n_layer", "12"}, {"model.n_head", "12"}}},
    {"gpt2-medium", {{"model.name", "gpt"}, {"model.ctx", "1024"}, {"model.d_model", "1024"},
                     {"model.n_layer", "24"}, {"model.n_head", "16"}}},
};
static int apply_preset(zt_config *c, char *err, size_t errlen) {
    if (!c->gpt_preset[0]) return 0;
    int pi = -1;
    for (int i = 0; i < (int)(sizeof PRESETS / sizeof PRESETS[0]); i++)
        if (!strcmp(c->gpt_preset, PRESETS[i].name)) pi = i;
    if (pi < 0) {
        snprintf(err, errlen, "%s: model.preset: expected gpt2 or gpt2-medium, got '%s'",
                 zt_config_origin(c, "model.preset"), c->gpt_preset);
        return -1;
    }
    for (int k = 0; k < 5; k++) {
        int i = find_key(PRESETS[pi].kv[k][0]);
        if (strcmp(c->origin[i], "default")) continue;   /* set explicitly: it wins */
        char origin[96];
        snprintf(origin, sizeof origin, "model.preset %s", PRESETS[pi].name);
        if (set_key(c, PRESETS[pi].kv[k][0], PRESETS[pi].kv[k][1], origin, err, errlen)) return -1;
    }
    return 0;
}

int zt_config_load(zt_config *c, const char *file, char **sets, int n_sets,
                   char *err, size_t errlen) {
    if (set_defaults(c, err, errlen)) return -1;
    if (file && parse_file(c, file, err, errlen)) return -1;
    for (int i = 0; i < n_sets; i++) {
        const char *eq = strchr(sets[i], '=');
        char key[160];
        if (!eq || eq == sets[i] || (size_t)(eq - sets[i]) >= sizeof key) {
            snprintf(err, errlen, "--set %s: expected section.key=value", sets[i]); return -1;
        }
        memcpy(key, sets[i], (size_t)(eq - sets[i])); key[eq - sets[i]] = 0;
        char origin[96]; snprintf(origin, sizeof origin, "--set %.80s", key);
        if (set_key(c, key, eq + 1, origin, err, errlen)) return -1;
    }
    if (apply_preset(c, err, errlen)) return -1;
    if (validate(c, err, errlen)) return -1;
    zt_config_render(c);
    return 0;
}

int zt_config_load_text(zt_config *c, const char *text, const char *name, char *err, size_t errlen) {
    if (set_defaults(c, err, errlen)) return -1;
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    if (!f) { snprintf(err, errlen, "%s: %s", name, strerror(errno)); return -1; }
    int rc = parse_stream(c, f, name, err, errlen);
    fclose(f);
    if (rc == 0) rc = apply_preset(c, err, errlen);
    if (rc == 0) zt_config_render(c);
    return rc;
}

int zt_config_check_job(const zt_config *c, const zt_job_shape *j, char *err, size_t errlen) {
    long k = c->global_batch / c->micro_batch;   /* micro-batches per step; validate: divides */
    if (j->world > k) {
        snprintf(err, errlen, "%s: train.global_batch = %ld is %ld micro-batches of %ld rows, fewer than the %d ranks "
                 "(each rank needs at least one): use at most %ld ranks or a smaller train.micro_batch",
                 zt_config_origin(c, "train.global_batch"), c->global_batch, k, c->micro_batch, j->world, k);
        return -1;
    }
    if (strcmp(c->device, "cuda")) return 0;
    if (!j->have_cuda) {
        snprintf(err, errlen, "%s: train.device = cuda but this binary was built without CUDA",
                 zt_config_origin(c, "train.device"));
        return -1;
    }
    /* one GPU per local rank: more ranks than GPUs would share one (NCCL
     * refuses that with "duplicate GPU", after a long init) */
    if (j->local_ranks > j->gpus) {
        const char *vis = getenv("CUDA_VISIBLE_DEVICES");
        snprintf(err, errlen, "%s: train.device = cuda: %d ranks on host %s but %d GPU(s) visible there "
                 "(one GPU per local rank; CUDA_VISIBLE_DEVICES=%s)", zt_config_origin(c, "train.device"),
                 j->local_ranks, j->host, j->gpus, vis ? vis : "unset");
        return -1;
    }
    return 0;
}

const char *zt_config_origin(const zt_config *c, const char *key) {
    int i = find_key(key);
    return i < 0 ? "?" : c->origin[i];
}

/* exact: doubles with 17 digits (comparisons, the saved text); else %g (messages) */
static void render_value(const zt_config *c, int i, char *out, size_t cap, int exact) {
    const char *p = (const char *)c + KEYS[i].off;
    switch (KEYS[i].type) {
    case T_STR:  snprintf(out, cap, "%s", p); break;
    case T_INT:  snprintf(out, cap, "%d", *(const int *)p); break;
    case T_LONG: snprintf(out, cap, "%ld", *(const long *)p); break;
    case T_DBL:  snprintf(out, cap, exact ? "%.17g" : "%g", *(const double *)p); break;
    case T_BOOL: snprintf(out, cap, "%s", *(const int *)p ? "true" : "false"); break;
    }
}

void zt_config_render(zt_config *c) {
    size_t n = 0; char sec[32] = "";
    c->text[0] = 0;
    for (int i = 0; i < NKEYS && n < sizeof c->text; i++) {
        const char *dot = strchr(KEYS[i].key, '.');
        char s[32]; snprintf(s, sizeof s, "%.*s", (int)(dot - KEYS[i].key), KEYS[i].key);
        if (strcmp(s, sec)) {
            n += (size_t)snprintf(c->text + n, sizeof c->text - n, "%s[%s]\n", n ? "\n" : "", s);
            strcpy(sec, s);
        }
        if (n >= sizeof c->text) break;
        char v[600]; render_value(c, i, v, sizeof v, 1);
        n += (size_t)snprintf(c->text + n, sizeof c->text - n, "%s = %s\n", dot + 1, v);
    }
}

/* Keys a checkpoint cannot follow: they change the parameter layout or what
 * one optimizer step means (the data order and the gradient scale). */
static const char *const RESUME_FIXED[] = {
    "model.name", "model.hidden", "model.ctx", "model.d_model", "model.n_layer", "model.n_head",
    "model.layers", "train.global_batch", "train.micro_batch", "optim.name", NULL };
/* Keys that reshape the learning-rate curve from the resume step on. */
static const char *const SCHEDULE[] = {
    "train.steps", "optim.schedule", "optim.warmup_steps", "optim.lr", "optim.min_lr_frac",
    "optim.decay_frac", NULL };

/* Does a difference in `key` matter between configs a and b? The width keys
 * of one model kind mean nothing to the other; decay_frac only shapes wsd. */
static int key_matters(const char *key, const zt_config *a, const zt_config *b) {
    int mlp = !strcmp(a->model_name, "mlp") && !strcmp(b->model_name, "mlp");
    int gpt = !strcmp(a->model_name, "gpt") && !strcmp(b->model_name, "gpt");
    if (!strcmp(key, "model.hidden")) return mlp;
    if (!strcmp(key, "model.layers")) return !strcmp(a->model_name, "cnn") && !strcmp(b->model_name, "cnn");
    if (!strncmp(key, "model.", 6) && strcmp(key, "model.name")) return gpt;
    if (!strcmp(key, "optim.decay_frac")) return !strcmp(a->lr_schedule, "wsd") || !strcmp(b->lr_schedule, "wsd");
    return 1;
}

int zt_config_diff(const zt_config *old, const zt_config *now, zt_config_keyset set, char *out, size_t cap) {
    const char *const *keys = set == ZT_KEYS_RESUME_FIXED ? RESUME_FIXED : SCHEDULE;
    int n = 0; size_t len = 0;
    if (cap) out[0] = 0;
    for (int k = 0; keys[k]; k++) {
        int i = find_key(keys[k]);
        if (i < 0 || !key_matters(keys[k], old, now)) continue;
        char a[600], b[600];
        render_value(old, i, a, sizeof a, 1); render_value(now, i, b, sizeof b, 1);
        if (!strcmp(a, b)) continue;
        render_value(old, i, a, sizeof a, 0); render_value(now, i, b, sizeof b, 0);
        if (len < cap) len += (size_t)snprintf(out + len, cap - len, "%s%s %s -> %s", n ? ", " : "", keys[k], a, b);
        n++;
    }
    return n;
}

/* Markdown cell text: a '|' inside a cell would end it. */
static void put_cell(const char *s) {
    for (; *s; s++) { if (*s == '|') putchar('\\'); putchar(*s); }
}

void zt_config_print_keys(void) {
    printf("| key | default | meaning |\n|---|---|---|\n");
    for (int i = 0; i < NKEYS; i++) {
        printf("| `%s` | `", KEYS[i].key); put_cell(KEYS[i].dflt);
        printf("` | "); put_cell(KEYS[i].doc); printf(" |\n");
    }
}
