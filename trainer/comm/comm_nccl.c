/* comm_nccl.c — the NCCL backend (device memory). Built only with CUDA.
 *
 * Setup: rank 0 makes the ncclUniqueId and publishes it through the launcher's
 * key/value store (zt_boot_put/commit/fence/get); every rank selects device
 * local_rank % devices and joins with ncclCommInitRankConfig in NONBLOCKING
 * mode (config.blocking = 0), so that even the initialisation is polled with
 * a timeout and a hung communicator can always be aborted.
 *
 * Every collective of a comm is enqueued on one dedicated CUDA stream, so they
 * run in FIFO order. Each enqueue first makes that stream wait (an event, no
 * host sync) for everything queued so far on the compute stream the caller
 * gave with zt_comm_set_compute_stream, so a collective sees the gradients and
 * parameters compute wrote. Asynchronous variants return at once; each request
 * records a start and an end cudaEvent around its work. zt_wait polls the end
 * event while also polling ncclCommGetAsyncError; on an asynchronous NCCL
 * error, a timeout (counted from when the op is seen to have started, or from
 * the wait if later) or a launcher-reported peer failure it calls ncclCommAbort
 * and exits ZT_EXIT_PEER with the same message as the MPI backend; CUDA and
 * other NCCL errors exit ZT_EXIT_INTERNAL (zt_fatal) naming the call. Blocking
 * variants are "enqueue + wait". i64, u8 and f64 map to ncclInt64, ncclUint8
 * and ncclFloat64 (device memory; control data uses the MPI comm).
 *
 * Partitions that do not divide W (zt_part) go through a device scratch buffer
 * of ceil(n/W)*W elements (stream-ordered cudaMallocAsync, grown on demand):
 * reduce_scatter copies the input in and pads with zeros; all_gather gathers
 * there and copies n elements out. Divisible counts take the direct path. The
 * _v variants are grouped ncclReduce / ncclBroadcast, one per rank.
 *
 * Timeline: start/end events are converted to zt_now() seconds through an
 * anchor event recorded on an idle side stream (re-anchored every 30 s while no
 * request is outstanding, to keep float milliseconds precise). */
#include <cuda_runtime.h>   /* streams, events, device memory */
#include <nccl.h>           /* the transport */
#include <stdio.h>          /* snprintf */
#include <stdlib.h>         /* calloc */
#include <string.h>         /* memset */
#include "comm_impl.h"
#include "zt_log.h"         /* zt_error, zt_fatal */

typedef struct {
    ncclComm_t   nc;
    cudaStream_t st;            /* every collective of this comm */
    cudaStream_t anchor_st;     /* idle side stream for the timeline anchor */
    cudaEvent_t  anchor;
    double       anchor_host;
    cudaEvent_t  sync_ev;       /* blocking ops (timing disabled) */
    int          outstanding;   /* requests not yet waited */
    void        *scratch;
    size_t       scratch_bytes;
    float       *one;           /* barrier: allreduce of one float */
    int          dev;
    cudaEvent_t  order_ev;      /* compute stream -> comm stream ordering */
} nccl_state;

typedef struct {
    cudaEvent_t e0, e1;
} nccl_req;

static int g_gen;   /* comm generation: unique key per zt_comm_create */

/* --- error paths ---------------------------------------------------------- */

static _Noreturn void nccl_fatal(const zt_comm *c, const char *op, size_t n, double t0,
                                 const char *why, int peer) {
    nccl_state *s = c->bk;
    if (s && s->nc) ncclCommAbort(s->nc);
    if (peer) zt_comm_die(c, op, n, zt_now() - t0, why);
    zt_fatal(ZT_EXIT_INTERNAL, "%s of %zu elements: %s", op, n, why);
}

static void cuck(const zt_comm *c, cudaError_t e, const char *what, const char *op, size_t n) {
    if (e == cudaSuccess) return;
    char why[256];
    snprintf(why, sizeof why, "%s: CUDA error %s", what, cudaGetErrorString(e));
    nccl_fatal(c, op, n, zt_now(), why, 0);
}

static void nap(long *ns) {
    zt_sleep_ns(*ns);
    if (*ns < 100000) *ns *= 2;
}

/* In nonblocking mode a call may return ncclInProgress: poll the
 * communicator's state until it settles (with the timeout). */
static void settle(const zt_comm *c, ncclComm_t nc, ncclResult_t r, const char *what,
                   const char *op, size_t n) {
    double t0 = zt_now();
    long ns = 2000;
    for (;;) {
        if (r == ncclSuccess) return;
        if (r != ncclInProgress) {
            char why[384];
            snprintf(why, sizeof why, "%s: NCCL %s (%s)", what, ncclGetErrorString(r),
                     ncclGetLastError(nc));
            int peer = r == ncclSystemError || r == ncclRemoteError || r == ncclInternalError;
            nccl_fatal(c, op, n, t0, why, peer);
        }
        double el = zt_now() - t0;
        if ((c->timeout_s > 0 && el > c->timeout_s) || zt_boot_peer_failed()) {
            ncclCommAbort(nc);
            ((nccl_state *)c->bk)->nc = NULL;
            zt_comm_die(c, op, n, el, zt_boot_peer_failed() ? "the launcher reports a dead peer" : NULL);
        }
        nap(&ns);
        if (ncclCommGetAsyncError(nc, &r) != ncclSuccess) r = ncclInternalError;
    }
}

/* Wait for ev on the host, polling NCCL's asynchronous error state. The clock
 * starts at the later of entry and the moment e0 (if any) is seen complete. */
static void poll_event(zt_comm *c, cudaEvent_t e0, cudaEvent_t ev, const char *op, size_t n) {
    nccl_state *s = c->bk;
    double t0 = zt_now();
    double spin_end = t0 + 20e-6;
    int started = e0 == NULL;
    long ns = 2000;
    for (;;) {
        cudaError_t q = cudaEventQuery(ev);
        if (q == cudaSuccess) return;
        if (q != cudaErrorNotReady) {
            char why[256];
            snprintf(why, sizeof why, "CUDA error %s", cudaGetErrorString(q));
            nccl_fatal(c, op, n, t0, why, 0);
        }
        ncclResult_t ae = ncclSuccess;
        if (ncclCommGetAsyncError(s->nc, &ae) != ncclSuccess) ae = ncclInternalError;
        if (ae != ncclSuccess && ae != ncclInProgress) {
            char why[384];
            snprintf(why, sizeof why, "NCCL asynchronous error %s (%s)", ncclGetErrorString(ae),
                     ncclGetLastError(s->nc));
            nccl_fatal(c, op, n, t0, why, 1);
        }
        double now = zt_now();
        if (!started && cudaEventQuery(e0) == cudaSuccess) { started = 1; t0 = now; }
        double el = now - t0;
        if ((c->timeout_s > 0 && el > c->timeout_s) || zt_boot_peer_failed()) {
            ncclCommAbort(s->nc);
            s->nc = NULL;
            zt_comm_die(c, op, n, el, zt_boot_peer_failed() ? "the launcher reports a dead peer" : NULL);
        }
        if (now < spin_end) continue;
        nap(&ns);
    }
}

/* --- enqueue -------------------------------------------------------------- */

static ncclDataType_t ndt(zt_dtype t) {
    switch (t) {
    case ZT_BF16: return ncclBfloat16;
    case ZT_I64:  return ncclInt64;
    case ZT_U8:   return ncclUint8;
    case ZT_F64:  return ncclFloat64;
    case ZT_F32:  break;
    }
    return ncclFloat32;
}
static ncclRedOp_t nred(zt_redop r) { return r == ZT_AVG ? ncclAvg : r == ZT_MAX ? ncclMax : ncclSum; }

static void *scratch(zt_comm *c, size_t bytes, const char *op, size_t n) {
    nccl_state *s = c->bk;
    if (bytes <= s->scratch_bytes) return s->scratch;
    size_t want = bytes + bytes / 4;
    if (s->scratch) cuck(c, cudaFreeAsync(s->scratch, s->st), "cudaFreeAsync", op, n);
    s->scratch = NULL;
    s->scratch_bytes = 0;
    cuck(c, cudaMallocAsync(&s->scratch, want, s->st), "cudaMallocAsync(scratch)", op, n);
    s->scratch_bytes = want;
    return s->scratch;
}

#define NC(call) settle(c, s->nc, (call), #call, name, op->n)
#define CU(call) cuck(c, (call), #call, name, op->n)

static void enqueue(zt_comm *c, const zt_op *op) {
    nccl_state *s = c->bk;
    const char *name = zt_op_name(op->kind);
    cudaStream_t st = s->st;
    int W = c->size, r = c->rank;
    ncclDataType_t dt = ndt(op->dt);
    ncclRedOp_t red = nred(op->red);
    size_t es = zt_dtype_size(op->dt), n = op->n;
    const char *sb = op->send;
    char *rb = op->recv;
    if (n == 0 && op->kind != ZT_OP_BARRIER) return;
    cudaStream_t compute = (cudaStream_t)c->compute_stream;
    if (compute && compute != st) {
        CU(cudaEventRecord(s->order_ev, compute));
        CU(cudaStreamWaitEvent(st, s->order_ev, 0));
    }

    switch (op->kind) {
    case ZT_OP_BARRIER:
        NC(ncclAllReduce(s->one, s->one, 1, ncclFloat32, ncclSum, s->nc, st));
        return;
    case ZT_OP_BCAST:
        NC(ncclBroadcast(rb, rb, n, dt, op->root, s->nc, st));
        return;
    case ZT_OP_ALLREDUCE:
        if (sb != rb && zt_overlap(sb, n * es, rb, n * es)) {   /* partial overlap */
            char *tmp = scratch(c, n * es, name, n);
            CU(cudaMemcpyAsync(tmp, sb, n * es, cudaMemcpyDeviceToDevice, st));
            sb = tmp;
        }
        NC(ncclAllReduce(sb, rb, n, dt, red, s->nc, st));
        return;
    case ZT_OP_REDUCE_SCATTER: {
        size_t chunk = zt_pad_chunk(n, W), off, len;
        zt_part(n, W, r, &off, &len);
        if (chunk * (size_t)W == n) {
            if (rb == sb + off * es || !zt_overlap(rb, len * es, sb, n * es)) {
                NC(ncclReduceScatter(sb, rb, chunk, dt, red, s->nc, st));
            } else {   /* recv aliases send elsewhere (e.g. recv == send) */
                char *tmp = scratch(c, chunk * es, name, n);
                NC(ncclReduceScatter(sb, tmp, chunk, dt, red, s->nc, st));
                CU(cudaMemcpyAsync(rb, tmp, len * es, cudaMemcpyDeviceToDevice, st));
            }
            return;
        }
        /* pad: scratch = send ++ zeros, reduce-scatter in place there */
        char *pad = scratch(c, chunk * (size_t)W * es, name, n);
        CU(cudaMemcpyAsync(pad, sb, n * es, cudaMemcpyDeviceToDevice, st));
        CU(cudaMemsetAsync(pad + n * es, 0, (chunk * (size_t)W - n) * es, st));
        if (len == chunk) {
            NC(ncclReduceScatter(pad, rb, chunk, dt, red, s->nc, st));
        } else {
            char *mine = pad + (size_t)r * chunk * es;
            NC(ncclReduceScatter(pad, mine, chunk, dt, red, s->nc, st));
            if (len) CU(cudaMemcpyAsync(rb, mine, len * es, cudaMemcpyDeviceToDevice, st));
        }
        return;
    }
    case ZT_OP_ALLGATHER: {
        size_t chunk = zt_pad_chunk(n, W), off, len;
        zt_part(n, W, r, &off, &len);
        if (chunk * (size_t)W == n) {
            if (sb == rb + off * es || !zt_overlap(sb, len * es, rb, n * es)) {
                NC(ncclAllGather(sb, rb, chunk, dt, s->nc, st));
            } else {
                char *tmp = scratch(c, chunk * es, name, n);
                CU(cudaMemcpyAsync(tmp, sb, len * es, cudaMemcpyDeviceToDevice, st));
                NC(ncclAllGather(tmp, rb, chunk, dt, s->nc, st));
            }
            return;
        }
        char *pad = scratch(c, chunk * (size_t)W * es, name, n);
        char *mine = pad + (size_t)r * chunk * es;
        if (len) CU(cudaMemcpyAsync(mine, sb, len * es, cudaMemcpyDeviceToDevice, st));
        NC(ncclAllGather(mine, pad, chunk, dt, s->nc, st));
        CU(cudaMemcpyAsync(rb, pad, n * es, cudaMemcpyDeviceToDevice, st));
        return;
    }
    case ZT_OP_REDUCE_SCATTER_V: {
        size_t off, len;
        zt_op_part(c, op, r, &off, &len);
        char *dst = rb;
        int via_tmp = rb != sb + off * es && zt_overlap(rb, len * es, sb, n * es);
        if (via_tmp) dst = scratch(c, len * es, name, n);
        NC(ncclGroupStart());
        size_t o = 0;
        for (int q = 0; q < W; q++) {
            size_t k = op->counts[q];
            if (k) NC(ncclReduce(sb + o * es, q == r ? dst : NULL, k, dt, red, q, s->nc, st));
            o += k;
        }
        NC(ncclGroupEnd());
        if (via_tmp && len) CU(cudaMemcpyAsync(rb, dst, len * es, cudaMemcpyDeviceToDevice, st));
        return;
    }
    case ZT_OP_ALLGATHER_V: {
        size_t off, len;
        zt_op_part(c, op, r, &off, &len);
        const char *src = sb;
        if (sb != rb + off * es && zt_overlap(sb, len * es, rb, n * es)) {
            char *tmp = scratch(c, len * es, name, n);
            if (len) CU(cudaMemcpyAsync(tmp, sb, len * es, cudaMemcpyDeviceToDevice, st));
            src = tmp;
        }
        NC(ncclGroupStart());
        size_t o = 0;
        for (int q = 0; q < W; q++) {
            size_t k = op->counts[q];
            if (k) NC(ncclBroadcast(q == r ? (const void *)src : (const void *)(rb + o * es),
                                    rb + o * es, k, dt, q, s->nc, st));
            o += k;
        }
        NC(ncclGroupEnd());
        return;
    }
    }
}

/* --- timeline anchor ------------------------------------------------------ */

static void reanchor(zt_comm *c) {
    nccl_state *s = c->bk;
    double h0 = zt_now();
    cuck(c, cudaEventRecord(s->anchor, s->anchor_st), "cudaEventRecord(anchor)", "init", 0);
    cuck(c, cudaEventSynchronize(s->anchor), "cudaEventSynchronize(anchor)", "init", 0);
    s->anchor_host = 0.5 * (h0 + zt_now());
}

static double ev_time(nccl_state *s, cudaEvent_t e) {
    float ms = 0;
    if (cudaEventElapsedTime(&ms, s->anchor, e) != cudaSuccess) return zt_now();
    return s->anchor_host + (double)ms * 1e-3;
}

/* --- backend ops ---------------------------------------------------------- */

static int nccl_create(zt_comm *c, const zt_proc_t *p) {
    if (!p) {
        zt_error("comm nccl needs the launcher's process info");
        return -1;
    }
    int nd = 0;
    if (cudaGetDeviceCount(&nd) != cudaSuccess || nd <= 0) {
        zt_error("comm nccl: no CUDA device");
        return -1;
    }
    nccl_state *s = calloc(1, sizeof *s);
    if (!s) return -1;
    c->bk = s;
    c->rank = p->rank;
    c->size = p->size;
    c->local_rank = p->local_rank;
    s->dev = p->local_rank % nd;
    const char *name = "nccl init";
    cuck(c, cudaSetDevice(s->dev), "cudaSetDevice", name, 0);

    /* unique id: rank 0 -> PMIx key/value store -> everyone */
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    char key[64];
    snprintf(key, sizeof key, "zt.nccl.uid.%d", g_gen++);
    if (c->rank == 0) {
        ncclResult_t r = ncclGetUniqueId(&id);
        if (r != ncclSuccess) {
            zt_error("ncclGetUniqueId: %s", ncclGetErrorString(r));
            free(s); c->bk = NULL;
            return -1;
        }
    }
    if (c->size > 1) {
        if (c->rank == 0 && zt_boot_put(key, &id, sizeof id) != 0) {
            zt_error("cannot publish the NCCL id");
            free(s); c->bk = NULL;
            return -1;
        }
        size_t got = 0;
        if (zt_boot_commit() != 0 || zt_boot_fence(1) != 0 ||
            (c->rank != 0 && (zt_boot_get(0, key, &id, sizeof id, &got) != 0 || got != sizeof id))) {
            zt_error("cannot exchange the NCCL id through PMIx");
            free(s); c->bk = NULL;
            return -1;
        }
    }

    cuck(c, cudaStreamCreateWithFlags(&s->st, cudaStreamNonBlocking), "cudaStreamCreate", name, 0);
    cuck(c, cudaStreamCreateWithFlags(&s->anchor_st, cudaStreamNonBlocking), "cudaStreamCreate", name, 0);
    cuck(c, cudaEventCreateWithFlags(&s->order_ev, cudaEventDisableTiming), "cudaEventCreate(order)", name, 0);
    cuck(c, cudaEventCreate(&s->anchor), "cudaEventCreate", name, 0);
    cuck(c, cudaEventCreateWithFlags(&s->sync_ev, cudaEventDisableTiming), "cudaEventCreate", name, 0);
    cuck(c, cudaMalloc((void **)&s->one, sizeof(float)), "cudaMalloc", name, 0);
    cuck(c, cudaMemset(s->one, 0, sizeof(float)), "cudaMemset", name, 0);

    ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
    cfg.blocking = 0;
    ncclResult_t r = ncclCommInitRankConfig(&s->nc, c->size, id, c->rank, &cfg);
    if (r != ncclSuccess && r != ncclInProgress) {
        zt_error("ncclCommInitRankConfig: %s (%s)", ncclGetErrorString(r), ncclGetLastError(NULL));
        if (s->nc) ncclCommAbort(s->nc);
        s->nc = NULL;
        return -1;   /* leaks the CUDA objects; the process is about to exit */
    }
    settle(c, s->nc, r, "ncclCommInitRankConfig", name, 0);
    reanchor(c);
    return 0;
}

static void nccl_destroy(zt_comm *c) {
    nccl_state *s = c->bk;
    if (!s) return;
    const char *name = "destroy";
    if (s->nc) {
        cuck(c, cudaEventRecord(s->sync_ev, s->st), "cudaEventRecord", name, 0);
        poll_event(c, NULL, s->sync_ev, name, 0);
        zt_op dummy = { ZT_OP_BARRIER, NULL, NULL, 0, ZT_F32, ZT_SUM, 0, NULL };
        zt_op *op = &dummy;
        NC(ncclCommFinalize(s->nc));
        ncclCommDestroy(s->nc);
    }
    if (s->scratch) cudaFreeAsync(s->scratch, s->st);
    cudaStreamSynchronize(s->st);
    cudaFree(s->one);
    cudaEventDestroy(s->anchor);
    cudaEventDestroy(s->sync_ev);
    cudaStreamDestroy(s->st);
    cudaStreamDestroy(s->anchor_st);
    cudaEventDestroy(s->order_ev);
    free(s);
}

static int nccl_run(zt_comm *c, zt_op *op) {
    nccl_state *s = c->bk;
    const char *name = zt_op_name(op->kind);
    cuck(c, cudaSetDevice(s->dev), "cudaSetDevice", name, op->n);
    enqueue(c, op);
    CU(cudaEventRecord(s->sync_ev, s->st));
    poll_event(c, NULL, s->sync_ev, name, op->n);
    return 0;
}

static int nccl_submit(zt_comm *c, zt_req *r) {
    nccl_state *s = c->bk;
    zt_op *op = &r->op;
    const char *name = zt_op_name(op->kind);
    CU(cudaSetDevice(s->dev));
    if (s->outstanding == 0 && zt_now() - s->anchor_host > 30.0) reanchor(c);
    nccl_req *q = calloc(1, sizeof *q);
    if (!q) return zt_comm_fail(c, name, op->n, "out of memory");
    CU(cudaEventCreate(&q->e0));
    CU(cudaEventCreate(&q->e1));
    CU(cudaEventRecord(q->e0, s->st));
    enqueue(c, op);
    CU(cudaEventRecord(q->e1, s->st));
    r->bk = q;
    r->state = ZT_RQ_QUEUED;
    s->outstanding++;
    return 0;
}

static int nccl_wait(zt_comm *c, zt_req *r) {
    nccl_state *s = c->bk;
    nccl_req *q = r->bk;
    poll_event(c, q->e0, q->e1, zt_op_name(r->op.kind), r->op.n);
    r->t_start = ev_time(s, q->e0);
    float ms = 0;
    r->t_end = cudaEventElapsedTime(&ms, q->e0, q->e1) == cudaSuccess
                   ? r->t_start + (double)ms * 1e-3 : zt_now();
    cudaEventDestroy(q->e0);
    cudaEventDestroy(q->e1);
    free(q);
    r->bk = NULL;
    r->state = ZT_RQ_DONE;
    s->outstanding--;
    return 0;
}

static void *nccl_stream(zt_comm *c) { return ((nccl_state *)c->bk)->st; }

const zt_backend zt_backend_nccl = {
    .name = "nccl",
    .create = nccl_create,
    .destroy = nccl_destroy,
    .run = nccl_run,
    .submit = nccl_submit,
    .wait = nccl_wait,
    .stream = nccl_stream,
};
