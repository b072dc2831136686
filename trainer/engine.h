/* engine.h — one training step under DDP (stage 0) or ZeRO stage 1/2/3.
 *
 * Flat buffer of P parameters; rank r owns partition [plo, plo+plen) =
 * zt_part(P, W, r). What each rank keeps (fp32, S optimizer slots):
 *   stage 0: params P, grads P,   slots S*P      (all-reduce buckets)
 *   stage 1: params P, grads P,   slots S*P/W    (all-reduce, step own part, all-gather)
 *   stage 2: params P, grads P/W, slots S*P/W    (reduce-scatter buckets)
 *   stage 3: params P/W, grads P/W, slots S*P/W  (units gathered before use)
 * Transient buffers (bucket scratch, gathered units) are reported apart.
 * A collective that fails ends the job with ZT_EXIT_PEER (6) on this rank,
 * after one line naming the rank, the operation and the step. */
#ifndef ZT_ENGINE_H
#define ZT_ENGINE_H
#include <stddef.h>   /* size_t */
#include <stdint.h>   /* uint64_t */
#include "comm.h"     /* zt_comm, zt_req */
#include "model.h"    /* zt_model, zt_batch */
#include "optim.h"    /* zt_optim_cfg */

typedef struct {
    double loss_sum;        /* this rank's sum of row losses over its micro-batches */
    double grad_norm;       /* global, before clipping */
    double t_step, t_exposed_comm;     /* durations, seconds */
    /* Timeline of the step, as absolute monotonic seconds (zt_now()), not
     * offsets: subtract one from another (e.g. t_backward_end - t_first_comm
     * is how long gradient communication overlapped the backward). */
    double t_backward_end;  /* backward of the last micro-batch done */
    double t_first_comm;    /* first gradient collective actually started */
    double t_last_comm_end; /* last gradient collective finished */
    double comm_bytes;      /* payload bytes this rank handed to collectives in the step
                             * (elements x element size, before any algorithm's copies) */
} zt_step_stats;

/* Bytes this rank holds, by purpose. params/grads/optim/transient live in
 * the model's memory space (host on cpu, device on cuda); ckpt and plan are
 * always host memory. */
typedef struct {
    size_t params, grads, optim;
    size_t transient;   /* stage 2/3: bucket gradients (2 x largest bucket) and
                         * reduce-scatter results (2 x this rank's largest share
                         * of a bucket); stage 3 also 2 gathered units (the one
                         * in use and the prefetched next) */
    size_t ckpt;        /* checkpoint snapshot of this rank's partition:
                         * (1 + slots) x plen floats, when checkpointing is on */
    size_t plan;        /* communication plan: per-bucket (and under ZeRO-3
                         * per-unit) counts for every rank */
    size_t exact;       /* train.exact: int64 gradient sums (stage 0/1: P,
                         * stage 2/3: plen + 2 buckets + 2 shares), host */
} zt_mem;

/* Opaque outside engine.c: other modules use the functions below. */
typedef struct zt_engine zt_engine;

zt_engine *zt_engine_create(zt_model *m, zt_comm *c, zt_comm *ctl, const zt_optim_cfg *oc,
                            int stage, double bucket_mb);
void   zt_engine_destroy(zt_engine *e);
/* Deterministic init of what this rank holds (counter-based RNG, any W). */
void   zt_engine_init_params(zt_engine *e, uint64_t seed);
/* One optimizer step t (1-based) at learning rate lr over k micro-batches
 * (this rank's share of the global batch). */
void   zt_engine_step(zt_engine *e, const zt_batch *mb, int k, uint64_t t, float lr,
                      zt_step_stats *st);
/* k_glob micro-batches per step over all ranks (rank r runs ceil or floor of
 * k_glob/W of them). Needed when W does not divide k_glob: ZeRO-2/3 then pad
 * every rank to ceil(k_glob/W) rounds of collectives. 0 (the default): every
 * rank has the same count. */
void   zt_engine_set_micro_batches(zt_engine *e, int k_glob);
/* train.exact: gradients summed in fixed point (exact.h), so the parameters
 * after any step are the same bits at every W and stage (cpu op table only;
 * anything else exits 2). Once, before the first step. */
void   zt_engine_set_exact(zt_engine *e, int on);
/* Forward only (evaluation): sum of row losses and correct count of batch b. */
double zt_engine_eval(zt_engine *e, const zt_batch *b, int *correct);
/* Formula bytes for (P, W, stage, S) next to what this rank holds. */
void   zt_engine_formula(size_t P, int W, int stage, int S, zt_mem *out);
/* Gather the full parameter vector into host out (P floats) on every rank (tests). */
void   zt_engine_full_params(zt_engine *e, float *out);

/* ---- what other modules (saver, train loop) may see of an engine -------- */
/* Hook run right before each optimizer update (the async checkpoint snapshot
 * must be taken before parameters change); NULL clears it. */
typedef void (*zt_engine_hook)(void *arg);
void   zt_engine_set_before_update(zt_engine *e, zt_engine_hook fn, void *arg);
int    zt_engine_world(const zt_engine *e);
int    zt_engine_rank(const zt_engine *e);
int    zt_engine_stage(const zt_engine *e);
size_t zt_engine_n_params(const zt_engine *e);           /* P */
int    zt_engine_n_slots(const zt_engine *e);            /* optimizer slots S */
const zt_mem *zt_engine_mem(const zt_engine *e);         /* bytes this rank holds */
const zt_model *zt_engine_model(const zt_engine *e);
const zt_optim_cfg *zt_engine_optim(const zt_engine *e);
const struct zt_ops *zt_engine_ops(const zt_engine *e);  /* memory space of the buffers below */
zt_comm *zt_engine_ctl(const zt_engine *e);              /* host-scalar communicator */
/* This rank's partition [lo, lo+len) of the flat space, and pointers (in the
 * ops' memory space) to its parameters and to optimizer slot i over exactly
 * that range, whatever the stage keeps beyond it. */
void   zt_engine_partition(const zt_engine *e, size_t *lo, size_t *len);
float *zt_engine_param_part(zt_engine *e);
float *zt_engine_slot_part(zt_engine *e, int i);
/* Collective, after a load wrote every rank's partition: rebuild what the
 * stage keeps in full (params for 0-2, optimizer slots for 0). */
void   zt_engine_sync_partitions(zt_engine *e);
/* train.grad_comm = bf16 (CPU only): gradient buckets are all-reduced /
 * reduce-scattered in bf16 (half the bytes; sums rounded to bf16 at each
 * step of the reduction), then accumulated and applied in fp32. Call once
 * after zt_engine_create. */
void   zt_engine_set_grad_comm_bf16(zt_engine *e);
/* Host bytes another module keeps on the engine's behalf (the saver's
 * snapshot buffer), so that the memory report accounts for them. */
void   zt_engine_count_ckpt(zt_engine *e, size_t bytes);
#endif
