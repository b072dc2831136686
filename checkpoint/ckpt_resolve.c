/* ckpt_resolve.c — what to resume from: zt_ck_resolve(_ex/_open), zt_ck_locate.
 *
 * Order: the step dir `latest` names, then every older step-N dir, newest
 * first. Dirs newer than latest are not considered (a commit that crashed
 * between its rename and the latest update, or a timeline abandoned after a
 * fallback): latest is the last checkpoint known complete and verified.
 * .tmp-step-* (unfinished) and .trash-* dirs are never candidates. */
#include "ckpt_internal.h"   /* ck_list_steps, ck_read_latest, ck_parse_step_name */

#include <stdio.h>      /* snprintf */
#include <stdlib.h>     /* free */
#include <string.h>     /* strcmp, strerror */
#include <sys/stat.h>   /* stat */

static void logf_(char *log, size_t loglen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(char *log, size_t loglen, const char *fmt, ...) {
    if (!log || !loglen) return;
    size_t n = strlen(log);
    if (n + 2 >= loglen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(log + n, loglen - n, fmt, ap);
    va_end(ap);
    n = strlen(log);
    if (n + 1 < loglen && (n == 0 || log[n - 1] != '\n')) log[n] = '\n', log[n + 1] = '\0';
}

/* A candidate is usable if it opens (NO_CRC) or opens and verifies. With
 * keep != NULL the reader of a usable candidate is handed back open. */
static int try_one(const char *dir, unsigned flags, zt_ck_reader **keep, char *why, size_t wlen) {
    zt_ck_reader *r = zt_ck_open(dir, why, wlen);
    if (!r) return -1;
    if (!(flags & ZT_CK_RESOLVE_NO_CRC) && zt_ck_verify_shards(r, 0, 1, why, wlen) != 0) {
        zt_ck_close(r);
        return -1;
    }
    if (keep) *keep = r; else zt_ck_close(r);
    return 0;
}

static int resolve(const char *root, unsigned flags, uint64_t before, zt_ck_reader **keep, char *path,
                   size_t cap, char *log, size_t loglen, char *err, size_t errlen);

int zt_ck_resolve_ex(const char *root, unsigned flags, uint64_t before, char *path, size_t cap, char *log,
                     size_t loglen, char *err, size_t errlen) {
    return resolve(root, flags, before, NULL, path, cap, log, loglen, err, errlen);
}

int zt_ck_resolve_open(const char *root, unsigned flags, uint64_t before, zt_ck_reader **out, char *path,
                       size_t cap, char *log, size_t loglen, char *err, size_t errlen) {
    *out = NULL;
    return resolve(root, flags, before, out, path, cap, log, loglen, err, errlen);
}

static int resolve(const char *root, unsigned flags, uint64_t before, zt_ck_reader **keep, char *path,
                   size_t cap, char *log, size_t loglen, char *err, size_t errlen) {
    if (log && loglen) log[0] = '\0';
    if (err && errlen) err[0] = '\0';
    if (path && cap) path[0] = '\0';
    ck_step_ent *v = NULL;
    int n = 0, tried = 0;
    if (ck_list_steps(root, &v, &n) < 0) {
        if (errlen) snprintf(err, errlen, "cannot list checkpoint root %s: %s", root, strerror(errno));
        return -1;
    }
    char latest[128] = "", dir[PATH_MAX], why[2048];
    uint64_t lstep = UINT64_MAX;
    int have_latest = ck_read_latest(root, latest, sizeof latest) == 0;
    if (!have_latest && errno != ENOENT) logf_(log, loglen, "ignoring %s/latest: %s", root, strerror(errno));
    if (have_latest && !ck_parse_step_name(latest, &lstep)) {
        logf_(log, loglen, "ignoring %s/latest: it names '%s', not a step-N dir", root, latest);
        have_latest = 0;
        lstep = UINT64_MAX;
    }
    if (!have_latest && n == 0) {
        free(v);
        return 1;                                       /* nothing to resume from */
    }
    if (!have_latest) logf_(log, loglen, "no valid %s/latest: trying step dirs, newest first", root);
    /* candidate 0: latest's target; then older step dirs, newest first */
    for (int k = have_latest ? -1 : 0; k < n; k++) {
        const char *name;
        uint64_t step;
        if (k < 0) name = latest, step = lstep;
        else {
            name = v[k].name, step = v[k].step;
            if (have_latest && (step >= lstep || !strcmp(name, latest))) continue;
        }
        if (before && step >= before) continue;
        if (snprintf(dir, sizeof dir, "%s/%s", root, name) >= (int)sizeof dir) continue;
        tried++;
        struct stat st;
        if (k < 0 && stat(dir, &st) < 0) {
            logf_(log, loglen, "skipping %s (named by latest): %s", dir, strerror(errno));
            continue;
        }
        if (try_one(dir, flags, keep, why, sizeof why) == 0) {
            if (path && cap) snprintf(path, cap, "%s", dir);
            if (k >= 0 && have_latest) logf_(log, loglen, "falling back to %s", dir);
            free(v);
            return 0;
        }
        logf_(log, loglen, "skipping %s%s: %s", dir, k < 0 ? " (named by latest)" : "", why);
    }
    free(v);
    if (errlen) {
        if (before)
            snprintf(err, errlen, "no usable checkpoint under %s older than step %llu (%d tried, see log)", root,
                     (unsigned long long)before, tried);
        else snprintf(err, errlen, "no usable checkpoint under %s (%d tried, see log)", root, tried);
    }
    return -1;
}

int zt_ck_resolve(const char *root, char *path, size_t cap, char *log, size_t loglen, char *err, size_t errlen) {
    return zt_ck_resolve_ex(root, 0, 0, path, cap, log, loglen, err, errlen);
}

int zt_ck_locate(const char *dir, char *stepdir, size_t cap, char *err, size_t errlen) {
    char p[PATH_MAX], name[128];
    struct stat st = {0};
    int sr = stat(dir, &st);
    if (sr < 0 || !S_ISDIR(st.st_mode)) {
        if (errlen) snprintf(err, errlen, "%s: %s", dir, sr < 0 ? strerror(errno) : "not a directory");
        return -1;
    }
    /* A step dir: has index.h5 or shards, or is named like one (so that a
     * step dir whose index was deleted is reported as such, not as a root). */
    const char *base = strrchr(dir, '/');
    base = base && base[1] ? base + 1 : dir;
    uint64_t s;
    int named = ck_parse_step_name(base, &s) || (!strncmp(base, ".tmp-", 5) && ck_parse_step_name(base + 5, &s));
    snprintf(p, sizeof p, "%s/%s", dir, ZT_CK_INDEX);
    if (named || stat(p, &st) == 0) {
        snprintf(stepdir, cap, "%s", dir);
        return 0;
    }
    if (ck_read_latest(dir, name, sizeof name) == 0) {
        if (snprintf(stepdir, cap, "%s/%s", dir, name) >= (int)cap) {
            if (errlen) snprintf(err, errlen, "%s: path too long", dir);
            return -1;
        }
        return 0;
    }
    if (errlen) {
        if (errno == ENOENT) snprintf(err, errlen, "%s is neither a step dir (no %s) nor a checkpoint root (no latest)", dir, ZT_CK_INDEX);
        else snprintf(err, errlen, "%s/latest: %s", dir, strerror(errno));
    }
    return -1;
}
