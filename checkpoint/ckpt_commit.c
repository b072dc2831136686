/* ckpt_commit.c — zt_ck_commit, zt_ck_abandon, retention.
 *
 * Crash safety, step by step (root/latest names step-N only at the end):
 *   1. the tmp dir is checked (index readable, every shard present with the
 *      size the index records) and fsynced: its entries are durable;
 *   2. rename(.tmp-step-N, step-N). If step-N already exists (a re-run after a
 *      crash, or a resume from an older step that reached N again) the two are
 *      swapped atomically with renameat2(RENAME_EXCHANGE), so `step-N` is a
 *      complete checkpoint at every instant; the old one, now under the tmp
 *      name, is deleted. Without RENAME_EXCHANGE (some file systems) the old
 *      one is first renamed to .trash-step-N.<pid>; a crash in between leaves
 *      no step-N, and zt_ck_resolve falls back to an older step;
 *   3. latest.tmp is written and fsynced, renamed over latest;
 *   4. fsync(root): both renames durable at once (see zt_ck_commit);
 *   5. retention: dirs to delete are first renamed to .trash-* (atomic), so a
 *      crash never leaves a half-deleted dir under a step-* name; not
 *      fsynced (a deletion a crash undoes is redone by the next commit).
 * Retention failures do not fail the commit (the checkpoint is already
 * safe): the function returns 0 and leaves a "warning: ..." in err. */
#include "ckpt_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Removes entries of the tmp dir that the index does not name (a crashed
 * earlier attempt at another W may have left shard files there). */
static void drop_strays(const char *dir, int W) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char want[64], p[PATH_MAX];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, ZT_CK_INDEX) ||
            !strcmp(e->d_name, ZT_CK_INDEX_CRC))
            continue;
        int r, w;
        if (sscanf(e->d_name, "shard-%d-of-%d.h5", &r, &w) == 2 && w == W && r >= 0 && r < W) {
            ck_shard_name(r, W, want, sizeof want);
            if (!strcmp(want, e->d_name)) continue;
        }
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p) ck_rm_rf(p);
    }
    closedir(d);
}

static int write_latest(ck_ctx *C, const char *root, const char *name) {
    char tmp[PATH_MAX], dst[PATH_MAX], line[80];
    int fd = -1;
    if (ck_path(C, tmp, sizeof tmp, "%s/latest.tmp", root) < 0 || ck_path(C, dst, sizeof dst, "%s/latest", root) < 0)
        return -1;
    int n = snprintf(line, sizeof line, "%s\n", name);
    C->what = tmp;
    osCheck(fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ssize_t w = write(fd, line, (size_t)n);
    if (w >= 0 && w != n) errno = ENOSPC, w = -1;
    osCheck(w);
    osCheck(fsync(fd));
    osCheck(close(fd));
    fd = -1;
    osCheck(rename(tmp, dst));
    return ck_fsync_path(C, root, 1);
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
    return -1;
}

static int cmp_desc(const void *a, const void *b) {
    uint64_t x = ((const ck_step_ent *)a)->step, y = ((const ck_step_ent *)b)->step;
    return x > y ? -1 : x < y;
}

int ck_list_steps(const char *root, ck_step_ent **out, int *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(root);
    if (!d) return errno == ENOENT ? 0 : -1;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t s;
        if (!ck_parse_step_name(e->d_name, &s)) continue;
        char p[PATH_MAX];
        struct stat st;
        if (snprintf(p, sizeof p, "%s/%s", root, e->d_name) >= (int)sizeof p || stat(p, &st) < 0 ||
            !S_ISDIR(st.st_mode) || strlen(e->d_name) >= 64)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            ck_step_ent *nv = realloc(*out, sizeof **out * (size_t)cap);
            if (!nv) { closedir(d); free(*out); *out = NULL; *n = 0; errno = ENOMEM; return -1; }
            *out = nv;
        }
        (*out)[*n].step = s;
        snprintf((*out)[*n].name, 64, "%s", e->d_name);
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(*out, (size_t)*n, sizeof **out, cmp_desc);
    return 0;
}

/* Keeps the newest keep_last (0 = all), every multiple of keep_every (0 =
 * none) and whatever latest names; removes stale .tmp-step-M (M < step) and
 * .trash-* left by crashes. Returns the number of failures. */
static int retention(const char *root, uint64_t step, int keep_last, int keep_every, char *warn, size_t wlen) {
    int fails = 0;
    char latest[128] = "", p[PATH_MAX], q[PATH_MAX];
    if (ck_read_latest(root, latest, sizeof latest) < 0) latest[0] = '\0';
    ck_step_ent *v = NULL;
    int n = 0;
    if (ck_list_steps(root, &v, &n) < 0) return 1;
    for (int i = 0; i < n; i++) {
        int keep = keep_last <= 0 || i < keep_last || (keep_every > 0 && v[i].step % (uint64_t)keep_every == 0) ||
                   !strcmp(v[i].name, latest);
        if (keep) continue;
        snprintf(p, sizeof p, "%s/%s", root, v[i].name);
        snprintf(q, sizeof q, "%s/.trash-%s.%ld", root, v[i].name, (long)getpid());
        if (rename(p, q) < 0 || ck_rm_rf(q) < 0) {
            if (!fails && wlen) snprintf(warn, wlen, "warning: retention could not remove %s: %s", p, strerror(errno));
            fails++;
        }
    }
    free(v);
    DIR *d = opendir(root);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            uint64_t s;
            int stale = !strncmp(e->d_name, ".trash-", 7) ||
                        (!strncmp(e->d_name, ".tmp-", 5) && ck_parse_step_name(e->d_name + 5, &s) && s < step);
            if (stale && snprintf(p, sizeof p, "%s/%s", root, e->d_name) < (int)sizeof p) ck_rm_rf(p);
        }
        closedir(d);
    }
    /* no fsync: a deletion undone by a crash is redone by the next commit */
    return fails;
}

int zt_ck_commit(const char *root, uint64_t step, int keep_last, int keep_every, char *err, size_t errlen) {
    ck_ctx ctx, *C = &ctx;
    ck_begin(C, err, errlen);
    char tmp[PATH_MAX], fin[PATH_MAX], name[64], why[1024];
    zt_ck_step_name(step, name, sizeof name);
    zt_ck_tmp_path(root, step, tmp, sizeof tmp);
    if (ck_path(C, fin, sizeof fin, "%s/%s", root, name) < 0) goto fail;

    /* 1. complete? (index + shards present with their recorded sizes) */
    zt_ck_reader *r = zt_ck_open(tmp, why, sizeof why);
    if (!r) { ck_fail(C, "refusing to commit %s: %s", tmp, why); goto fail; }
    uint64_t got = zt_ck_meta_of(r)->step;
    int W = zt_ck_world_of(r);
    zt_ck_close(r);
    if (got != step) {
        ck_fail(C, "refusing to commit %s: its index says step %llu", tmp, (unsigned long long)got);
        goto fail;
    }
    drop_strays(tmp, W);
    if (ck_fsync_path(C, tmp, 1) < 0) goto fail;

    /* 2. into place */
    C->what = fin;
    if (rename(tmp, fin) < 0) {
        if (errno != EEXIST && errno != ENOTEMPTY) osCheck(-1);
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, fin, RENAME_EXCHANGE) == 0) {
            if (ck_fsync_path(C, root, 1) < 0) goto fail;
            ck_rm_rf(tmp);                         /* the old step-N */
        } else {
            if (errno != EINVAL && errno != ENOSYS) osCheck(-1);
            char trash[PATH_MAX];
            if (ck_path(C, trash, sizeof trash, "%s/.trash-%s.%ld", root, name, (long)getpid()) < 0) goto fail;
            osCheck(rename(fin, trash));
            osCheck(rename(tmp, fin));
            if (ck_fsync_path(C, root, 1) < 0) goto fail;
            ck_rm_rf(trash);
        }
    }
    /* 3. + 4. One fsync(root), after latest's rename, makes both renames
     * durable (same directory). A crash before it may leave latest naming a
     * step-N whose rename did not survive: resolve then falls back to the
     * older checkpoint, and that save had not been reported committed. */
    if (write_latest(C, root, name) < 0) goto fail;
    /* 5. */
    retention(root, step, keep_last, keep_every, err, errlen);
    ck_end(C);
    return 0;
fail:
    ck_end(C);
    return -1;
}

void zt_ck_abandon(const char *root, uint64_t step) {
    char tmp[PATH_MAX];
    zt_ck_tmp_path(root, step, tmp, sizeof tmp);
    ck_rm_rf(tmp);
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) fsync(fd), close(fd);
}
