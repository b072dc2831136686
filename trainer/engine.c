/* engine.c — DDP and ZeRO-1/2/3 steps over one flat fp32 buffer (CPU/MPI).
 * See engine.h for what each stage keeps. Communication is launched per
 * bucket as soon as the bucket's gradients are final and overlaps with the
 * backward of earlier units; time spent blocked in zt_wait is "exposed".
 * Where each unit's parameters come from (gathers, forward): engine_gather.c;
 * the state both share: engine_impl.h. */
#include "engine.h"
#include <stdlib.h>       /* calloc, free, malloc */
#include <string.h>       /* memset */
#include "engine_impl.h"  /* the engine's state; unit gathers and forward (engine_gather.c) */
#include "exact.h"        /* fixed-point sums of train.exact */
#include "ops.h"          /* device op table: memory, add_acc, sumsq, optim_step */
#include "partition.h"    /* zt_plan: buckets and per-rank counts, planned once */
#include "zt_data.h"      /* zt_sampler_share: which micro-batches a rank runs */
#include "zt_launcher.h"  /* exit codes */
#include "zt_log.h"       /* zt_fatal, ztCheck */

/* all state lives in the model's op-table memory (host for cpu, device for cuda) */
static float *ealloc(const zt_ops *o, size_t n, size_t *counter) {
    float *p = o->alloc((n ? n : 1) * sizeof(float));
    ztCheck(p != NULL, ZT_EXIT_INTERNAL, "out of memory allocating %zu floats", n);
    *counter += n * sizeof(float);
    return p;
}

zt_engine *zt_engine_create(zt_model *m, zt_comm *c, zt_comm *ctl, const zt_optim_cfg *oc,
                            int stage, double bucket_mb) {
    zt_engine *e = calloc(1, sizeof *e);
    mallocCheck(e);
    e->m = m; e->c = c; e->ctl = ctl ? ctl : c; e->oc = *oc; e->stage = stage;
    e->ops = m->ops;
    e->W = zt_comm_size(c); e->r = zt_comm_rank(c);
    e->P = m->n_params;
    zt_part(e->P, e->W, e->r, &e->plo, &e->plen);
    e->nslots = zt_optim_n_slots(oc);
    e->wfresh = 1;

    /* buckets and per-rank counts, once: they never change while training */
    size_t cap = (size_t)(bucket_mb * 1024 * 1024 / sizeof(float));
    ztCheck(zt_plan_init(&e->plan, e->P, e->W, e->r, m->n_units, m->unit_off, m->unit_len, cap,
                         stage >= 1) == 0,
            ZT_EXIT_INTERNAL, "out of memory planning %d units over %d ranks", m->n_units, e->W);
    e->mem.plan = e->plan.bytes;
    e->ddp = calloc((size_t)(e->plan.nb ? e->plan.nb : 1), sizeof(zt_req *));
    mallocCheck(e->ddp);
    if (stage == 1 || stage == 2) {
        e->preq = calloc((size_t)(m->n_units ? m->n_units : 1), sizeof *e->preq);
        mallocCheck(e->preq);
    }

    size_t P = e->P, pl = e->plen;
    if (stage <= 2) { e->params = ealloc(e->ops, P, &e->mem.params); e->ppart = e->params + e->plo; }
    else            { e->ppart = ealloc(e->ops, pl, &e->mem.params); }
    if (stage <= 1) { e->grads = ealloc(e->ops, P, &e->mem.grads); e->gpart = e->grads + e->plo; }
    else            { e->gpart = ealloc(e->ops, pl, &e->mem.grads); }
    size_t sl = stage == 0 ? P : pl;
    e->slot_base = stage == 0 ? 0 : e->plo;
    for (int i = 0; i < e->nslots; i++) e->slots[i] = ealloc(e->ops, sl, &e->mem.optim);
    /* two of each: one bucket computes while the previous one is reduced,
     * one unit computes while the next is gathered */
    if (stage >= 2)
        for (int i = 0; i < 2; i++) {
            e->bbuf[i] = ealloc(e->ops, e->plan.max_bucket, &e->mem.transient);
            e->rbuf[i] = ealloc(e->ops, e->plan.max_my_bucket, &e->mem.transient);
        }
    if (stage == 3)
        for (int i = 0; i < 2; i++) e->ubuf[i] = ealloc(e->ops, e->plan.max_unit, &e->mem.transient);
    return e;
}

void zt_engine_destroy(zt_engine *e) {
    if (!e) return;
    const zt_ops *o = e->ops;
    zt_eng_params_current(e);   /* gathers the last update launched */
    if (o->weights_ready) o->weights_ready(NULL, 0);   /* no bf16 copy outlives the buffers */
    if (e->stage <= 2) o->free(e->params); else o->free(e->ppart);
    if (e->stage <= 1) o->free(e->grads); else o->free(e->gpart);
    for (int i = 0; i < e->nslots; i++) o->free(e->slots[i]);
    for (int i = 0; i < 2; i++) { o->free(e->bbuf[i]); o->free(e->rbuf[i]); o->free(e->ubuf[i]); }
    zt_plan_free(&e->plan);
    free(e->g16);
    for (int i = 0; i < 2; i++) { free(e->b16[i]); free(e->r16[i]); }
    free(e->ddp); free(e->preq);
    free(e->iacc); free(e->tsc); free(e->lsc); free(e->bsc[0]); free(e->bsc[1]); free(e->xch); free(e->xq);
    for (int i = 0; i < 2; i++) { free(e->ibuf[i]); free(e->irbuf[i]); }
    free(e->stl); free(e->stg); free(e->st_counts);
    free(e);
}

void zt_engine_init_params(zt_engine *e, uint64_t seed) {
    size_t lo = e->stage <= 2 ? 0 : e->plo, n = e->stage <= 2 ? e->P : e->plen;
    float *dst = e->stage <= 2 ? e->params : e->ppart;
    if (!e->ops->device) { zt_model_init_range(e->m, seed, lo, lo + n, dst); return; }
    float *h = malloc((n ? n : 1) * sizeof(float));
    mallocCheck(h);
    zt_model_init_range(e->m, seed, lo, lo + n, h);
    e->ops->to_device(dst, h, n * sizeof(float));
    free(h);
}

void zt_engine_formula(size_t P, int W, int stage, int S, zt_mem *o) {
    double p = (double)P * 4, part = p / W;
    o->params = (size_t)(stage == 3 ? part : p);
    o->grads  = (size_t)(stage >= 2 ? part : p);
    o->optim  = (size_t)(S * (stage >= 1 ? part : p));
    o->transient = 0; o->ckpt = 0; o->plan = 0;
}

/* ---- gradient reduction per bucket ----------------------------------- */
static void exact_merge_share(zt_engine *e, int b, int buf);
static void exact_quantize_bucket(zt_engine *e, int b, int buf);
static void exact_ddp_bucket(zt_engine *e, int b, zt_step_stats *st);

/* grad_comm = bf16 (host memory): round to nearest even, and back */
static void to_bf16(uint16_t *d, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] = zt_f32_to_bf16(x[i]);
}
static void from_bf16(float *x, const uint16_t *d, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = zt_bf16_to_f32(d[i]);
}

void zt_engine_set_grad_comm_bf16(zt_engine *e) {
    ztCheck(!e->ops->device, ZT_EXIT_CONFIG, "train.grad_comm = bf16 is implemented for train.device = cpu only");
    e->grad_bf16 = 1;
    size_t n[2] = { e->plan.max_bucket, e->plan.max_my_bucket };
    if (e->stage <= 1) {
        e->g16 = calloc(e->P ? e->P : 1, sizeof(uint16_t));
        mallocCheck(e->g16);
        e->mem.transient += e->P * sizeof(uint16_t);
    } else
        for (int i = 0; i < 2; i++) {
            e->b16[i] = calloc(n[0] ? n[0] : 1, sizeof(uint16_t));
            e->r16[i] = calloc(n[1] ? n[1] : 1, sizeof(uint16_t));
            mallocCheck(e->b16[i]); mallocCheck(e->r16[i]);
            e->mem.transient += (n[0] + n[1]) * sizeof(uint16_t);
        }
}
static void finish_rs(zt_engine *e, inflight *f, zt_step_stats *st) {
    if (!f->q) return;
    wait_req(e, f, st);
    if (e->exact && e->stage >= 2) exact_merge_share(e, f->idx, f->buf);
    else if (e->stage >= 2) {   /* accumulate my part of the bucket into gpart */
        const zt_range_plan *bp = &e->plan.bucket[f->idx];
        if (e->grad_bf16) from_bf16(e->rbuf[f->buf], e->r16[f->buf], bp->my_len);
        e->ops->add_acc(e->gpart + (bp->my_lo - e->plo), e->rbuf[f->buf], bp->my_len);
    }
}

static inflight launch_bucket(zt_engine *e, int b, int buf) {
    const zt_range_plan *bp = &e->plan.bucket[b];
    inflight f = { NULL, NULL, "gradients of bucket", b, buf };
    e->bytes += (double)bp->len * (e->exact ? sizeof(int64_t) : sizeof(float));
    if (e->stage <= 1) {
        f.op = "allreduce";
        if (e->grad_bf16) {
            to_bf16(e->g16 + bp->off, e->grads + bp->off, bp->len);
            f.q = zt_iallreduce(e->c, e->g16 + bp->off, e->g16 + bp->off, bp->len, ZT_BF16, ZT_SUM);
        } else
        f.q = zt_iallreduce(e->c, e->grads + bp->off, e->grads + bp->off, bp->len, ZT_F32, ZT_SUM);
    } else if (e->exact) {   /* the bucket's terms as agreed-scale int64 (exact.h) */
        exact_quantize_bucket(e, b, buf);
        f.op = "reduce_scatter_v";
        f.q = zt_ireduce_scatter_v(e->c, e->ibuf[buf], e->irbuf[buf], bp->counts, ZT_I64, ZT_SUM);
    } else {
        f.op = "reduce_scatter_v";
        if (e->grad_bf16) {
            to_bf16(e->b16[buf], e->bbuf[buf], bp->len);
            f.q = zt_ireduce_scatter_v(e->c, e->b16[buf], e->r16[buf], bp->counts, ZT_BF16, ZT_SUM);
        } else
        f.q = zt_ireduce_scatter_v(e->c, e->bbuf[buf], e->rbuf[buf], bp->counts, ZT_F32, ZT_SUM);
    }
    stepReqCheck(e, f.q, f.op, f.what, b);
    return f;
}

/* backward through all units of one micro-batch; `reduce`: launch bucket
 * communication as buckets complete (DDP/ZeRO-1: last micro-batch only;
 * ZeRO-2/3: every micro-batch, since they keep no full gradient buffer). */
static void backward_all(zt_engine *e, int reduce, zt_step_stats *st) {
    zt_model *m = e->m; int U = m->n_units;
    const zt_plan *pl = &e->plan;
    inflight fl[2] = {{0}};
    zt_req **ddp = e->ddp; int nddp = 0;   /* DDP/ZeRO-1: all buckets in flight */
    int bslot = 0;           /* which bbuf the current bucket uses (stage 2/3) */
    inflight pend = {0};     /* ZeRO-3 prefetch of the next unit down */
    for (int u = U - 1; u >= 0; u--) {
        int b = pl->unit_bucket[u];
        if (e->stage >= 2 && u == pl->b_hi[b]) {
            /* new bucket: its scratch must be free (wait the bucket that used it) */
            finish_rs(e, &fl[bslot], st);
            e->ops->zero(e->bbuf[bslot], pl->bucket[b].len * sizeof(float));
        }
        const float *pu;
        if (e->stage == 3) {
            /* zt_eng_forward_all left units U-1 and U-2 in ubuf (their bf16 copies
             * still registered): re-gathering starts at U-3, one unit ahead */
            if (u < U - 2) { wait_req(e, &pend, NULL); zt_eng_weights_ready(e, u, e->ubuf[u & 1]); }
            if (u > 0 && u - 1 < U - 2) pend = zt_eng_gather_unit(e, u - 1, e->ubuf[(u - 1) & 1]);
            pu = e->ubuf[u & 1];
        } else pu = e->params + m->unit_off[u];
        float *gu = e->stage <= 1 ? e->grads + m->unit_off[u]
                                  : e->bbuf[bslot] + (m->unit_off[u] - pl->bucket[b].off);
        m->backward(m, u, pu, gu);
        if (u == pl->b_lo[b] && reduce) {
            if (e->exact && e->stage <= 1) exact_ddp_bucket(e, b, st);
            else if (e->stage <= 1) ddp[nddp++] = launch_bucket(e, b, 0).q;
            else { fl[bslot] = launch_bucket(e, b, bslot); bslot ^= 1; }
        }
    }
    if (st) st->t_backward_end = zt_now();
    /* DDP buckets were launched in order b = 0, 1, ...: request i is bucket i */
    for (int i = 0; i < nddp; i++) {
        inflight f = { ddp[i], "allreduce", "gradients of bucket", i, 0 };
        wait_req(e, &f, st);
        if (e->grad_bf16) from_bf16(e->grads + pl->bucket[i].off, e->g16 + pl->bucket[i].off, pl->bucket[i].len);
    }
    finish_rs(e, &fl[bslot], st); finish_rs(e, &fl[bslot ^ 1], st);   /* older first */
    wait_req(e, &pend, NULL);
    if (e->stage == 3) e->ulow = U < 2 ? U : 2;   /* units 1 and 0 were used last */
}

/* ---- optimizer over [lo, hi) of the flat space, per tensor (decay on 2-D) */
static void optimize_range(zt_engine *e, size_t lo, size_t hi, uint64_t t, float lr, float gscale,
                           float *p, const float *g /* both indexed from lo */) {
    const zt_model *m = e->m;
    for (int i = 0; i < m->n_tensors; i++) {
        const zt_tensor *T = &m->tensors[i];
        size_t a = T->off > lo ? T->off : lo, b = T->off + T->numel < hi ? T->off + T->numel : hi;
        if (b <= a || T->buffer) continue;
        float *sl[4];
        for (int s = 0; s < e->nslots; s++) sl[s] = e->slots[s] + (a - e->slot_base);
        e->ops->optim_step(&e->oc, t, lr, gscale, p + (a - lo), g + (a - lo), sl, b - a,
                           zt_optim_tensor_wd(&e->oc, T));
    }
}

/* ---- train.exact: fixed-point gradient sums (exact.h) ------------------
 * Every micro-batch's gradient of every tensor is one term, quantized at its
 * own scale; sums are int64 at the finest lsb of their terms, so they do not
 * depend on which rank summed which micro-batches. Scales are agreed with an
 * all-reduce MAX of (e, -lsb) per tensor, which is exact and order-free; the
 * same all-reduce carries the overflow / non-finite flags, so every rank
 * stops at the same point with the same message. */

/* an upper bound on the terms of any sum: the step's micro-batches */
static uint64_t exact_terms(const zt_engine *e, int k) {
    return e->k_glob > 0 ? (uint64_t)e->k_glob : (uint64_t)k * (uint64_t)e->W;
}

/* tensors [*t0, *t1) of bucket b (tensors lie inside units, in offset order) */
static void bucket_tensors(const zt_engine *e, int b, int *t0, int *t1) {
    const zt_model *m = e->m;
    int lo = e->plan.b_lo[b], hi = e->plan.b_hi[b], a = m->n_tensors, z = 0;
    for (int t = 0; t < m->n_tensors; t++)
        if (m->tensors[t].unit >= lo && m->tensors[t].unit <= hi) { if (t < a) a = t; z = t + 1; }
    *t0 = a < z ? a : 0; *t1 = a < z ? z : 0;
}

static _Noreturn void exact_failed(const zt_engine *e, int64_t over, int64_t bad) {
    const zt_model *m = e->m;
    if (bad)
        zt_fatal(ZT_EXIT_INTERNAL, "train.exact: non-finite gradient in tensor %s at step %llu (the loss "
                 "diverged; lower optim.lr or enable optim.grad_clip)", m->tensors[bad - 1].name,
                 (unsigned long long)e->step);
    zt_fatal(ZT_EXIT_INTERNAL, "train.exact: fixed-point range exceeded for tensor %s at step %llu: its "
             "micro-batch gradients differ in scale by more than the %d - %d binary orders int64 leaves; "
             "nothing was wrapped. Train with train.exact = false (sums rounded in float)",
             m->tensors[over - 1].name, (unsigned long long)e->step, 62 - ZT_FX_BITS,
             zt_fx_log2ceil((uint64_t)(e->k_glob > 0 ? e->k_glob : 1)));
}

/* Agree on the scales of tensors [t0, t1): loc (this rank's) -> out (max e,
 * min lsb over ranks); flags[0] = overflow tensor + 1, flags[1] = non-finite
 * tensor + 1 (0: none), agreed the same way. A set flag ends the job. */
static void exact_agree(zt_engine *e, const zt_fx_scale *loc, zt_fx_scale *out, int t0, int t1,
                        int64_t flags[2]) {
    int n = t1 - t0; int64_t *x = e->xch;
    for (int i = 0; i < n; i++) { x[2 * i] = loc[t0 + i].e; x[2 * i + 1] = -(int64_t)loc[t0 + i].lsb; }
    x[2 * n] = flags[0]; x[2 * n + 1] = flags[1];
    double tw = zt_now();
    e->bytes += (double)(2 * n + 2) * sizeof(int64_t);
    stepCheck(e, zt_allreduce(e->ctl, x, x, (size_t)(2 * n + 2), ZT_I64, ZT_MAX), "allreduce",
              "exact gradient scales", -1);
    e->t_exposed += zt_now() - tw;
    if (x[2 * n] || x[2 * n + 1]) exact_failed(e, x[2 * n], x[2 * n + 1]);
    for (int i = 0; i < n; i++) out[t0 + i] = (zt_fx_scale){ (int)x[2 * i], (int)-x[2 * i + 1] };
}

/* stage 2/3: quantize bucket b's terms (bbuf[buf], one micro-batch) into
 * ibuf[buf] at the scale all ranks agree on for this round */
static void exact_quantize_bucket(zt_engine *e, int b, int buf) {
    const zt_model *m = e->m;
    const zt_range_plan *bp = &e->plan.bucket[b];
    uint64_t terms = e->terms;
    int t0, t1; bucket_tensors(e, b, &t0, &t1);
    int64_t flags[2] = { 0, 0 };
    for (int t = t0; t < t1; t++) {
        const zt_tensor *T = &m->tensors[t];
        if (zt_fx_term_scale(e->bbuf[buf] + (T->off - bp->off), T->numel, &e->lsc[t]) && !flags[1])
            flags[1] = t + 1;
    }
    zt_fx_scale *g = e->bsc[buf];
    exact_agree(e, e->lsc, g, t0, t1, flags);
    for (int t = t0; t < t1; t++)   /* agreed inputs: every rank decides alike */
        if (!zt_fx_fits(zt_fx_merge(e->tsc[t], g[t]), terms)) exact_failed(e, t + 1, 0);
    for (int t = t0; t < t1; t++) {
        const zt_tensor *T = &m->tensors[t];
        int64_t *q = e->ibuf[buf] + (T->off - bp->off);
        if (zt_fx_is_empty(e->lsc[t])) memset(q, 0, T->numel * sizeof *q);
        else zt_fx_quantize(e->bbuf[buf] + (T->off - bp->off), T->numel, e->lsc[t].lsb,
                            e->lsc[t].lsb - g[t].lsb, q);
    }
}

/* stage 2/3: my reduced share of bucket b (irbuf[buf]) into iacc */
static void exact_merge_share(zt_engine *e, int b, int buf) {
    const zt_model *m = e->m;
    const zt_range_plan *bp = &e->plan.bucket[b];
    int t0, t1; bucket_tensors(e, b, &t0, &t1);
    for (int t = t0; t < t1; t++) {
        const zt_tensor *T = &m->tensors[t];
        zt_fx_scale g = e->bsc[buf][t], a = e->tsc[t];
        if (zt_fx_is_empty(g)) continue;
        zt_fx_scale c = zt_fx_merge(a, g);
        size_t lo = T->off > bp->my_lo ? T->off : bp->my_lo;
        size_t hi = T->off + T->numel < bp->my_lo + bp->my_len ? T->off + T->numel : bp->my_lo + bp->my_len;
        if (hi > lo) {
            int64_t *acc = e->iacc + (lo - e->plo);
            const int64_t *q = e->irbuf[buf] + (lo - bp->my_lo);
            if (zt_fx_is_empty(a)) memcpy(acc, q, (hi - lo) * sizeof *acc);
            else zt_fx_add_shifted(acc, a.lsb - c.lsb, q, g.lsb - c.lsb, hi - lo);
        }
        e->tsc[t] = c;
    }
}

/* iacc over flat [lo, lo+n) (iacc[0] is flat index base) -> float out */
static void exact_to_float(zt_engine *e, size_t base, size_t lo, size_t n, float *out) {
    const zt_model *m = e->m;
    for (int t = 0; t < m->n_tensors; t++) {
        const zt_tensor *T = &m->tensors[t];
        size_t a = T->off > lo ? T->off : lo, z = T->off + T->numel < lo + n ? T->off + T->numel : lo + n;
        if (z <= a) continue;
        if (zt_fx_is_empty(e->tsc[t])) memset(out + (a - lo), 0, (z - a) * sizeof(float));
        else zt_fx_to_float(e->iacc + (a - base), z - a, e->tsc[t].lsb, out + (a - lo));
    }
}

/* stage 0/1: local fixed-point sums of tensors [t0, t1) += this micro-batch */
static void exact_accumulate(zt_engine *e, int t0, int t1) {
    const zt_model *m = e->m;
    for (int t = t0; t < t1 && !e->xflags[0] && !e->xflags[1]; t++) {
        const zt_tensor *T = &m->tensors[t];
        int rc = zt_fx_accumulate(e->iacc + T->off, &e->tsc[t], e->grads + T->off, T->numel, e->terms);
        if (rc) e->xflags[rc == ZT_FX_NONFINITE] = t + 1;
    }
}

/* stage 0/1, last micro-batch, bucket b's gradients final: finish its local
 * sums and start agreeing on its scales (all-reduce MAX, async). Bucket b-1's
 * agreement, started one bucket earlier, is then awaited and its int64 SUM
 * launched: the reduction overlaps the backward, one bucket behind. */
/* Bucket b's 2 (tensors + 1) slots of xch, disjoint from every other
 * bucket's: buckets are numbered from the last units down, so bucket b has
 * nb-1-b buckets of lower tensors before it. */
static int64_t *exact_slots(zt_engine *e, int b, int t0) {
    return e->xch + 2 * t0 + 2 * (e->plan.nb - 1 - b);
}

static void exact_ddp_launch(zt_engine *e, int b, zt_step_stats *st);
static void exact_ddp_bucket(zt_engine *e, int b, zt_step_stats *st) {
    int t0, t1; bucket_tensors(e, b, &t0, &t1);
    exact_accumulate(e, t0, t1);
    int n = t1 - t0; int64_t *x = exact_slots(e, b, t0);
    for (int i = 0; i < n; i++) { x[2 * i] = e->tsc[t0 + i].e; x[2 * i + 1] = -(int64_t)e->tsc[t0 + i].lsb; }
    x[2 * n] = e->xflags[0]; x[2 * n + 1] = e->xflags[1];
    e->bytes += (double)(2 * n + 2) * sizeof(int64_t);
    e->xq[b] = zt_iallreduce(e->c, x, x, (size_t)(2 * n + 2), ZT_I64, ZT_MAX);
    stepReqCheck(e, e->xq[b], "allreduce", "exact gradient scales of bucket", b);
    if (b > 0) exact_ddp_launch(e, b - 1, st);
}

static void exact_ddp_launch(zt_engine *e, int b, zt_step_stats *st) {
    const zt_model *m = e->m;
    inflight f = { e->xq[b], "allreduce", "exact gradient scales of bucket", b, 0 };
    wait_req(e, &f, st);
    int t0, t1; bucket_tensors(e, b, &t0, &t1);
    int n = t1 - t0; const int64_t *x = exact_slots(e, b, t0);
    if (x[2 * n] || x[2 * n + 1]) exact_failed(e, x[2 * n], x[2 * n + 1]);
    for (int t = t0; t < t1; t++) {   /* agreed: every rank decides alike */
        zt_fx_scale g = { (int)x[2 * (t - t0)], (int)-x[2 * (t - t0) + 1] };
        if (!zt_fx_fits(g, e->terms)) exact_failed(e, t + 1, 0);
        const zt_tensor *T = &m->tensors[t];
        int64_t *acc = e->iacc + T->off;   /* bring this rank's sum to the agreed lsb */
        if (zt_fx_is_empty(e->tsc[t])) memset(acc, 0, T->numel * sizeof *acc);
        else zt_fx_shift(acc, T->numel, e->tsc[t].lsb - g.lsb);
        e->tsc[t] = g;
    }
    const zt_range_plan *bp = &e->plan.bucket[b];
    e->bytes += (double)bp->len * sizeof(int64_t);
    e->ddp[b] = zt_iallreduce(e->c, e->iacc + bp->off, e->iacc + bp->off, bp->len, ZT_I64, ZT_SUM);
    stepReqCheck(e, e->ddp[b], "allreduce", "exact gradients of bucket", b);
}

/* stage 0/1: k micro-batches summed locally in fixed point; the last one's
 * buckets are agreed and all-reduced as they complete (exact_ddp_bucket);
 * then converted once into grads */
static void exact_step_ddp(zt_engine *e, const zt_batch *mb, int k, zt_step_stats *st) {
    zt_model *m = e->m;
    for (int t = 0; t < m->n_tensors; t++) e->tsc[t] = zt_fx_empty();
    e->xflags[0] = e->xflags[1] = 0;
    for (int i = 0; i < k; i++) {
        e->ops->zero(e->grads, e->P * sizeof(float));
        m->set_batch(m, &mb[i]);
        zt_eng_forward_all(e);
        if (m->n_stats) m->batch_stats(m, e->stl + (size_t)i * m->n_stats);
        st->loss_sum += m->loss_sum(m);
        backward_all(e, i == k - 1, st);   /* last: exact_ddp_bucket per bucket */
        if (i < k - 1) exact_accumulate(e, 0, m->n_tensors);
    }
    exact_ddp_launch(e, e->plan.nb - 1, st);
    for (int b = 0; b < e->plan.nb; b++) {
        inflight f = { e->ddp[b], "allreduce", "exact gradients of bucket", b, 0 };
        wait_req(e, &f, st);
    }
    exact_to_float(e, 0, 0, e->P, e->grads);
}

/* Global gradient norm² under train.exact: the largest exponent agreed
 * (MAX), squares summed as integers (exact.h), so the bits do not depend on
 * how the partition splits the gradient. Stage 0/1 hold it all: no comm. */
static double exact_norm2(zt_engine *e) {
    int full = e->stage <= 1;
    const float *g = full ? e->grads : e->gpart;
    size_t n = full ? e->P : e->plen;
    int64_t em = zt_fx_max_exponent(g, n), w[ZT_FX_SQ_WORDS];
    double tw = zt_now();
    if (!full) e->bytes += (1 + ZT_FX_SQ_WORDS) * sizeof(int64_t);
    if (!full) stepCheck(e, zt_allreduce(e->ctl, &em, &em, 1, ZT_I64, ZT_MAX), "allreduce", "grad norm exponent", -1);
    if (em == ZT_FX_EMPTY_E) { e->t_exposed += zt_now() - tw; return 0; }
    int lsb2 = zt_fx_sumsq_lsb((int)em);
    zt_fx_sumsq(g, n, lsb2, w);
    if (!full) stepCheck(e, zt_allreduce(e->ctl, w, w, ZT_FX_SQ_WORDS, ZT_I64, ZT_SUM), "allreduce", "grad norm²", -1);
    e->t_exposed += zt_now() - tw;
    return zt_fx_sumsq_value(w, lsb2);
}

void zt_engine_set_micro_batches(zt_engine *e, int k_glob) {
    e->k_glob = k_glob;
    e->rounds = k_glob > 0 ? (k_glob + e->W - 1) / e->W : 0;
}

void zt_engine_set_exact(zt_engine *e, int on) {
    if (!on || e->exact) return;
    const zt_model *m = e->m;
    ztCheck(!e->ops->device, ZT_EXIT_CONFIG, "train.exact: the %s op table is not supported (cpu only)",
            e->ops->name);
    size_t covered = 0;
    for (int t = 0; t < m->n_tensors; t++) covered += m->tensors[t].numel;
    ztCheck(covered == e->P, ZT_EXIT_INTERNAL, "train.exact: the tensors cover %zu of %zu parameters",
            covered, e->P);
    for (int t = 0; t < m->n_tensors; t++) {   /* bucket_tensors relies on it */
        const zt_tensor *T = &m->tensors[t];
        int u = T->unit;
        ztCheck(u >= 0 && u < m->n_units && (t == 0 || m->tensors[t - 1].unit <= u) &&
                T->off >= m->unit_off[u] && T->off + T->numel <= m->unit_off[u] + m->unit_len[u],
                ZT_EXIT_INTERNAL, "train.exact: tensor %s is not inside unit %d in order", T->name, u);
    }
    size_t nacc = e->stage <= 1 ? e->P : e->plen, nT = (size_t)(m->n_tensors ? m->n_tensors : 1);
    e->iacc = malloc((nacc ? nacc : 1) * sizeof(int64_t)); mallocCheck(e->iacc);
    e->mem.exact += nacc * sizeof(int64_t);
    if (e->stage >= 2)
        for (int i = 0; i < 2; i++) {
            e->ibuf[i] = malloc((e->plan.max_bucket ? e->plan.max_bucket : 1) * sizeof(int64_t));
            e->irbuf[i] = malloc((e->plan.max_my_bucket ? e->plan.max_my_bucket : 1) * sizeof(int64_t));
            mallocCheck(e->ibuf[i]); mallocCheck(e->irbuf[i]);
            e->mem.exact += (e->plan.max_bucket + e->plan.max_my_bucket) * sizeof(int64_t);
        }
    e->tsc = calloc(nT, sizeof *e->tsc); e->lsc = calloc(nT, sizeof *e->lsc);
    e->bsc[0] = calloc(nT, sizeof *e->bsc[0]); e->bsc[1] = calloc(nT, sizeof *e->bsc[1]);
    e->xch = calloc(2 * nT + 2 * (size_t)(e->plan.nb + 1), sizeof *e->xch);
    e->xq = calloc((size_t)(e->plan.nb ? e->plan.nb : 1), sizeof *e->xq);
    mallocCheck(e->xq);
    mallocCheck(e->tsc); mallocCheck(e->lsc); mallocCheck(e->bsc[0]); mallocCheck(e->bsc[1]); mallocCheck(e->xch);
    e->exact = 1;
}

/* Model buffers (BatchNorm running statistics): each micro-batch's
 * statistics, n_stats doubles, in stl; sized once for the run. Rank q holds
 * micro-batches [first_q, first_q + count_q) of the step in global order
 * (zt_sampler_share), so a rank-ordered all-gather_v puts all k_glob of them
 * in global micro-batch order in stg: the same bytes on every rank, at any W. */
static void stats_reserve(zt_engine *e, int k) {
    const int ns = e->m->n_stats;
    int kg = e->k_glob > 0 ? e->k_glob : k * e->W;   /* unset: k on every rank */
    if (e->st_counts && k <= e->st_k) return;
    free(e->stl); free(e->stg); free(e->st_counts);
    e->stl = malloc((size_t)k * ns * sizeof(double));
    e->stg = malloc((size_t)kg * ns * sizeof(double));
    e->st_counts = malloc((size_t)e->W * sizeof *e->st_counts);
    mallocCheck(e->stl); mallocCheck(e->stg); mallocCheck(e->st_counts);
    for (int q = 0; q < e->W; q++) {
        uint64_t first, count = (uint64_t)k;
        if (e->k_glob > 0) zt_sampler_share((uint64_t)e->k_glob, e->W, q, &first, &count);
        e->st_counts[q] = (size_t)count * ns;
    }
    e->st_k = k;
}

/* all-gathers the step's statistics into stg; returns how many micro-batches */
static int stats_gather(zt_engine *e, int k) {
    const int ns = e->m->n_stats;
    ztCheck(e->st_counts[e->r] == (size_t)k * ns, ZT_EXIT_INTERNAL,
            "engine: rank %d ran %d micro-batches, its share is %zu", e->r, k, e->st_counts[e->r] / ns);
    size_t tot = 0;
    for (int q = 0; q < e->W; q++) tot += e->st_counts[q];
    double tw = zt_now();
    e->bytes += (double)tot * sizeof(double);
    stepCheck(e, zt_wait(zt_iallgather_v(e->ctl, e->stl, e->stg, e->st_counts, ZT_F64)),
              "allgather_v", "buffer statistics", -1);
    e->t_exposed += zt_now() - tw;
    return (int)(tot / ns);
}

/* ZeRO: update this rank's partition, and its buffers where the optimizer
 * wrote, unit by unit in unit order. ZeRO-1/2: as soon as this rank's slice
 * of unit u is updated, unit u's gather into the full buffer is launched, so
 * the gathers run behind the rest of the update and the next forward waits
 * for each unit only just before that unit (zt_eng_forward_all). ZeRO-3:
 * unit 0's gather into ubuf[0] runs while the rest is updated and is awaited
 * at the end (the other units are gathered before use). Splitting the range
 * changes no bit: optimizer and update_buffers are elementwise in the flat
 * index, and the pieces are disjoint from the gathers' targets (in place,
 * a rank's own slice is not written). */
static void update_range(zt_engine *e, size_t lo, size_t hi, uint64_t t, float lr, float gscale, int k_all) {
    zt_model *m = e->m;
    if (lo >= hi) return;
    optimize_range(e, lo, hi, t, lr, gscale, e->ppart + (lo - e->plo), e->gpart + (lo - e->plo));
    if (m->n_stats) m->update_buffers(m, e->stg, k_all, lo, hi, e->ppart + (lo - e->plo));
}
static void update_partition(zt_engine *e, uint64_t t, float lr, float gscale, int k_all) {
    zt_model *m = e->m;
    const size_t a = e->plo, z = e->plo + e->plen;
    if (e->stage <= 2) {
        for (int u = 0; u < m->n_units; u++) {
            size_t lo = m->unit_off[u], hi = lo + m->unit_len[u];
            update_range(e, lo > a ? lo : a, hi < z ? hi : z, t, lr, gscale, k_all);
            e->preq[u] = zt_eng_gather_unit(e, u, e->params + m->unit_off[u]);   /* every rank, every unit */
        }
        zt_eng_params_changed(e);   /* readers wait for each unit's gather (preq) */
        return;
    }
    size_t cut = m->unit_off[0] + m->unit_len[0];
    if (cut < a) cut = a;
    if (cut > z) cut = z;
    update_range(e, a, cut, t, lr, gscale, k_all);
    inflight g0 = zt_eng_gather_unit(e, 0, e->ubuf[0]);
    update_range(e, cut, z, t, lr, gscale, k_all);
    wait_req(e, &g0, NULL);
    zt_eng_params_changed(e);   /* the other units: gathered before use */
    zt_eng_unit0_current(e);
}

void zt_engine_step(zt_engine *e, const zt_batch *mb, int k, uint64_t t, float lr,
                    zt_step_stats *st) {
    zt_model *m = e->m;
    memset(st, 0, sizeof *st);
    double t0 = zt_now();
    e->t_exposed = 0; e->bytes = 0;
    e->step = t;
    const int ns = m->n_stats;
    if (ns) stats_reserve(e, k);
    m->training = 1;
    e->terms = exact_terms(e, k);
    if (e->exact && e->stage <= 1) exact_step_ddp(e, mb, k, st);
    else {
        if (e->stage <= 1) e->ops->zero(e->grads, e->P * sizeof(float));
        else if (!e->exact) e->ops->zero(e->gpart, e->plen * sizeof(float));
        else for (int i = 0; i < m->n_tensors; i++) e->tsc[i] = zt_fx_empty();
        /* ZeRO-2/3 communicate per micro-batch: a rank with fewer than
         * `rounds` micro-batches repeats its first one with grad_scale 0
         * (a zero gradient) so that every rank issues the same collectives */
        int n = e->stage >= 2 && e->rounds > k ? e->rounds : k;
        for (int i = 0; i < n; i++) {
            int pad = i >= k;
            float gs = m->grad_scale;
            if (pad) m->grad_scale = 0;
            m->set_batch(m, &mb[pad ? 0 : i]);
            zt_eng_forward_all(e);
            if (!pad && ns) m->batch_stats(m, e->stl + (size_t)i * ns);
            if (!pad) st->loss_sum += m->loss_sum(m);
            backward_all(e, e->stage >= 2 || i == n - 1, st);
            m->grad_scale = gs;
        }
        if (e->exact) exact_to_float(e, e->plo, e->plo, e->plen, e->gpart);
    }
    /* global gradient norm², in double under every stage: DDP has the full
     * reduced gradient everywhere; ZeRO sums the partitions' squared norms
     * (train.exact: as integers, the same bits at any W) */
    double n2;
    if (e->exact) n2 = exact_norm2(e);
    else if (e->stage == 0) n2 = e->ops->sumsq(e->grads, e->P);
    else {   /* host scalar: the control communicator */
        double part = e->ops->sumsq(e->gpart, e->plen), tw = zt_now();
        n2 = 0; e->bytes += sizeof(double);
        stepCheck(e, zt_allreduce(e->ctl, &part, &n2, 1, ZT_F64, ZT_SUM), "allreduce", "grad norm²", -1);
        e->t_exposed += zt_now() - tw;
    }
    st->grad_norm = zt_grad_norm(n2);
    float gscale = zt_clip_scale(&e->oc, n2);
    int k_all = ns ? stats_gather(e, k) : 0;
    if (e->before_update) {   /* a pending checkpoint snapshot must finish first */
        double tw = zt_now();
        e->before_update(e->before_update_arg);
        e->t_exposed += zt_now() - tw;
    }
    if (e->stage == 0) {
        optimize_range(e, 0, e->P, t, lr, gscale, e->params, e->grads);
        if (ns) m->update_buffers(m, e->stg, k_all, 0, e->P, e->params);   /* buffers advance too */
        zt_eng_params_changed(e);
    } else update_partition(e, t, lr, gscale, k_all);
    st->t_step = zt_now() - t0;
    st->t_exposed_comm = e->t_exposed;
    st->comm_bytes = e->bytes;
}

double zt_engine_eval(zt_engine *e, const zt_batch *b, int *correct) {
    zt_model *m = e->m;
    m->training = 0;
    m->set_batch(m, b);
    zt_eng_forward_all(e);
    *correct = m->correct ? m->correct(m) : 0;
    return m->loss_sum(m);
}

void zt_engine_full_params(zt_engine *e, float *out) {
    if (e->stage <= 2) { zt_eng_params_current(e); e->ops->to_host(out, e->params, e->P * sizeof(float)); return; }
    float *full = e->ops->alloc((e->P ? e->P : 1) * sizeof(float));
    mallocCheck(full);
    stepCheck(e, zt_allgather(e->c, e->ppart, full, e->P, ZT_F32), "allgather", "all parameters", -1);
    e->ops->to_host(out, full, e->P * sizeof(float));
    e->ops->free(full);
}

/* ---- accessors (engine.h) ---------------------------------------------- */
void zt_engine_set_before_update(zt_engine *e, zt_engine_hook fn, void *arg) {
    e->before_update = fn; e->before_update_arg = arg;
}
int    zt_engine_world(const zt_engine *e)   { return e->W; }
int    zt_engine_rank(const zt_engine *e)    { return e->r; }
int    zt_engine_stage(const zt_engine *e)   { return e->stage; }
size_t zt_engine_n_params(const zt_engine *e){ return e->P; }
int    zt_engine_n_slots(const zt_engine *e) { return e->nslots; }
const zt_mem *zt_engine_mem(const zt_engine *e) { return &e->mem; }
const zt_model *zt_engine_model(const zt_engine *e) { return e->m; }
const zt_optim_cfg *zt_engine_optim(const zt_engine *e) { return &e->oc; }
const struct zt_ops *zt_engine_ops(const zt_engine *e) { return e->ops; }
zt_comm *zt_engine_ctl(const zt_engine *e) { return e->ctl; }
void zt_engine_partition(const zt_engine *e, size_t *lo, size_t *len) { *lo = e->plo; *len = e->plen; }
float *zt_engine_param_part(zt_engine *e) { return e->ppart; }
float *zt_engine_slot_part(zt_engine *e, int i) { return e->slots[i] + (e->plo - e->slot_base); }
void zt_engine_count_ckpt(zt_engine *e, size_t bytes) { e->mem.ckpt = bytes; }

void zt_engine_sync_partitions(zt_engine *e) {
    zt_eng_params_changed(e);
    if (e->stage <= 2)
        stepCheck(e, zt_allgather(e->c, e->params + e->plo, e->params, e->P, ZT_F32),
                  "allgather", "loaded parameters", -1);
    if (e->stage == 0)
        for (int i = 0; i < e->nslots; i++)
            stepCheck(e, zt_allgather(e->c, e->slots[i] + e->plo, e->slots[i], e->P, ZT_F32),
                      "allgather", "loaded optimizer slot", i);
}
