/* comm_mpi.c — the MPI backend (host memory).
 *
 * MPI is initialised with MPI_THREAD_MULTIPLE (unless someone did it before)
 * and every comm owns a communicator duplicated from MPI_COMM_WORLD.
 *
 * Blocking collectives are the plain blocking MPI call on the caller's thread
 * (the fast path: no hand-off, no copy), after every queued asynchronous op.
 *
 * Asynchronous collectives are queued and executed in FIFO order, one at a
 * time, by a worker thread, so they progress while the caller computes.
 * zt_wait_t reports when the worker started the op (waiting for late peers
 * included, as inside any collective) and when it completed.
 * ZT_COMM_ASYNC picks how:
 *   polled   (default) first an MPI_Ibarrier polled with MPI_Test — spin
 *            ZT_COMM_SPIN_US (50) after posting, then nap in doubling steps up
 *            to ZT_COMM_POLL_MAX_US (100) — so a rank whose peers are late
 *            sleeps instead of burning a core; once all have arrived, the
 *            transfer itself is the blocking MPI call (OpenMPI's tuned
 *            algorithms: libnbc's nonblocking ones measured 0.1-0.7x as fast
 *            here, see BENCHMARKS.md);
 *   nbc      the whole op as a nonblocking MPI call polled the same way;
 *   blocking the blocking MPI call straight away (spins while peers are late);
 *   deferred no worker: queued ops run on the caller's thread when waited for
 *            (no overlap; the cheapest where ranks have no spare core).
 * Without MPI_THREAD_MULTIPLE the backend falls back to "deferred".
 *
 * Every collective is guarded by a watchdog thread (no MPI calls) that wakes
 * every 100 ms: an op running longer than timeout_s, or running when
 * zt_boot_peer_failed() turns true, logs
 * "<op> of N elements timed out after T s (peer failure?)" and exits
 * ZT_EXIT_PEER (zt_fatal). MPI errors are returned (MPI_ERRORS_RETURN): the
 * op gives -1 and zt_comm_error() holds MPI's error string.
 *
 * Partitions that do not divide W use the MPI "v" variants with the counts of
 * zt_part(): no padding and no copy on the host. bf16 (uint16 storage) is
 * reduced by user-defined MPI_Ops that add in fp32 and round to nearest even.
 * AVG is SUM followed by a division by W. i64, u8 and f64 are MPI_INT64_T,
 * MPI_UINT8_T and MPI_DOUBLE.
 *
 * Reduce-scatter (f32, f64, i64) runs as the ring below by default: OpenMPI
 * 4.1's MPI_Reduce_scatter(_block) was slower than its own MPI_Allreduce on
 * the same bytes (BENCHMARKS.md "Collectives"; bench/comm_bench --rs).
 * ZT_COMM_RS=mpi selects the MPI call instead; bf16 always uses it.
 * All-reduces of f32/f64/i64 from 64 KB up run as that ring reduce-scatter +
 * MPI_Allgatherv by default too: at W=2 on 147 MB it took 0.17x of OpenMPI
 * 4.1's MPI_Allreduce, and never more at 1-32 MB (BENCHMARKS.md).
 * ZT_COMM_AR=mpi selects MPI_Allreduce. */
#include <limits.h>      /* INT_MAX */
#include <mpi.h>         /* the transport */
#include <pthread.h>     /* worker and watchdog threads */
#include <signal.h>      /* sigset_t: our threads block every signal */
#include <stdio.h>       /* snprintf */
#include <stdlib.h>      /* malloc, getenv */
#include <string.h>      /* memcpy, strcmp */
#include <sys/prctl.h>   /* PR_SET_TIMERSLACK */
#include "comm_impl.h"
#include "zt_log.h"      /* zt_error, zt_warn, zt_fatal */

#define PIECE_MAX ((size_t)1 << 30)   /* elements per MPI call (int counts) */

typedef struct {
    MPI_Comm        comm;
    MPI_Op          op_bf16_sum, op_bf16_max;
    int             mode;          /* MODE_* (ZT_COMM_ASYNC) */
    int             threaded;      /* a worker thread runs the async ops */
    pthread_t       worker, watchdog;
    pthread_mutex_t mu;
    pthread_cond_t  cv_work;       /* worker waits here */
    pthread_cond_t  cv_done;       /* callers wait here */
    pthread_cond_t  cv_watch;      /* watchdog naps here (CLOCK_MONOTONIC) */
    zt_req         *head, *tail;
    int             outstanding;   /* queued + running */
    int             stop;
    /* the op now on the wire (either thread), for the watchdog */
    int             act_active;
    double          act_t0;
    const char     *act_name;
    size_t          act_n;
    long            spin_ns, sleep_max_ns;
    int             rs_ring;       /* ZT_COMM_RS: reduce-scatter by the ring */
    int             ar_ring;       /* ZT_COMM_AR: all-reduce as ring + allgather */
    size_t          ring_seg;      /* elements per ring message */
    char           *ring_mem;      /* ring scratch, grown on demand */
    size_t          ring_bytes;
} mpi_state;

static int g_we_inited;   /* this layer called MPI_Init_thread */

/* --- bf16 reductions ------------------------------------------------------ */

static void bf16_sum_fn(void *in, void *inout, int *len, MPI_Datatype *dt) {
    const uint16_t *a = in;
    uint16_t *b = inout;
    for (int i = 0; i < *len; i++)
        b[i] = zt_f32_to_bf16(zt_bf16_to_f32(a[i]) + zt_bf16_to_f32(b[i]));
}

static void bf16_max_fn(void *in, void *inout, int *len, MPI_Datatype *dt) {
    const uint16_t *a = in;
    uint16_t *b = inout;
    for (int i = 0; i < *len; i++) {
        float x = zt_bf16_to_f32(a[i]), y = zt_bf16_to_f32(b[i]);
        if (x > y || x != x) b[i] = a[i];
    }
}

/* --- plans: one collective as MPI calls ----------------------------------- */

typedef struct {
    const void  *sb;          /* may be MPI_IN_PLACE */
    void        *rb;
    MPI_Datatype dt;
    MPI_Op       mop;
    size_t       es;          /* element size */
    size_t       npieces;     /* allreduce / bcast: calls of <= PIECE_MAX */
    int          block;       /* equal parts: *_block / Allgather */
    int         *cnts, *displs;
    void        *tmp;         /* temporary (aliasing cases only) */
    void        *out;         /* reduce_scatter into tmp: copy tmp -> out */
    size_t       out_len;
    void        *scale_buf;   /* AVG: divide scale_n elements by W */
    size_t       scale_n;
} plan;

static void plan_free(plan *p) {
    free(p->cnts);
    free(p->displs);
    free(p->tmp);
}

static int fail(zt_comm *c, const zt_op *op, const char *why) {
    return zt_comm_fail(c, zt_op_name(op->kind), op->n, "%s", why);
}

/* MPI's error string for err as c's last error; -1. */
static int mpi_fail(zt_comm *c, const zt_op *op, int err) {
    char es[MPI_MAX_ERROR_STRING];
    int l = 0;
    if (MPI_Error_string(err, es, &l) != MPI_SUCCESS) snprintf(es, sizeof es, "code %d", err);
    return zt_comm_fail(c, zt_op_name(op->kind), op->n, "MPI error: %s", es);
}

static MPI_Datatype mpi_dt(zt_dtype t) {
    switch (t) {
    case ZT_BF16: return MPI_UINT16_T;
    case ZT_I64:  return MPI_INT64_T;
    case ZT_U8:   return MPI_UINT8_T;
    case ZT_F64:  return MPI_DOUBLE;
    case ZT_F32:  break;
    }
    return MPI_FLOAT;
}

/* counts/displs for the v variants; block = all parts equal. */
static int plan_parts(zt_comm *c, const zt_op *op, plan *p, int need_displs) {
    int W = c->size;
    size_t off0, len0;
    zt_op_part(c, op, 0, &off0, &len0);
    p->block = len0 <= (size_t)INT_MAX;
    for (int q = 1; q < W && p->block; q++) {
        size_t o, l;
        zt_op_part(c, op, q, &o, &l);
        if (l != len0) p->block = 0;
    }
    if (p->block) return 0;
    if (need_displs && op->n > (size_t)INT_MAX)
        return fail(c, op, "uneven partition of more than 2^31-1 elements is not supported by the MPI backend");
    p->cnts = malloc((size_t)W * sizeof(int));
    p->displs = malloc((size_t)W * sizeof(int));
    if (!p->cnts || !p->displs) return fail(c, op, "out of memory");
    for (int q = 0; q < W; q++) {
        size_t o, l;
        zt_op_part(c, op, q, &o, &l);
        if (l > (size_t)INT_MAX) return fail(c, op, "a part of more than 2^31-1 elements");
        p->cnts[q] = (int)l;
        p->displs[q] = (int)(need_displs ? o : 0);
    }
    return 0;
}

static int plan_make(zt_comm *c, const zt_op *op, plan *p) {
    mpi_state *s = c->bk;
    memset(p, 0, sizeof *p);
    p->es = zt_dtype_size(op->dt);
    p->dt = mpi_dt(op->dt);
    if (op->dt == ZT_BF16) p->mop = op->red == ZT_MAX ? s->op_bf16_max : s->op_bf16_sum;
    else p->mop = op->red == ZT_MAX ? MPI_MAX : MPI_SUM;
    size_t es = p->es, n = op->n;
    size_t off, len;
    zt_op_part(c, op, c->rank, &off, &len);

    switch (op->kind) {
    case ZT_OP_BARRIER:
        return 0;
    case ZT_OP_BCAST:
        p->rb = op->recv;
        p->npieces = (n + PIECE_MAX - 1) / PIECE_MAX;
        return 0;
    case ZT_OP_ALLREDUCE:
        p->rb = op->recv;
        if (op->send == op->recv) {
            p->sb = MPI_IN_PLACE;
        } else if (zt_overlap(op->send, n * es, op->recv, n * es)) {
            memmove(op->recv, op->send, n * es);   /* overlap is overwritten anyway */
            p->sb = MPI_IN_PLACE;
        } else {
            p->sb = op->send;
        }
        p->npieces = (n + PIECE_MAX - 1) / PIECE_MAX;
        if (op->red == ZT_AVG) { p->scale_buf = op->recv; p->scale_n = n; }
        return 0;
    case ZT_OP_REDUCE_SCATTER:
    case ZT_OP_REDUCE_SCATTER_V:
        if (plan_parts(c, op, p, 0)) return -1;
        p->sb = op->send;
        p->rb = op->recv;
        if (op->send == op->recv) {
            p->sb = MPI_IN_PLACE;                 /* result lands at recv[0, len) */
        } else if (zt_overlap(op->recv, len * es, op->send, n * es)) {
            p->tmp = malloc(len * es + 1);
            if (!p->tmp) return fail(c, op, "out of memory");
            p->rb = p->tmp;
            p->out = op->recv;
            p->out_len = len;
        }
        if (op->red == ZT_AVG) { p->scale_buf = op->recv; p->scale_n = len; }
        return 0;
    case ZT_OP_ALLGATHER:
    case ZT_OP_ALLGATHER_V:
        if (plan_parts(c, op, p, 1)) return -1;
        p->rb = op->recv;
        if (op->send == (const char *)op->recv + off * es) {
            p->sb = MPI_IN_PLACE;
        } else if (zt_overlap(op->send, len * es, op->recv, n * es)) {
            p->tmp = malloc(len * es + 1);
            if (!p->tmp) return fail(c, op, "out of memory");
            memcpy(p->tmp, op->send, len * es);
            p->sb = p->tmp;
        } else {
            p->sb = op->send;
        }
        return 0;
    }
    return fail(c, op, "unknown operation");
}

/* Call MPI for piece i: blocking when rq == NULL, else nonblocking. */
#define CALL(rq, blk, nb, ...) ((rq) ? nb(__VA_ARGS__, (rq)) : blk(__VA_ARGS__))

static int plan_post(const zt_comm *c, const zt_op *op, plan *p, size_t i, MPI_Request *rq) {
    mpi_state *s = c->bk;
    MPI_Comm cm = s->comm;
    size_t es = p->es;
    switch (op->kind) {
    case ZT_OP_BARRIER:
        return rq ? MPI_Ibarrier(cm, rq) : MPI_Barrier(cm);
    case ZT_OP_BCAST: {
        size_t o = i * PIECE_MAX, k = op->n - o < PIECE_MAX ? op->n - o : PIECE_MAX;
        return CALL(rq, MPI_Bcast, MPI_Ibcast, (char *)p->rb + o * es, (int)k, p->dt, op->root, cm);
    }
    case ZT_OP_ALLREDUCE: {
        size_t o = i * PIECE_MAX, k = op->n - o < PIECE_MAX ? op->n - o : PIECE_MAX;
        const void *sb = p->sb == MPI_IN_PLACE ? MPI_IN_PLACE : (const char *)p->sb + o * es;
        return CALL(rq, MPI_Allreduce, MPI_Iallreduce, sb, (char *)p->rb + o * es, (int)k, p->dt,
                    p->mop, cm);
    }
    case ZT_OP_REDUCE_SCATTER:
    case ZT_OP_REDUCE_SCATTER_V:
        if (p->block) {
            size_t o, l;
            zt_op_part(c, op, 0, &o, &l);
            return CALL(rq, MPI_Reduce_scatter_block, MPI_Ireduce_scatter_block, p->sb, p->rb,
                        (int)l, p->dt, p->mop, cm);
        }
        return CALL(rq, MPI_Reduce_scatter, MPI_Ireduce_scatter, p->sb, p->rb, p->cnts, p->dt,
                    p->mop, cm);
    case ZT_OP_ALLGATHER:
    case ZT_OP_ALLGATHER_V:
        if (p->block) {
            size_t o, l;
            zt_op_part(c, op, 0, &o, &l);
            return CALL(rq, MPI_Allgather, MPI_Iallgather, p->sb, (int)l, p->dt, p->rb, (int)l,
                        p->dt, cm);
        } else {
            int mine = p->cnts[c->rank];
            return CALL(rq, MPI_Allgatherv, MPI_Iallgatherv, p->sb, mine, p->dt, p->rb, p->cnts,
                        p->displs, p->dt, cm);
        }
    }
    return MPI_ERR_OTHER;
}

static size_t plan_calls(const zt_op *op, const plan *p) {
    return (op->kind == ZT_OP_ALLREDUCE || op->kind == ZT_OP_BCAST) ? p->npieces : 1;
}

static void plan_finish(const zt_comm *c, const zt_op *op, plan *p) {
    if (p->out && p->out_len) memcpy(p->out, p->tmp, p->out_len * p->es);
    if (p->scale_buf && p->scale_n) zt_host_scale(p->scale_buf, p->scale_n, op->dt, c->size);
    plan_free(p);
}

/* Blocking execution on the calling thread (the watchdog guards it). */
static int exec_blocking(zt_comm *c, const zt_op *op) {
    plan p;
    if (plan_make(c, op, &p)) { plan_free(&p); return -1; }
    size_t k = plan_calls(op, &p);
    for (size_t i = 0; i < k; i++) {
        int e = plan_post(c, op, &p, i, NULL);
        if (e != MPI_SUCCESS) { plan_free(&p); return mpi_fail(c, op, e); }
    }
    plan_finish(c, op, &p);
    return 0;
}

/* Nonblocking execution polled by MPI_Test: spin, then sleep in growing steps,
 * checking the deadline and the peer-failure flag between tests. */
static int exec_polled(zt_comm *c, const zt_op *op, double t0, const zt_op *report) {
    mpi_state *s = c->bk;
    plan p;
    if (plan_make(c, op, &p)) { plan_free(&p); return -1; }
    size_t k = plan_calls(op, &p);
    const char *name = zt_op_name(report->kind);   /* what the user asked for */
    for (size_t i = 0; i < k; i++) {
        MPI_Request rq;
        int e = plan_post(c, op, &p, i, &rq);
        if (e != MPI_SUCCESS) { plan_free(&p); return mpi_fail(c, report, e); }
        double spin_end = zt_now() + (double)s->spin_ns * 1e-9;
        long nap = 2000;
        for (;;) {
            int flag = 0;
            e = MPI_Test(&rq, &flag, MPI_STATUS_IGNORE);
            if (e != MPI_SUCCESS) { plan_free(&p); return mpi_fail(c, report, e); }
            if (flag) break;
            zt_comm_check(c, name, report->n, t0);
            if (zt_now() < spin_end) continue;
            zt_sleep_ns(nap);
            if (nap < s->sleep_max_ns) nap = nap * 2 < s->sleep_max_ns ? nap * 2 : s->sleep_max_ns;
        }
    }
    plan_finish(c, op, &p);
    return 0;
}

/* --- ring reduce-scatter ---------------------------------------------------
 * W-1 steps around the ring r -> r+1: at step k rank r sends its partial sum
 * of chunk (r-k-1) mod W and receives the partial of chunk (r-k-2) mod W from
 * r-1, to which it adds its own contribution; after the last step it holds
 * chunk r, reduced over all ranks. Each rank sends (W-1)/W of the buffer once,
 * half of what an all-reduce moves. The order of the additions is fixed by the
 * ring: chunk q is ((x[q+1] + x[q+2]) + ...) + x[q] (ranks mod W), the same
 * bits on every run for a given W, whatever the message sizes.
 * Messages go in segments of ZT_COMM_RING_SEG_KB (default 8192) so that the
 * received partial is added while it is still in cache. */

/* dst[i] = a[i] (op) b[i]; dst may be a or b. */
static void ring_combine(void *dst, const void *a, const void *b, size_t n, zt_dtype t,
                         zt_redop red) {
    if (t == ZT_I64) {   /* train.exact's fixed-point sums: exact in any order */
        int64_t *d = dst;
        const int64_t *x = a, *y = b;
        if (red == ZT_MAX)
            for (size_t i = 0; i < n; i++) d[i] = x[i] > y[i] ? x[i] : y[i];
        else
            for (size_t i = 0; i < n; i++) d[i] = x[i] + y[i];
    } else if (t == ZT_F64) {
        double *d = dst;
        const double *x = a, *y = b;
        if (red == ZT_MAX)
            for (size_t i = 0; i < n; i++) d[i] = (x[i] > y[i] || x[i] != x[i]) ? x[i] : y[i];
        else
            for (size_t i = 0; i < n; i++) d[i] = x[i] + y[i];
    } else {
        float *d = dst;
        const float *x = a, *y = b;
        if (red == ZT_MAX)
            for (size_t i = 0; i < n; i++) d[i] = (x[i] > y[i] || x[i] != x[i]) ? x[i] : y[i];
        else
            for (size_t i = 0; i < n; i++) d[i] = x[i] + y[i];
    }
}

/* The ring's scratch: two partial-sum buffers of the largest part (W > 2) and
 * one segment; kept between ops (the worker and the blocking path never run
 * at the same time: blocking ops drain the queue first). */
static char *ring_scratch(mpi_state *s, size_t bytes) {
    if (bytes <= s->ring_bytes) return s->ring_mem;
    free(s->ring_mem);
    s->ring_mem = malloc(bytes);
    s->ring_bytes = s->ring_mem ? bytes : 0;
    return s->ring_mem;
}

static int ring_reduce_scatter(zt_comm *c, const zt_op *op) {
    mpi_state *s = c->bk;
    int W = c->size, r = c->rank;
    size_t es = zt_dtype_size(op->dt), seg = s->ring_seg, maxc = 0;
    for (int q = 0; q < W; q++) {
        size_t o, l;
        zt_op_part(c, op, q, &o, &l);
        if (l > maxc) maxc = l;
    }
    size_t off, len;
    zt_op_part(c, op, r, &off, &len);
    const char *send = op->send;
    char *recv = op->recv;
    /* the result goes straight to recv unless recv overlaps send other than
     * exactly in place (then through a partial buffer, copied at the end) */
    int direct = recv == send + off * es || !zt_overlap(recv, len * es, send, op->n * es);
    size_t nacc = W > 2 || !direct ? 2 : 0;
    if (seg > maxc) seg = maxc ? maxc : 1;   /* small ops: small scratch */
    char *mem = ring_scratch(s, (nacc * maxc + seg) * es);
    if (!mem) return fail(c, op, "out of memory (ring buffers)");
    char *acc[2] = { mem, mem + maxc * es }, *tmp = mem + nacc * maxc * es;
    int to = (r + 1) % W, from = (r + W - 1) % W;
    for (int k = 0; k < W - 1; k++) {
        int qs = ((r - k - 1) % W + W) % W, qr = ((r - k - 2) % W + W) % W;
        size_t os, ls, orr, lr;
        zt_op_part(c, op, qs, &os, &ls);
        zt_op_part(c, op, qr, &orr, &lr);
        const char *src = k == 0 ? send + os * es : acc[(k + 1) & 1];
        int last = k == W - 2;
        char *dst = last && direct ? recv : acc[k & 1];
        size_t nseg = ((ls > lr ? ls : lr) + seg - 1) / seg;
        for (size_t j = 0; j < nseg; j++) {
            size_t a = j * seg;
            size_t ns = a < ls ? (ls - a < seg ? ls - a : seg) : 0;
            size_t nr = a < lr ? (lr - a < seg ? lr - a : seg) : 0;
            MPI_Request rq[2];
            int m = 0, e = MPI_SUCCESS;
            /* only non-empty messages: sender and receiver of a chunk agree
             * on its segments, so nothing is left unmatched */
            if (nr) e = MPI_Irecv(tmp, (int)nr, mpi_dt(op->dt), from, k, s->comm, &rq[m++]);
            if (e == MPI_SUCCESS && ns)
                e = MPI_Isend(src + a * es, (int)ns, mpi_dt(op->dt), to, k, s->comm, &rq[m++]);
            if (e == MPI_SUCCESS && m) e = MPI_Waitall(m, rq, MPI_STATUSES_IGNORE);
            if (e != MPI_SUCCESS) return mpi_fail(c, op, e);
            if (nr) ring_combine(dst + a * es, tmp, send + (orr + a) * es, nr, op->dt, op->red);
        }
    }
    if (W > 1 && !direct) memmove(recv, acc[(W - 2) & 1], len * es);
    if (W == 1 && recv != send + off * es) memmove(recv, send + off * es, len * es);
    if (op->red == ZT_AVG) zt_host_scale(recv, len, op->dt, W);
    return 0;
}

/* All-reduce as ring reduce-scatter into this rank's part of recv, then an
 * in-place MPI_Allgatherv of the parts: every rank gets the same bits (each
 * part is reduced once, by its owner). Only when send and recv are the same
 * buffer or disjoint, and the parts fit MPI's int counts (else the MPI call). */
static int ring_allreduce(zt_comm *c, const zt_op *op) {
    mpi_state *s = c->bk;
    int W = c->size;
    size_t es = zt_dtype_size(op->dt);
    zt_op rs = *op;
    rs.kind = ZT_OP_REDUCE_SCATTER;
    size_t off, len;
    zt_op_part(c, op, c->rank, &off, &len);
    rs.recv = (char *)op->recv + off * es;
    if (ring_reduce_scatter(c, &rs)) return -1;
    int *cnt = malloc((size_t)W * 2 * sizeof(int));
    if (!cnt) return fail(c, op, "out of memory");
    for (int q = 0; q < W; q++) {
        size_t o, l;
        zt_part(op->n, W, q, &o, &l);
        cnt[q] = (int)l;
        cnt[W + q] = (int)o;
    }
    int e = MPI_Allgatherv(MPI_IN_PLACE, 0, mpi_dt(op->dt), op->recv, cnt, cnt + W, mpi_dt(op->dt),
                           s->comm);
    free(cnt);
    return e == MPI_SUCCESS ? 0 : mpi_fail(c, op, e);
}

static int use_ring(const zt_comm *c, const zt_op *op) {
    const mpi_state *s = c->bk;
    if (c->size < 2 || (op->dt != ZT_F32 && op->dt != ZT_F64 && op->dt != ZT_I64)) return 0;
    if (op->dt == ZT_I64 && op->red == ZT_AVG) return 0;   /* integer AVG: MPI's path */
    if (op->kind == ZT_OP_REDUCE_SCATTER || op->kind == ZT_OP_REDUCE_SCATTER_V) return s->rs_ring;
    if (op->kind != ZT_OP_ALLREDUCE || !s->ar_ring) return 0;
    size_t es = zt_dtype_size(op->dt);
    return op->n * es >= ((size_t)64 << 10) && op->n <= (size_t)INT_MAX &&   /* not for scalars */
           (op->send == op->recv || !zt_overlap(op->send, op->n * es, op->recv, op->n * es));
}

/* The ring path of op (use_ring said yes). */
static int run_ring(zt_comm *c, const zt_op *op) {
    return op->kind == ZT_OP_ALLREDUCE ? ring_allreduce(c, op) : ring_reduce_scatter(c, op);
}

/* --- threads ------------------------------------------------------------- */

static void abs_deadline(struct timespec *ts, long ns) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_nsec += ns;
    while (ts->tv_nsec >= 1000000000L) { ts->tv_nsec -= 1000000000L; ts->tv_sec++; }
}

static void act_begin(mpi_state *s, const zt_op *op, double t0) {
    pthread_mutex_lock(&s->mu);
    s->act_name = zt_op_name(op->kind);
    s->act_n = op->n;
    s->act_t0 = t0;
    s->act_active = 1;
    pthread_mutex_unlock(&s->mu);
}

static void act_end(mpi_state *s) {
    pthread_mutex_lock(&s->mu);
    s->act_active = 0;
    pthread_mutex_unlock(&s->mu);
}

/* Watchdog: every 100 ms, checks the deadline of the op on the wire (which
 * may sit inside a blocking MPI call on the caller's or the worker's thread)
 * and the launcher's peer-failure flag. Makes no MPI call. */
static void *watchdog_main(void *arg) {
    zt_comm *c = arg;
    mpi_state *s = c->bk;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        if (s->act_active) {
            double el = zt_now() - s->act_t0;
            if (c->timeout_s > 0 && el > c->timeout_s)
                zt_comm_die(c, s->act_name, s->act_n, el, NULL);
            if (zt_boot_peer_failed())
                zt_comm_die(c, s->act_name, s->act_n, el, "the launcher reports a dead peer");
        }
        struct timespec ts;
        abs_deadline(&ts, 100 * 1000000L);
        pthread_cond_timedwait(&s->cv_watch, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

enum { MODE_POLLED = 0, MODE_BLOCKING = 1, MODE_DEFERRED = 2, MODE_NBC = 3 };

/* Run request r (popped from the queue by the caller) on this thread. */
static void run_req(zt_comm *c, zt_req *r, int mode) {
    mpi_state *s = c->bk;
    r->t_start = zt_now();
    if (r->op.n == 0 && r->op.kind != ZT_OP_BARRIER) {
        r->rc = 0;
    } else {
        act_begin(s, &r->op, r->t_start);
        if (mode == MODE_POLLED && c->size > 1) {
            /* wait, napping, until every rank has arrived; then the transfer
             * itself as the blocking call (OpenMPI's tuned algorithms) */
            zt_op bar = { ZT_OP_BARRIER, NULL, NULL, 0, ZT_F32, ZT_SUM, 0, NULL };
            r->rc = exec_polled(c, &bar, r->t_start, &r->op);
        }
        if (r->rc == 0)
            r->rc = use_ring(c, &r->op)  ? run_ring(c, &r->op)
              : mode == MODE_NBC     ? exec_polled(c, &r->op, r->t_start, &r->op)
                                     : exec_blocking(c, &r->op);
        act_end(s);
    }
    r->t_end = zt_now();
}

/* Pop the head (s->mu held); mark it running. */
static zt_req *pop_head(mpi_state *s) {
    zt_req *r = s->head;
    s->head = r->next;
    if (!s->head) s->tail = NULL;
    r->state = ZT_RQ_RUNNING;
    return r;
}

/* s->mu held: mark r done and wake waiters. */
static void mark_done(mpi_state *s, zt_req *r) {
    r->state = ZT_RQ_DONE;
    s->outstanding--;
    pthread_cond_broadcast(&s->cv_done);
}

/* Worker: runs the queued asynchronous ops in FIFO order, one at a time. */
static void *worker_main(void *arg) {
    zt_comm *c = arg;
    mpi_state *s = c->bk;
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);   /* 1 us: short naps stay short */
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stop) pthread_cond_wait(&s->cv_work, &s->mu);
        if (!s->head) break;   /* stop, queue drained */
        zt_req *r = pop_head(s);
        pthread_mutex_unlock(&s->mu);
        run_req(c, r, s->mode);
        pthread_mutex_lock(&s->mu);
        mark_done(s, r);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Until `upto` is done (NULL: until the queue is empty): with a worker, wait
 * for it; without one (deferred mode), run the queued ops on this thread. */
static void drain(zt_comm *c, zt_req *upto) {
    mpi_state *s = c->bk;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (upto ? upto->state == ZT_RQ_DONE : s->outstanding == 0) break;
        if (s->threaded) {
            pthread_cond_wait(&s->cv_done, &s->mu);
        } else {
            zt_req *r = pop_head(s);
            pthread_mutex_unlock(&s->mu);
            run_req(c, r, MODE_DEFERRED);
            pthread_mutex_lock(&s->mu);
            mark_done(s, r);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* --- backend ops ---------------------------------------------------------- */

static long env_us(const char *name, long dflt) {
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    char *e;
    long x = strtol(v, &e, 10);
    return (*e || x < 0) ? dflt : x;
}

static int mpi_create(zt_comm *c, const zt_proc_t *pr) {
    int inited = 0, fin = 0, provided = 0;
    MPI_Finalized(&fin);
    if (fin) {
        zt_error("comm mpi: MPI was already finalized");
        return -1;
    }
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
            zt_error("comm mpi: MPI_Init_thread failed");
            return -1;
        }
        g_we_inited = 1;
    } else {
        MPI_Query_thread(&provided);
    }
    mpi_state *s = calloc(1, sizeof *s);
    if (!s) { zt_error("comm mpi: out of memory"); return -1; }
    if (MPI_Comm_dup(MPI_COMM_WORLD, &s->comm) != MPI_SUCCESS) {
        zt_error("comm mpi: MPI_Comm_dup(MPI_COMM_WORLD) failed");
        free(s);
        return -1;
    }
    MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(s->comm, &c->rank);
    MPI_Comm_size(s->comm, &c->size);
    if (pr && (pr->rank != c->rank || pr->size != c->size))
        zt_warn("launcher says rank %d of %d, MPI says %d of %d; using MPI's", pr->rank, pr->size,
                c->rank, c->size);
    MPI_Op_create(bf16_sum_fn, 1, &s->op_bf16_sum);
    MPI_Op_create(bf16_max_fn, 1, &s->op_bf16_max);
    s->spin_ns = env_us("ZT_COMM_SPIN_US", 50) * 1000;
    s->sleep_max_ns = env_us("ZT_COMM_POLL_MAX_US", 100) * 1000;
    if (s->sleep_max_ns < 2000) s->sleep_max_ns = 2000;
    const char *rs = getenv("ZT_COMM_RS");
    if (rs && *rs && strcmp(rs, "ring") && strcmp(rs, "mpi"))
        zt_fatal(ZT_EXIT_CONFIG, "ZT_COMM_RS=%s: want ring or mpi", rs);
    s->rs_ring = !rs || !*rs || !strcmp(rs, "ring");
    const char *ar = getenv("ZT_COMM_AR");
    if (ar && *ar && strcmp(ar, "ring") && strcmp(ar, "mpi"))
        zt_fatal(ZT_EXIT_CONFIG, "ZT_COMM_AR=%s: want ring or mpi", ar);
    s->ar_ring = !ar || !*ar || !strcmp(ar, "ring");
    s->ring_seg = (size_t)env_us("ZT_COMM_RING_SEG_KB", 8192) * 1024 / 4;
    if (s->ring_seg < 1024) s->ring_seg = 1024;
    c->bk = s;

    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv_watch, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&s->cv_work, NULL);
    pthread_cond_init(&s->cv_done, NULL);
    const char *am = getenv("ZT_COMM_ASYNC");
    s->mode = !am || !*am || !strcmp(am, "polled") ? MODE_POLLED
            : !strcmp(am, "blocking")              ? MODE_BLOCKING
            : !strcmp(am, "deferred")              ? MODE_DEFERRED
            : !strcmp(am, "nbc")                   ? MODE_NBC : -1;
    if (s->mode < 0) {
        zt_fatal(ZT_EXIT_CONFIG, "ZT_COMM_ASYNC=%s: want polled, blocking, deferred or nbc", am);
    }
    if (provided < MPI_THREAD_MULTIPLE && s->mode != MODE_DEFERRED) {
        if (c->rank == 0)
            zt_warn("comm mpi: MPI gives thread level %d < MPI_THREAD_MULTIPLE: "
                    "asynchronous collectives run when waited for (no overlap)", provided);
        s->mode = MODE_DEFERRED;
    }
    s->threaded = s->mode != MODE_DEFERRED;
    /* our threads take no signals: the stop signals reach the caller's threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pthread_create(&s->watchdog, NULL, watchdog_main, c) != 0 ||
        (s->threaded && pthread_create(&s->worker, NULL, worker_main, c) != 0)) {
        zt_fatal(ZT_EXIT_INTERNAL, "comm mpi: cannot start the communication threads");
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}

static void mpi_destroy(zt_comm *c) {
    mpi_state *s = c->bk;
    if (!s) return;
    drain(c, NULL);
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv_work);
    pthread_cond_signal(&s->cv_watch);
    pthread_mutex_unlock(&s->mu);
    if (s->threaded) pthread_join(s->worker, NULL);
    pthread_join(s->watchdog, NULL);
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) {
        MPI_Op_free(&s->op_bf16_sum);
        MPI_Op_free(&s->op_bf16_max);
        MPI_Comm_free(&s->comm);
    }
    pthread_cond_destroy(&s->cv_work);
    pthread_cond_destroy(&s->cv_done);
    pthread_cond_destroy(&s->cv_watch);
    pthread_mutex_destroy(&s->mu);
    free(s->ring_mem);
    free(s);
}

/* Blocking op: the plain blocking MPI call on the caller's thread, after every
 * queued async op (FIFO), guarded by the watchdog. */
static int mpi_run(zt_comm *c, zt_op *op) {
    mpi_state *s = c->bk;
    drain(c, NULL);
    double t0 = zt_now();
    act_begin(s, op, t0);
    int rc = use_ring(c, op) ? run_ring(c, op) : exec_blocking(c, op);
    act_end(s);
    return rc;
}

static int mpi_submit(zt_comm *c, zt_req *r) {
    mpi_state *s = c->bk;
    pthread_mutex_lock(&s->mu);
    r->state = ZT_RQ_QUEUED;
    r->next = NULL;
    if (s->tail) s->tail->next = r;
    else s->head = r;
    s->tail = r;
    s->outstanding++;
    if (s->threaded) pthread_cond_signal(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static int mpi_wait(zt_comm *c, zt_req *r) {
    drain(c, r);
    return r->rc;
}

const zt_backend zt_backend_mpi = {
    .name = "mpi",
    .create = mpi_create,
    .destroy = mpi_destroy,
    .run = mpi_run,
    .submit = mpi_submit,
    .wait = mpi_wait,
    .stream = NULL,
};

void zt_comm_finalize(void) {
    int inited = 0, fin = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&fin);
    if (g_we_inited && inited && !fin) MPI_Finalize();
}
