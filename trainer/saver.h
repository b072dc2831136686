/* saver.h — the trainer's side of checkpointing: which partition each rank
 * writes, the asynchronous writer thread, the collective commit protocol and
 * resume at any W / stage. File work lives in checkpoint/ (zt_ckpt.h).
 * A failed collective ends the job with ZT_EXIT_PEER (6); a checkpoint that
 * cannot be written or resumed from with ZT_EXIT_CKPT (5). */
#ifndef ZT_SAVER_H
#define ZT_SAVER_H
#include <stdint.h>   /* uint64_t */
#include "config.h"   /* zt_config */
#include "engine.h"   /* zt_engine */
#include "zt_ckpt.h"  /* zt_ck_reader: the candidate a resume opens once */

typedef struct zt_saver zt_saver;

/* Installs the engine's before-update hook. Async saves (and any save of
 * device memory) go through a host snapshot buffer, (1 + slots) x this
 * rank's partition, counted in zt_engine_mem(e)->ckpt; a synchronous save
 * of host memory writes the engine's buffers directly and allocates none. */
zt_saver *zt_saver_create(const zt_config *cfg, zt_engine *e, int rank);
void      zt_saver_destroy(zt_saver *s);
/* Rows of the training split (the sampler cursor saved with each checkpoint). */
void      zt_saver_set_rows(zt_saver *s, uint64_t n_rows);
/* The launcher's node id of this rank (zt_proc_t.node_id): ckpt.layout =
 * per-node writes one shard file per node. Unset: ranks sharing memory. */
void      zt_saver_set_node(zt_saver *s, int node_id);
/* Collective. Start saving the state after `step` updates: waits for (and
 * commits) a pending save, then writes this rank's partition in the
 * background (ckpt.async, from a host snapshot) or now (sync: from the
 * engine's buffers into the shard file; a background thread fsyncs it).
 * Either way rank 0 writes the index and renames the checkpoint into place
 * in the background, after every shard is durable; the save is reported
 * committed at a later step boundary (force_sync: everything, fsyncs
 * included, before this returns). Returns seconds blocked. */
double    zt_saver_begin(zt_saver *s, uint64_t step, int force_sync);
/* Step-boundary protocol of a pending save. The caller combines every
 * rank's zt_saver_local_busy() (1 while this rank's writer runs, or rank 0's
 * committer, else 0) in its per-step all-reduce with MAX, and passes the
 * result to zt_saver_commit_if_done (collective): when it is 0, every shard's
 * outcome is gathered and rank 0 starts the commit (after the writes), or
 * the commit's outcome is published and the save is done (after the
 * commit). zt_saver_pending: 1 if a save was started and not yet committed. */
int       zt_saver_pending(const zt_saver *s);
int       zt_saver_local_busy(const zt_saver *s);
void      zt_saver_commit_if_done(zt_saver *s, int64_t any_busy);
/* Collective: wait for and commit any pending save. */
void      zt_saver_finish(zt_saver *s);
uint64_t  zt_saver_last_step(const zt_saver *s);   /* last committed step, or UINT64_MAX */

/* Collective. Resume per cfg->ckpt_resume; on success loads params and
 * optimizer state into e and sets *step; 0 = resumed, 1 = fresh start.
 * Unusable checkpoints -> prints why and exits ZT_EXIT_CKPT. `first`
 * (rank 0, may be NULL): the candidate zt_resume_pick already opened (at
 * first_path), tried first so that the checkpoint is opened once; zt_resume
 * owns it. */
int       zt_resume(const zt_config *cfg, zt_engine *e, int rank, zt_ck_reader *first, const char *first_path,
                    uint64_t *step);
/* Rank 0: the checkpoint a resume would start from (ckpt.resume names a step
 * dir, or the newest one that opens under the root), opened fully, its path
 * in path[cap]; NULL when there is none or none opens (zt_resume then says
 * why). Resolution notes ("skipping ...", "falling back to ...") are logged. */
zt_ck_reader *zt_resume_pick(const zt_config *cfg, char *path, size_t cap);
#endif
