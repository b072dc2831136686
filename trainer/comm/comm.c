/* comm.c — backend dispatch ("mpi", "nccl"), argument checks, the error
 * text of a comm, the test-only fault injection (ZT_FAULT_COLLECTIVE), the
 * monotonic clock, requests and zt_wait/zt_wait_t, and the helpers the
 * backends share (partitions, the peer-failure exit, AVG scaling). */
#include <errno.h>    /* EINTR */
#include <stdarg.h>   /* va_list for zt_comm_fail */
#include <stdio.h>    /* snprintf */
#include <stdlib.h>   /* calloc, getenv, strtol */
#include <string.h>   /* strcmp */
#include <time.h>     /* clock_gettime, nanosleep */
#include "comm_impl.h"
#include "zt_log.h"   /* zt_fatal, zt_error */

double zt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void zt_sleep_ns(long ns) {
    struct timespec ts = { ns / 1000000000L, ns % 1000000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

const char *zt_op_name(zt_opkind k) {
    switch (k) {
    case ZT_OP_ALLREDUCE:        return "allreduce";
    case ZT_OP_REDUCE_SCATTER:   return "reduce_scatter";
    case ZT_OP_ALLGATHER:        return "allgather";
    case ZT_OP_REDUCE_SCATTER_V: return "reduce_scatter_v";
    case ZT_OP_ALLGATHER_V:      return "allgather_v";
    case ZT_OP_BCAST:            return "bcast";
    case ZT_OP_BARRIER:          return "barrier";
    }
    return "?";
}

void zt_op_part(const zt_comm *c, const zt_op *op, int r, size_t *off, size_t *len) {
    if (op->counts) {
        size_t o = 0;
        for (int q = 0; q < r; q++) o += op->counts[q];
        *off = o; *len = op->counts[r];
    } else {
        zt_part(op->n, c->size, r, off, len);
    }
}

int zt_overlap(const void *a, size_t na, const void *b, size_t nb) {
    if (!a || !b || !na || !nb) return 0;
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return x < y + nb && y < x + na;
}

int zt_comm_fail(zt_comm *c, const char *op, size_t n, const char *fmt, ...) {
    int k = snprintf(c->err, sizeof c->err, "%s of %zu elements on rank %d: ", op, n, c->rank);
    if (k < 0 || k >= (int)sizeof c->err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + k, sizeof c->err - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

_Noreturn void zt_comm_die(const zt_comm *c, const char *op, size_t n, double elapsed,
                           const char *why) {
    if (why)
        zt_fatal(ZT_EXIT_PEER, "%s of %zu elements failed after %.1f s: %s (peer failure?)", op, n,
                 elapsed, why);
    zt_fatal(ZT_EXIT_PEER, "%s of %zu elements timed out after %.1f s (peer failure?)", op, n,
             elapsed);
    (void)c;
}

void zt_comm_check(const zt_comm *c, const char *op, size_t n, double t0) {
    double el = zt_now() - t0;
    if (c->timeout_s > 0 && el > c->timeout_s) zt_comm_die(c, op, n, el, NULL);
    if (zt_boot_peer_failed()) zt_comm_die(c, op, n, el, "the launcher reports a dead peer");
}

void zt_host_scale(void *buf, size_t n, zt_dtype t, int W) {
    if (W == 1) return;
    if (t == ZT_F32) {
        float *x = buf, w = (float)W;
        for (size_t i = 0; i < n; i++) x[i] /= w;
    } else if (t == ZT_F64) {
        double *x = buf, w = (double)W;
        for (size_t i = 0; i < n; i++) x[i] /= w;
    } else if (t == ZT_BF16) {
        uint16_t *x = buf;
        float w = (float)W;
        for (size_t i = 0; i < n; i++) x[i] = zt_f32_to_bf16(zt_bf16_to_f32(x[i]) / w);
    }   /* I64, U8: AVG is rejected before it gets here */
}

/* --- fault injection (tests only) ----------------------------------------- */

static int  g_fault_parsed;
static int  g_fault_rank = -1;       /* -1: off */
static long g_fault_n;
static long g_fault_count;           /* collectives counted so far (atomic) */
static int  g_device_comms;          /* live non-MPI comms (atomic) */

static void fault_parse(void) {
    if (g_fault_parsed) return;
    g_fault_parsed = 1;
    const char *v = getenv("ZT_FAULT_COLLECTIVE");
    if (!v || !*v) return;
    char *e1, *e2;
    long r = strtol(v, &e1, 10);
    long n = *e1 == ':' ? strtol(e1 + 1, &e2, 10) : 0;
    if (*e1 != ':' || *e2 || r < 0 || n < 1)
        zt_fatal(ZT_EXIT_CONFIG, "ZT_FAULT_COLLECTIVE=%s: want <rank>:<n> with n >= 1 (tests only)", v);
    g_fault_rank = (int)r;
    g_fault_n = n;
}

/* Count this collective; 1 (and c's error set) if it is the one to fail. */
static int fault_hit(zt_comm *c, const char *op, size_t n) {
    if (g_fault_rank < 0) return 0;
    if (c->be == &zt_backend_mpi && __atomic_load_n(&g_device_comms, __ATOMIC_ACQUIRE) > 0)
        return 0;   /* the control comm next to an NCCL one */
    long k = __atomic_add_fetch(&g_fault_count, 1, __ATOMIC_ACQ_REL);
    if (c->rank != g_fault_rank || k != g_fault_n) return 0;
    zt_comm_fail(c, op, n, "injected fault (ZT_FAULT_COLLECTIVE) in %s #%ld", op, k);
    return 1;
}

/* --- public API ---------------------------------------------------------- */

static const zt_backend *find_backend(const char *name) {
    if (!name || !strcmp(name, "mpi")) return &zt_backend_mpi;
#ifdef ZT_HAVE_CUDA
    if (!strcmp(name, "nccl")) return &zt_backend_nccl;
#endif
    return NULL;
}

zt_comm *zt_comm_create(const char *backend, const zt_proc_t *p, double timeout_s) {
    fault_parse();
    const zt_backend *be = find_backend(backend);
    if (!be) {
        zt_error("comm backend \"%s\" is %s", backend,
                 strcmp(backend, "nccl") ? "unknown (mpi, nccl)"
                                         : "not built (no CUDA/NCCL at build time)");
        return NULL;
    }
    zt_comm *c = calloc(1, sizeof *c);
    if (!c) { zt_error("comm %s: out of memory", be->name); return NULL; }
    c->be = be;
    c->timeout_s = timeout_s;
    c->rank = p ? p->rank : 0;
    c->size = p ? p->size : 1;
    c->local_rank = p ? p->local_rank : 0;
    if (be->create(c, p) != 0) { free(c); return NULL; }
    if (be != &zt_backend_mpi) __atomic_add_fetch(&g_device_comms, 1, __ATOMIC_ACQ_REL);
    return c;
}

void zt_comm_destroy(zt_comm *c) {
    if (!c) return;
    c->be->destroy(c);
    if (c->be != &zt_backend_mpi) __atomic_sub_fetch(&g_device_comms, 1, __ATOMIC_ACQ_REL);
    free(c);
}

int zt_comm_rank(const zt_comm *c) { return c->rank; }
int zt_comm_size(const zt_comm *c) { return c->size; }
const char *zt_comm_backend(const zt_comm *c) { return c->be->name; }
const char *zt_comm_error(const zt_comm *c) { return c ? c->err : "no communicator"; }
void *zt_comm_stream(zt_comm *c) { return c->be->stream ? c->be->stream(c) : NULL; }
void zt_comm_set_compute_stream(zt_comm *c, void *stream) { if (c) c->compute_stream = stream; }

/* What each kind accepts: reductions take F32, BF16, F64 and I64 (no AVG:
 * integer division would truncate); moves (gather, bcast) take every dtype. */
static int bad_args(zt_comm *c, const char *what, int reduces, zt_dtype t, zt_redop op,
                    size_t n, const void *send, const void *recv) {
    if (zt_dtype_size(t) == 0) return zt_comm_fail(c, what, n, "bad dtype %d", (int)t);
    if (reduces) {
        if (op != ZT_SUM && op != ZT_AVG && op != ZT_MAX)
            return zt_comm_fail(c, what, n, "bad reduction %d", (int)op);
        if (t == ZT_U8) return zt_comm_fail(c, what, n, "u8 (raw bytes) cannot be reduced");
        if (t == ZT_I64 && op == ZT_AVG) return zt_comm_fail(c, what, n, "i64 has no AVG (use SUM)");
    }
    /* a rank's own part may be empty (and its pointer NULL); the whole may not */
    if (n > 0 && (reduces ? !send : !recv)) return zt_comm_fail(c, what, n, "NULL buffer");
    return 0;
}

static zt_op mkop(zt_opkind k, const void *s, void *r, size_t n, zt_dtype t, zt_redop red) {
    zt_op o = { k, s, r, n, t, red, 0, NULL };
    return o;
}

/* Checks, the fault counter, n == 0, then the backend: the blocking path. */
static int run(zt_comm *c, zt_op o, int reduces) {
    const char *name = zt_op_name(o.kind);
    if (!c) return -1;
    if (o.kind != ZT_OP_BARRIER && bad_args(c, name, reduces, o.dt, o.red, o.n, o.send, o.recv))
        return -1;
    if (fault_hit(c, name, o.n)) return -1;
    if (o.n == 0 && o.kind != ZT_OP_BARRIER) return 0;
    return c->be->run(c, &o);
}

int zt_allreduce(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t, zt_redop op) {
    return run(c, mkop(ZT_OP_ALLREDUCE, send, recv, n, t, op), 1);
}

int zt_reduce_scatter(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t, zt_redop op) {
    return run(c, mkop(ZT_OP_REDUCE_SCATTER, send, recv, n, t, op), 1);
}

int zt_allgather(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t) {
    return run(c, mkop(ZT_OP_ALLGATHER, send, recv, n, t, ZT_SUM), 0);
}

int zt_bcast(zt_comm *c, void *buf, size_t n, zt_dtype t, int root) {
    if (c && (root < 0 || root >= c->size))
        return zt_comm_fail(c, "bcast", n, "bad root %d (W=%d)", root, c->size);
    zt_op o = mkop(ZT_OP_BCAST, buf, buf, n, t, ZT_SUM);
    o.root = root;
    return run(c, o, 0);
}

int zt_barrier(zt_comm *c) {
    return run(c, mkop(ZT_OP_BARRIER, NULL, NULL, 0, ZT_F32, ZT_SUM), 0);
}

/* The async path: checks and the fault counter as in run(); owns o.counts. */
static zt_req *submit(zt_comm *c, zt_op o, int reduces) {
    const char *name = zt_op_name(o.kind);
    if (!c) { free(o.counts); return NULL; }
    if (bad_args(c, name, reduces, o.dt, o.red, o.n, o.send, o.recv) || fault_hit(c, name, o.n)) {
        free(o.counts);
        return NULL;
    }
    zt_req *r = calloc(1, sizeof *r);
    if (!r) { free(o.counts); zt_comm_fail(c, name, o.n, "out of memory"); return NULL; }
    r->c = c;
    r->op = o;
    if (c->be->submit(c, r) != 0) { free(o.counts); free(r); return NULL; }
    return r;
}

zt_req *zt_iallreduce(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t, zt_redop op) {
    return submit(c, mkop(ZT_OP_ALLREDUCE, send, recv, n, t, op), 1);
}

zt_req *zt_ireduce_scatter(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t, zt_redop op) {
    return submit(c, mkop(ZT_OP_REDUCE_SCATTER, send, recv, n, t, op), 1);
}

zt_req *zt_iallgather(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t) {
    return submit(c, mkop(ZT_OP_ALLGATHER, send, recv, n, t, ZT_SUM), 0);
}

/* A private copy of counts[0..W) and their sum; NULL (c's error set) on failure. */
static size_t *copy_counts(zt_comm *c, const char *op, const size_t *counts, size_t *total) {
    if (!counts) { zt_comm_fail(c, op, 0, "NULL counts"); return NULL; }
    size_t *v = malloc((size_t)c->size * sizeof *v);
    if (!v) { zt_comm_fail(c, op, 0, "out of memory"); return NULL; }
    size_t s = 0;
    for (int q = 0; q < c->size; q++) { v[q] = counts[q]; s += counts[q]; }
    *total = s;
    return v;
}

/* The two variable-count ops differ only in kind and reduction: one path
 * copies the counts (the caller's array may go away before the op runs). */
static zt_req *submit_v(zt_comm *c, zt_opkind kind, const char *name, const void *send, void *recv,
                        const size_t *counts, zt_dtype t, zt_redop op, int flag) {
    if (!c) return NULL;
    size_t n;
    size_t *v = copy_counts(c, name, counts, &n);
    if (!v) return NULL;
    zt_op o = mkop(kind, send, recv, n, t, op);
    o.counts = v;
    return submit(c, o, flag);
}

zt_req *zt_ireduce_scatter_v(zt_comm *c, const void *send, void *recv, const size_t *counts,
                             zt_dtype t, zt_redop op) {
    return submit_v(c, ZT_OP_REDUCE_SCATTER_V, "reduce_scatter_v", send, recv, counts, t, op, 1);
}

zt_req *zt_iallgather_v(zt_comm *c, const void *send, void *recv, const size_t *counts, zt_dtype t) {
    return submit_v(c, ZT_OP_ALLGATHER_V, "allgather_v", send, recv, counts, t, ZT_SUM, 0);
}

int zt_wait_t(zt_req *r, double *t_start, double *t_end) {
    if (!r) return -1;
    int rc = r->c->be->wait(r->c, r);
    if (t_start) *t_start = r->t_start;
    if (t_end) *t_end = r->t_end;
    free(r->op.counts);
    free(r);
    return rc;
}

int zt_wait(zt_req *r) { return zt_wait_t(r, NULL, NULL); }

_Noreturn void zt_comm_fatal(const zt_comm *c, const char *op, const char *what, const char *when) {
    const char *why = c ? zt_comm_error(c) : "";
    zt_fatal(ZT_EXIT_PEER, "collective %s (%s) failed on rank %d of %d%s%s: %s", op, what,
             c ? zt_comm_rank(c) : -1, c ? zt_comm_size(c) : 0, when && *when ? " " : "", when ? when : "",
             why && *why ? why : "no error text");
}
