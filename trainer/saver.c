/* saver.c — checkpoint orchestration across ranks (see saver.h).
 *
 * Every rank writes the flat partition zt_part(P, W, r) of the parameters and
 * of every optimizer slot, whatever the stage (DDP ranks split the writing the
 * same way). Commit protocol, all ranks at the same step boundaries:
 *   1. all writers done (the per-step all-reduce MAX of "busy" is 0). A
 *      synchronous save writes its shard inside zt_saver_begin and fsyncs it
 *      on a background thread (the bytes are in the file: the engine's
 *      buffers may change again); "busy" until that fsync returns,
 *   2. all-gather (ok, crc32) of every shard; a failed shard ends every rank
 *      here with ZT_EXIT_CKPT,
 *   3. rank 0's committer thread writes index.h5 and renames .tmp-step-N ->
 *      step-N, then latest, while training goes on: the shards are already
 *      durable (fsynced), what is left is small files, renames and fsyncs,
 *      mostly waiting on the disk. Rank 0 stays "busy" meanwhile,
 *   4. at the first step boundary where no rank is busy, rank 0 broadcasts
 *      the outcome; a failure ends every rank with ZT_EXIT_CKPT and leaves
 *      latest on the previous complete checkpoint.
 * A save is committed (step 4) before the next save starts and before the
 * run ends (zt_saver_finish).
 * Control words (outcomes, CRCs, steps, paths) travel as int64 and bytes on
 * the host communicator, never as floats (a step above 2^24 would round).
 * The saver sees the engine only through engine.h: its partition, its slots
 * and its before-update hook. */
#define _GNU_SOURCE      /* pthread_timedjoin_np: the exit hook waits a bounded time */
#include "saver.h"
#include <dirent.h>      /* opendir: stale tmp dirs */
#include <limits.h>      /* INT_MAX: MPI counts */
#include <mpi.h>         /* per-node layout: the node's communicator and gather */
#include <pthread.h>     /* writer thread */
#include <stdatomic.h>   /* busy / copied flags shared with the writer */
#include <stdio.h>       /* snprintf, sscanf */
#include <stdlib.h>      /* calloc, free */
#include <string.h>      /* strcmp, strerror */
#include <sys/resource.h> /* setpriority: the committer thread runs at nice 19 */
#include <sys/stat.h>    /* stat */
#include <sys/syscall.h> /* SYS_gettid: setpriority of one thread */
#include <unistd.h>      /* syscall */
#include <time.h>        /* nanosleep */
#include "build_info.h"  /* zt_build_version: written into every index */
#include "ops.h"         /* to_host / to_device: state may live on a GPU */
#include "zt_ckpt.h"     /* checkpoint files */
#include "zt_data.h"     /* zt_data_tokenizer: the tokenizer every gpt checkpoint carries */
#include "zt_launcher.h" /* exit codes */
#include "zt_log.h"      /* zt_info, zt_error, zt_fatal */

struct zt_saver {
    const zt_config *cfg;
    /* rank 0, gpt: the dataset's tokenizer, stored in every index as the
     * blobs "tokenizer_kind" and "tokenizer" (sampling needs nothing else) */
    const char *tok_kind;
    uint8_t *tok;
    size_t tok_len;
    zt_engine *e;
    const zt_ops *ops;         /* memory space of the engine's buffers */
    zt_comm *ctl;              /* host words: outcomes, CRCs */
    int rank, W, nslots;
    size_t plo, plen;          /* this rank's partition, what it writes */
    zt_ck_tensor *tensors;
    zt_ck_layout L;
    float *host;               /* (1 + nslots) * plen floats: the snapshot, allocated
                                * at the first save that needs one (ensure_host) */
    int from_host;             /* this save writes from `host` (else: the engine's own partition) */
    uint64_t step;             /* step being written */
    int pending;               /* a save was started and not committed */
    int gathered;              /* steps 1-2 done: rank 0 commits (step 3) */
    atomic_int busy;           /* writer running */
    atomic_int cbusy;          /* rank 0: committer thread running */
    pthread_t cth; int cth_live;
    int64_t *outcomes;         /* [3W]: every shard's (ok, crc32, write µs), from step 2 */
    int cok; char cerr[2048];  /* rank 0: the committer's result */
    int ok; uint32_t crc;
    char err[1024];
    pthread_t th; int th_live;
    double t_write;            /* seconds the write took */
    double t_fsync;            /* sync saves: the deferred fsync (background) */
    unsigned wflags;           /* zt_ck_write_shard_ex flags of this save */
    double t_write_max;        /* the slowest rank's write (from the gather), and its rank */
    int slowest;
    double t_index, t_commit;  /* rank 0: index.h5, then renames + fsyncs + retention */
    double t_blocked;          /* seconds training waited for this save */
    int copy_in_writer;        /* host memory: the writer thread takes the snapshot */
    int async;                 /* this save runs in the background */
    atomic_int copied;         /* snapshot taken: the optimizer may update again */
    uint64_t last_step;
    uint64_t n_rows;           /* training rows: sampler cursor in the meta */
    /* ckpt.layout = per-node (set up at the first save, see node_setup) */
    int node_id;               /* launcher's node id, -1 unknown */
    int per_node;              /* -1 not decided yet, 0 per-rank, 1 per-node */
    MPI_Comm ncomm;            /* this node's ranks, in rank order */
    int nrank, nsize;          /* rank in ncomm, ranks on this node */
    int *lead;                 /* [W]: first (global) rank of each rank's node */
    int *counts, *displs;      /* [nsize]: the node's partitions (node leader) */
    size_t nlo, nlen;          /* the node file's range (node leader) */
    float *nbuf;               /* (1 + nslots) * nlen: the gathered node state */
};

/* A failed collective ends the job (zt_comm_fatal, exit 6), as in the engine:
 * one line with the rank, the operation and when ("at checkpoint step N"). */
#define saverCheck(s, rc, op, what) do { if ((rc) != 0) { char w_[48]; \
    snprintf(w_, sizeof w_, "at checkpoint step %llu", (unsigned long long)(s)->step); \
    zt_comm_fatal((s)->ctl, op, what, w_); } } while (0)

void zt_saver_set_rows(zt_saver *s, uint64_t n_rows) { s->n_rows = n_rows; }
void zt_saver_set_node(zt_saver *s, int node_id) { s->node_id = node_id; }

/* The checkpoint layout of e's model and optimizer: fills L, returns the
 * tensor table L points into (the caller frees it). Saving and resuming
 * both use it, so what is written is what a resume checks against. */
static zt_ck_tensor *layout_of(const zt_engine *e, zt_ck_layout *L) {
    const zt_model *m = zt_engine_model(e);
    const zt_optim_cfg *oc = zt_engine_optim(e);
    zt_ck_tensor *t = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *t);
    mallocCheck(t);
    for (int i = 0; i < m->n_tensors; i++) {
        snprintf(t[i].name, sizeof t[i].name, "%s", m->tensors[i].name);
        t[i].ndim = m->tensors[i].ndim;
        t[i].shape[0] = m->tensors[i].shape[0];
        t[i].shape[1] = t[i].ndim == 2 ? m->tensors[i].shape[1] : 1;
        t[i].off = m->tensors[i].off;
    }
    memset(L, 0, sizeof *L);
    L->n_tensors = m->n_tensors; L->t = t; L->n_flat = m->n_params;
    L->n_slots = zt_engine_n_slots(e);
    for (int i = 0; i < L->n_slots; i++)
        snprintf(L->slot[i], sizeof L->slot[i], "%s", zt_optim_slot_name(oc, i));
    return t;
}

static void before_update(void *arg);

/* Floats of the snapshot buffer (host) and of the node leader's gather
 * buffer (nbuf): (1 + slots) x this rank's partition, x the node's. */
static size_t host_floats(const zt_saver *s) { return (size_t)(1 + s->nslots) * (s->plen ? s->plen : 1); }
static size_t nbuf_floats(const zt_saver *s) { return (size_t)(1 + s->nslots) * (s->nlen ? s->nlen : 1); }

/* The memory report's checkpoint bytes: the buffers this saver holds now. */
static void count_buffers(zt_saver *s) {
    zt_engine_count_ckpt(s->e, ((s->host ? host_floats(s) : 0) + (s->nbuf ? nbuf_floats(s) : 0)) * sizeof(float));
}

/* The snapshot buffer, allocated once. */
static void ensure_host(zt_saver *s) {
    if (s->host) return;
    size_t n = host_floats(s);
    s->host = calloc(n, sizeof(float));
    ztCheck(s->host != NULL, ZT_EXIT_INTERNAL, "out of memory for the %zu-byte checkpoint buffer",
            n * sizeof(float));
    count_buffers(s);
}

/* Part k of what this save writes (0: parameters, 1 + i: optimizer slot i),
 * plen floats: the snapshot, or the engine's partition itself. */
static const float *part_src(const zt_saver *s, int k) {
    if (s->from_host) return s->host + (size_t)k * s->plen;
    return k == 0 ? zt_engine_param_part(s->e) : zt_engine_slot_part(s->e, k - 1);
}

/* A snapshot is needed to write while training goes on (async), or to
 * bring device memory to the host; a synchronous save of host memory writes
 * the engine's buffers themselves (memplan.c projects the same rule). */
static int needs_copy(int async, int device) { return async || device; }

zt_saver *zt_saver_create(const zt_config *cfg, zt_engine *e, int rank) {
    zt_saver *s = calloc(1, sizeof *s);
    mallocCheck(s);
    s->cfg = cfg; s->e = e; s->rank = rank; s->W = zt_engine_world(e);
    s->ops = zt_engine_ops(e); s->ctl = zt_engine_ctl(e);
    s->nslots = zt_engine_n_slots(e);
    zt_engine_partition(e, &s->plo, &s->plen);
    s->last_step = UINT64_MAX;
    s->node_id = -1;
    s->per_node = strcmp(cfg->ckpt_layout, "per-node") ? 0 : -1;
    s->ncomm = MPI_COMM_NULL;
    s->tensors = layout_of(e, &s->L);
    if (rank == 0) {   /* a killed run leaves .tmp-step-N dirs: never latest, remove them */
        DIR *d = opendir(cfg->ckpt_dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            unsigned long long st;
            if (sscanf(de->d_name, ".tmp-step-%llu", &st) == 1) {
                zt_info("removing unfinished checkpoint %s/%s (from an interrupted run)", cfg->ckpt_dir, de->d_name);
                zt_ck_abandon(cfg->ckpt_dir, st);
            }
        }
        if (d) closedir(d);
        char err[1024];
        if (!strcmp(cfg->model_name, "gpt") &&
            zt_data_tokenizer(cfg->data_path, &s->tok_kind, &s->tok, &s->tok_len, err, sizeof err))
            zt_fatal(ZT_EXIT_DATA, "checkpoints carry the tokenizer: %s", err);
    }
    zt_engine_set_before_update(e, before_update, s);
    if (needs_copy(cfg->ckpt_async, s->ops->device)) ensure_host(s);
    return s;
}

void zt_saver_destroy(zt_saver *s) {
    if (!s) return;
    zt_engine_set_before_update(s->e, NULL, NULL);
    zt_engine_count_ckpt(s->e, 0);
    if (s->ncomm != MPI_COMM_NULL) MPI_Comm_free(&s->ncomm);
    free(s->lead); free(s->counts); free(s->displs); free(s->nbuf);
    free(s->tensors); free(s->host); free(s->tok); free(s->outcomes); free(s);
}

/* Snapshot of this rank's partition (params and every slot) into s->host. */
static void snapshot(zt_saver *s) {
    s->from_host = 1;
    size_t bytes = s->plen * sizeof(float);
    s->ops->to_host(s->host, zt_engine_param_part(s->e), bytes);
    for (int i = 0; i < s->nslots; i++)
        s->ops->to_host(s->host + (size_t)(1 + i) * s->plen, zt_engine_slot_part(s->e, i), bytes);
    atomic_store(&s->copied, 1);
}

/* Engine hook, right before the next optimizer update: parameters and
 * optimizer state change only there, so the snapshot may run concurrently
 * with the forward/backward of the following step. */
static void before_update(void *arg) {
    zt_saver *s = arg;
    if (!s->pending || atomic_load(&s->copied)) return;
    double t0 = zt_now();
    while (!atomic_load(&s->copied)) { struct timespec ts = {0, 50000}; nanosleep(&ts, NULL); }
    s->t_blocked += zt_now() - t0;
}

/* ------------------------------------------------------------ per-node
 * ckpt.layout = per-node: the ranks of a node send their partitions (params
 * and slots) to the node's first rank over a node-local MPI communicator
 * (MPI_Gatherv), which writes one shard file holding the union of the
 * node's partitions: files = nodes, not ranks (a parallel file system's
 * metadata server sees W/ranks-per-node creates per save). The index maps
 * into it as into any shard: the format only needs the files' ranges to
 * tile the flat buffer, so resume works at any W and from either layout.
 * That needs the ranks of each node to be consecutive (block placement,
 * Slurm's default); otherwise the save falls back to per-rank, said once.
 * Node: the launcher's node id (zt_saver_set_node), else the ranks sharing
 * memory (MPI_COMM_TYPE_SHARED). For tests only: ZT_TEST_NODE_SPLIT=K puts
 * rank r on node r / K (several "nodes" on one host under mpirun).
 * The node leader holds (1 + slots) x the node's partitions in host memory
 * (counted as checkpoint memory). Collective: every rank, at its first save. */
static void node_setup(zt_saver *s) {
    int W = s->W, wr = -1, split = zt_parse_int_env("ZT_TEST_NODE_SPLIT", 0), rc;
    MPI_Comm_rank(MPI_COMM_WORLD, &wr);
    int color = split > 0 ? s->rank / split : s->node_id;
    if (color >= 0) rc = MPI_Comm_split(MPI_COMM_WORLD, color, s->rank, &s->ncomm);
    else rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, s->rank, MPI_INFO_NULL, &s->ncomm);
    if (rc != MPI_SUCCESS) zt_fatal(ZT_EXIT_PEER, "rank %d: cannot build the node communicator for ckpt.layout=per-node", s->rank);
    MPI_Comm_rank(s->ncomm, &s->nrank);
    MPI_Comm_size(s->ncomm, &s->nsize);
    int64_t me = s->rank;   /* the node's first rank, from its rank 0 */
    if (MPI_Bcast(&me, 1, MPI_INT64_T, 0, s->ncomm) != MPI_SUCCESS)
        zt_fatal(ZT_EXIT_PEER, "rank %d: node communicator broadcast failed", s->rank);
    int64_t *all = calloc((size_t)W, sizeof *all);
    s->lead = calloc((size_t)W, sizeof *s->lead);
    mallocCheck(all); mallocCheck(s->lead);
    saverCheck(s, zt_allgather(s->ctl, &me, all, (size_t)W, ZT_I64), "allgather", "node of every rank");
    /* consecutive: rank r starts a node or shares rank r-1's */
    int ok = wr == s->rank;
    for (int r = 0; r < W; r++) {
        s->lead[r] = (int)all[r];
        if (!(all[r] == r || (r > 0 && all[r] == all[r - 1]))) ok = 0;
    }
    size_t P = zt_engine_n_params(s->e), o, l;
    if (ok && s->nrank == 0) {   /* the leader's gather plan; MPI counts are int */
        s->counts = calloc((size_t)s->nsize, sizeof *s->counts);
        s->displs = calloc((size_t)s->nsize, sizeof *s->displs);
        mallocCheck(s->counts); mallocCheck(s->displs);
        s->nlo = s->plo; s->nlen = 0;
        for (int i = 0; i < s->nsize; i++) {
            zt_part(P, W, s->rank + i, &o, &l);
            if (l > INT_MAX || s->nlen > INT_MAX - l) ok = 0;
            s->counts[i] = (int)l; s->displs[i] = (int)s->nlen;
            s->nlen += l;
        }
    }
    int64_t mine = ok, allok = 0;   /* every rank decides the same */
    saverCheck(s, zt_allreduce(s->ctl, &mine, &allok, 1, ZT_I64, ZT_SUM), "allreduce", "per-node layout check");
    s->per_node = allok == W;
    if (!s->per_node) {
        if (s->rank == 0)
            zt_warn("ckpt.layout=per-node: the ranks of a node are not consecutive (or a node's share exceeds "
                    "2^31 values): writing one shard file per rank");
    } else if (s->nrank == 0) {
        size_t n = nbuf_floats(s);
        s->nbuf = malloc(n * sizeof(float));
        ztCheck(s->nbuf != NULL, ZT_EXIT_INTERNAL, "out of memory for the %zu-byte node checkpoint buffer",
                n * sizeof(float));
        count_buffers(s);
    }
    if (s->rank == 0 && s->per_node) {
        int files = 0;
        for (int r = 0; r < W; r++) files += s->lead[r] == r;
        zt_info("ckpt.layout=per-node: %d shard files for %d ranks", files, W);
    }
    free(all);
}

/* Shard files and their index: per-rank, the rank; per-node, the node. */
static int n_files(const zt_saver *s) {
    if (!s->per_node) return s->W;
    int n = 0;
    for (int r = 0; r < s->W; r++) n += s->lead[r] == r;
    return n;
}
static int file_of(const zt_saver *s, int rank) {
    if (!s->per_node) return rank;
    int n = -1;
    for (int r = 0; r <= rank; r++) n += s->lead[r] == r;
    return n;
}

/* Writer thread, per-node: gather to the leader, which writes. 0 / -1 + err. */
static int write_node(zt_saver *s, const char *tmp) {
    for (int k = 0; k <= s->nslots; k++) {
        const float *src = part_src(s, k);
        float *dst = s->nrank == 0 ? s->nbuf + (size_t)k * s->nlen : NULL;
        if (MPI_Gatherv(src, (int)s->plen, MPI_FLOAT, dst, s->counts, s->displs, MPI_FLOAT, 0, s->ncomm) !=
            MPI_SUCCESS) {
            snprintf(s->err, sizeof s->err, "rank %d: gathering the node's checkpoint state failed", s->rank);
            return -1;
        }
    }
    if (s->nrank != 0) { s->crc = 0; return 0; }
    const float *slots[ZT_CK_MAX_SLOTS];
    for (int i = 0; i < s->nslots; i++) slots[i] = s->nbuf + (size_t)(1 + i) * s->nlen;
    return zt_ck_write_shard_ex(tmp, file_of(s, s->rank), n_files(s), &s->L, s->nlo, s->nlo + s->nlen, s->nbuf,
                                slots, &s->crc, s->wflags, s->err, sizeof s->err);
}

/* Writes this rank's shard (async: on the writer thread; sync: on the
 * training thread, with the fsync deferred to fsyncer). */
static void *writer(void *arg) {
    zt_saver *s = arg;
    if (s->copy_in_writer) snapshot(s);
    char tmp[1024];
    zt_ck_tmp_path(s->cfg->ckpt_dir, s->step, tmp, sizeof tmp);
    const float *slots[ZT_CK_MAX_SLOTS];
    for (int i = 0; i < s->nslots; i++) slots[i] = part_src(s, 1 + i);
    double t0 = zt_now();
    if (s->per_node) s->ok = write_node(s, tmp) == 0;
    else s->ok = zt_ck_write_shard_ex(tmp, s->rank, s->W, &s->L, s->plo, s->plo + s->plen, part_src(s, 0),
                                      slots, &s->crc, s->wflags, s->err, sizeof s->err) == 0;
    s->t_write = zt_now() - t0;
    if (!(s->wflags & ZT_CK_NO_FSYNC)) atomic_store(&s->busy, 0);
    return NULL;
}

/* Sync save, background: the shard the training thread wrote (its bytes
 * are in the files, the engine's buffers are free again) is fsynced here;
 * the save counts as written ("busy" 0) only after that. */
static void *fsyncer(void *arg) {
    zt_saver *s = arg;
    double t0 = zt_now();
    if (s->ok && (!s->per_node || s->nrank == 0)) {   /* per-node: the node's leader wrote the file */
        char tmp[1024];
        zt_ck_tmp_path(s->cfg->ckpt_dir, s->step, tmp, sizeof tmp);
        s->ok = zt_ck_sync_shard(tmp, file_of(s, s->rank), n_files(s), s->err, sizeof s->err) == 0;
    }
    s->t_fsync = zt_now() - t0;
    atomic_store(&s->busy, 0);
    return NULL;
}

static void join_writer(zt_saver *s) {
    if (s->th_live) { pthread_join(s->th, NULL); s->th_live = 0; }
}

/* rank 0, every shard written: index, rename, latest. 0 or -1 + err. */
static int write_index_and_commit(zt_saver *s, const int64_t *all, char *err, size_t errlen) {
    int W = s->W, rc = 0, NF = n_files(s);
    size_t P = zt_engine_n_params(s->e);
    uint64_t *lo = calloc((size_t)W, 8), *hi = calloc((size_t)W, 8);
    uint32_t *crc = calloc((size_t)W, 4);
    zt_ck_meta *m = calloc(1, sizeof *m);
    mallocCheck(lo); mallocCheck(hi); mallocCheck(crc); mallocCheck(m);
    for (int q = 0; q < W; q++) {   /* file f: from its first rank's lo to its last rank's hi */
        size_t o, l; zt_part(P, W, q, &o, &l);
        int f = file_of(s, q);
        if (!s->per_node || s->lead[q] == q) { lo[f] = o; crc[f] = (uint32_t)all[3 * q + 1]; }
        hi[f] = o + l;
    }
    const zt_config *cfg = s->cfg;
    const zt_model *md = zt_engine_model(s->e);
    m->step = s->step; m->world = W; m->stage = zt_engine_stage(s->e); m->seed = (uint64_t)cfg->seed;
    snprintf(m->model, sizeof m->model, "%s params=%zu units=%d", md->kind, md->n_params, md->n_units);
    snprintf(m->optim, sizeof m->optim, "%s lr=%g", cfg->optim_name, cfg->lr);
    snprintf(m->config, sizeof m->config, "%s", cfg->text);
    snprintf(m->writer_version, sizeof m->writer_version, "%s", zt_build_version());
    /* informational: resume derives all of it from step and the config */
    uint64_t spe = cfg->global_batch > 0 ? s->n_rows / (uint64_t)cfg->global_batch : 0;
    snprintf(m->state, sizeof m->state,
             "sampler_epoch=%llu sampler_step_in_epoch=%llu optimizer_step=%llu lr_next=%.9g warmup_steps=%ld total_steps=%ld",
             (unsigned long long)(spe ? s->step / spe : 0), (unsigned long long)(spe ? s->step % spe : 0),
             (unsigned long long)s->step, zt_lr_at(zt_engine_optim(s->e), s->step), cfg->warmup_steps, cfg->steps);
    char tmp[1024]; zt_ck_tmp_path(cfg->ckpt_dir, s->step, tmp, sizeof tmp);
    zt_ck_blob tb[2] = {{"tokenizer_kind", s->tok_kind, s->tok_kind ? strlen(s->tok_kind) : 0},
                        {"tokenizer", s->tok, s->tok_len}};
    double t0 = zt_now();
    if (zt_ck_write_index_blobs(tmp, NF, &s->L, lo, hi, crc, m, tb, s->tok ? 2 : 0, err, errlen)) rc = -1;
    double t1 = zt_now();
    if (!rc && zt_ck_commit(cfg->ckpt_dir, s->step, (int)cfg->ckpt_keep_last, (int)cfg->ckpt_keep_every, err,
                            errlen))
        rc = -1;
    s->t_index = t1 - t0; s->t_commit = zt_now() - t1;
    free(m); free(lo); free(hi); free(crc);
    return rc;
}

/* Step 3, rank 0 (the committer thread, or inline). */
static void *committer(void *arg) {
    zt_saver *s = arg;
    /* the lowest CPU priority: on a node whose cores all train, the commit's
     * CPU work (index, verify) waits for idle moments instead of slowing a
     * rank (and with it every rank). Linux: nice is per thread. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);   /* failing: only less polite */
    s->cerr[0] = '\0';
    s->cok = write_index_and_commit(s, s->outcomes, s->cerr, sizeof s->cerr) == 0;
    atomic_store(&s->cbusy, 0);
    return NULL;
}

/* Exit hook (rank 0): a fatal error elsewhere (a peer's collective, a
 * signal's exit path) lets a commit in flight finish, at most 30 s: its
 * shards are all written and verified, so that save is not lost. */
static void finish_commit_at_exit(void *arg) {
    zt_saver *s = arg;
    if (!s->cth_live || pthread_equal(pthread_self(), s->cth)) return;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 30;
    if (pthread_timedjoin_np(s->cth, NULL, &dl) == 0) s->cth_live = 0;
}

/* Steps 1-2, collective, when every writer is done: every shard's outcome
 * and CRC to every rank; a failed shard ends every rank now. Then rank 0
 * starts step 3 in the background. */
static void gather(zt_saver *s) {
    join_writer(s);
    int W = s->W;
    int64_t mine[3] = { s->ok, (int64_t)s->crc, (int64_t)(s->t_write * 1e6) };
    if (!s->outcomes) { s->outcomes = calloc((size_t)3 * W, sizeof *s->outcomes); mallocCheck(s->outcomes); }
    int64_t *all = s->outcomes;
    saverCheck(s, zt_allgather(s->ctl, mine, all, (size_t)3 * W, ZT_I64), "allgather", "shard outcomes and CRCs");
    int bad = -1;
    s->t_write_max = 0; s->slowest = 0;
    for (int q = 0; q < W; q++) {
        if (!all[3 * q] && bad < 0) bad = q;
        if (all[3 * q + 2] * 1e-6 > s->t_write_max) { s->t_write_max = all[3 * q + 2] * 1e-6; s->slowest = q; }
    }
    if (bad >= 0) {
        if (!s->ok) zt_error("checkpoint write failed: %s", s->err);
        if (s->rank == 0) {
            zt_error("checkpoint step %llu FAILED: shard of rank %d failed to write (see that rank's message); "
                     "latest still names the previous checkpoint", (unsigned long long)s->step, bad);
            zt_ck_abandon(s->cfg->ckpt_dir, s->step);
        }
        int64_t done = 0;   /* the others wait for rank 0's clean-up before leaving */
        saverCheck(s, zt_bcast(s->ctl, &done, 1, ZT_I64, 0), "bcast", "commit outcome");
        /* leave at once: after a failed write HDF5 may hold a half-closed
         * file whose atexit cleanup crashes (seen with ENOSPC) */
        zt_exit_now(ZT_EXIT_CKPT);
    }
    s->gathered = 1;
    if (s->rank != 0) return;
    atomic_store(&s->cbusy, 1);
    int rc = pthread_create(&s->cth, NULL, committer, s);
    if (rc == 0) { s->cth_live = 1; zt_set_exit_hook(finish_commit_at_exit, s); }
    else committer(s);   /* no thread: commit now */
}

/* Step 4, collective, when rank 0's committer is done: its outcome to all. */
static void publish(zt_saver *s) {
    int64_t outcome = 1;
    if (s->rank == 0) {
        if (s->cth_live) { pthread_join(s->cth, NULL); s->cth_live = 0; zt_set_exit_hook(NULL, NULL); }
        if (!s->cok) {
            zt_error("checkpoint step %llu FAILED: %s; latest still names the previous checkpoint",
                     (unsigned long long)s->step, s->cerr);
            zt_ck_abandon(s->cfg->ckpt_dir, s->step);
            outcome = 0;
        } else {
            char fs[64] = "";
            if (s->wflags & ZT_CK_NO_FSYNC) snprintf(fs, sizeof fs, ", fsync %.1f ms", s->t_fsync * 1e3);
            zt_info("checkpoint step-%08llu committed (%s, %s write %.1f ms, slowest rank %d %.1f ms%s, "
                    "index %.1f ms, commit %.1f ms, training blocked %.2f ms on rank 0)",
                    (unsigned long long)s->step, s->cfg->ckpt_dir, s->async ? "async" : "sync",
                    s->t_write * 1e3, s->slowest, s->t_write_max * 1e3, fs, s->t_index * 1e3, s->t_commit * 1e3,
                    s->t_blocked * 1e3);
            if (s->cerr[0]) zt_warn("checkpoint step %llu: %s", (unsigned long long)s->step, s->cerr);
        }
    }
    saverCheck(s, zt_bcast(s->ctl, &outcome, 1, ZT_I64, 0), "bcast", "commit outcome");
    s->pending = 0; s->gathered = 0;
    if (outcome == 0) zt_exit_now(ZT_EXIT_CKPT);
    s->last_step = s->step;
}

double zt_saver_begin(zt_saver *s, uint64_t step, int force_sync) {
    double t0 = zt_now();
    if (s->pending) zt_saver_finish(s);      /* a second save waits for the first */
    if (s->per_node < 0) node_setup(s);
    char err[1024];
    if (zt_ck_prepare(s->cfg->ckpt_dir, step, err, sizeof err)) zt_fatal(ZT_EXIT_CKPT, "%s", err);
    s->step = step; s->pending = 1; s->ok = 0; s->t_blocked = 0;
    atomic_store(&s->copied, 0);
    atomic_store(&s->busy, 1);
    int async = s->async = s->cfg->ckpt_async && !force_sync;
    /* Host state, async: the writer thread snapshots it while the next step
     * computes (the engine waits in before_update). Host state, sync: written
     * from the engine's own buffers, which nothing changes until this
     * returns: no copy. Device state: copy here, since the op table belongs
     * to this thread. */
    s->copy_in_writer = async && !s->ops->device;
    s->from_host = 0;
    /* sync, not forced: training waits for the write (the bytes are in the
     * files), not for the fsync, which fsyncer does in the background */
    s->wflags = !async && !force_sync ? ZT_CK_NO_FSYNC : 0;
    s->t_fsync = 0;
    if (needs_copy(async, s->ops->device)) ensure_host(s);
    if (s->ops->device) snapshot(s);
    if (!async && !s->ops->device) atomic_store(&s->copied, 1);
    if (async) {
        int rc = pthread_create(&s->th, NULL, writer, s);
        if (rc == 0) s->th_live = 1;
        else {   /* no thread: write now; the commit still waits for the step boundary */
            zt_warn("cannot start the checkpoint writer thread (%s): writing step %llu synchronously",
                    strerror(rc), (unsigned long long)step);
            writer(s);
        }
    } else {
        writer(s);
        if (s->wflags & ZT_CK_NO_FSYNC) {
            int rc = pthread_create(&s->th, NULL, fsyncer, s);
            if (rc == 0) s->th_live = 1;
            else fsyncer(s);   /* no thread: fsync now */
        }
    }
    s->t_blocked += zt_now() - t0;
    /* a forced save (a stop, the end of the run) is committed before it returns */
    if (force_sync) zt_saver_finish(s);
    return zt_now() - t0;
}

int   zt_saver_pending(const zt_saver *s) { return s->pending; }
int   zt_saver_local_busy(const zt_saver *s) { return atomic_load(&s->busy) || atomic_load(&s->cbusy); }
void  zt_saver_commit_if_done(zt_saver *s, int64_t any_busy) {
    if (!s->pending || any_busy) return;
    if (s->gathered) publish(s);
    else gather(s);
}
uint64_t zt_saver_last_step(const zt_saver *s) { return s->last_step; }

void zt_saver_finish(zt_saver *s) {
    if (!s->pending) return;
    if (!s->gathered) gather(s);
    publish(s);
}

/* ---------------------------------------------------------------- resume */
static int is_dir(const char *p) { struct stat st; return stat(p, &st) == 0 && S_ISDIR(st.st_mode); }

#define resumeCheck(ctl, rc, op, what) commCheck(ctl, rc, op, what, "while resuming")

/* Where a resume looks (ckpt.resume names a step dir or a root; auto: the
 * ckpt.dir root), or NULL: never, or no directory configured. */
static const char *resume_root(const zt_config *cfg) {
    if (!strcmp(cfg->ckpt_resume, "never")) return NULL;
    const char *root = !strcmp(cfg->ckpt_resume, "auto") ? cfg->ckpt_dir : cfg->ckpt_resume;
    return root[0] ? root : NULL;
}

/* Rank 0: opens the candidate under root (a step dir itself, fully; or the
 * newest step dir below `before` that opens) into *r, its path in path[cap].
 * Returns 0 opened, 1 nothing to resume from, 2 root is no directory, -1
 * unusable (err). A step dir named directly is its own path: the only
 * candidate (no fallback). Resolution notes go to log. */
static int open_candidate(const char *root, uint64_t before, zt_ck_reader **r, char *path, size_t cap,
                          char *log, size_t loglen, char *err, size_t errlen) {
    char idx[1100];
    struct stat st;
    snprintf(idx, sizeof idx, "%s/index.h5", root);
    if (stat(idx, &st) == 0) {
        snprintf(path, cap, "%s", root);
        if (before) { snprintf(err, errlen, "%s failed verification", root); return -1; }
        /* opened fully here, before the other ranks open it trusted */
        return (*r = zt_ck_open(path, err, errlen)) ? 0 : -1;
    }
    if (!is_dir(root)) { snprintf(err, errlen, "%s: no such checkpoint directory", root); return 2; }
    return zt_ck_resolve_open(root, ZT_CK_RESOLVE_NO_CRC, before, r, path, cap, log, loglen, err, errlen);
}

/* Rank 0: the candidate to try (latest first, then older ones below
 * `before`), open in *r. Returns 0 candidate, 1 nothing to resume from, -1
 * unusable (printed). */
static int pick_candidate(const zt_config *cfg, const char *root, uint64_t before, zt_ck_reader **r,
                          char *path, size_t cap) {
    char log[4096] = "", err[2048] = "";
    int rc = open_candidate(root, before, r, path, cap, log, sizeof log, err, sizeof err);
    if (rc == 2) rc = strcmp(cfg->ckpt_resume, "auto") ? -1 : 1;   /* auto: a first run */
    if (log[0]) zt_warn("resume: %s", log);
    if (rc < 0) zt_error("cannot resume from %s: %s", root, err);
    if (rc == 1 && before) { rc = -1; zt_error("no complete checkpoint left under %s", root); }
    return rc;
}

zt_ck_reader *zt_resume_pick(const zt_config *cfg, char *path, size_t cap) {
    char log[4096] = "", err[2048] = "";
    const char *root = resume_root(cfg);
    zt_ck_reader *r = NULL;
    path[0] = 0;
    if (root && open_candidate(root, 0, &r, path, cap, log, sizeof log, err, sizeof err) == 0) {
        if (log[0]) zt_warn("resume: %s", log);
        return r;
    }
    path[0] = 0;   /* nothing, or nothing usable: zt_resume says which */
    return NULL;
}

int zt_resume(const zt_config *cfg, zt_engine *e, int rank, zt_ck_reader *first, const char *first_path,
              uint64_t *step) {
    *step = 0;
    const char *root = resume_root(cfg);
    if (!root) {
        if (first) zt_ck_close(first);
        return 1;
    }
    zt_comm *ctl = zt_engine_ctl(e);
    int W = zt_engine_world(e);
    /* Rank 0 picks a candidate that opens (latest first, then older ones);
     * the CRC check of its shards is split over all ranks (shard i on rank
     * i mod W); if any is bad, rank 0 logs it and tries the next older one.
     * Every rank opens a candidate once and loads from that same reader. */
    char path[1024] = "";
    uint64_t before = 0;
    int single = 0;
    zt_ck_reader *r = NULL;
    for (;;) {
        int64_t code = 1;     /* 0 candidate, 1 nothing to resume, -1 unusable */
        if (rank == 0 && first) {   /* the caller's pick: opened once, already */
            r = first; first = NULL; code = 0;
            snprintf(path, sizeof path, "%s", first_path);
        } else if (rank == 0) code = pick_candidate(cfg, root, before, &r, path, sizeof path);
        /* a step dir named directly is its own path: the only candidate */
        single = !strcmp(path, root);
        resumeCheck(ctl, zt_bcast(ctl, &code, 1, ZT_I64, 0), "bcast", "resume candidate");
        if (code < 0) zt_exit_now(ZT_EXIT_CKPT);     /* rank 0 said why */
        if (code > 0) { if (rank == 0) zt_info("no checkpoint under '%s': fresh start", root); return 1; }
        resumeCheck(ctl, zt_bcast(ctl, path, sizeof path, ZT_U8, 0), "bcast", "checkpoint path");
        char err[2048] = "";
        /* rank 0 opened it fully (index CRC, every shard's size): the others
         * skip that O(W) work each */
        if (!r) r = zt_ck_open_ex(path, rank == 0 ? 0 : ZT_CK_OPEN_TRUSTED, err, sizeof err);
        int64_t bad = r == NULL || zt_ck_verify_shards(r, rank, W, err, sizeof err) != 0, anybad = 0;
        if (bad) zt_warn("resume: skipping %s: %s", path, err);
        resumeCheck(ctl, zt_allreduce(ctl, &bad, &anybad, 1, ZT_I64, ZT_MAX), "allreduce", "shard verification");
        if (anybad == 0) break;
        int64_t st = r ? (int64_t)zt_ck_meta_of(r)->step : 0, mx = 0;
        if (r) { zt_ck_close(r); r = NULL; }
        if (single) {
            if (rank == 0) zt_error("%s is damaged and ckpt.resume names it alone", path);
            zt_exit_now(ZT_EXIT_CKPT);
        }
        /* every rank learns the failed step: the next candidate is older */
        resumeCheck(ctl, zt_allreduce(ctl, &st, &mx, 1, ZT_I64, ZT_MAX), "allreduce", "failed candidate step");
        before = (uint64_t)mx;
        if (before == 0) zt_exit_now(ZT_EXIT_CKPT);
    }

    char err[4096];
    zt_ck_layout L;
    zt_ck_tensor *t = layout_of(e, &L);
    if (zt_ck_check_layout(r, &L, err, sizeof err)) {
        if (rank == 0) zt_error("checkpoint %s does not match this model/optimizer:\n%s", path, err);
        zt_exit_now(ZT_EXIT_CKPT);
    }
    free(t);
    const zt_ck_meta *m = zt_ck_meta_of(r);
    const zt_ops *ops = zt_engine_ops(e);
    size_t plo, plen; zt_engine_partition(e, &plo, &plen);
    size_t lo = plo, hi = plo + plen, bytes = plen * sizeof(float);
    float *h = calloc(plen ? plen : 1, sizeof(float));   /* host staging */
    mallocCheck(h);
    int bad = zt_ck_read(r, NULL, lo, hi, h, err, sizeof err) != 0;
    if (!bad) ops->to_device(zt_engine_param_part(e), h, bytes);
    for (int i = 0; i < zt_engine_n_slots(e) && !bad; i++) {
        bad = zt_ck_read(r, zt_optim_slot_name(zt_engine_optim(e), i), lo, hi, h, err, sizeof err) != 0;
        if (!bad) ops->to_device(zt_engine_slot_part(e, i), h, bytes);
    }
    free(h);
    if (bad) zt_fatal(ZT_EXIT_CKPT, "reading %s: %s", path, err);
    /* every rank read only its partition; the stage may keep more */
    zt_engine_sync_partitions(e);
    *step = m->step;
    if (rank == 0) {
        zt_info("resumed from %s (step %llu, written by W=%d stage %d; now W=%d stage %d)",
                path, (unsigned long long)m->step, m->world, m->stage, W, zt_engine_stage(e));
        if (m->seed != (uint64_t)cfg->seed)
            zt_warn("checkpoint seed %llu != train.seed %ld: data order changes",
                    (unsigned long long)m->seed, cfg->seed);
    }
    zt_ck_close(r);
    return 0;
}
