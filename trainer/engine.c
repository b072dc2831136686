/* engine.c — DDP and ZeRO-1/2/3 steps over one flat fp32 buffer (CPU/MPI).
 * See engine.h for what each stage keeps. Communication is launched per
 * bucket as soon as the bucket's gradients are final and overlaps with the
 * backward of earlier units; time spent blocked in zt_wait is "exposed". */
#include "engine.h"
#include <stdio.h>        /* snprintf */
#include <stdlib.h>       /* calloc, free, malloc */
#include <string.h>       /* memset */
#include "ops.h"          /* device op table: memory, add_acc, sumsq, optim_step */
#include "partition.h"    /* zt_plan: buckets and per-rank counts, planned once */
#include "zt_launcher.h"  /* exit codes */
#include "zt_log.h"       /* zt_fatal, ztCheck */

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
    zt_mem    mem;
    /* called right before each optimizer update (async checkpoint snapshot) */
    zt_engine_hook before_update;
    void     *before_update_arg;
    double    t_exposed;          /* accumulated time blocked on communication */
    uint64_t  step;               /* step being computed (1-based), for messages */
    double   *stl, *stg;          /* model buffers: this rank's micro-batch statistics, all ranks' */
    int       st_k;               /* micro-batches stl/stg are sized for */
};

/* A collective that fails ends the job (zt_comm_fatal, exit 6): the line names
 * the rank, the operation, what it carried (bucket / unit number) and the step;
 * the peers end on the comm watchdog (timeout or the launcher's notice). */
static _Noreturn void step_failed(const zt_engine *e, const char *op, const char *what, int idx) {
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

/* all state lives in the model's op-table memory (host for cpu, device for cuda) */
static float *ealloc(const zt_ops *o, size_t n, size_t *counter) {
    float *p = o->alloc((n ? n : 1) * sizeof(float));
    ztCheck(p != NULL, ZT_EXIT_INTERNAL, "out of memory allocating %zu floats", n);
    *counter += n * sizeof(float);
    return p;
}

/* A request in flight, with what the message names if it fails. */
typedef struct { zt_req *q; const char *op, *what; int idx; int buf; } inflight;

static void wait_req(zt_engine *e, inflight *f, zt_step_stats *st) {
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

    /* buckets and per-rank counts, once: they never change while training */
    size_t cap = (size_t)(bucket_mb * 1024 * 1024 / sizeof(float));
    ztCheck(zt_plan_init(&e->plan, e->P, e->W, e->r, m->n_units, m->unit_off, m->unit_len, cap,
                         stage == 3) == 0,
            ZT_EXIT_INTERNAL, "out of memory planning %d units over %d ranks", m->n_units, e->W);
    e->mem.plan = e->plan.bytes;
    e->ddp = calloc((size_t)(e->plan.nb ? e->plan.nb : 1), sizeof(zt_req *));
    mallocCheck(e->ddp);

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
    if (e->stage <= 2) o->free(e->params); else o->free(e->ppart);
    if (e->stage <= 1) o->free(e->grads); else o->free(e->gpart);
    for (int i = 0; i < e->nslots; i++) o->free(e->slots[i]);
    for (int i = 0; i < 2; i++) { o->free(e->bbuf[i]); o->free(e->rbuf[i]); o->free(e->ubuf[i]); }
    zt_plan_free(&e->plan);
    free(e->ddp);
    free(e->stl); free(e->stg);
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

/* ---- ZeRO-3 unit gathering ------------------------------------------- */
static inflight gather_unit(zt_engine *e, int u, float *dst) {
    const zt_range_plan *up = &e->plan.unit[u];
    inflight f = { zt_iallgather_v(e->c, e->ppart + (up->my_lo - e->plo), dst, up->counts, ZT_F32),
                   "allgather_v", "parameters of unit", u, 0 };
    stepReqCheck(e, f.q, f.op, f.what, u);
    return f;
}

/* Parameters of unit u for compute: a pointer into the full buffer, or under
 * ZeRO-3 the gathered copy in ubuf[slot]. */
static const float *unit_params(zt_engine *e, int u, int slot) {
    return e->stage == 3 ? e->ubuf[slot] : e->params + e->m->unit_off[u];
}

/* forward through all units; under ZeRO-3 each unit is gathered just before
 * use with the next one prefetched. Leaves the last unit's params in ubuf. */
static void forward_all(zt_engine *e) {
    zt_model *m = e->m; int U = m->n_units;
    if (e->stage != 3) {
        for (int u = 0; u < U; u++) m->forward(m, u, unit_params(e, u, 0));
        return;
    }
    inflight pend = gather_unit(e, 0, e->ubuf[0]);
    for (int u = 0; u < U; u++) {
        wait_req(e, &pend, NULL);
        if (u + 1 < U) pend = gather_unit(e, u + 1, e->ubuf[(u + 1) & 1]);
        m->forward(m, u, e->ubuf[u & 1]);
    }
}

/* ---- gradient reduction per bucket ----------------------------------- */
static void finish_rs(zt_engine *e, inflight *f, zt_step_stats *st) {
    if (!f->q) return;
    wait_req(e, f, st);
    if (e->stage >= 2) {   /* accumulate my part of the bucket into gpart */
        const zt_range_plan *bp = &e->plan.bucket[f->idx];
        e->ops->add_acc(e->gpart + (bp->my_lo - e->plo), e->rbuf[f->buf], bp->my_len);
    }
}

static inflight launch_bucket(zt_engine *e, int b, int buf) {
    const zt_range_plan *bp = &e->plan.bucket[b];
    inflight f = { NULL, NULL, "gradients of bucket", b, buf };
    if (e->stage <= 1) {
        f.op = "allreduce";
        f.q = zt_iallreduce(e->c, e->grads + bp->off, e->grads + bp->off, bp->len, ZT_F32, ZT_SUM);
    } else {
        f.op = "reduce_scatter_v";
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
    int have = U - 1;        /* ZeRO-3: unit U-1's params are still in ubuf */
    for (int u = U - 1; u >= 0; u--) {
        int b = pl->unit_bucket[u];
        if (e->stage >= 2 && u == pl->b_hi[b]) {
            /* new bucket: its scratch must be free (wait the bucket that used it) */
            finish_rs(e, &fl[bslot], st);
            e->ops->zero(e->bbuf[bslot], pl->bucket[b].len * sizeof(float));
        }
        const float *pu;
        if (e->stage == 3) {
            if (u != have) wait_req(e, &pend, NULL);
            if (u > 0) pend = gather_unit(e, u - 1, e->ubuf[(u - 1) & 1]);
            pu = e->ubuf[u & 1];
        } else pu = e->params + m->unit_off[u];
        float *gu = e->stage <= 1 ? e->grads + m->unit_off[u]
                                  : e->bbuf[bslot] + (m->unit_off[u] - pl->bucket[b].off);
        m->backward(m, u, pu, gu);
        if (u == pl->b_lo[b] && reduce) {
            if (e->stage <= 1) ddp[nddp++] = launch_bucket(e, b, 0).q;
            else { fl[bslot] = launch_bucket(e, b, bslot); bslot ^= 1; }
        }
    }
    if (st) st->t_backward_end = zt_now();
    /* DDP buckets were launched in order b = 0, 1, ...: request i is bucket i */
    for (int i = 0; i < nddp; i++) {
        inflight f = { ddp[i], "allreduce", "gradients of bucket", i, 0 };
        wait_req(e, &f, st);
    }
    finish_rs(e, &fl[bslot], st); finish_rs(e, &fl[bslot ^ 1], st);   /* older first */
    wait_req(e, &pend, NULL);
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

void zt_engine_step(zt_engine *e, const zt_batch *mb, int k, uint64_t t, float lr,
                    zt_step_stats *st) {
    zt_model *m = e->m;
    memset(st, 0, sizeof *st);
    double t0 = zt_now();
    e->t_exposed = 0;
    e->step = t;
    if (e->stage <= 1) e->ops->zero(e->grads, e->P * sizeof(float));
    else               e->ops->zero(e->gpart, e->plen * sizeof(float));
    const int ns = m->n_stats;
    if (ns && k > e->st_k) {   /* sized once for the run's k */
        free(e->stl); free(e->stg);
        e->stl = malloc((size_t)k * ns * sizeof(double));
        e->stg = malloc((size_t)k * ns * e->W * sizeof(double));
        mallocCheck(e->stl); mallocCheck(e->stg);
        e->st_k = k;
    }
    m->training = 1;
    for (int i = 0; i < k; i++) {
        m->set_batch(m, &mb[i]);
        forward_all(e);
        if (ns) m->batch_stats(m, e->stl + (size_t)i * ns);
        st->loss_sum += m->loss_sum(m);
        int last = i == k - 1;
        backward_all(e, e->stage >= 2 || last, st);
    }
    /* global gradient norm², in double under every stage: DDP has the full
     * reduced gradient everywhere; ZeRO sums the partitions' squared norms */
    double n2;
    if (e->stage == 0) n2 = e->ops->sumsq(e->grads, e->P);
    else {   /* host scalar: the control communicator */
        double part = e->ops->sumsq(e->gpart, e->plen), tw = zt_now();
        n2 = 0;
        stepCheck(e, zt_allreduce(e->ctl, &part, &n2, 1, ZT_F64, ZT_SUM), "allreduce", "grad norm²", -1);
        e->t_exposed += zt_now() - tw;
    }
    st->grad_norm = zt_grad_norm(n2);
    float gscale = zt_clip_scale(&e->oc, n2);
    if (ns) {   /* every rank gets every micro-batch's statistics, in global order */
        double tw = zt_now();
        stepCheck(e, zt_allgather(e->ctl, e->stl, e->stg, (size_t)k * ns * e->W, ZT_F64),
                  "allgather", "buffer statistics", -1);
        e->t_exposed += zt_now() - tw;
    }
    if (e->before_update) {   /* a pending checkpoint snapshot must finish first */
        double tw = zt_now();
        e->before_update(e->before_update_arg);
        e->t_exposed += zt_now() - tw;
    }
    if (e->stage == 0) optimize_range(e, 0, e->P, t, lr, gscale, e->params, e->grads);
    else               optimize_range(e, e->plo, e->plo + e->plen, t, lr, gscale, e->ppart, e->gpart);
    if (ns) {   /* buffers advance where the optimizer wrote, before any gather */
        if (e->stage == 0) m->update_buffers(m, e->stg, k * e->W, 0, e->P, e->params);
        else               m->update_buffers(m, e->stg, k * e->W, e->plo, e->plo + e->plen, e->ppart);
    }
    if (e->stage == 1 || e->stage == 2) {
        double tw = zt_now();
        stepCheck(e, zt_allgather(e->c, e->params + e->plo, e->params, e->P, ZT_F32),
                  "allgather", "updated parameters", -1);
        e->t_exposed += zt_now() - tw;
    }
    st->t_step = zt_now() - t0;
    st->t_exposed_comm = e->t_exposed;
}

double zt_engine_eval(zt_engine *e, const zt_batch *b, int *correct) {
    zt_model *m = e->m;
    m->training = 0;
    m->set_batch(m, b);
    forward_all(e);
    *correct = m->correct ? m->correct(m) : 0;
    return m->loss_sum(m);
}

void zt_engine_full_params(zt_engine *e, float *out) {
    if (e->stage <= 2) { e->ops->to_host(out, e->params, e->P * sizeof(float)); return; }
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
    if (e->stage <= 2)
        stepCheck(e, zt_allgather(e->c, e->params + e->plo, e->params, e->P, ZT_F32),
                  "allgather", "loaded parameters", -1);
    if (e->stage == 0)
        for (int i = 0; i < e->nslots; i++)
            stepCheck(e, zt_allgather(e->c, e->slots[i] + e->plo, e->slots[i], e->P, ZT_F32),
                      "allgather", "loaded optimizer slot", i);
}
