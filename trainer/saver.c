/* saver.c — checkpoint orchestration across ranks (see saver.h).
 *
 * Every rank writes the flat partition zt_part(P, W, r) of the parameters and
 * of every optimizer slot, whatever the stage (DDP ranks split the writing the
 * same way). Commit protocol, all ranks at the same step boundary:
 *   1. all writers done (the per-step all-reduce MAX of "busy" is 0),
 *   2. all-gather (ok, crc32) of every shard,
 *   3. rank 0 writes index.h5 and renames .tmp-step-N -> step-N, then latest,
 *   4. rank 0 broadcasts the outcome; a failure anywhere ends every rank with
 *      ZT_EXIT_CKPT and leaves latest on the previous complete checkpoint. */
#include "saver.h"
#include <pthread.h>   /* writer thread */
#include <stdatomic.h> /* busy flag */
#include <stdio.h>     /* fprintf */
#include <stdlib.h>    /* calloc, exit */
#include <string.h>    /* memcpy, strcmp */
#include <unistd.h>    /* _exit */
#include <time.h>      /* nanosleep */
#include <dirent.h>    /* opendir: stale tmp dirs */
#include <sys/stat.h>  /* stat */
#include "zt_ckpt.h"   /* checkpoint files */
#include "ops.h"       /* to_host / to_device: state may live on a GPU */
#include "zt_launcher.h" /* exit codes */

/* Leave at once: after a failed write HDF5 may hold a half-closed file that its
 * atexit cleanup crashes on (seen with ENOSPC), which would turn exit 5 into
 * a SIGSEGV. No PMIx_Finalize either: the launcher ends the other ranks. */
static _Noreturn void fail_exit(int code) { fflush(NULL); _exit(code); }
static void before_update(void *arg);

struct zt_saver {
    const zt_config *cfg;
    zt_engine *e;
    int rank, W;
    zt_ck_tensor *tensors;
    zt_ck_layout L;
    float *host;               /* (1 + nslots) * plen floats */
    uint64_t step;             /* step being written */
    int pending;               /* a save was started and not committed */
    atomic_int busy;           /* writer thread running */
    int ok; uint32_t crc;
    char err[1024];
    pthread_t th; int th_live;
    double t_write;            /* seconds the write took */
    double t_blocked;          /* seconds training waited for this save */
    int copy_in_writer;        /* host memory: the writer thread takes the snapshot */
    int async;                 /* this save runs in the background */
    atomic_int copied;         /* snapshot taken: the optimizer may update again */
    uint64_t last_step;
    uint64_t n_rows;           /* training rows: sampler cursor in the meta */
};

void zt_saver_set_rows(zt_saver *s, uint64_t n_rows) { s->n_rows = n_rows; }

static void build_layout(zt_saver *s) {
    const zt_model *m = s->e->m;
    s->tensors = calloc((size_t)m->n_tensors, sizeof *s->tensors);
    for (int i = 0; i < m->n_tensors; i++) {
        zt_ck_tensor *t = &s->tensors[i];
        snprintf(t->name, sizeof t->name, "%s", m->tensors[i].name);
        t->ndim = m->tensors[i].ndim;
        t->shape[0] = m->tensors[i].shape[0];
        t->shape[1] = t->ndim == 2 ? m->tensors[i].shape[1] : 1;
        t->off = m->tensors[i].off;
    }
    s->L.n_tensors = m->n_tensors; s->L.t = s->tensors; s->L.n_flat = m->n_params;
    s->L.n_slots = s->e->nslots;
    for (int i = 0; i < s->e->nslots; i++)
        snprintf(s->L.slot[i], sizeof s->L.slot[i], "%s", zt_optim_slot_name(&s->e->oc, i));
}

zt_saver *zt_saver_create(const zt_config *cfg, zt_engine *e, int rank) {
    zt_saver *s = calloc(1, sizeof *s);
    s->cfg = cfg; s->e = e; s->rank = rank; s->W = e->W;
    s->last_step = UINT64_MAX;
    build_layout(s);
    if (rank == 0) {   /* a killed run leaves .tmp-step-N dirs: never latest, remove them */
        DIR *d = opendir(cfg->ckpt_dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            unsigned long long st;
            if (sscanf(de->d_name, ".tmp-step-%llu", &st) == 1) {
                printf("ztrain: removing unfinished checkpoint %s/%s (from an interrupted run)\n", cfg->ckpt_dir, de->d_name);
                zt_ck_abandon(cfg->ckpt_dir, st);
            }
        }
        if (d) closedir(d);
    }
    e->before_update = before_update; e->before_update_arg = s;
    s->host = calloc((size_t)(1 + e->nslots) * (e->plen ? e->plen : 1), sizeof(float));
    if (!s->host) { fprintf(stderr, "ztrain: rank %d: out of memory for checkpoint buffer\n", rank); fail_exit(ZT_EXIT_INTERNAL); }
    return s;
}

void zt_saver_destroy(zt_saver *s) {
    if (!s) return;
    free(s->tensors); free(s->host); free(s);
}

/* Snapshot of this rank's partition (params and every slot) into s->host. */
static void snapshot(zt_saver *s) {
    zt_engine *e = s->e;
    e->ops->to_host(s->host, e->ppart, e->plen * sizeof(float));
    for (int i = 0; i < e->nslots; i++)
        e->ops->to_host(s->host + (size_t)(1 + i) * e->plen, e->slots[i] + (e->plo - e->slot_base),
                        e->plen * sizeof(float));
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

static void *writer(void *arg) {
    zt_saver *s = arg;
    const zt_engine *e = s->e;
    if (s->copy_in_writer) snapshot(s);
    char tmp[1024];
    zt_ck_tmp_path(s->cfg->ckpt_dir, s->step, tmp, sizeof tmp);
    const float *slots[4];
    for (int i = 0; i < e->nslots; i++) slots[i] = s->host + (size_t)(1 + i) * e->plen;
    double t0 = zt_now();
    s->ok = zt_ck_write_shard(tmp, s->rank, s->W, &s->L, e->plo, e->plo + e->plen, s->host,
                              slots, &s->crc, s->err, sizeof s->err) == 0;
    s->t_write = zt_now() - t0;
    atomic_store(&s->busy, 0);
    return NULL;
}

static void join_writer(zt_saver *s) {
    if (s->th_live) { pthread_join(s->th, NULL); s->th_live = 0; }
}

/* steps 2-4 of the protocol; called when every writer is done */
static void commit(zt_saver *s) {
    join_writer(s);
    zt_comm *c = s->e->ctl;   /* host words */
    int W = s->W;
    uint32_t mine[2] = { (uint32_t)s->ok, s->crc };
    uint32_t *all = calloc((size_t)2 * W, sizeof *all);
    zt_allgather(c, mine, all, (size_t)2 * W, ZT_F32);   /* raw 32-bit words */
    float outcome = 1;
    if (s->rank == 0) {
        char err[2048] = "";
        int allok = 1;
        for (int q = 0; q < W; q++) if (!all[2 * q]) { allok = 0;
            snprintf(err, sizeof err, "shard of rank %d failed to write (see that rank's message)", q); }
        uint64_t *lo = calloc((size_t)W, 8), *hi = calloc((size_t)W, 8);
        uint32_t *crc = calloc((size_t)W, 4);
        for (int q = 0; q < W; q++) {
            size_t o, l; zt_part(s->e->P, W, q, &o, &l);
            lo[q] = o; hi[q] = o + l; crc[q] = all[2 * q + 1];
        }
        if (allok) {
            zt_ck_meta *m = calloc(1, sizeof *m);
            m->step = s->step; m->world = W; m->stage = s->e->stage; m->seed = (uint64_t)s->cfg->seed;
            const zt_model *md = s->e->m;
            snprintf(m->model, sizeof m->model, "%s params=%zu units=%d", md->kind, md->n_params, md->n_units);
            snprintf(m->optim, sizeof m->optim, "%s lr=%g", s->cfg->optim_name, s->cfg->lr);
            snprintf(m->config, sizeof m->config, "%s", s->cfg->text);
            /* informational: resume derives all of it from step and the config */
            uint64_t spe = s->cfg->global_batch > 0 ? s->n_rows / (uint64_t)s->cfg->global_batch : 0;
            snprintf(m->state, sizeof m->state,
                     "sampler_epoch=%llu sampler_step_in_epoch=%llu optimizer_step=%llu lr_next=%.9g warmup_steps=%ld total_steps=%ld",
                     (unsigned long long)(spe ? s->step / spe : 0), (unsigned long long)(spe ? s->step % spe : 0),
                     (unsigned long long)s->step, zt_lr_at(&s->e->oc, s->step), s->cfg->warmup_steps, s->cfg->steps);
            char tmp[1024]; zt_ck_tmp_path(s->cfg->ckpt_dir, s->step, tmp, sizeof tmp);
            if (zt_ck_write_index(tmp, W, &s->L, lo, hi, crc, m, err, sizeof err) ||
                zt_ck_commit(s->cfg->ckpt_dir, s->step, (int)s->cfg->ckpt_keep_last,
                             (int)s->cfg->ckpt_keep_every, err, sizeof err)) allok = 0;
            free(m);
        }
        if (!allok) {
            fprintf(stderr, "ztrain: rank 0: checkpoint step %llu FAILED: %s; latest still names the previous checkpoint\n",
                    (unsigned long long)s->step, err);
            zt_ck_abandon(s->cfg->ckpt_dir, s->step);
            outcome = 0;
        } else {
            printf("ztrain: checkpoint step-%08llu committed (%s, %s write %.1f ms, training blocked %.2f ms on rank 0)\n",
                   (unsigned long long)s->step, s->cfg->ckpt_dir, s->async ? "async" : "sync",
                   s->t_write * 1e3, s->t_blocked * 1e3);
            fflush(stdout);
        }
        free(lo); free(hi); free(crc);
    }
    free(all);
    if (!s->ok) fprintf(stderr, "ztrain: rank %d: checkpoint write failed: %s\n", s->rank, s->err);
    zt_bcast(c, &outcome, 1, ZT_F32, 0);
    s->pending = 0;
    if (outcome == 0) fail_exit(ZT_EXIT_CKPT);
    s->last_step = s->step;
}

double zt_saver_begin(zt_saver *s, uint64_t step, int force_sync) {
    double t0 = zt_now();
    if (s->pending) zt_saver_finish(s);      /* a second save waits for the first */
    zt_engine *e = s->e;
    char err[1024];
    if (zt_ck_prepare(s->cfg->ckpt_dir, step, err, sizeof err)) {
        fprintf(stderr, "ztrain: rank %d: %s\n", s->rank, err); fail_exit(ZT_EXIT_CKPT);
    }
    s->step = step; s->pending = 1; s->ok = 0; s->t_blocked = 0;
    atomic_store(&s->copied, 0);
    atomic_store(&s->busy, 1);
    int async = s->async = s->cfg->ckpt_async && !force_sync;
    /* Host state: the writer thread snapshots it while the next step computes
     * (the engine waits in before_update). Device state: copy here, since the
     * op table belongs to this thread. */
    s->copy_in_writer = async && !e->ops->device;
    if (!s->copy_in_writer) snapshot(s);
    if (async) {
        pthread_create(&s->th, NULL, writer, s); s->th_live = 1;
    } else {
        writer(s);
    }
    s->t_blocked += zt_now() - t0;
    if (!async) zt_saver_finish(s);
    return zt_now() - t0;
}

int   zt_saver_pending(const zt_saver *s) { return s->pending; }
float zt_saver_local_busy(const zt_saver *s) { return (float)atomic_load(&s->busy); }
void  zt_saver_commit_if_done(zt_saver *s, float any_busy) { if (s->pending && any_busy == 0) commit(s); }
uint64_t zt_saver_last_step(const zt_saver *s) { return s->last_step; }

void zt_saver_finish(zt_saver *s) {
    if (!s->pending) return;
    join_writer(s);
    commit(s);
}

/* ---------------------------------------------------------------- resume */
static int is_dir(const char *p) { struct stat st; return stat(p, &st) == 0 && S_ISDIR(st.st_mode); }

int zt_resume(const zt_config *cfg, zt_engine *e, int rank, uint64_t *step) {
    *step = 0;
    if (!strcmp(cfg->ckpt_resume, "never")) return 1;
    const char *root = !strcmp(cfg->ckpt_resume, "auto") ? cfg->ckpt_dir : cfg->ckpt_resume;
    if (!root[0]) return 1;
    /* Rank 0 picks a candidate that opens (latest first, then older ones);
     * the CRC check of its shards is split over all ranks (shard i on rank
     * i mod W); if any is bad, rank 0 logs it and tries the next older one. */
    char path[1024] = "";
    uint64_t before = 0;
    int single = 0;      /* PATH names one step dir: no fallback */
    for (;;) {
        float code = 1;     /* 0 candidate, 1 nothing to resume, -1 unusable */
        if (rank == 0) {
            char log[4096] = "", err[2048] = "", idx[1100];
            struct stat st;
            int rc;
            snprintf(idx, sizeof idx, "%s/index.h5", root);
            if (stat(idx, &st) == 0) { single = 1; rc = before ? -1 : 0; snprintf(path, sizeof path, "%s", root);
                                       if (rc) snprintf(err, sizeof err, "%s failed verification", root); }
            else if (!is_dir(root)) {
                rc = strcmp(cfg->ckpt_resume, "auto") ? -1 : 1;
                snprintf(err, sizeof err, "%s: no such checkpoint directory", root);
            } else rc = zt_ck_resolve_ex(root, ZT_CK_RESOLVE_NO_CRC, before, path, sizeof path,
                                         log, sizeof log, err, sizeof err);
            if (log[0]) fprintf(stderr, "ztrain: resume: %s", log);
            if (rc < 0) fprintf(stderr, "ztrain: rank 0: cannot resume from %s: %s\n", root, err);
            if (rc == 1 && before) { rc = -1; fprintf(stderr, "ztrain: rank 0: no complete checkpoint left under %s\n", root); }
            code = (float)rc;
        }
        zt_bcast(e->ctl, &code, 1, ZT_F32, 0);
        if (code < 0) fail_exit(ZT_EXIT_CKPT);
        if (code > 0) { if (rank == 0) printf("ztrain: no checkpoint under '%s': fresh start\n", root); return 1; }
        zt_bcast(e->ctl, path, sizeof path / 4, ZT_F32, 0);   /* raw bytes */
        char err[2048] = "";
        zt_ck_reader *r = zt_ck_open(path, err, sizeof err);
        float bad = r == NULL || zt_ck_verify_shards(r, rank, e->W, err, sizeof err) != 0, anybad = 0;
        if (bad) fprintf(stderr, "ztrain: rank %d: resume: skipping %s: %s\n", rank, path, err);
        zt_allreduce(e->ctl, &bad, &anybad, 1, ZT_F32, ZT_MAX);
        uint64_t st = r ? zt_ck_meta_of(r)->step : 0;
        if (r) zt_ck_close(r);
        if (anybad == 0) break;
        if (single) { if (rank == 0) fprintf(stderr, "ztrain: rank 0: %s is damaged and ckpt.resume names it alone\n", path); fail_exit(ZT_EXIT_CKPT); }
        float fst = (float)st, mx = 0;    /* every rank learns the failed step */
        zt_allreduce(e->ctl, &fst, &mx, 1, ZT_F32, ZT_MAX);
        before = (uint64_t)mx;
        if (before == 0) fail_exit(ZT_EXIT_CKPT);
    }

    char err[4096];
    zt_ck_reader *r = zt_ck_open(path, err, sizeof err);
    if (!r) { fprintf(stderr, "ztrain: rank %d: %s\n", rank, err); fail_exit(ZT_EXIT_CKPT); }
    zt_saver tmp = { .e = e };
    build_layout(&tmp);
    if (zt_ck_check_layout(r, &tmp.L, err, sizeof err)) {
        if (rank == 0) fprintf(stderr, "ztrain: checkpoint %s does not match this model/optimizer:\n%s\n", path, err);
        fail_exit(ZT_EXIT_CKPT);
    }
    free(tmp.tensors);
    const zt_ck_meta *m = zt_ck_meta_of(r);
    size_t lo = e->plo, hi = e->plo + e->plen, bytes = e->plen * sizeof(float);
    float *h = calloc(e->plen ? e->plen : 1, sizeof(float));   /* host staging */
    int bad = zt_ck_read(r, NULL, lo, hi, h, err, sizeof err) != 0;
    if (!bad) e->ops->to_device(e->ppart, h, bytes);
    for (int i = 0; i < e->nslots && !bad; i++) {
        bad = zt_ck_read(r, zt_optim_slot_name(&e->oc, i), lo, hi, h, err, sizeof err) != 0;
        if (!bad) e->ops->to_device(e->slots[i] + (e->plo - e->slot_base), h, bytes);
    }
    free(h);
    if (bad) { fprintf(stderr, "ztrain: rank %d: reading %s: %s\n", rank, path, err); fail_exit(ZT_EXIT_CKPT); }
    /* every rank read only its partition; DDP/ZeRO-1/2 need the full params,
     * DDP also the full optimizer state */
    if (e->stage <= 2) zt_allgather(e->c, e->params + e->plo, e->params, e->P, ZT_F32);
    if (e->stage == 0)
        for (int i = 0; i < e->nslots; i++) zt_allgather(e->c, e->slots[i] + e->plo, e->slots[i], e->P, ZT_F32);
    *step = m->step;
    if (rank == 0) {
        printf("ztrain: resumed from %s (step %llu, written by W=%d stage %d; now W=%d stage %d)\n",
               path, (unsigned long long)m->step, m->world, m->stage, e->W, e->stage);
        if (m->seed != (uint64_t)cfg->seed)
            fprintf(stderr, "ztrain: warning: checkpoint seed %llu != train.seed %ld: data order changes\n",
                    (unsigned long long)m->seed, cfg->seed);
    }
    zt_ck_close(r);
    return 0;
}
