/* pmix_boot.c — who am I, through PMIx.
 *
 * zt_boot_init() connects to the PMIx server of `srun --mpi=pmix` or of
 * OpenMPI's `mpirun`, and reads rank, job size, local rank/size and node.
 * Started with no server (a plain ./ztrain: no PMIX_NAMESPACE / PMIX_SERVER_URI*
 * in the environment) we run as W=1 without PMIx and say so in one line on
 * stderr; put/get then use a process-local table.
 *
 * Once a rank knows who it is, zt_boot_init hands rank, job, step and restart
 * count to the logger (zt_log_set_identity), so every later line is tagged.
 *
 * OpenMPI's MPI_Init (pmix/ext3x component, same libpmix.so.2) calls
 * PMIx_Init again in this process: PMIx counts inits, so both work, and
 * MPI_Finalize/zt_boot_finalize may come in either order (tests/ranks/deadrank).
 *
 * Failure handling: never PMIx_Finalize on an error path — a rank that exits without it makes Slurm kill the whole step.
 * An event handler for the peer-failure codes sets a flag that the comm
 * layer's timeouts poll (zt_boot_peer_failed). What fires where is recorded
 * in tests/ranks/deadrank.cmake.
 *
 * Node ids are 0..num_nodes-1 in the order of the lowest rank on each node:
 * on one node without communication; on several from one put/fence/get
 * exchange of each rank's PMIX_NODEID (else lowest rank of PMIX_LOCAL_PEERS,
 * else hostname) — see compute_nodes. */
#include "zt_launcher.h"
#include "pmix_check.h"   /* pmixCheck, pmixReport */
#include "zt_log.h"       /* zt_log_set_identity, zt_error, zt_info */

#include <pmix.h>         /* PMIx client API */
#include <stdbool.h>      /* PMIX_BOOL values */
#include <stdio.h>        /* snprintf */
#include <stdlib.h>       /* getenv, calloc */
#include <string.h>       /* strcmp, memcpy */
#include <unistd.h>       /* gethostname, _exit, alarm */

static pmix_proc_t g_me;
static int g_pmix_up;          /* PMIx_Init succeeded */
static int g_local_up;         /* singleton without PMIx: local key/value table */
static void local_clear(void);
static int g_singleton = 1;
static size_t g_evref;
static int g_have_evref;
static volatile int g_peer_failed;        /* written by the PMIx progress thread */
static volatile int g_failed_rank = -1;

int zt_boot_peer_failed(void) { return __atomic_load_n(&g_peer_failed, __ATOMIC_ACQUIRE); }
int zt_boot_failed_rank(void) { return __atomic_load_n(&g_failed_rank, __ATOMIC_ACQUIRE); }

/* ---- values ------------------------------------------------------------ */

/* Any integer-typed pmix_value_t as a long; -1 if not an integer. */
static int value_to_long(const pmix_value_t *v, long *out) {
    switch (v->type) {
    case PMIX_UINT32: *out = (long)v->data.uint32; return 0;
    case PMIX_UINT16: *out = (long)v->data.uint16; return 0;
    case PMIX_UINT8:  *out = (long)v->data.uint8;  return 0;
    case PMIX_UINT64: *out = (long)v->data.uint64; return 0;
    case PMIX_INT:    *out = (long)v->data.integer; return 0;
    case PMIX_INT32:  *out = (long)v->data.int32;  return 0;
    case PMIX_INT16:  *out = (long)v->data.int16;  return 0;
    case PMIX_INT64:  *out = (long)v->data.int64;  return 0;
    case PMIX_UINT:   *out = (long)v->data.uint;   return 0;
    case PMIX_SIZE:   *out = (long)v->data.size;   return 0;
    case PMIX_PROC_RANK: *out = (long)v->data.rank; return 0;
    default: return -1;
    }
}

/* Integer key of proc (rank) or of the job (rank = PMIX_RANK_WILDCARD).
 * optional: look only in the local store (no request to the server). */
static int get_long(pmix_rank_t rank, const char *key, int optional, long *out) {
    pmix_proc_t p;
    pmix_value_t *v = NULL;
    pmix_info_t info;
    bool yes = true;
    PMIX_PROC_LOAD(&p, g_me.nspace, rank);
    PMIX_INFO_LOAD(&info, PMIX_OPTIONAL, &yes, PMIX_BOOL);
    pmix_status_t rc = PMIx_Get(&p, key, optional ? &info : NULL, optional ? 1 : 0, &v);
    PMIX_INFO_DESTRUCT(&info);
    if (rc != PMIX_SUCCESS || !v) return -1;
    int r = value_to_long(v, out);
    PMIX_VALUE_RELEASE(v);
    return r;
}

static int get_string(pmix_rank_t rank, const char *key, char *buf, size_t cap) {
    pmix_proc_t p;
    pmix_value_t *v = NULL;
    pmix_info_t info;
    bool yes = true;
    PMIX_PROC_LOAD(&p, g_me.nspace, rank);
    PMIX_INFO_LOAD(&info, PMIX_OPTIONAL, &yes, PMIX_BOOL);
    pmix_status_t rc = PMIx_Get(&p, key, &info, 1, &v);
    PMIX_INFO_DESTRUCT(&info);
    if (rc != PMIX_SUCCESS || !v) return -1;
    int r = -1;
    if (v->type == PMIX_STRING && v->data.string) {
        snprintf(buf, cap, "%s", v->data.string);
        r = 0;
    }
    PMIX_VALUE_RELEASE(v);
    return r;
}

/* ---- event handler ----------------------------------------------------- */

static void on_pmix_event(size_t id, pmix_status_t status, const pmix_proc_t *source,
                          pmix_info_t info[], size_t ninfo, pmix_info_t *results,
                          size_t nresults, pmix_event_notification_cbfunc_fn_t cbfunc,
                          void *cbdata) {
    const pmix_proc_t *who = NULL;
    int have_exit = 0, exit_code = 0;
    for (size_t i = 0; i < ninfo; i++) {
        if (PMIX_CHECK_KEY(&info[i], PMIX_EVENT_AFFECTED_PROC) && info[i].value.type == PMIX_PROC)
            who = info[i].value.data.proc;
        else if (!who && PMIX_CHECK_KEY(&info[i], PMIX_EVENT_AFFECTED_PROCS) &&
                 info[i].value.type == PMIX_DATA_ARRAY && info[i].value.data.darray &&
                 info[i].value.data.darray->type == PMIX_PROC &&
                 info[i].value.data.darray->size > 0)
            who = (const pmix_proc_t *)info[i].value.data.darray->array;
        else if (PMIX_CHECK_KEY(&info[i], PMIX_EXIT_CODE)) {
            long l;
            if (value_to_long(&info[i].value, &l) == 0) { have_exit = 1; exit_code = (int)l; }
        }
    }
    if (!who) who = source;
    /* A peer that terminated normally (exit 0, after PMIx_Finalize) is not a failure. */
    int failure = !(status == PMIX_EVENT_PROC_TERMINATED && have_exit && exit_code == 0);
    if (failure) {
        int r = (who && who->rank != PMIX_RANK_WILDCARD) ? (int)who->rank : -1;
        __atomic_store_n(&g_failed_rank, r, __ATOMIC_RELEASE);
        __atomic_store_n(&g_peer_failed, 1, __ATOMIC_RELEASE);
        char code[32] = "";
        if (have_exit) snprintf(code, sizeof code, ", exit code %d", exit_code);
        if (who)
            zt_error("PMIx event %s (%d): peer %s:%d failed%s", PMIx_Error_string(status),
                     (int)status, who->nspace, who->rank == PMIX_RANK_WILDCARD ? -1 : (int)who->rank,
                     code);
        else
            zt_error("PMIx event %s (%d): peer failure%s", PMIx_Error_string(status), (int)status,
                     code);
    }
    if (cbfunc) cbfunc(PMIX_EVENT_ACTION_COMPLETE, NULL, 0, NULL, NULL, cbdata);
}

static void register_event_handler(void) {
    pmix_status_t codes[] = {PMIX_ERR_PROC_TERM_WO_SYNC, PMIX_EVENT_PROC_TERMINATED,
                             PMIX_ERR_PROC_ABORTED_BY_SIG, PMIX_ERR_LOST_CONNECTION};
    pmix_info_t info;
    PMIX_INFO_LOAD(&info, PMIX_EVENT_HDLR_NAME, "ztrain-peer-failure", PMIX_STRING);
    /* NULL callback: blocking registration, returns the handler id (>= 0). */
    pmix_status_t rc = PMIx_Register_event_handler(codes, sizeof codes / sizeof codes[0], &info, 1,
                                                   on_pmix_event, NULL, NULL);
    PMIX_INFO_DESTRUCT(&info);
    if (rc < 0) {
        pmixReport(rc, "%s", "PMIx_Register_event_handler");
        return;
    }
    g_evref = (size_t)rc;
    g_have_evref = 1;
}

/* ---- node ids ---------------------------------------------------------- */

/* My node's name for the exchange: "n:<PMIX_NODEID>", else "p:<lowest rank in
 * PMIX_LOCAL_PEERS>", else "h:<hostname>" (cannot tell simulated nodes
 * apart). Ranks on one node see the same server data, so they pick the same
 * kind; names of different kinds never collide. ZT_BOOT_NODE_EXCHANGE=2/3
 * skip the first one/two kinds (tests use it). */
static void my_node_key(const zt_proc_t *p, int skip, char *key, size_t cap) {
    char peers[4096];
    long v;
    if (skip < 1 && get_long(g_me.rank, PMIX_NODEID, 0, &v) == 0)
        snprintf(key, cap, "n:%ld", v);
    else if (skip < 2 && get_string(PMIX_RANK_WILDCARD, PMIX_LOCAL_PEERS, peers, sizeof peers) == 0 &&
             zt_ranklist_min(peers) >= 0)
        snprintf(key, cap, "p:%d", zt_ranklist_min(peers));
    else
        snprintf(key, cap, "h:%.90s", p->hostname);
}

/* Node id of every rank, numbered in order of the lowest rank on each node;
 * sets node_id, num_nodes and (if PMIx did not say) local rank/size.
 *
 * One node (PMIX_NUM_NODES == 1, or all ranks local): no communication.
 * Several nodes: one put/fence/get round of each rank's node name. (Reading
 * every rank's PMIX_NODEID locally would save the fence, but Slurm gives it
 * only for the ranks of the local node, and a decision taken per rank could
 * send some ranks into the fence and not others; this rule is the same on
 * every rank because it uses job-level data only.) */
static int compute_nodes(zt_proc_t *p, int have_lrank, int have_lsize) {
    int W = p->size, force = zt_parse_int_env("ZT_BOOT_NODE_EXCHANGE", 0);
    long nn_job = -1;
    if (get_long(PMIX_RANK_WILDCARD, PMIX_NUM_NODES, 1, &nn_job) != 0) nn_job = -1;
    int one_node = nn_job == 1 || (nn_job < 1 && have_lsize && p->local_size == W);
    if (one_node && !force) {
        p->node_id = 0;
        p->num_nodes = 1;
        if (!have_lrank) p->local_rank = p->rank;
        if (!have_lsize) p->local_size = W;
        if (getenv("ZT_DEBUG")) zt_warn("one node (ZT_DEBUG)");
        return 0;
    }
    char (*keys)[96] = calloc((size_t)W, sizeof *keys);
    int *first = calloc((size_t)W, sizeof *first);   /* lowest rank of node n */
    int *node = calloc((size_t)W, sizeof *node);     /* node id of rank r */
    int ok = keys && first && node;
    if (ok) {
        char mine[96];
        my_node_key(p, force > 1 ? force - 1 : 0, mine, sizeof mine);
        if (getenv("ZT_DEBUG"))
            zt_warn("node key %s (exchange, ZT_DEBUG)", mine);
        ok = zt_boot_put("zt.boot.node", mine, strlen(mine) + 1) == 0 && zt_boot_commit() == 0 &&
             zt_boot_fence(1) == 0;
        for (int r = 0; ok && r < W; r++) {
            size_t got = 0;
            ok = zt_boot_get(r, "zt.boot.node", keys[r], sizeof keys[r] - 1, &got) == 0;
            keys[r][got < sizeof keys[r] ? got : sizeof keys[r] - 1] = 0;
        }
    }
    /* First-seen order over ascending ranks = order of the lowest rank. */
    int nn = 0;
    for (int r = 0; ok && r < W; r++) {
        int n;
        for (n = 0; n < nn; n++)
            if (strcmp(keys[first[n]], keys[r]) == 0) break;
        if (n == nn) first[nn++] = r;
        node[r] = n;
    }
    if (ok) {
        int me = p->rank, lr = 0, ls = 0;
        for (int r = 0; r < W; r++)
            if (node[r] == node[me]) { ls++; if (r < me) lr++; }
        p->node_id = node[me];
        p->num_nodes = nn;
        if (!have_lrank) p->local_rank = lr;
        if (!have_lsize) p->local_size = ls;
        if (nn_job > 0 && nn != nn_job && getenv("ZT_DEBUG"))
            zt_warn("PMIX_NUM_NODES=%ld, ranks sit on %d (ZT_DEBUG)", nn_job, nn);
    }
    free(node);
    free(first);
    free(keys);
    if (!ok) zt_error("cannot determine node ids");
    return ok ? 0 : -1;
}

/* ---- init / finalize ----------------------------------------------------- */

static void fill_slurm_ids(zt_proc_t *p) {
    const char *job = getenv("SLURM_JOB_ID"), *step = getenv("SLURM_STEP_ID");
    snprintf(p->jobid, sizeof p->jobid, "%.63s", job && *job ? job : p->nspace);
    snprintf(p->stepid, sizeof p->stepid, "%s", step && *step ? step : "-");
    p->restarts = zt_parse_int_env("SLURM_RESTART_COUNT", 0);
    if (p->restarts < 0) p->restarts = 0;
}

static int server_expected(void) {
    return getenv("PMIX_NAMESPACE") || getenv("PMIX_SERVER_URI4") ||
           getenv("PMIX_SERVER_URI3") || getenv("PMIX_SERVER_URI2") ||
           getenv("PMIX_SERVER_URI41") || getenv("PMIX_SERVER_URI21");
}

static zt_proc_t g_proc;   /* what the first successful zt_boot_init found */
static int g_booted;       /* g_proc is valid (until zt_boot_finalize) */

static int boot_init(zt_proc_t *p);

/* A second call (e.g. a subcommand that calls it again) returns the same
 * answer without a second PMIx_Init / handler registration. */
int zt_boot_init(zt_proc_t *p) {
    if (g_booted) {
        *p = g_proc;
        return 0;
    }
    if (g_pmix_up) {   /* an earlier call failed half-way: do not init twice */
        zt_error("zt_boot_init: an earlier call failed");
        return -1;
    }
    int rc = boot_init(p);
    if (rc == 0) {
        g_proc = *p;
        g_booted = 1;
    }
    return rc;
}

static int boot_init(zt_proc_t *p) {
    memset(p, 0, sizeof *p);
    p->size = p->local_size = p->num_nodes = 1;
    if (gethostname(p->hostname, sizeof p->hostname - 1) != 0)
        snprintf(p->hostname, sizeof p->hostname, "unknown");

    if (!server_expected()) {
        /* No server: do not touch PMIx at all. (PMIx_Init would answer
         * PMIX_ERR_UNREACH and stay up as a PMIx singleton, but OpenMPI's
         * MPI_Init then crashes inside libpmix; without it MPI_Init runs as
         * its own singleton.) Key/value calls use a process-local table. */
        g_singleton = 1;
        p->singleton = 1;
        snprintf(p->nspace, sizeof p->nspace, "singleton.%.200s.%d", p->hostname, (int)getpid());
        snprintf(p->launcher, sizeof p->launcher, "singleton");
        fill_slurm_ids(p);
        g_local_up = 1;
        const char *job = getenv("SLURM_JOB_ID");
        zt_log_set_identity(0, job && *job ? p->jobid : NULL, p->stepid, p->restarts);
        zt_warn("no PMIx server (not started by srun --mpi=pmix or mpirun): "
                 "running as a single rank (W=1)");
        return 0;
    }
    pmix_status_t rc = PMIx_Init(&g_me, NULL, 0);
    if (rc != PMIX_SUCCESS) {
        pmixReport(rc, "%s", "PMIx_Init");
        return -1;
    }
    g_pmix_up = 1;
    g_singleton = 0;
    p->rank = (int)g_me.rank;
    zt_log_set_identity(p->rank, NULL, NULL, 0);   /* the job tag follows below */
    snprintf(p->nspace, sizeof p->nspace, "%s", g_me.nspace);
    register_event_handler();

    long v;
    if (get_long(PMIX_RANK_WILDCARD, PMIX_JOB_SIZE, 0, &v) != 0 || v < 1) {
        zt_error("PMIx_Get(PMIX_JOB_SIZE) failed");
        return -1;
    }
    p->size = (int)v;
    int have_lrank = get_long(g_me.rank, PMIX_LOCAL_RANK, 0, &v) == 0;
    if (have_lrank) p->local_rank = (int)v;
    int have_lsize = get_long(PMIX_RANK_WILDCARD, PMIX_LOCAL_SIZE, 0, &v) == 0;
    if (have_lsize) p->local_size = (int)v;
    if (compute_nodes(p, have_lrank, have_lsize) != 0) return -1;

    const char *step = getenv("SLURM_STEP_ID");
    int slurm = strncmp(p->nspace, "slurm.pmix.", 11) == 0 ||
                (step && *step && !getenv("OMPI_COMM_WORLD_SIZE"));
    snprintf(p->launcher, sizeof p->launcher, "%s", slurm ? "slurm" : "mpirun");
    fill_slurm_ids(p);
    zt_log_set_identity(p->rank, p->jobid, p->stepid, p->restarts);
    return 0;
}

void zt_boot_finalize(void) {
    g_booted = 0;
    if (g_local_up) local_clear();
    if (!g_pmix_up) return;
    if (g_have_evref) PMIx_Deregister_event_handler(g_evref, NULL, NULL);
    g_have_evref = 0;
    pmixWarn(PMIx_Finalize(NULL, 0));
    g_pmix_up = 0;
}

/* ---- key/value --------------------------------------------------------- */

/* Singleton without PMIx: a process-local table (W=1: every get is of rank 0). */
struct local_kv { struct local_kv *next; char *key; size_t n; unsigned char data[]; };
static struct local_kv *g_kv;

static int local_put(const char *key, const void *buf, size_t n) {
    struct local_kv *e = malloc(sizeof *e + n);
    if (!e || !(e->key = strdup(key))) { free(e); return -1; }
    e->n = n;
    if (n) memcpy(e->data, buf, n);
    e->next = g_kv;   /* newest first: a second put of a key wins */
    g_kv = e;
    return 0;
}

static int local_get(int rank, const char *key, void *buf, size_t cap, size_t *got) {
    for (struct local_kv *e = g_kv; rank == 0 && e; e = e->next) {
        if (strcmp(e->key, key) != 0) continue;
        if (got) *got = e->n;
        if (e->n > cap) {
            zt_error("zt_boot_get(rank 0, \"%s\"): %zu bytes, buffer holds %zu", key, e->n, cap);
            return -1;
        }
        if (e->n) memcpy(buf, e->data, e->n);
        return 0;
    }
    zt_error("zt_boot_get(rank %d, \"%s\"): not found (singleton)", rank, key);
    return -1;
}

static void local_clear(void) {
    while (g_kv) { struct local_kv *e = g_kv; g_kv = e->next; free(e->key); free(e); }
    g_local_up = 0;
}

static int not_up(const char *what) {
    zt_error("%s: PMIx is not initialised (call zt_boot_init first)", what);
    return -1;
}

/* Optional timeout (s) for blocking PMIx calls: ZT_PMIX_TIMEOUT, default 300. */
static int pmix_timeout(void) {
    int t = zt_parse_int_env("ZT_PMIX_TIMEOUT", 300);
    return t < 0 ? 0 : t;
}

int zt_boot_put(const char *key, const void *buf, size_t n) {
    if (g_local_up) return local_put(key, buf, n);
    if (!g_pmix_up) return not_up("zt_boot_put");
    pmix_value_t val;
    PMIX_VALUE_CONSTRUCT(&val);
    val.type = PMIX_BYTE_OBJECT;
    val.data.bo.bytes = (char *)buf;   /* PMIx_Put copies */
    val.data.bo.size = n;
    pmixCheck(PMIx_Put(PMIX_GLOBAL, key, &val));
    return 0;
}

int zt_boot_commit(void) {
    if (g_local_up) return 0;
    if (!g_pmix_up) return not_up("zt_boot_commit");
    pmixCheck(PMIx_Commit());
    return 0;
}

int zt_boot_fence(int collect_data) {
    if (g_local_up) return 0;
    if (!g_pmix_up) return not_up("zt_boot_fence");
    pmix_info_t info[2];
    bool collect = collect_data != 0;
    int t = pmix_timeout();
    size_t ni = 1;
    PMIX_INFO_LOAD(&info[0], PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
    if (t > 0) PMIX_INFO_LOAD(&info[ni++], PMIX_TIMEOUT, &t, PMIX_INT);
    /* NULL procs: every proc of my namespace. A dead peer gives
     * PMIX_ERR_PARTIAL_SUCCESS under srun, or the timeout. */
    pmix_status_t rc = PMIx_Fence(NULL, 0, info, ni);
    for (size_t i = 0; i < ni; i++) PMIX_INFO_DESTRUCT(&info[i]);
    if (rc != PMIX_SUCCESS) {
        pmixReport(rc, "%s", "PMIx_Fence");
        return -1;
    }
    return 0;
}

int zt_boot_get(int rank, const char *key, void *buf, size_t cap, size_t *got) {
    if (got) *got = 0;
    if (g_local_up) return local_get(rank, key, buf, cap, got);
    if (!g_pmix_up) return not_up("zt_boot_get");
    pmix_proc_t proc;
    pmix_value_t *v = NULL;
    pmix_info_t info;
    int t = pmix_timeout();
    PMIX_PROC_LOAD(&proc, g_me.nspace, (pmix_rank_t)rank);
    PMIX_INFO_LOAD(&info, PMIX_TIMEOUT, &t, PMIX_INT);
    pmix_status_t rc = PMIx_Get(&proc, key, &info, t > 0 ? 1 : 0, &v);
    PMIX_INFO_DESTRUCT(&info);
    if (rc != PMIX_SUCCESS || !v) {
        pmixReport(rc, "PMIx_Get(rank %d, \"%s\")", rank, key);
        return -1;
    }
    const void *src = NULL;
    size_t n = 0;
    if (v->type == PMIX_BYTE_OBJECT) { src = v->data.bo.bytes; n = v->data.bo.size; }
    else if (v->type == PMIX_STRING && v->data.string) { src = v->data.string; n = strlen(v->data.string) + 1; }
    int r = 0;
    if (!src && n == 0 && v->type != PMIX_BYTE_OBJECT) {
        zt_error("PMIx_Get(rank %d, \"%s\"): unexpected type %d", rank, key, (int)v->type);
        r = -1;
    } else if (n > cap) {
        zt_error("PMIx_Get(rank %d, \"%s\"): %zu bytes, buffer holds %zu", rank, key, n, cap);
        if (got) *got = n;
        r = -1;
    } else {
        if (n) memcpy(buf, src, n);
        if (got) *got = n;
    }
    PMIX_VALUE_RELEASE(v);
    return r;
}

/* ---- abort ------------------------------------------------------------- */

_Noreturn void zt_boot_abort(int status, const char *msg) {
    zt_error("%s", msg ? msg : "abort");
    fflush(NULL);
    if (g_pmix_up && !g_singleton) {
        /* PMIx_Abort blocks until the server acts (it usually kills us);
         * if the server is gone, do not hang: SIGALRM ends us after 10 s. */
        alarm(10);
        PMIx_Abort(status, msg ? msg : "ztrain abort", NULL, 0);
    }
    _exit(status);   /* never PMIx_Finalize here */
}

int zt_proc_format(const zt_proc_t *p, const char *backend, char *buf, size_t cap) {
    return snprintf(buf, cap, "rank %d/%d local %d/%d node %d/%d host %s backend %s", p->rank,
                    p->size, p->local_rank, p->local_size, p->node_id, p->num_nodes, p->hostname,
                    backend ? backend : "none");
}
