/* comm.h — one collective interface, two backends: MPI (host memory) and
 * NCCL (device memory). Counts need not divide W: padding is internal.
 *
 * Flat partitioning: n elements, chunk = ceil(n/W); rank r owns
 * [r*chunk, (r+1)*chunk) ∩ [0, n). zt_part() computes it; reduce_scatter and
 * all_gather use exactly this partition.
 *
 * Errors: every collective returns -1 (async: NULL; zt_wait: -1) on failure
 * and zt_comm_error() then says which op, which rank and why. A collective
 * that hangs (a dead or late peer) is not returned from: past the comm's
 * timeout, or when the launcher reports a dead peer, the process logs
 * "<op> of N elements timed out after T s (peer failure?)" and exits
 * ZT_EXIT_PEER (6).
 *
 * For tests only: ZT_FAULT_COLLECTIVE=<rank>:<n> makes the n-th collective
 * (1-based) on global rank <rank> fail without touching the network: blocking
 * calls return -1, async calls NULL, and zt_comm_error() says
 * "injected fault (ZT_FAULT_COLLECTIVE) in <op> #<n>". Counted are the
 * collectives (blocking and async, barriers and n == 0 included) issued on
 * communicators that carry tensor data: while an NCCL comm exists, only the
 * NCCL comms' ones (the MPI comm then carries control data only); otherwise
 * every comm's (on CPU the control and data comm are one). The peers are left
 * inside the matching collective: the caller must exit (zt_fatal(6)) so the
 * launcher ends them, or their comm timeout will. */
#ifndef ZT_COMM_H
#define ZT_COMM_H
#include <stddef.h>        /* size_t */
#include <stdint.h>        /* uint16_t, uint32_t */
#include "zt_launcher.h"   /* zt_proc_t */

/* I64, F64: allreduce (SUM, MAX), reduce_scatter, allgather, bcast — control
 * data (steps, counters, norms) that float32 would round. U8: raw bytes, for
 * bcast and allgather only (paths, CRC words). The NCCL backend takes them
 * too (device memory), but control data always goes over the MPI comm. */
typedef enum { ZT_F32 = 0, ZT_BF16 = 1, ZT_I64 = 2, ZT_U8 = 3, ZT_F64 = 4 } zt_dtype;
typedef enum { ZT_SUM = 0, ZT_AVG = 1, ZT_MAX = 2 } zt_redop;

typedef struct zt_comm zt_comm;
typedef struct zt_req  zt_req;

static inline void zt_part(size_t n, int W, int r, size_t *off, size_t *len) {
    size_t chunk = (n + (size_t)W - 1) / (size_t)W;
    size_t o = (size_t)r * chunk; if (o > n) o = n;
    size_t l = chunk; if (o + l > n) l = n - o;
    *off = o; *len = l;
}
/* Bytes per element; 0 for a value that is not a zt_dtype. */
static inline size_t zt_dtype_size(zt_dtype t) {
    switch (t) {
    case ZT_F32: return 4;
    case ZT_BF16: return 2;
    case ZT_I64: return 8;
    case ZT_U8: return 1;
    case ZT_F64: return 8;
    }
    return 0;
}

/* backend: "mpi" or "nccl". timeout_s: any collective not done by then prints
 * which op/rank timed out and exits ZT_EXIT_PEER (the last guard against hangs). */
zt_comm *zt_comm_create(const char *backend, const zt_proc_t *p, double timeout_s);
void     zt_comm_destroy(zt_comm *c);
/* Text of the last error on c ("" if none): "rank R: <op> of N elements:
 * <cause>", the cause being the MPI/NCCL error string, a bad argument, or the
 * injected fault. Valid until the next failing call on c. */
const char *zt_comm_error(const zt_comm *c);
/* The one way a caller handles a failed collective: a failure must end the
 * job (the peers are inside the matching collective, and training on would
 * use stale or half-reduced values). Logs "collective <op> (<what>) failed on
 * rank R of W <when>: <zt_comm_error(c)>" and exits ZT_EXIT_PEER (6). */
_Noreturn void zt_comm_fatal(const zt_comm *c, const char *op, const char *what, const char *when);
/* commCheck(c, rc, op, what, when): rc != 0 (a blocking call or a wait) ends
 * the job through zt_comm_fatal; reqCheck: an async call's NULL request. */
#define commCheck(c, rc, op, what, when) do { if ((rc) != 0) zt_comm_fatal(c, op, what, when); } while (0)
#define reqCheck(c, q, op, what, when) do { if ((q) == NULL) zt_comm_fatal(c, op, what, when); } while (0)
int      zt_comm_rank(const zt_comm *c);
int      zt_comm_size(const zt_comm *c);
const char *zt_comm_backend(const zt_comm *c);

/* Blocking. send==recv means in place (allreduce, bcast). */
int zt_allreduce(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t, zt_redop op);
/* send: n elements; recv: this rank's zt_part(n) elements. */
int zt_reduce_scatter(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t, zt_redop op);
/* send: this rank's zt_part(n) elements; recv: n elements. send may alias recv+off. */
int zt_allgather(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t);
int zt_bcast(zt_comm *c, void *buf, size_t n, zt_dtype t, int root);
int zt_barrier(zt_comm *c);

/* Asynchronous: returns a request completed by zt_wait (FIFO order per comm).
 * Buffers must stay valid until zt_wait returns. */
zt_req *zt_iallreduce(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t, zt_redop op);
zt_req *zt_ireduce_scatter(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t, zt_redop op);
zt_req *zt_iallgather(zt_comm *c, const void *send, void *recv, size_t n, zt_dtype t);
int     zt_wait(zt_req *r);     /* frees r; 0, or -1 (r == NULL or the op failed) */
/* Same, and reports the monotonic seconds at which the op really started and
 * finished on the wire (either pointer may be NULL): the engines' timeline. */
int     zt_wait_t(zt_req *r, double *t_start, double *t_end);
double  zt_now(void);           /* monotonic seconds */
/* Variable-count collectives for ranges of the flat buffer that are not
 * W-divisible (ZeRO buckets and units): counts[q] elements go to / come from
 * rank q, in rank order, contiguous. reduce_scatter_v: send has sum(counts)
 * elements, recv gets counts[rank]. allgather_v: send has counts[rank], recv
 * gets sum(counts), rank q's part at offset counts[0]+...+counts[q-1]. */
zt_req *zt_ireduce_scatter_v(zt_comm *c, const void *send, void *recv, const size_t *counts,
                             zt_dtype t, zt_redop op);
zt_req *zt_iallgather_v(zt_comm *c, const void *send, void *recv, const size_t *counts, zt_dtype t);

/* Threads: one thread at a time uses a comm (the MPI backend's own worker and
 * watchdog threads are internal). Async ops run in FIFO order; a blocking op
 * first waits for every async op submitted before it.
 * Aliasing, all backends: allreduce send == recv is in place (other overlap is
 * handled too); reduce_scatter(_v) recv may lie anywhere inside send
 * (recv == send: this rank's part lands at recv[0]; recv == send + off: truly
 * in place); allgather(_v) send may alias recv + off (in place) or overlap it.
 * n == 0 is a no-op (async: a request that completes at once, in order).
 * MPI backend tuning (env): ZT_COMM_ASYNC=polled|blocking|deferred|nbc and
 * ZT_COMM_RS=ring|mpi, ZT_COMM_AR=ring|mpi (both default ring), see trainer/comm/comm_mpi.c. */

/* The compute stream (a cudaStream_t as void*; NULL on CPU, the default):
 * every collective enqueued on c after this call first waits, through an
 * event, for the work queued on that stream so far, so it sees the gradients
 * and parameters that compute wrote (llm.c passes the stream the same way).
 * The host waits for the collective itself in zt_wait. MPI: stored, unused. */
void    zt_comm_set_compute_stream(zt_comm *c, void *stream);
/* NCCL: the comm's own cudaStream_t (as void*), on which every collective of
 * this comm runs in FIFO order. MPI: NULL. */
void   *zt_comm_stream(zt_comm *c);
/* Success path only, once, after the last zt_comm_destroy and before
 * zt_boot_finalize(): finalizes MPI if the comm layer initialised it. Error
 * paths must NOT call it (exit without it, so the launcher kills the job). */
void    zt_comm_finalize(void);

/* bf16 <-> fp32 (bf16 is stored as uint16_t): round to nearest even, NaN kept
 * quiet. The MPI backend reduces bf16 in fp32 with exactly this rounding. */
static inline uint16_t zt_f32_to_bf16(float f) {
    union { float f; uint32_t u; } v = { f };
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40u);
    v.u += 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)(v.u >> 16);
}
static inline float zt_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = { (uint32_t)h << 16 };
    return v.f;
}
#endif
