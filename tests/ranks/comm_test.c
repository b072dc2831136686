/* comm_test.c — multi-rank test of trainer/comm (MPI backend), run by ctest
 * through mpirun at W = 1..4 (tests/ranks/comm.cmake).
 *
 * Every rank generates every rank's input deterministically (small integers,
 * so sums are exact in fp32 and bf16 whatever the reduction order), computes
 * the expected result itself and compares element by element, exactly:
 *   allreduce sum/avg/max, reduce_scatter sum/avg, allgather, bcast, barrier,
 *   reduce_scatter_v / allgather_v (uneven counts, zeros included),
 *   out-of-place and in-place, fp32 and bf16, counts 0, 1, 7 and 1,000,003,
 *   sync and async (all async ops of a round in flight at once, then waited in
 *   FIFO order, checking the zt_wait_t timeline);
 * plus bf16 round-to-nearest-even ties, (W > 1) that an async all-reduce
 * really progresses while the calling thread computes, the control dtypes
 * (i64 sums and maxima near 2^62, f64 sums, u8 bcast/allgather of strings),
 * that bad arguments return -1 with an error text, and that the ring
 * reduce-scatter adds in its documented order, bit for bit, on every run.
 *
 * Modes (argv[1]): "all" (default); "hang-sync" / "hang-async": rank W-1
 * never joins, the others must die with the timeout message (the ctest checks
 * the output); "fault": run with ZT_FAULT_COLLECTIVE=<rank>:<n>, collectives
 * #1..#6 alternate blocking and async all-reduces, the injected rank checks
 * the return code and the error text, then exits 6 (as the engine does) and
 * the others must end too (tests/ranks/comm_fault.sh). Env
 * ZT_COMM_TEST_SABOTAGE=partition makes the reference use a wrong partition
 * (floor instead of ceil): the test must then fail, which shows that it can. */
#include <math.h>
#include <mpi.h>          /* MPI_Allreduce of the verdict */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>       /* sleep */
#include "comm.h"
#include "zt_launcher.h"  /* zt_boot_init: rank identity for the log lines */
#include "zt_log.h"       /* zt_fatal */

static int R, W, sabotage;
static long failures, checks;

/* ---- reference ---------------------------------------------------------- */

/* rank q's input element i (integer in [-8, 8]) */
static int gen(int q, size_t i, int salt) {
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull + (uint64_t)(q + 1) * 0xBF58476D1CE4E5B9ull +
                 (uint64_t)salt * 0x94D049BB133111EBull;
    x ^= x >> 31; x *= 0xD6E8FEB86CA6B5ADull; x ^= x >> 29;
    return (int)(x % 17) - 8;
}

/* independent bf16 rounding (not the one in comm.h): look at the dropped
 * half-word, round half to even (finite values only) */
static uint16_t ref_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t hi = u >> 16, lo = u & 0xffffu;
    if (lo > 0x8000u || (lo == 0x8000u && (hi & 1u))) hi++;
    return (uint16_t)hi;
}
static float bf2f(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }

static void put(void *buf, zt_dtype t, size_t i, float v) {
    if (t == ZT_F32) ((float *)buf)[i] = v;
    else ((uint16_t *)buf)[i] = ref_bf16(v);
}
static float get(const void *buf, zt_dtype t, size_t i) {
    return t == ZT_F32 ? ((const float *)buf)[i] : bf2f(((const uint16_t *)buf)[i]);
}

/* the partition the test expects (sabotage: floor-based, which is wrong) */
static void part(size_t n, int r, size_t *off, size_t *len) {
    if (!sabotage) {   /* re-derived here rather than calling zt_part() */
        size_t chunk = (n + W - 1) / W, o = r * chunk;
        if (o > n) o = n;
        *off = o; *len = o + chunk > n ? n - o : chunk;
    } else {
        size_t b = n / W;
        *off = r * b; *len = r == W - 1 ? n - r * b : b;
    }
}

static void vcounts(size_t n, size_t *cnt) {   /* uneven: ~ (q+1), zeros for small n */
    size_t T = (size_t)W * (W + 1) / 2, prev = 0;
    for (int q = 0; q < W; q++) {
        size_t cum = q == W - 1 ? n : n * ((size_t)(q + 1) * (q + 2) / 2) / T;
        cnt[q] = cum - prev; prev = cum;
    }
}

/* ---- cases -------------------------------------------------------------- */

typedef enum { C_AR, C_RS, C_AG, C_BC, C_BAR, C_RSV, C_AGV } kind_t;
typedef struct {
    const char *name;
    kind_t kind;
    zt_redop red;
    int inplace;
    int sync_ok, async_ok;
} tcase;

static const tcase CASES[] = {
    {"allreduce.sum",          C_AR,  ZT_SUM, 0, 1, 1},
    {"allreduce.avg.inplace",  C_AR,  ZT_AVG, 1, 1, 1},
    {"allreduce.max",          C_AR,  ZT_MAX, 0, 1, 1},
    {"allreduce.sum.inplace",  C_AR,  ZT_SUM, 1, 1, 1},
    {"reduce_scatter.sum",     C_RS,  ZT_SUM, 0, 1, 1},
    {"reduce_scatter.avg",     C_RS,  ZT_AVG, 0, 1, 1},
    {"reduce_scatter.sum.inplace", C_RS, ZT_SUM, 1, 1, 1},
    {"reduce_scatter.avg.alias",   C_RS, ZT_AVG, 2, 1, 1},   /* recv = send + off */
    {"allgather",              C_AG,  ZT_SUM, 0, 1, 1},
    {"allgather.inplace",      C_AG,  ZT_SUM, 1, 1, 1},
    {"bcast",                  C_BC,  ZT_SUM, 1, 1, 0},
    {"barrier",                C_BAR, ZT_SUM, 0, 1, 0},
    {"reduce_scatter_v.sum",   C_RSV, ZT_SUM, 0, 0, 1},
    {"reduce_scatter_v.avg",   C_RSV, ZT_AVG, 0, 0, 1},
    {"reduce_scatter_v.sum.inplace", C_RSV, ZT_SUM, 1, 0, 1},
    {"allgather_v",            C_AGV, ZT_SUM, 0, 0, 1},
    {"allgather_v.inplace",    C_AGV, ZT_SUM, 1, 0, 1},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

typedef struct {
    const tcase *tc;
    size_t n;
    zt_dtype t;
    int salt, root;
    void *send, *recv;          /* may alias (in-place cases) */
    void *mem[2];               /* what to free */
    size_t recv_off, recv_len;  /* where to check in recv */
    size_t cnt[8];
    zt_req *req;
} job;

static float reduce_ref(const job *j, size_t i) {
    float acc = 0;
    for (int q = 0; q < W; q++) {
        float v = (float)gen(q, i, j->salt);
        if (j->tc->red == ZT_MAX) acc = q == 0 ? v : (v > acc ? v : acc);
        else acc += v;
    }
    if (j->tc->red == ZT_AVG) acc /= (float)W;
    if (j->t == ZT_BF16) acc = bf2f(ref_bf16(acc));
    return acc;
}

static size_t es(zt_dtype t) { return t == ZT_F32 ? 4 : 2; }

static void prepare(job *j) {
    size_t n = j->n, e = es(j->t), off, len;
    kind_t k = j->tc->kind;
    j->send = j->recv = j->mem[0] = j->mem[1] = NULL;
    if (k == C_BAR) return;
    if (k == C_RSV || k == C_AGV) vcounts(n, j->cnt);
    if (k == C_AGV) {
        off = 0; for (int q = 0; q < R; q++) off += j->cnt[q];
        len = j->cnt[R];
    } else {
        part(n, R, &off, &len);
    }
    j->recv = j->mem[0] = malloc(n * e + 16);
    if (k == C_AG || k == C_AGV) {
        for (size_t i = 0; i < n; i++) put(j->recv, j->t, i, -99.0f);   /* poison */
        if (j->tc->inplace) j->send = (char *)j->recv + off * e;
        else j->send = j->mem[1] = malloc(len * e + 16);
        for (size_t i = 0; i < len; i++) put(j->send, j->t, i, (float)gen(0, off + i, j->salt));
        j->recv_off = 0; j->recv_len = n;
    } else if (k == C_BC) {
        j->send = j->recv;
        for (size_t i = 0; i < n; i++)
            put(j->recv, j->t, i, R == j->root ? (float)gen(j->root, i, j->salt) : -77.0f);
        j->recv_off = 0; j->recv_len = n;
    } else {   /* reductions: every rank's full input */
        j->send = j->tc->inplace ? j->recv : (j->mem[1] = malloc(n * e + 16));
        if (!j->tc->inplace)
            for (size_t i = 0; i < n; i++) put(j->recv, j->t, i, -55.0f);
        for (size_t i = 0; i < n; i++) put(j->send, j->t, i, (float)gen(R, i, j->salt));
        if (j->tc->inplace == 2) j->recv = (char *)j->send + off * e;   /* recv inside send */
        if (k == C_AR) { j->recv_off = 0; j->recv_len = n; }
        else if (k == C_RSV) {
            size_t o = 0; for (int q = 0; q < R; q++) o += j->cnt[q];
            j->recv_off = o; j->recv_len = j->cnt[R];
        } else { j->recv_off = off; j->recv_len = len; }
    }
}

static void check(const job *j, const char *mode) {
    kind_t k = j->tc->kind;
    if (k == C_BAR) { checks++; return; }
    size_t bad = 0, first = 0;
    float got0 = 0, exp0 = 0;
    size_t m = (k == C_AR || k == C_AG || k == C_AGV || k == C_BC) ? j->n : j->recv_len;
    for (size_t i = 0; i < m; i++) {
        float exp;
        if (k == C_AR) exp = reduce_ref(j, i);
        else if (k == C_RS || k == C_RSV) exp = reduce_ref(j, j->recv_off + i);
        else if (k == C_BC) exp = (float)gen(j->root, i, j->salt);
        else exp = (float)gen(0, i, j->salt);   /* gather: every part is gen(0, global index) */
        if (j->t == ZT_BF16) exp = bf2f(ref_bf16(exp));
        float got = get(j->recv, j->t, i);
        if (got != exp) { if (!bad++) { first = i; got0 = got; exp0 = exp; } }
    }
    checks++;
    if (bad) {
        failures++;
        fprintf(stderr, "FAIL rank %d: %s %s %s n=%zu: %zu wrong, first [%zu] got %g want %g\n", R,
                j->tc->name, j->t == ZT_F32 ? "f32" : "bf16", mode, j->n, bad, first, got0, exp0);
    }
}

static void release(job *j) { free(j->mem[0]); free(j->mem[1]); }

static void run_sync(zt_comm *c, job *j) {
    switch (j->tc->kind) {
    case C_AR:  zt_allreduce(c, j->send, j->recv, j->n, j->t, j->tc->red); break;
    case C_RS:  zt_reduce_scatter(c, j->send, j->recv, j->n, j->t, j->tc->red); break;
    case C_AG:  zt_allgather(c, j->send, j->recv, j->n, j->t); break;
    case C_BC:  zt_bcast(c, j->recv, j->n, j->t, j->root); break;
    case C_BAR: zt_barrier(c); break;
    default: break;
    }
}

static zt_req *run_async(zt_comm *c, job *j) {
    switch (j->tc->kind) {
    case C_AR:  return zt_iallreduce(c, j->send, j->recv, j->n, j->t, j->tc->red);
    case C_RS:  return zt_ireduce_scatter(c, j->send, j->recv, j->n, j->t, j->tc->red);
    case C_AG:  return zt_iallgather(c, j->send, j->recv, j->n, j->t);
    case C_RSV: return zt_ireduce_scatter_v(c, j->send, j->recv, j->cnt, j->t, j->tc->red);
    case C_AGV: return zt_iallgather_v(c, j->send, j->recv, j->cnt, j->t);
    default: return NULL;
    }
}

static void expect(int cond, const char *what) {
    checks++;
    if (!cond) { failures++; fprintf(stderr, "FAIL rank %d: %s\n", R, what); }
}

/* bf16 sums that are exact ties: only ranks 0 and 1 contribute (others add
 * 0, exact), so the result is one rounding of a+b whatever the order. */
static void bf16_ties(zt_comm *c, int async) {
    if (W < 2) return;
    const float a[] = {1.0f, 1.0078125f, 256.0f, -1.0f, 3.0f, 1.0f};
    const float b[] = {0.00390625f, 0.00390625f, 1.0f, -0.00390625f, 0.01171875f, 65536.0f};
    enum { K = 6 };
    uint16_t in[K], out[K];
    for (int i = 0; i < K; i++) in[i] = R == 0 ? ref_bf16(a[i]) : R == 1 ? ref_bf16(b[i]) : 0;
    if (async) zt_wait(zt_iallreduce(c, in, out, K, ZT_BF16, ZT_SUM));
    else zt_allreduce(c, in, out, K, ZT_BF16, ZT_SUM);
    for (int i = 0; i < K; i++) {
        float want = bf2f(ref_bf16(bf2f(ref_bf16(a[i])) + bf2f(ref_bf16(b[i]))));
        char msg[160];
        snprintf(msg, sizeof msg, "bf16 tie %d (%s): got %g want %g", i, async ? "async" : "sync",
                 bf2f(out[i]), want);
        expect(bf2f(out[i]) == want, msg);
    }
}

/* The async all-reduce must finish while this thread computes. On a loaded
 * machine one second of computing may not be enough: the attempt is repeated
 * with twice the computation (up to 16 s) until every rank saw the op done
 * before it called zt_wait; without a progressing worker none ever is. */
static void overlap(zt_comm *c) {
    const char *am = getenv("ZT_COMM_ASYNC");
    if (W < 2 || (am && !strcmp(am, "deferred"))) return;   /* deferred: no overlap by design */
    size_t n = 1 << 20;
    float *x = malloc(n * 4);
    char msg[200] = "";
    int all_ok = 0;
    for (double secs = 1.0; secs <= 16.0 && !all_ok; secs *= 2) {
        for (size_t i = 0; i < n; i++) x[i] = (float)gen(R, i, 99);
        zt_barrier(c);
        zt_req *q = zt_iallreduce(c, x, x, n, ZT_F32, ZT_SUM);
        double t0 = zt_now();
        volatile double acc = 0;
        while (zt_now() - t0 < secs) for (int i = 0; i < 100000; i++) acc += i * 1e-9;   /* "compute" */
        double tw = zt_now(), ts, te;
        zt_wait_t(q, &ts, &te);
        snprintf(msg, sizeof msg, "overlap: async allreduce of %zu floats ran %.3f..%.3f s, wait called "
                 "at %.3f s (must finish during the computation)", n, ts - t0, te - t0, tw - t0);
        int ok = te <= tw;
        MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        int bad = 0;
        for (size_t i = 0; i < n && !bad; i++) {
            float e = 0;
            for (int qq = 0; qq < W; qq++) e += (float)gen(qq, i, 99);
            bad = x[i] != e;
        }
        expect(!bad, "overlap: wrong all-reduce result");
    }
    expect(all_ok, msg);
    if (R == 0) printf("overlap: %s\n", all_ok ? "ok" : "NO");
    free(x);
}

/* i64 (exact beyond 2^53), f64 and u8: control data that f32 would round. */
static void control_dtypes(zt_comm *c) {
    char msg[256];
    /* i64 SUM: 2^62 - 1000 + R*(2^24 + 1) on rank R: fits, and every
     * intermediate value is above what f32 or f64 holds exactly */
    int64_t base = ((int64_t)1 << 62) - 1000, big = ((int64_t)1 << 24) + 1;
    int64_t mine = R == 0 ? base : R * big, sum = 0, want = base;
    for (int q = 1; q < W; q++) want += q * big;
    expect(zt_allreduce(c, &mine, &sum, 1, ZT_I64, ZT_SUM) == 0, "i64 sum returned an error");
    snprintf(msg, sizeof msg, "i64 sum: got %lld want %lld", (long long)sum, (long long)want);
    expect(sum == want, msg);
    /* i64 MAX, in place, async, 3 elements near 2^62 and 2^24 + 1 */
    int64_t v[3] = { base + R, (int64_t)16777217 - R, -((int64_t)1 << 62) + R };
    zt_req *q = zt_iallreduce(c, v, v, 3, ZT_I64, ZT_MAX);
    expect(q && zt_wait(q) == 0, "i64 max (async) failed");
    expect(v[0] == base + W - 1 && v[1] == 16777217 && v[2] == -((int64_t)1 << 62) + W - 1,
           "i64 max: wrong values");
    /* f64 SUM: 0.1*(R+1) + 2^40: exact only in f64 reductions in rank order
     * for W <= 2; compare with a tolerance that f32 could never meet */
    double d = 0.1 * (R + 1) + 1099511627776.0, ds = 0, dw = 0;
    for (int k = 0; k < W; k++) dw += 0.1 * (k + 1) + 1099511627776.0;
    expect(zt_allreduce(c, &d, &ds, 1, ZT_F64, ZT_SUM) == 0, "f64 sum returned an error");
    snprintf(msg, sizeof msg, "f64 sum: got %.6f want %.6f", ds, dw);
    expect(fabs(ds - dw) < 0.05, msg);   /* f32 would be off by ~2^18 */
    /* f64 AVG */
    double a = (double)R, aw = (double)(W - 1) / 2.0;
    expect(zt_allreduce(c, &a, &a, 1, ZT_F64, ZT_AVG) == 0 && a == aw, "f64 avg");
    /* u8 bcast of a path from the last rank (odd length, not a word multiple) */
    char path[301];
    const char *src = "/scratch/ckpt/step-000016777217/";
    memset(path, R == W - 1 ? 'x' : 0, sizeof path);
    if (R == W - 1) snprintf(path, sizeof path, "%s", src);
    expect(zt_bcast(c, path, sizeof path, ZT_U8, W - 1) == 0, "u8 bcast returned an error");
    snprintf(msg, sizeof msg, "u8 bcast: got \"%.60s\"", path);
    expect(!strcmp(path, src), msg);
    /* u8 allgather: 5 bytes per rank, uneven total (5W need not divide) */
    unsigned char all[5 * 8];
    memset(all, 0xee, sizeof all);
    for (int k = 0; k < 5; k++) all[5 * R + k] = (unsigned char)(R * 16 + k);
    expect(zt_allgather(c, all + 5 * R, all, (size_t)5 * W, ZT_U8) == 0, "u8 allgather failed");
    int okg = 1;
    for (int r = 0; r < W; r++) for (int k = 0; k < 5; k++) okg &= all[5 * r + k] == r * 16 + k;
    expect(okg, "u8 allgather: wrong bytes");
    expect(zt_dtype_size(ZT_I64) == 8 && zt_dtype_size(ZT_U8) == 1 && zt_dtype_size(ZT_F64) == 8 &&
           zt_dtype_size((zt_dtype)99) == 0, "zt_dtype_size");
}

/* Bad arguments fail with -1 / NULL and say why, on every rank alike (no
 * rank enters the collective, so nobody waits). */
static void bad_args(zt_comm *c) {
    uint8_t b[4] = {0};
    int64_t i = 0;
    expect(zt_allreduce(c, b, b, 4, ZT_U8, ZT_SUM) == -1 && strstr(zt_comm_error(c), "u8"),
           "u8 allreduce must fail naming u8");
    expect(zt_allreduce(c, &i, &i, 1, ZT_I64, ZT_AVG) == -1 && strstr(zt_comm_error(c), "AVG"),
           "i64 avg must fail");
    expect(zt_iallreduce(c, b, b, 1, (zt_dtype)7, ZT_SUM) == NULL &&
           strstr(zt_comm_error(c), "bad dtype 7"), "bad dtype must give NULL");
    expect(zt_bcast(c, b, 4, ZT_U8, W) == -1 && strstr(zt_comm_error(c), "bad root"), "bad root");
    expect(zt_allreduce(c, NULL, b, 4, ZT_F32, ZT_SUM) == -1, "NULL buffer");
    expect(zt_ireduce_scatter_v(c, b, b, NULL, ZT_F32, ZT_SUM) == NULL, "NULL counts");
    char msg[600];
    snprintf(msg, sizeof msg, "error text names op and rank: \"%s\"", zt_comm_error(c));
    char want[64];
    snprintf(want, sizeof want, "on rank %d: ", R);
    expect(strstr(zt_comm_error(c), "reduce_scatter_v") && strstr(zt_comm_error(c), want), msg);
    expect(zt_wait(NULL) == -1 && zt_wait_t(NULL, NULL, NULL) == -1, "zt_wait(NULL) must be -1");
}

/* The ring reduce-scatter adds chunk q as ((x[q+1] + x[q+2]) + ...) + x[q]:
 * non-integer inputs, so any other order shows in the bits; run twice. */
static void ring_order(zt_comm *c) {
    const char *rs = getenv("ZT_COMM_RS");
    if (W < 2 || (rs && strcmp(rs, "ring"))) return;
    size_t cnt[8], n = 0;
    /* several segments when ZT_COMM_RING_SEG_KB is small (ranks.comm.w3_ring_seg) */
    for (int q = 0; q < W; q++) { cnt[q] = 300000 + 7 * q; n += cnt[q]; }
    float *x = malloc(n * 4), *out[2] = { malloc(cnt[R] * 4), malloc(cnt[R] * 4) };
    size_t off = 0;
    for (int q = 0; q < R; q++) off += cnt[q];
    /* rank q's value of element i, the same formula on every rank */
#define XV(q, i) ((float)gen(q, i, 7) * 0.1f + (float)(q) * 1e-3f + 1.0f / (float)((i) % 97 + 3))
    for (size_t i = 0; i < n; i++) x[i] = XV(R, i);
    for (int k = 0; k < 2; k++) {
        zt_req *q = zt_ireduce_scatter_v(c, x, out[k], cnt, ZT_F32, ZT_SUM);
        expect(q && zt_wait(q) == 0, "ring reduce_scatter_v failed");
    }
    size_t bad = 0;
    for (size_t i = 0; i < cnt[R]; i++) {
        float acc = XV((R + 1) % W, off + i);
        for (int k = 2; k <= W; k++) acc = acc + XV((R + k) % W, off + i);
        if (memcmp(&acc, &out[0][i], 4) || memcmp(&acc, &out[1][i], 4)) bad++;
    }
#undef XV
    char msg[160];
    snprintf(msg, sizeof msg, "ring reduce_scatter_v: %zu of %zu elements differ from the ring order",
             bad, cnt[R]);
    expect(bad == 0, msg);
    free(x); free(out[0]); free(out[1]);
}

/* ZT_FAULT_COLLECTIVE=<rank>:<n> is set by the test: collectives #1..#6
 * alternate blocking / async all-reduces. */
static int fault(void) {
    const char *tv = getenv("ZT_COMM_TEST_TIMEOUT");
    zt_comm *c = zt_comm_create("mpi", NULL, tv ? atof(tv) : 20.0);
    R = zt_comm_rank(c); W = zt_comm_size(c);
    const char *fv = getenv("ZT_FAULT_COLLECTIVE");
    int frank = -1, fn = 0;
    if (!fv || sscanf(fv, "%d:%d", &frank, &fn) != 2) zt_fatal(2, "set ZT_FAULT_COLLECTIVE=<rank>:<n>");
    float x[64];
    for (int k = 1; k <= 6; k++) {
        for (int i = 0; i < 64; i++) x[i] = 1.0f;
        int rc;
        if (k % 2) rc = zt_allreduce(c, x, x, 64, ZT_F32, ZT_SUM);
        else {
            zt_req *q = zt_iallreduce(c, x, x, 64, ZT_F32, ZT_SUM);
            if (R == frank && k == fn && q != NULL) zt_fatal(1, "FAIL: async op #%d did not return NULL", k);
            rc = zt_wait(q);   /* NULL: -1 */
        }
        if (rc != 0) {
            char want[96];
            snprintf(want, sizeof want, "injected fault (ZT_FAULT_COLLECTIVE) in allreduce #%d", k);
            if (R != frank || k != fn || !strstr(zt_comm_error(c), want))
                zt_fatal(1, "FAIL: collective #%d returned %d: %s", k, rc, zt_comm_error(c));
            /* what the engine does with a failed collective */
            zt_fatal(ZT_EXIT_PEER, "collective failed: %s", zt_comm_error(c));
        }
        if (x[0] != (float)W) zt_fatal(1, "FAIL: collective #%d: wrong sum %g", k, x[0]);
    }
    zt_fatal(1, "FAIL: all 6 collectives succeeded although ZT_FAULT_COLLECTIVE=%s", fv);
}

static int hang(const char *mode) {
    zt_comm *c = zt_comm_create("mpi", NULL, 2.0);
    R = zt_comm_rank(c); W = zt_comm_size(c);
    float x[1000] = {0};
    if (R == W - 1) { sleep(30); return 0; }   /* never joins */
    if (!strcmp(mode, "hang-async")) {
        zt_req *q = zt_iallreduce(c, x, x, 1000, ZT_F32, ZT_SUM);
        sleep(30);                 /* the comm thread must fire on its own */
        zt_wait(q);
    } else {
        zt_allreduce(c, x, x, 1000, ZT_F32, ZT_SUM);
    }
    fprintf(stderr, "rank %d: collective returned although a peer never joined\n", R);
    return 1;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "all";
    zt_proc_t proc;
    if (zt_boot_init(&proc) != 0) zt_fatal(1, "PMIx bootstrap failed");
    if (!strncmp(mode, "hang", 4)) return hang(mode);
    if (!strcmp(mode, "fault")) return fault();
    const char *sab = getenv("ZT_COMM_TEST_SABOTAGE");
    sabotage = sab && !strcmp(sab, "partition");

    double t_begin = zt_now();
    zt_comm *c = zt_comm_create("mpi", NULL, 60.0);
    if (!c) { fprintf(stderr, "cannot create comm\n"); return 1; }
    R = zt_comm_rank(c); W = zt_comm_size(c);
    if (W > 8) { fprintf(stderr, "W <= 8 only\n"); return 1; }
    if (strcmp(zt_comm_backend(c), "mpi") || zt_comm_stream(c) != NULL) {
        fprintf(stderr, "backend/stream mismatch\n"); return 1;
    }

    /* the required counts, plus two that every W in 1..4 divides (the
     * direct, unpadded paths) */
    const size_t counts[] = {0, 1, 7, 24, 98304, 1000003};
    size_t ncounts = sabotage ? 4 : sizeof counts / sizeof counts[0];   /* sabotage: small only */
    const zt_dtype dts[] = {ZT_F32, ZT_BF16};
    int salt = 1;
    for (size_t ci = 0; ci < ncounts; ci++)
        for (int di = 0; di < 2; di++)
            for (int async = 0; async < 2; async++) {
                job jobs[NCASES];
                int nj = 0;
                for (size_t k = 0; k < NCASES; k++) {
                    const tcase *tc = &CASES[k];
                    if (async ? !tc->async_ok : !tc->sync_ok) continue;
                    job *j = &jobs[nj++];
                    memset(j, 0, sizeof *j);
                    j->tc = tc; j->n = counts[ci]; j->t = dts[di]; j->salt = salt++;
                    j->root = (int)((counts[ci] + k) % W);
                    prepare(j);
                }
                const char *m = async ? "async" : "sync";
                if (!async) {
                    for (int i = 0; i < nj; i++) { run_sync(c, &jobs[i]); check(&jobs[i], m); }
                } else {
                    /* all in flight, then FIFO waits with the timeline */
                    for (int i = 0; i < nj; i++) {
                        jobs[i].req = run_async(c, &jobs[i]);
                        expect(jobs[i].req != NULL, "async submit returned NULL");
                    }
                    double prev_end = 0;
                    for (int i = 0; i < nj; i++) {
                        double ts = -1, te = -1;
                        if (jobs[i].req) zt_wait_t(jobs[i].req, &ts, &te);
                        char msg[200];
                        snprintf(msg, sizeof msg, "timeline %s n=%zu: start %.6f end %.6f prev end %.6f",
                                 jobs[i].tc->name, jobs[i].n, ts, te, prev_end);
                        expect(ts > 0 && ts <= te && ts >= prev_end, msg);
                        prev_end = te;
                        check(&jobs[i], m);
                    }
                }
                for (int i = 0; i < nj; i++) release(&jobs[i]);
            }
    bf16_ties(c, 0);
    bf16_ties(c, 1);
    if (!sabotage) {
        control_dtypes(c);
        bad_args(c);
        ring_order(c);
        overlap(c);
    }

    /* all ranks agree on the verdict */
    long tot[2] = {failures, checks}, all[2];
    MPI_Allreduce(tot, all, 2, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    zt_comm_destroy(c);
    if (R == 0)
        printf("comm_test W=%d: %ld checks, %ld failures, %.2f s%s\n", W, all[1], all[0],
               zt_now() - t_begin, sabotage ? " (sabotaged reference)" : "");
    zt_comm_finalize();
    zt_boot_finalize();
    return all[0] ? 1 : 0;
}
