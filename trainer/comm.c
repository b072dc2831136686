/* comm.c — backend dispatch ("mpi", "nccl"), argument checks, the monotonic
 * clock, requests and zt_wait/zt_wait_t, and the helpers the backends share
 * (partitions, timeouts and the peer-failure exit, AVG scaling). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "comm_impl.h"

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

_Noreturn void zt_comm_die(const zt_comm *c, const char *op, size_t n, double elapsed,
                           const char *why) {
    char msg[512];
    int k;
    if (why)
        k = snprintf(msg, sizeof msg, "ztrain: rank %d: %s of %zu elements failed after %.1f s: %s (peer failure?)\n",
                     c->rank, op, n, elapsed, why);
    else
        k = snprintf(msg, sizeof msg, "ztrain: rank %d: %s of %zu elements timed out after %.1f s (peer failure?)\n",
                     c->rank, op, n, elapsed);
    if (k > (int)sizeof msg - 1) k = (int)sizeof msg - 1;
    /* stdout may hold metrics lines: flush it, unless another thread holds
     * its lock (never block on the way out). */
    if (ftrylockfile(stdout) == 0) { fflush_unlocked(stdout); funlockfile(stdout); }
    ssize_t w = write(2, msg, (size_t)k);
    (void)w;
    _exit(ZT_EXIT_PEER);
}

void zt_comm_check(const zt_comm *c, const char *op, size_t n, double t0) {
    double el = zt_now() - t0;
    if (c->timeout_s > 0 && el > c->timeout_s) zt_comm_die(c, op, n, el, NULL);
    if (zt_boot_peer_failed()) zt_comm_die(c, op, n, el, "the launcher reports a dead peer");
}

void zt_host_scale(void *buf, size_t n, zt_dtype t, int W) {
    if (W == 1) return;
    float w = (float)W;
    if (t == ZT_F32) {
        float *x = buf;
        for (size_t i = 0; i < n; i++) x[i] /= w;
    } else {
        uint16_t *x = buf;
        for (size_t i = 0; i < n; i++) x[i] = zt_f32_to_bf16(zt_bf16_to_f32(x[i]) / w);
    }
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
    const zt_backend *be = find_backend(backend);
    if (!be) {
        fprintf(stderr, "ztrain: comm backend \"%s\" is %s\n", backend,
                strcmp(backend, "nccl") ? "unknown (mpi, nccl)"
                                        : "not built (no CUDA/NCCL at build time)");
        return NULL;
    }
    zt_comm *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->be = be;
    c->timeout_s = timeout_s;
    c->rank = p ? p->rank : 0;
    c->size = p ? p->size : 1;
    c->local_rank = p ? p->local_rank : 0;
    if (be->create(c, p) != 0) { free(c); return NULL; }
    return c;
}

void zt_comm_destroy(zt_comm *c) {
    if (!c) return;
    c->be->destroy(c);
    free(c);
}

int zt_comm_rank(const zt_comm *c) { return c->rank; }
int zt_comm_size(const zt_comm *c) { return c->size; }
const char *zt_comm_backend(const zt_comm *c) { return c->be->name; }
void *zt_comm_stream(zt_comm *c) { return c->be->stream ? c->be->stream(c) : NULL; }

static int bad_args(const char *what, zt_dtype t, zt_redop op) {
    if (t != ZT_F32 && t != ZT_BF16) {
        fprintf(stderr, "ztrain: %s: bad dtype %d\n", what, (int)t);
        return 1;
    }
    if (op != ZT_SUM && op != ZT_AVG && op != ZT_MAX) {
        fprintf(stderr, "ztrain: %s: bad reduction %d\n", what, (int)op);
        return 1;
    }
    return 0;
}

static zt_op mkop(zt_opkind k, const void *s, void *r, size_t n, zt_dtype t, zt_redop red) {
    zt_op o = { k, s, r, n, t, red, 0, NULL };
    return o;
}

int zt_allreduce(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t, zt_redop op) {
    if (bad_args("allreduce", t, op)) return -1;
    if (n == 0) return 0;
    zt_op o = mkop(ZT_OP_ALLREDUCE, send, recv, n, t, op);
    return c->be->run(c, &o);
}

int zt_reduce_scatter(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t, zt_redop op) {
    if (bad_args("reduce_scatter", t, op)) return -1;
    if (n == 0) return 0;
    zt_op o = mkop(ZT_OP_REDUCE_SCATTER, send, recv, n, t, op);
    return c->be->run(c, &o);
}

int zt_allgather(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t) {
    if (bad_args("allgather", t, ZT_SUM)) return -1;
    if (n == 0) return 0;
    zt_op o = mkop(ZT_OP_ALLGATHER, send, recv, n, t, ZT_SUM);
    return c->be->run(c, &o);
}

int zt_bcast(zt_comm *c, void *buf, size_t n, zt_dtype t, int root) {
    if (bad_args("bcast", t, ZT_SUM)) return -1;
    if (root < 0 || root >= c->size) {
        fprintf(stderr, "ztrain: bcast: bad root %d (W=%d)\n", root, c->size);
        return -1;
    }
    if (n == 0) return 0;
    zt_op o = mkop(ZT_OP_BCAST, buf, buf, n, t, ZT_SUM);
    o.root = root;
    return c->be->run(c, &o);
}

int zt_barrier(zt_comm *c) {
    zt_op o = mkop(ZT_OP_BARRIER, NULL, NULL, 0, ZT_F32, ZT_SUM);
    return c->be->run(c, &o);
}

static zt_req *submit(zt_comm *c, zt_op o) {
    zt_req *r = calloc(1, sizeof *r);
    if (!r) { free(o.counts); return NULL; }
    r->c = c;
    r->op = o;
    if (c->be->submit(c, r) != 0) { free(o.counts); free(r); return NULL; }
    return r;
}

zt_req *zt_iallreduce(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t, zt_redop op) {
    if (bad_args("iallreduce", t, op)) return NULL;
    return submit(c, mkop(ZT_OP_ALLREDUCE, send, recv, n, t, op));
}

zt_req *zt_ireduce_scatter(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t, zt_redop op) {
    if (bad_args("ireduce_scatter", t, op)) return NULL;
    return submit(c, mkop(ZT_OP_REDUCE_SCATTER, send, recv, n, t, op));
}

zt_req *zt_iallgather(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t) {
    if (bad_args("iallgather", t, ZT_SUM)) return NULL;
    return submit(c, mkop(ZT_OP_ALLGATHER, send, recv, n, t, ZT_SUM));
}

static size_t *copy_counts(const zt_comm *c, const size_t *counts, size_t *total) {
    size_t *v = malloc((size_t)c->size * sizeof *v);
    if (!v) return NULL;
    size_t s = 0;
    for (int q = 0; q < c->size; q++) { v[q] = counts[q]; s += counts[q]; }
    *total = s;
    return v;
}

zt_req *zt_ireduce_scatter_v(zt_comm *c, const void *send, void *recv, const size_t *counts,
                             zt_dtype t, zt_redop op) {
    if (bad_args("ireduce_scatter_v", t, op)) return NULL;
    size_t n;
    size_t *v = copy_counts(c, counts, &n);
    if (!v) return NULL;
    zt_op o = mkop(ZT_OP_REDUCE_SCATTER_V, send, recv, n, t, op);
    o.counts = v;
    return submit(c, o);
}

zt_req *zt_iallgather_v(zt_comm *c, const void *send, void *recv, const size_t *counts, zt_dtype t) {
    if (bad_args("iallgather_v", t, ZT_SUM)) return NULL;
    size_t n;
    size_t *v = copy_counts(c, counts, &n);
    if (!v) return NULL;
    zt_op o = mkop(ZT_OP_ALLGATHER_V, send, recv, n, t, ZT_SUM);
    o.counts = v;
    return submit(c, o);
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
