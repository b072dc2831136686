/* engine.c — DDP and ZeRO-1/2/3 steps over one flat fp32 buffer (CPU/MPI).
 * See engine.h for what each stage keeps. Communication is launched per
 * bucket as soon as the bucket's gradients are final and overlaps with the
 * backward of earlier units; time spent blocked in zt_wait is "exposed". */
#include "engine.h"
#include <math.h>      /* sqrt */
#include <stdio.h>     /* fprintf */
#include <stdlib.h>    /* calloc, free, exit */
#include <string.h>    /* memset, memcpy */
#include "ops.h"          /* device op table: memory, add_acc, sumsq, optim_step */
#include "zt_launcher.h"   /* exit codes */

#define engineCheck(cond, ...) do { if (!(cond)) { \
    fprintf(stderr, "ztrain: %s:%d: %s failed: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(ZT_EXIT_INTERNAL); } } while (0)

/* all state lives in the model's op-table memory (host for cpu, device for cuda) */
static float *ealloc(const zt_ops *o, size_t n, size_t *counter) {
    float *p = o->alloc((n ? n : 1) * sizeof(float));
    engineCheck(p != NULL, "out of memory allocating %zu floats", n);
    *counter += n * sizeof(float);
    return p;
}

/* Overlap of [a, a+n) with rank q's partition, as counts per rank (in order). */
static void range_counts(const zt_engine *e, size_t a, size_t n, size_t *counts) {
    for (int q = 0; q < e->W; q++) {
        size_t o, l; zt_part(e->P, e->W, q, &o, &l);
        size_t lo = a > o ? a : o, hi = (a + n) < (o + l) ? (a + n) : (o + l);
        counts[q] = hi > lo ? hi - lo : 0;
    }
}
/* Intersection of [a, a+n) with my partition: offset inside the range and length. */
static void my_overlap(const zt_engine *e, size_t a, size_t n, size_t *lo, size_t *len) {
    size_t s = a > e->plo ? a : e->plo, t = (a + n) < (e->plo + e->plen) ? (a + n) : (e->plo + e->plen);
    *lo = s; *len = t > s ? t - s : 0;
}

static double wait_req(zt_engine *e, zt_req *q, zt_step_stats *st) {
    double t0 = zt_now(), ts = 0, te = 0;
    zt_wait_t(q, &ts, &te);
    double dt = zt_now() - t0;
    e->t_exposed += dt;
    if (st) {
        if (st->t_first_comm == 0 || ts < st->t_first_comm) st->t_first_comm = ts;
        if (te > st->t_last_comm_end) st->t_last_comm_end = te;
    }
    return dt;
}

zt_engine *zt_engine_create(zt_model *m, zt_comm *c, zt_comm *ctl, const zt_optim_cfg *oc,
                            int stage, double bucket_mb) {
    zt_engine *e = calloc(1, sizeof *e);
    engineCheck(e != NULL, "oom");
    e->m = m; e->c = c; e->ctl = ctl ? ctl : c; e->oc = *oc; e->stage = stage;
    e->ops = m->ops;
    e->W = zt_comm_size(c); e->r = zt_comm_rank(c);
    e->P = m->n_params;
    zt_part(e->P, e->W, e->r, &e->plo, &e->plen);
    e->nslots = zt_optim_n_slots(oc);

    /* buckets: walk units from the last one back, close a bucket at the cap */
    size_t cap = (size_t)(bucket_mb * 1024 * 1024 / sizeof(float));
    if (cap < 1) cap = 1;
    int U = m->n_units;   /* at most one bucket per unit */
    e->b_lo = calloc((size_t)U, sizeof(int)); e->b_hi = calloc((size_t)U, sizeof(int));
    e->b_off = calloc((size_t)U, sizeof(size_t)); e->b_len = calloc((size_t)U, sizeof(size_t));
    e->unit_bucket = calloc((size_t)U, sizeof(int)); e->ddp = calloc((size_t)U, sizeof(zt_req *));
    engineCheck(e->b_lo && e->b_hi && e->b_off && e->b_len && e->unit_bucket && e->ddp,
                "oom for %d units", U);
    int hi = m->n_units - 1; size_t acc = 0;
    for (int u = m->n_units - 1; u >= 0; u--) {
        acc += m->unit_len[u];
        if (acc >= cap || u == 0) {
            int b = e->nb++;
            e->b_lo[b] = u; e->b_hi[b] = hi;
            e->b_off[b] = m->unit_off[u];
            e->b_len[b] = m->unit_off[hi] + m->unit_len[hi] - m->unit_off[u];
            for (int v = u; v <= hi; v++) e->unit_bucket[v] = b;
            if (e->b_len[b] > e->max_bucket) e->max_bucket = e->b_len[b];
            hi = u - 1; acc = 0;
        }
    }
    for (int u = 0; u < m->n_units; u++)
        if (m->unit_len[u] > e->max_unit) e->max_unit = m->unit_len[u];

    size_t P = e->P, pl = e->plen;
    if (stage <= 2) { e->params = ealloc(e->ops, P, &e->mem.params); e->ppart = e->params + e->plo; }
    else            { e->ppart = ealloc(e->ops, pl, &e->mem.params); }
    if (stage <= 1) { e->grads = ealloc(e->ops, P, &e->mem.grads); e->gpart = e->grads + e->plo; }
    else            { e->gpart = ealloc(e->ops, pl, &e->mem.grads); }
    size_t sl = stage == 0 ? P : pl;
    e->slot_base = stage == 0 ? 0 : e->plo;
    for (int i = 0; i < e->nslots; i++) e->slots[i] = ealloc(e->ops, sl, &e->mem.optim);
    if (stage >= 2)
        for (int i = 0; i < 2; i++) {
            e->bbuf[i] = ealloc(e->ops, e->max_bucket, &e->mem.transient);
            e->rbuf[i] = ealloc(e->ops, e->max_bucket, &e->mem.transient);
        }
    if (stage == 3)
        for (int i = 0; i < 2; i++) e->ubuf[i] = ealloc(e->ops, e->max_unit, &e->mem.transient);
    return e;
}

void zt_engine_destroy(zt_engine *e) {
    if (!e) return;
    const zt_ops *o = e->ops;
    if (e->stage <= 2) o->free(e->params); else o->free(e->ppart);
    if (e->stage <= 1) o->free(e->grads); else o->free(e->gpart);
    for (int i = 0; i < e->nslots; i++) o->free(e->slots[i]);
    for (int i = 0; i < 2; i++) { o->free(e->bbuf[i]); o->free(e->rbuf[i]); o->free(e->ubuf[i]); }
    free(e->b_lo); free(e->b_hi); free(e->b_off); free(e->b_len); free(e->unit_bucket); free(e->ddp);
    free(e);
}

void zt_engine_init_params(zt_engine *e, uint64_t seed) {
    size_t lo = e->stage <= 2 ? 0 : e->plo, n = e->stage <= 2 ? e->P : e->plen;
    float *dst = e->stage <= 2 ? e->params : e->ppart;
    if (!e->ops->device) { zt_model_init_range(e->m, seed, lo, lo + n, dst); return; }
    float *h = malloc((n ? n : 1) * sizeof(float));
    engineCheck(h != NULL, "oom");
    zt_model_init_range(e->m, seed, lo, lo + n, h);
    e->ops->to_device(dst, h, n * sizeof(float));
    free(h);
}

void zt_engine_formula(size_t P, int W, int stage, int S, zt_mem *o) {
    double p = (double)P * 4, part = p / W;
    o->params = (size_t)(stage == 3 ? part : p);
    o->grads  = (size_t)(stage >= 2 ? part : p);
    o->optim  = (size_t)(S * (stage >= 1 ? part : p));
    o->transient = 0;
}

/* ---- ZeRO-3 unit gathering ------------------------------------------- */
static zt_req *gather_unit(zt_engine *e, int u, float *dst) {
    size_t counts[256], lo, len;
    engineCheck(e->W <= 256, "W=%d > 256", e->W);
    range_counts(e, e->m->unit_off[u], e->m->unit_len[u], counts);
    my_overlap(e, e->m->unit_off[u], e->m->unit_len[u], &lo, &len);
    return zt_iallgather_v(e->c, e->ppart + (lo - e->plo), dst, counts, ZT_F32);
}

/* Parameters of unit u for compute: a pointer into the full buffer, or under
 * ZeRO-3 the gathered copy in ubuf[slot]. */
static const float *unit_params(zt_engine *e, int u, int slot) {
    return e->stage == 3 ? e->ubuf[slot] : e->params + e->m->unit_off[u];
}

/* forward through all units; under ZeRO-3 each unit is gathered just before
 * use with the next one prefetched. Leaves the last unit's params in ubuf. */
static void forward_all(zt_engine *e, zt_step_stats *st) {
    zt_model *m = e->m; int U = m->n_units;
    if (e->stage != 3) {
        for (int u = 0; u < U; u++) m->forward(m, u, unit_params(e, u, 0));
        return;
    }
    zt_req *pend = gather_unit(e, 0, e->ubuf[0]);
    for (int u = 0; u < U; u++) {
        wait_req(e, pend, NULL); pend = NULL;
        if (u + 1 < U) pend = gather_unit(e, u + 1, e->ubuf[(u + 1) & 1]);
        m->forward(m, u, e->ubuf[u & 1]);
    }
}

/* ---- gradient reduction per bucket ----------------------------------- */
typedef struct { zt_req *q; int b; int buf; } inflight;

static void finish_rs(zt_engine *e, inflight *f, zt_step_stats *st) {
    if (!f->q) return;
    wait_req(e, f->q, st);
    if (e->stage >= 2) {   /* accumulate my part of the bucket into gpart */
        size_t lo, len; my_overlap(e, e->b_off[f->b], e->b_len[f->b], &lo, &len);
        e->ops->add_acc(e->gpart + (lo - e->plo), e->rbuf[f->buf], len);
    }
    f->q = NULL;
}

static zt_req *launch_bucket(zt_engine *e, int b, int buf) {
    if (e->stage <= 1)
        return zt_iallreduce(e->c, e->grads + e->b_off[b], e->grads + e->b_off[b], e->b_len[b], ZT_F32, ZT_SUM);
    size_t counts[256];
    range_counts(e, e->b_off[b], e->b_len[b], counts);
    return zt_ireduce_scatter_v(e->c, e->bbuf[buf], e->rbuf[buf], counts, ZT_F32, ZT_SUM);
}

/* backward through all units of one micro-batch; `reduce`: launch bucket
 * communication as buckets complete (DDP/ZeRO-1: last micro-batch only;
 * ZeRO-2/3: every micro-batch, since they keep no full gradient buffer). */
static void backward_all(zt_engine *e, int reduce, zt_step_stats *st) {
    zt_model *m = e->m; int U = m->n_units;
    inflight fl[2] = {{0}};
    zt_req **ddp = e->ddp; int nddp = 0;   /* DDP/ZeRO-1: all buckets in flight */
    int bslot = 0;           /* which bbuf the current bucket uses (stage 2/3) */
    zt_req *pend = NULL;     /* ZeRO-3 prefetch of the next unit down */
    int have = U - 1;        /* ZeRO-3: unit U-1's params are still in ubuf */
    for (int u = U - 1; u >= 0; u--) {
        int b = e->unit_bucket[u];
        if (e->stage >= 2 && u == e->b_hi[b]) {
            /* new bucket: its scratch must be free (wait the bucket that used it) */
            finish_rs(e, &fl[bslot], st);
            e->ops->zero(e->bbuf[bslot], e->b_len[b] * sizeof(float));
        }
        const float *pu;
        if (e->stage == 3) {
            if (u != have) { wait_req(e, pend, NULL); pend = NULL; }
            if (u > 0) pend = gather_unit(e, u - 1, e->ubuf[(u - 1) & 1]);
            pu = e->ubuf[u & 1];
        } else pu = e->params + m->unit_off[u];
        float *gu = e->stage <= 1 ? e->grads + m->unit_off[u]
                                  : e->bbuf[bslot] + (m->unit_off[u] - e->b_off[b]);
        m->backward(m, u, pu, gu);
        if (u == e->b_lo[b] && reduce) {
            if (e->stage <= 1) ddp[nddp++] = launch_bucket(e, b, 0);
            else { fl[bslot] = (inflight){ launch_bucket(e, b, bslot), b, bslot }; bslot ^= 1; }
        }
    }
    if (st) st->t_backward_end = zt_now();
    for (int i = 0; i < nddp; i++) wait_req(e, ddp[i], st);
    finish_rs(e, &fl[bslot], st); finish_rs(e, &fl[bslot ^ 1], st);   /* older first */
    if (pend) wait_req(e, pend, NULL);
}

/* ---- optimizer over [lo, hi) of the flat space, per tensor (decay on 2-D) */
static void optimize_range(zt_engine *e, size_t lo, size_t hi, uint64_t t, float lr, float gscale,
                           float *p, const float *g /* both indexed from lo */) {
    const zt_model *m = e->m;
    for (int i = 0; i < m->n_tensors; i++) {
        const zt_tensor *T = &m->tensors[i];
        size_t a = T->off > lo ? T->off : lo, b = T->off + T->numel < hi ? T->off + T->numel : hi;
        if (b <= a) continue;
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
    if (e->stage <= 1) e->ops->zero(e->grads, e->P * sizeof(float));
    else               e->ops->zero(e->gpart, e->plen * sizeof(float));
    for (int i = 0; i < k; i++) {
        m->set_batch(m, &mb[i]);
        forward_all(e, st);
        st->loss_sum += m->loss_sum(m);
        int last = i == k - 1;
        backward_all(e, e->stage >= 2 || last, st);
    }
    /* global gradient norm: DDP has the full reduced gradient everywhere;
     * ZeRO sums the partitions' squared norms across ranks */
    double n2;
    if (e->stage == 0) n2 = e->ops->sumsq(e->grads, e->P);
    else {   /* host scalar: the control communicator */
        float f = (float)e->ops->sumsq(e->gpart, e->plen), out = 0;
        double tw = zt_now();
        zt_allreduce(e->ctl, &f, &out, 1, ZT_F32, ZT_SUM);
        e->t_exposed += zt_now() - tw;
        n2 = out;
    }
    st->grad_norm = zt_grad_norm(n2);
    float gscale = zt_clip_scale(&e->oc, n2);
    if (e->before_update) {   /* a pending checkpoint snapshot must finish first */
        double tw = zt_now();
        e->before_update(e->before_update_arg);
        e->t_exposed += zt_now() - tw;
    }
    if (e->stage == 0) optimize_range(e, 0, e->P, t, lr, gscale, e->params, e->grads);
    else               optimize_range(e, e->plo, e->plo + e->plen, t, lr, gscale, e->ppart, e->gpart);
    if (e->stage == 1 || e->stage == 2) {
        double tw = zt_now();
        zt_allgather(e->c, e->params + e->plo, e->params, e->P, ZT_F32);
        e->t_exposed += zt_now() - tw;
    }
    st->t_step = zt_now() - t0;
    st->t_exposed_comm = e->t_exposed;
}

double zt_engine_eval(zt_engine *e, const zt_batch *b, int *correct) {
    zt_model *m = e->m;
    m->set_batch(m, b);
    forward_all(e, NULL);
    *correct = m->correct ? m->correct(m) : 0;
    return m->loss_sum(m);
}

void zt_engine_full_params(zt_engine *e, float *out) {
    if (e->stage <= 2) { e->ops->to_host(out, e->params, e->P * sizeof(float)); return; }
    float *full = e->ops->alloc(e->P * sizeof(float));
    zt_allgather(e->c, e->ppart, full, e->P, ZT_F32);
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

int zt_engine_sync_partitions(zt_engine *e) {
    int rc = 0;
    if (e->stage <= 2) rc |= zt_allgather(e->c, e->params + e->plo, e->params, e->P, ZT_F32);
    if (e->stage == 0)
        for (int i = 0; i < e->nslots; i++)
            rc |= zt_allgather(e->c, e->slots[i] + e->plo, e->slots[i], e->P, ZT_F32);
    return rc ? -1 : 0;
}
