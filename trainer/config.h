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
    /* [train] */
    long   global_batch, micro_batch, steps;
    int    zero_stage;
    double bucket_mb;
    long   seed;
    char   device[8];           /* cpu | cuda */
    char   precision[8];        /* fp32 | bf16 */
    char   backend[8];          /* auto | mpi | nccl */
    int    threads;             /* BLAS threads per rank, 0 = cores / local ranks */
    double comm_timeout;        /* seconds, any collective */
    /* [optim] */
    char   optim_name[16];      /* sgd | adamw */
    double lr, momentum, beta1, beta2, eps, weight_decay, min_lr_frac, grad_clip;
    int    nesterov;
    long   warmup_steps;
    /* [data] */
    char   data_path[512];
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

    /* where each key was last set ("file:line" or "--set"), for error messages */
    char   origin[64][96];
    char   text[8192];          /* effective config as ini text (saved in checkpoints) */
} zt_config;

/* Defaults, then FILE (may be NULL), then each "section.key=value" override.
 * On error: message naming the file/line (or --set) and key, returns -1. */
int  zt_config_load(zt_config *c, const char *file, char **sets, int n_sets,
                    char *err, size_t errlen);
/* "file:line" where key ("train.global_batch") was set, or "default". */
const char *zt_config_origin(const zt_config *c, const char *key);
/* Fill c->text with the effective config, one `key = value` per line. */
void zt_config_render(zt_config *c);
/* Print the key table (section.key, default, doc) for the README / --help. */
void zt_config_print_keys(void);
#endif
