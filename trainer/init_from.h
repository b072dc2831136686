/* init_from.h — ckpt.init_from: start training from someone's weights.
 * PATH is a safetensors export (a directory holding model.safetensors, or
 * the file itself; Hugging Face GPT2LMHeadModel names, with or without the
 * "transformer." prefix, F32/F16/BF16) or a ztrain checkpoint (a step dir or
 * a root with `latest`, any W and stage). Weights only: the optimizer state
 * is fresh and the run starts at step 0. */
#ifndef ZT_INIT_FROM_H
#define ZT_INIT_FROM_H
#include "config.h"   /* zt_config */
#include "engine.h"   /* zt_engine */

/* Collective over the engine's ranks. Each rank reads its own partition.
 * Any shape or vocabulary difference: one error line each (rank 0), exit 2
 * on every rank; an unreadable source: exit 5. */
void zt_init_from(const zt_config *cfg, zt_engine *e, int rank);
#endif
