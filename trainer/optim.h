/* optim.h — optimizers and LR schedule as free functions over flat ranges.
 *
 * Everything here is ELEMENTWISE: element i of p and of each slot depends only
 * on element i of p, g and the slots (plus scalars), so a ZeRO partition of
 * any size gives bit-identical values to the full-buffer step. The engine
 * calls zt_optim_step once per tensor segment it owns, with
 * wd = zt_optim_tensor_wd(cfg, tensor) (0 for 1-D tensors: biases, LN gains).
 *
 * Semantics match PyTorch 1.13 (torch.optim.SGD / torch.optim.AdamW) so
 * results can be compared against it:
 *   SGD:   g' = gscale·g + wd·p                    (coupled L2, as torch.SGD)
 *          buf = momentum·buf + g'                 (first step: buf = g', same with buf = 0)
 *          u = nesterov ? g' + momentum·buf : buf  (momentum 0: u = g', no slot)
 *          p -= lr·u
 *   AdamW: p *= 1 - lr·wd                          (decoupled)
 *          m = β1·m + (1-β1)·g';  v = β2·v + (1-β2)·g'²   with g' = gscale·g
 *          p -= (lr / (1-β1^t)) · m / (√v / √(1-β2^t) + eps)
 * Slots are zero-initialised by the caller (new run) or restored (resume).
 */
#ifndef ZT_OPTIM_H
#define ZT_OPTIM_H
#include <stddef.h>
#include <stdint.h>
#include "model.h"   /* zt_tensor */

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ZT_OPTIM_SGD = 0, ZT_OPTIM_ADAMW = 1 } zt_optim_kind;
typedef enum { ZT_LR_COSINE = 0, ZT_LR_CONST = 1, ZT_LR_LINEAR = 2, ZT_LR_WSD = 3 } zt_lr_sched;

#define ZT_OPTIM_MAX_SLOTS 2

typedef struct zt_optim_cfg {
    zt_optim_kind kind;
    float    lr;             /* peak learning rate */
    float    weight_decay;   /* for 2-D tensors; see zt_optim_tensor_wd */
    /* sgd */
    float    momentum;       /* 0: plain SGD, no state */
    int      nesterov;       /* needs momentum > 0 */
    /* adamw */
    float    beta1, beta2, eps;
    /* schedule: linear warmup over warmup_steps, then the decay of `sched`
     * down to lr·min_lr_frac at total_steps (see zt_lr_at) */
    zt_lr_sched sched;
    uint64_t warmup_steps;
    uint64_t total_steps;
    float    min_lr_frac;
    /* global-norm clipping of the gradient (0 = off), see zt_clip_scale */
    float    grad_clip;
    /* wsd: fraction of the steps after warmup spent decaying (the rest is flat) */
    float    decay_frac;
} zt_optim_cfg;

/* Defaults: sgd: lr 0.1, momentum 0.9, nesterov 0, wd 0;
 * adamw: lr 1e-3, betas (0.9, 0.95), eps 1e-8, wd 0.1.
 * Both: cosine, warmup 0, total_steps 0 (= flat), min_lr_frac 0.1, clip 1.0,
 * decay_frac 0.2. */
void zt_optim_defaults(zt_optim_cfg *c, zt_optim_kind kind);
/* "sgd" | "adamw" -> 0 and *kind; -1 for anything else. */
int  zt_optim_kind_parse(const char *name, zt_optim_kind *kind);
const char *zt_optim_kind_name(zt_optim_kind kind);
/* "cosine" | "linear" | "constant" (or "const") | "wsd" -> 0; -1 otherwise. */
int  zt_lr_sched_parse(const char *name, zt_lr_sched *s);
const char *zt_lr_sched_name(zt_lr_sched s);
/* Returns NULL if the config is valid, else a static message naming the bad field. */
const char *zt_optim_validate(const zt_optim_cfg *c);

/* Optimizer state: n_slots fp32 buffers, each the size of the parameters.
 * sgd: 0 slots (momentum 0) or 1 "momentum"; adamw: 2, "m" and "v". */
int         zt_optim_n_slots(const zt_optim_cfg *c);
const char *zt_optim_slot_name(const zt_optim_cfg *c, int i);

/* Learning rate for the update with 0-based index `step` (the update that
 * turns the parameters after `step` updates into those after step+1).
 * With f = min_lr_frac, w = warmup_steps, T = total_steps,
 * x = (step-w)/(T-w) the fraction of the decay phase done:
 *   step < w:         lr·(step+1)/w                       (every schedule)
 *   cosine:           lr·(f + (1-f)·½(1+cos(π·x)))
 *   linear:           lr·(f + (1-f)·(1-x))
 *   wsd:              lr while step < d = T - decay_frac·(T-w) (warmup-stable),
 *                     then lr·(f + (1-f)·(1-(step-d)/(T-d)))  (linear decay)
 *   constant:         lr
 *   step ≥ T:         lr·f (cosine, linear, wsd)
 *   T ≤ w:            lr after warmup (no decay phase). */
float zt_lr_at(const zt_optim_cfg *c, uint64_t step);

/* One update of n elements. t = 1-based update count (AdamW bias correction;
 * t = step+1 for the zt_lr_at step). lr from zt_lr_at; gscale multiplies the
 * gradient (the clip coefficient from zt_clip_scale, 1 for none); wd from
 * zt_optim_tensor_wd. slots[i] points at slot i's n elements for this range.
 * g is not modified. */
void zt_optim_step(const zt_optim_cfg *c, uint64_t t, float lr, float gscale,
                   float *p, const float *g, float *const *slots, size_t n, float wd);

/* Σ g² over n elements, accumulated in double. Under ZeRO, sum the partitions'
 * values (all-reduce) and pass the total to zt_clip_scale. */
double zt_grad_sumsq(const float *g, size_t n);
/* Global norm from Σg²: sqrt(sumsq). */
double zt_grad_norm(double sumsq);
/* PyTorch clip_grad_norm_: min(1, grad_clip / (norm + 1e-6)); 1 when clip off. */
float  zt_clip_scale(const zt_optim_cfg *c, double sumsq);

/* Weight decay of a tensor: c->weight_decay for 2-D tensors (matrices and
 * embeddings), 0 for 1-D ones (biases, LayerNorm gains/biases). */
float zt_optim_tensor_wd(const zt_optim_cfg *c, const zt_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
