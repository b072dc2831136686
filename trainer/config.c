/* config.c — table-driven ini parsing with libinih. One row per key: type,
 * where it lives in zt_config, default, doc. Unknown keys and bad values are
 * errors that name the file, line and key. */
#include "config.h"
#include <ini.h>      /* ini_parse_stream: the ini reader */
#include <stdio.h>    /* FILE, snprintf */
#include <stdlib.h>   /* strtol, strtod */
#include <string.h>   /* strcmp, strncpy */
#include <errno.h>    /* errno */
#include <stddef.h>   /* offsetof */

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
    S("model.name",         model_name,  "mlp",    "mlp | gpt"),
    S("model.hidden",       mlp_hidden,  "256,128","mlp: hidden widths, comma separated (784 -> ... -> 10)"),
    I("model.ctx",          gpt_ctx,     "64",     "gpt: context length T"),
    I("model.d_model",      gpt_d_model, "64",     "gpt: embedding width C"),
    I("model.n_layer",      gpt_n_layer, "2",      "gpt: transformer blocks"),
    I("model.n_head",       gpt_n_head,  "4",      "gpt: attention heads (divides d_model)"),
    L("train.global_batch", global_batch,"64",     "rows per optimizer step, fixed whatever W is"),
    L("train.micro_batch",  micro_batch, "32",     "rows per forward/backward; accumulation k = global_batch / (W * micro_batch)"),
    L("train.steps",        steps,       "100",    "optimizer steps in total"),
    I("train.zero_stage",   zero_stage,  "0",      "0 = DDP, 1, 2, 3 = ZeRO stage"),
    D("train.bucket_mb",    bucket_mb,   "1",      "gradient bucket size (MB) for the all-reduce / reduce-scatter"),
    L("train.seed",         seed,        "1234",   "parameter init and data order"),
    S("train.device",       device,      "cpu",    "cpu | cuda (one GPU per local rank)"),
    S("train.precision",    precision,   "fp32",   "fp32 | bf16 (cuda: bf16 compute, fp32 master weights)"),
    S("train.backend",      backend,     "auto",   "auto | mpi | nccl (auto: nccl on cuda, else mpi)"),
    I("train.threads",      threads,     "0",      "BLAS threads per rank; 0 = cores / local ranks"),
    D("train.comm_timeout", comm_timeout,"60",     "seconds before a stuck collective aborts the job (exit 6)"),
    S("optim.name",         optim_name,  "adamw",  "sgd | adamw"),
    D("optim.lr",           lr,          "0.001",  "peak learning rate"),
    D("optim.momentum",     momentum,    "0.9",    "sgd momentum"),
    B("optim.nesterov",     nesterov,    "false",  "sgd: Nesterov momentum"),
    D("optim.beta1",        beta1,       "0.9",    "adamw beta1"),
    D("optim.beta2",        beta2,       "0.999",  "adamw beta2"),
    D("optim.eps",          eps,         "1e-8",   "adamw epsilon"),
    D("optim.weight_decay", weight_decay,"0.0",    "weight decay on 2-D weights (adamw: decoupled; sgd: L2, as PyTorch)"),
    L("optim.warmup_steps", warmup_steps,"0",      "linear warmup steps"),
    D("optim.min_lr_frac",  min_lr_frac, "0.1",    "cosine decay floor, fraction of lr"),
    D("optim.grad_clip",    grad_clip,   "0",      "clip global grad norm to this (0 = off)"),
    S("data.path",          data_path,   "data/mnist.h5", "HDF5 dataset from `ztrain data prep`"),
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
} parse_ctx;

static char *reader(char *str, int num, void *stream) {
    parse_ctx *x = stream;
    char *r = fgets(str, num, x->f);
    if (r) x->line++;
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

/* Range checks after everything is set; messages name where the key came from. */
static int validate(zt_config *c, char *err, size_t errlen) {
#define BAD(key, ...) do { snprintf(err, errlen, "%s: %s: ", zt_config_origin(c, key), key); \
        size_t n_ = strlen(err); snprintf(err + n_, errlen - n_, __VA_ARGS__); return -1; } while (0)
    if (strcmp(c->model_name, "mlp") && strcmp(c->model_name, "gpt")) BAD("model.name", "expected mlp or gpt, got '%s'", c->model_name);
    if (c->global_batch <= 0) BAD("train.global_batch", "must be > 0");
    if (c->micro_batch <= 0) BAD("train.micro_batch", "must be > 0");
    if (c->steps <= 0) BAD("train.steps", "must be > 0");
    if (c->zero_stage < 0 || c->zero_stage > 3) BAD("train.zero_stage", "expected 0, 1, 2 or 3, got %d", c->zero_stage);
    if (c->bucket_mb <= 0) BAD("train.bucket_mb", "must be > 0");
    if (strcmp(c->device, "cpu") && strcmp(c->device, "cuda")) BAD("train.device", "expected cpu or cuda, got '%s'", c->device);
    if (strcmp(c->precision, "fp32") && strcmp(c->precision, "bf16")) BAD("train.precision", "expected fp32 or bf16, got '%s'", c->precision);
    if (strcmp(c->backend, "auto") && strcmp(c->backend, "mpi") && strcmp(c->backend, "nccl")) BAD("train.backend", "expected auto, mpi or nccl, got '%s'", c->backend);
    if (c->threads < 0) BAD("train.threads", "must be >= 0");
    if (c->comm_timeout <= 0) BAD("train.comm_timeout", "must be > 0");
    if (strcmp(c->optim_name, "sgd") && strcmp(c->optim_name, "adamw")) BAD("optim.name", "expected sgd or adamw, got '%s'", c->optim_name);
    if (c->lr <= 0) BAD("optim.lr", "must be > 0");
    if (c->beta1 < 0 || c->beta1 >= 1) BAD("optim.beta1", "must be in [0, 1)");
    if (c->beta2 < 0 || c->beta2 >= 1) BAD("optim.beta2", "must be in [0, 1)");
    if (c->min_lr_frac < 0 || c->min_lr_frac > 1) BAD("optim.min_lr_frac", "must be in [0, 1]");
    if (c->grad_clip < 0) BAD("optim.grad_clip", "must be >= 0");
    if (c->warmup_steps < 0) BAD("optim.warmup_steps", "must be >= 0");
    if (c->log_every <= 0) BAD("log.every", "must be > 0");
    if (c->eval_every < 0) BAD("eval.every", "must be >= 0");
    if (c->eval_max_rows < 0) BAD("eval.max_rows", "must be >= 0");
    if (c->ckpt_every < 0) BAD("ckpt.every", "must be >= 0");
    if (c->ckpt_keep_last < 0) BAD("ckpt.keep_last", "must be >= 0");
    if (c->ckpt_keep_every < 0) BAD("ckpt.keep_every", "must be >= 0");
    if (!strcmp(c->model_name, "gpt")) {
        if (c->gpt_ctx <= 0) BAD("model.ctx", "must be > 0");
        if (c->gpt_n_layer <= 0) BAD("model.n_layer", "must be > 0");
        if (c->gpt_n_head <= 0 || c->gpt_d_model <= 0 || c->gpt_d_model % c->gpt_n_head)
            BAD("model.n_head", "must divide model.d_model (%d)", c->gpt_d_model);
    }
#undef BAD
    return 0;
}

int zt_config_load(zt_config *c, const char *file, char **sets, int n_sets,
                   char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    char why[160];
    for (int i = 0; i < NKEYS; i++) {
        if (set_value(c, i, KEYS[i].dflt, why, sizeof why)) {
            snprintf(err, errlen, "internal: default of %s: %s", KEYS[i].key, why); return -1;
        }
        snprintf(c->origin[i], sizeof c->origin[i], "default");
    }
    if (file) {
        parse_ctx x = { .c = c, .file = file, .err = err, .errlen = errlen };
        x.f = fopen(file, "r");
        if (!x.f) { snprintf(err, errlen, "%s: cannot open config: %s", file, strerror(errno)); return -1; }
        int rc = ini_parse_stream(reader, &x, handler, &x);
        fclose(x.f);
        if (x.failed && rc == x.fail_line) return -1;
        if (rc != 0) { snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", file, rc); return -1; }
    }
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
    if (validate(c, err, errlen)) return -1;
    zt_config_render(c);
    return 0;
}

const char *zt_config_origin(const zt_config *c, const char *key) {
    int i = find_key(key);
    return i < 0 ? "?" : c->origin[i];
}

static void render_value(const zt_config *c, int i, char *out, size_t cap) {
    const char *p = (const char *)c + KEYS[i].off;
    switch (KEYS[i].type) {
    case T_STR:  snprintf(out, cap, "%s", p); break;
    case T_INT:  snprintf(out, cap, "%d", *(const int *)p); break;
    case T_LONG: snprintf(out, cap, "%ld", *(const long *)p); break;
    case T_DBL:  snprintf(out, cap, "%.17g", *(const double *)p); break;
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
        char v[600]; render_value(c, i, v, sizeof v);
        n += (size_t)snprintf(c->text + n, sizeof c->text - n, "%s = %s\n", dot + 1, v);
    }
}

void zt_config_print_keys(void) {
    printf("| key | default | meaning |\n|---|---|---|\n");
    for (int i = 0; i < NKEYS; i++)
        printf("| `%s` | `%s` | %s |\n", KEYS[i].key, KEYS[i].dflt, KEYS[i].doc);
}
