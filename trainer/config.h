/* config.h — the training configuration: an ini file (parsed by libinih)
 * plus `--set section.key=value` overrides. Every key is in one table
 * (config.c) with its type, default and one-line doc; `ztrain train
 * --print-config` prints the effective values, the README documents them. */
#ifndef ZT_CONFIG_H
#define ZT_CONFIG_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    /* [model] */
    char   model_name[16];      /* mlp | gpt */
    char   mlp_hidden[64];      /* "256,128" */
    int    gpt_ctx, gpt_d_model, gpt_n_layer, gpt_n_head;
    char   gpt_preset[16];      /* "" | gpt2 | gpt2-medium: defaults for the keys above */
    char   cnn_layers[256];     /* "conv32-bn-relu-pool,..." */
    /* [train] */
    long   global_batch, micro_batch, steps;
    int    zero_stage;
    double bucket_mb;
    long   seed;
    char   device[8];           /* cpu | cuda */
    char   precision[8];        /* fp32 | bf16 */
    char   grad_comm[8];        /* fp32 | bf16: dtype of gradient reductions */
    char   backend[8];          /* auto | mpi | nccl */
    int    threads;             /* BLAS threads per rank, 0 = cores / local ranks */
    int    exact;               /* train.exact: bitwise-identical results at any W and stage */
    double comm_timeout;        /* seconds, any collective */
    int    mem_check;           /* project host bytes before allocating (memplan.h) */
    /* [optim] */
    char   optim_name[16];      /* sgd | adamw */
    char   lr_schedule[16];     /* cosine | linear | constant | wsd */
    double lr, momentum, beta1, beta2, eps, weight_decay, min_lr_frac, grad_clip, decay_frac;
    int    nesterov;
    long   warmup_steps;
    /* [data] */
    char   data_path[512];
    char   augment[64];         /* "crop2,flip" | "" */
    /* [eval] */
    long   eval_every;
    long   eval_max_rows;
    /* [log] */
    char   log_metrics[512];
    long   log_every;
    /* [ckpt] */
    char   ckpt_dir[512];
    long   ckpt_every, ckpt_keep_last, ckpt_keep_every;
    char   ckpt_resume[512];    /* auto | never | PATH */
    int    ckpt_async;
    char   ckpt_init_from[512];  /* "" | safetensors export (dir or file) | checkpoint */
    char   ckpt_layout[16];     /* per-rank | per-node */

    /* where each key was last set ("file:line" or "--set"), for error messages */
    char   origin[64][96];
    char   text[8192];          /* effective config as ini text (saved in checkpoints) */
} zt_config;

/* Defaults, then FILE (may be NULL), then each "section.key=value" override.
 * FILE must be a readable, non-empty file (a directory is an error).
 * On error: message naming the file/line (or --set) and key, returns -1. */
int  zt_config_load(zt_config *c, const char *file, char **sets, int n_sets,
                    char *err, size_t errlen);
/* Defaults, then the ini `text` (a checkpoint's saved config; `name` in
 * messages). No range checks: an old config is read as it was. 0 or -1. */
int  zt_config_load_text(zt_config *c, const char *text, const char *name, char *err, size_t errlen);
/* model.hidden as widths: the count (1..cap), or -1 if it is not a list of
 * positive integers. */
#define ZT_MLP_MAX_HIDDEN 8
int  zt_config_mlp_hidden(const zt_config *c, int *out, int cap);
/* "file:line" where key ("train.global_batch") was set, or "default". */
const char *zt_config_origin(const zt_config *c, const char *key);
/* Fill c->text with the effective config, one `key = value` per line. */
void zt_config_render(zt_config *c);
/* Print the key table (section.key, default, doc) as markdown for the README. */
void zt_config_print_keys(void);

/* What a config is checked against once the job is known. */
typedef struct {
    int world;              /* W */
    int local_ranks;        /* ranks on this host */
    int gpus;               /* GPUs visible on this host (only read for cuda) */
    int have_cuda;          /* this binary has the CUDA op table */
    const char *host;
} zt_job_shape;
/* W at most the micro-batches per step (global_batch / micro_batch); cuda only in a CUDA build and
 * with a GPU per local rank. 0, or -1 + message naming key and origin. */
int  zt_config_check_job(const zt_config *c, const zt_job_shape *j, char *err, size_t errlen);

/* Differences between a checkpoint's config (old) and this run's (now):
 * ZT_KEYS_RESUME_FIXED: keys a resume cannot follow (the model, the batch
 *   geometry, the optimizer) — a changed one is a config error;
 * ZT_KEYS_SCHEDULE: keys of the learning-rate schedule (steps, schedule,
 *   warmup, lr, floor, wsd decay fraction) — reported, then followed.
 * Writes "key old -> new, ..." into out; returns the number of keys that differ. */
typedef enum { ZT_KEYS_RESUME_FIXED = 0, ZT_KEYS_SCHEDULE = 1 } zt_config_keyset;
int  zt_config_diff(const zt_config *old, const zt_config *now, zt_config_keyset set, char *out, size_t cap);
#endif
