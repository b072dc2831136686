/* comm_impl.h — private to trainer/comm/comm*.c: the backend vtable, the
 * operation descriptor, the request object and the helpers that comm.c shares
 * with the backends (padding, timeouts, bf16 arithmetic). Nothing outside
 * trainer/comm/comm*.c includes this. */
#ifndef ZT_COMM_IMPL_H
#define ZT_COMM_IMPL_H
#include <stddef.h>   /* size_t */
#include <stdint.h>   /* uint16_t */
#include "comm.h"     /* the public types */

typedef enum {
    ZT_OP_ALLREDUCE = 0,
    ZT_OP_REDUCE_SCATTER,    /* partition by zt_part(n) */
    ZT_OP_ALLGATHER,         /* partition by zt_part(n) */
    ZT_OP_REDUCE_SCATTER_V,  /* partition by counts[] */
    ZT_OP_ALLGATHER_V,       /* partition by counts[] */
    ZT_OP_BCAST,
    ZT_OP_BARRIER,
} zt_opkind;

/* One collective, as the caller asked for it. n is the total element count
 * (for the _v kinds: sum(counts)). counts is owned by the op (copied). */
typedef struct {
    zt_opkind   kind;
    const void *send;
    void       *recv;
    size_t      n;
    zt_dtype    dt;
    zt_redop    red;
    int         root;
    size_t     *counts;   /* _v kinds only: W entries, malloc'ed */
} zt_op;

struct zt_req {
    zt_comm        *c;
    zt_op           op;
    volatile int    state;      /* ZT_RQ_*; guarded by the backend's lock */
    int             rc;         /* what zt_wait returns */
    double          t_start, t_end;
    struct zt_req  *next;       /* backend FIFO */
    void           *bk;         /* backend data (NCCL: its events) */
};
enum { ZT_RQ_QUEUED = 0, ZT_RQ_RUNNING = 1, ZT_RQ_DONE = 2 };

typedef struct zt_backend {
    const char *name;
    int    (*create)(zt_comm *c, const zt_proc_t *p);   /* 0 or -1 */
    void   (*destroy)(zt_comm *c);
    int    (*run)(zt_comm *c, zt_op *op);               /* blocking */
    int    (*submit)(zt_comm *c, zt_req *r);            /* start async */
    int    (*wait)(zt_comm *c, zt_req *r);              /* complete it */
    void  *(*stream)(zt_comm *c);
} zt_backend;

struct zt_comm {
    const zt_backend *be;
    int     rank, size, local_rank;
    double  timeout_s;          /* <= 0: no timeout */
    void   *compute_stream;     /* zt_comm_set_compute_stream; NULL on CPU */
    void   *bk;                 /* backend state */
    char    err[512];           /* zt_comm_error(); written by the thread that
                                   ran the op, read after zt_wait (the backend's
                                   lock orders the two) */
};

/* comm.c helpers shared by the backends ---------------------------------- */
const char *zt_op_name(zt_opkind k);
/* This rank's part of op (offset, length) in elements. */
void   zt_op_part(const zt_comm *c, const zt_op *op, int r, size_t *off, size_t *len);
/* Elements per rank after padding (NCCL): ceil(n/W). */
static inline size_t zt_pad_chunk(size_t n, int W) { return (n + (size_t)W - 1) / (size_t)W; }
/* True when [a, a+na) and [b, b+nb) (bytes) overlap. */
int    zt_overlap(const void *a, size_t na, const void *b, size_t nb);
/* Record "rank R: <op> of N elements: <cause>" as c's last error and return
 * -1: every failure path that can return goes through here. */
int    zt_comm_fail(zt_comm *c, const char *op, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Log "<op> of N elements timed out after T s (peer failure?)" (why == NULL)
 * or "... failed after T s: <why> (peer failure?)" and exit ZT_EXIT_PEER:
 * for a collective that cannot be returned from (stuck inside MPI/NCCL). */
_Noreturn void zt_comm_die(const zt_comm *c, const char *op, size_t n, double elapsed,
                           const char *why);
/* Deadline check for a collective running since t0: dies on expiry or when the
 * launcher reports a failed peer. Cheap; call it from polling loops. */
void   zt_comm_check(const zt_comm *c, const char *op, size_t n, double t0);
/* fp32 scaling for ZT_AVG after a sum, in place, on host memory. */
void   zt_host_scale(void *buf, size_t n, zt_dtype t, int W);
void   zt_sleep_ns(long ns);

extern const zt_backend zt_backend_mpi;
#ifdef ZT_HAVE_CUDA
extern const zt_backend zt_backend_nccl;
#endif
#endif
