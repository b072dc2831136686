/* engine_impl.h — private to trainer/engine*.c: the engine's state, the
 * in-flight request record and its checks, and what engine_gather.c (where
 * each unit's parameters come from before compute) offers engine.c. Nothing
 * else includes this: other modules use engine.h. */
#ifndef ZT_ENGINE_IMPL_H
#define ZT_ENGINE_IMPL_H
#include <stdint.h>       /* int64_t, uint16_t, uint64_t */
#include <stdio.h>        /* snprintf */
#include "engine.h"       /* the public types */
#include "exact.h"        /* zt_fx_scale */
#include "partition.h"    /* zt_plan */

/* A request in flight, with what the message names if it fails. */
typedef struct inflight { zt_req *q; const char *op, *what; int idx; int buf; } inflight;

struct zt_engine {
    zt_model *m;
    zt_comm  *c;            /* data: the model's memory space (mpi or nccl) */
    zt_comm  *ctl;          /* control scalars in host memory (mpi; == c on cpu) */
    const struct zt_ops *ops;  /* the model's op table: where every buffer lives */
    zt_optim_cfg oc;
    int       W, r, stage;
    size_t    P, plo, plen;
    float    *params;       /* stage 0-2: P elements; stage 3: NULL */
    float    *ppart;        /* own partition of params (stage 0-2: params+plo) */
    float    *grads;        /* stage 0/1: P; else NULL */
    float    *gpart;        /* own partition of grads (stage 0/1: grads+plo) */
    int       nslots;
    float    *slots[4];     /* stage 0: P each, else plen each */
    size_t    slot_base;    /* flat index of slots[i][0]: 0 (stage 0) or plo */
    zt_plan   plan;         /* buckets, and what each rank sends/receives of them */
    zt_req  **ddp;                /* [nb] DDP/ZeRO-1: requests in flight */
    float    *bbuf[2];            /* stage 2/3: gradients of a bucket (max_bucket) */
    float    *rbuf[2];            /* stage 2/3: my reduced share of it (max_my_bucket) */
    float    *ubuf[2];            /* stage 3: gathered unit params, in use + prefetched */
    int       ulow;               /* stage 3: units 0..ulow-1 are still in ubuf[u & 1] (after a
                                   * backward, or unit 0 after an update, until the parameters
                                   * change) */
    /* [U] stage 1/2: the update launches unit u's parameter gather into the
     * full buffer as it finishes the unit; the next forward waits for each
     * just before the unit, any other reader for all at once
     * (zt_eng_params_current). NULL q: that unit is current. */
    inflight *preq;
    zt_mem    mem;
    /* called right before each optimizer update (async checkpoint snapshot) */
    zt_engine_hook before_update;
    void     *before_update_arg;
    /* micro-batches: k_glob per step over all ranks (0: unknown, every rank
     * has the same count); under ZeRO-2/3 every rank runs `rounds` of them,
     * padding with zero-gradient repeats (collectives per micro-batch) */
    int       k_glob, rounds;
    /* train.exact (exact.h): per-tensor fixed-point gradient sums */
    int       exact;
    uint64_t  terms;              /* bound on the terms of any sum this step (exact_terms) */
    int64_t  *iacc;               /* stage 0/1: P; stage 2/3: plen */
    int64_t  *ibuf[2], *irbuf[2]; /* stage 2/3: a bucket's terms, my share of their sum */
    zt_fx_scale *tsc;             /* [n_tensors] scale of iacc (identical on every rank) */
    zt_fx_scale *bsc[2];          /* [n_tensors] stage 2/3: agreed scale of the bucket in flight */
    zt_fx_scale *lsc;             /* [n_tensors] this rank's own term scales (before agreeing) */
    int64_t  *xch;                /* [2*(n_tensors+nb)] scale exchanges (all-reduce MAX) */
    zt_req  **xq;                 /* [nb] stage 0/1: a bucket's scale exchange in flight */
    int64_t   xflags[2];          /* stage 0/1: overflow / non-finite tensor + 1, this rank */
    double    t_exposed;          /* accumulated time blocked on communication */
    double    bytes;              /* payload handed to collectives this step (zt_step_stats) */
    uint64_t  step;               /* step being computed (1-based), for messages */
    int       wfresh;             /* parameters changed since the op table's bf16 copy */
    /* train.grad_comm = bf16: gradients travel and are summed in bf16 */
    int       grad_bf16;
    uint16_t *g16;                /* stage 0/1: P, the buckets' bf16 copies */
    uint16_t *b16[2], *r16[2];    /* stage 2/3: bf16 of bbuf / rbuf */
    double   *stl, *stg;          /* model buffers: this rank's micro-batch statistics, all ranks' */
    int       st_k;               /* micro-batches stl/stg are sized for */
    size_t   *st_counts;          /* per rank: its micro-batches x n_stats */
};

/* A collective that fails ends the job (zt_comm_fatal, exit 6): the line names
 * the rank, the operation, what it carried (bucket / unit number) and the step;
 * the peers end on the comm watchdog (timeout or the launcher's notice). */
static inline _Noreturn void step_failed(const zt_engine *e, const char *op, const char *what, int idx) {
    char w[96], when[48];
    if (idx >= 0) snprintf(w, sizeof w, "%s %d", what, idx); else snprintf(w, sizeof w, "%s", what);
    snprintf(when, sizeof when, "at step %llu", (unsigned long long)e->step);
    /* the data comm carries most collectives; the control comm the scalars */
    zt_comm_fatal(*zt_comm_error(e->c) || e->ctl == e->c ? e->c : e->ctl, op, w, when);
}
/* stepCheck(e, rc, op, what, idx): a blocking collective's (or a wait's)
 * return code; stepReqCheck: an async one's request, NULL if it did not
 * start. idx < 0: no bucket/unit number. */
#define stepCheck(e, rc, op, what, idx) do { if ((rc) != 0) step_failed(e, op, what, idx); } while (0)
#define stepReqCheck(e, q, op, what, idx) do { if ((q) == NULL) step_failed(e, op, what, idx); } while (0)

/* Wait for f (nothing if empty); the time blocked counts as exposed; st (may
 * be NULL) gets the op's wire start/end for the step's timeline. */
static inline void wait_req(zt_engine *e, inflight *f, zt_step_stats *st) {
    if (!f->q) return;
    double t0 = zt_now(), ts = 0, te = 0;
    int rc = zt_wait_t(f->q, &ts, &te);
    f->q = NULL;
    stepCheck(e, rc, f->op, f->what, f->idx);
    e->t_exposed += zt_now() - t0;
    if (st) {
        if (st->t_first_comm == 0 || ts < st->t_first_comm) st->t_first_comm = ts;
        if (te > st->t_last_comm_end) st->t_last_comm_end = te;
    }
}

/* ---- engine_gather.c ---------------------------------------------------- */
/* Launch the gather of unit u's parameters into dst (ZeRO-1/2: params +
 * unit_off[u], in place; ZeRO-3: a ubuf). */
inflight zt_eng_gather_unit(zt_engine *e, int u, float *dst);
/* A bf16 op table's copy of unit u, whose parameters pu are final. */
void zt_eng_weights_ready(zt_engine *e, int u, const float *pu);
/* After the optimizer or a load: every unit's bf16 copy and ZeRO-3's kept
 * units are out of date. */
void zt_eng_params_changed(zt_engine *e);
/* ZeRO-1/2: the full parameter buffer made current (collective; nothing to
 * do unless the parameters changed since the last forward). */
void zt_eng_params_current(zt_engine *e);
/* After an update of this rank's partition (ZeRO, unit 0 gathered already):
 * unit 0 is current (ZeRO-1/2: in params; ZeRO-3: in ubuf[0]). */
void zt_eng_unit0_current(zt_engine *e);
/* Forward through every unit, each one's parameters gathered first. */
void zt_eng_forward_all(zt_engine *e);
#endif
