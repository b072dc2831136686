/* memplan.h — will the job fit in host memory? Asked before the engine
 * allocates, so that a job too big for its nodes ends with exit 2 and a
 * suggestion instead of being OOM-killed mid-run.
 *
 * Per rank and ZeRO stage s the bytes still to be allocated are
 *   model states   zt_engine_formula(P, W, s, S): (1 + 1 + S) x 4P bytes at
 *                  s = 0 (16P with AdamW's two slots), then P/W shares
 *   transient      s >= 2: 2 x the largest bucket + 2 x this rank's largest
 *                  share of one; s = 3: + 2 x the largest unit
 *   checkpoint     (1 + S) x 4 x this rank's partition, with ckpt.dir
 *   plan           the per-rank count tables
 * (the activations were allocated with the model and are in the resident
 * bytes already). The ranks on a node are assumed alike: the node needs
 * local_ranks x the largest rank's figure, compared with MemAvailable of
 * /proc/meminfo less a 5% margin for what nobody projects (MPI, BLAS). */
#ifndef ZT_MEMPLAN_H
#define ZT_MEMPLAN_H
#include <stddef.h>   /* size_t */
#include "comm.h"     /* zt_comm */
#include "config.h"   /* zt_config */
#include "model.h"    /* zt_model */

typedef struct {
    size_t states, transient, ckpt, plan;
    size_t total;     /* their sum */
} zt_memplan;

/* Rank r's projection at `stage` (pure: no allocation but the plan tables). */
void zt_memplan_project(const zt_model *m, int W, int r, int stage, int n_slots, double bucket_mb,
                        int ckpt, zt_memplan *out);
/* MemAvailable in bytes (the tests' override ZT_TEST_MEMAVAILABLE, bytes,
 * when set); 0 when unknown. */
size_t zt_memplan_available(void);
/* Collective over ctl: every rank projects stages 0-3; when the configured
 * stage does not fit on some node, every rank exits 2 after the first local
 * rank of each such node names the projection and the lowest stage that
 * fits (or says none does). train.mem_check = false skips it; so does a
 * model on a device (its states are not host memory). */
void zt_memplan_check(const zt_config *c, const zt_model *m, zt_comm *ctl, int W, int r, int local_rank,
                      int local_ranks);
#endif
