/* loader.c — opens a prepared split with full validation and reads exactly the
 * rows the sampler names, with one HDF5 read per dataset per call: the rows
 * are sorted, de-duplicated, merged into runs of consecutive rows (text
 * windows that touch or overlap merge too) and selected as one hyperslab
 * union; the result is scattered back into the caller's order. Debian's HDF5
 * is thread-safe behind one global lock, so few large calls matter more than
 * anything else here. A worker thread serves one outstanding prefetch. */
#include "zt_data.h"
#include "zt_h5util.h"    /* ZT_H5_QUIET, zt_h5_open_ro, zt_h5_exists, ... */

#include <math.h>         /* log */
#include <pthread.h>      /* the prefetch thread */
#include <stdio.h>        /* snprintf */
#include <stdlib.h>       /* malloc, qsort */
#include <string.h>       /* memcpy, strcmp */

#define PIX 784
#define ZT_GAP_BYTES (16u << 10)   /* merge runs closer than this */
#define ZT_MAX_RUNS 256            /* hyperslab blocks per H5Dread */

struct zt_loader {
    char path[4096];
    char split[16];
    char dx_name[64], dy_name[64];   /* images+labels (mnist) or tokens (text) */
    hid_t file, dx, dy;
    zt_ds_info info;
    uint64_t n_tokens;               /* text */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int th_started, quit;
    int pending;                     /* 0 none, 1 queued/reading, 2 ready */
    uint64_t *rq;
    int rq_n;
    size_t rq_cap;
    float *oxf;                      /* where the request's rows go: the */
    int32_t *oxi, *oy;               /* caller's buffers, or the p* below */
    float *pxf;
    int32_t *pxi, *py;
    size_t p_cap;                    /* rows the p* buffers hold (zt_loader_prefetch) */
    int prc;
    char perr[1024];
};

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); goto fail; } while (0)

static const char *kind_name(zt_ds_kind k) { return k == ZT_DS_MNIST ? "mnist" : "text"; }

/* Checks a dataset exists and returns it open; on failure writes an error
 * that names file and dataset, with a hint if the file is of the other kind. */
static hid_t open_ds(zt_loader *l, const char *name, char *err, size_t errlen) {
    if (!zt_h5_exists(l->file, name)) {
        const char *hint = "";
        if (l->info.kind == ZT_DS_MNIST && zt_h5_exists(l->file, "/train/tokens"))
            hint = " (this looks like a text dataset: /train/tokens)";
        else if (l->info.kind == ZT_DS_TEXT && zt_h5_exists(l->file, "/train/images"))
            hint = " (this looks like an mnist dataset: /train/images)";
        snprintf(err, errlen, "%s: dataset %s: not found in a %s file%s", l->path, name,
                 kind_name(l->info.kind), hint);
        return -1;
    }
    hid_t d;
    d = H5Dopen2(l->file, name, H5P_DEFAULT);
    if (d < 0) snprintf(err, errlen, "%s: dataset %s: exists but is not a dataset", l->path, name);
    return d;
}

/* Reads type + shape; fills a "got uint8 [9000,28,28]" description. */
static int ds_shape(hid_t d, int *rank, hsize_t dims[8], int *is_u8, char *desc, size_t n) {
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    int r = H5Sget_simple_extent_ndims(sp);
    if (r < 0 || r > 8) r = -1;
    else H5Sget_simple_extent_dims(sp, dims, NULL);
    char tn[32], ds[160];
    zt_h5_type_name(t, tn, sizeof tn);
    if (r >= 0) zt_h5_dims_str(r, dims, ds, sizeof ds);
    else snprintf(ds, sizeof ds, "(rank > 8)");
    if (H5Sget_simple_extent_type(sp) == H5S_SCALAR) snprintf(ds, sizeof ds, "scalar");
    snprintf(desc, n, "%s %s", tn, ds);
    *is_u8 = zt_h5_is_u8(t);
    *rank = r;
    H5Tclose(t);
    H5Sclose(sp);
    return r;
}

/* Scans a 1-D uint8 dataset in 16 MiB slices for the first value >= limit,
 * counting every value into counts[256] (if not NULL). Returns -1 on read
 * error, 0 if all fine, 1 if found (*at, *val set; counts then incomplete). */
static int scan_u8(hid_t d, uint64_t n, int limit, uint64_t *at, int *val, uint64_t *counts) {
    const uint64_t SL = 1u << 24;
    uint8_t *b = malloc(n < SL ? (n ? n : 1) : SL);
    if (!b) return -1;
    hid_t fs = H5Dget_space(d);
    int rc = 0;
    for (uint64_t o = 0; o < n && rc == 0; o += SL) {
        hsize_t st = o, ct = n - o < SL ? n - o : SL;
        hid_t ms = H5Screate_simple(1, &ct, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &st, NULL, &ct, NULL);
        if (H5Dread(d, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, b) < 0) rc = -1;
        H5Sclose(ms);
        for (hsize_t i = 0; rc == 0 && i < ct; i++) {
            if (b[i] >= limit) { *at = o + i; *val = b[i]; rc = 1; }
            if (counts) counts[b[i]]++;
        }
    }
    H5Sclose(fs);
    free(b);
    return rc;
}

/* -sum p ln p over n tokens, in value order (the same sum every time) */
static double entropy(const uint64_t counts[256], uint64_t n) {
    double H = 0.0;
    for (int k = 0; k < 256; k++)
        if (counts[k]) {
            double p = (double)counts[k] / (double)n;
            H -= p * log(p);
        }
    return H;
}

static void *worker(void *arg);

static zt_loader *loader_open(const char *path, zt_ds_kind kind, const char *split,
                              int ctx, char *err, size_t errlen) {
    if (!split) split = "train";
    zt_loader *l = calloc(1, sizeof *l);
    if (!l) { snprintf(err, errlen, "%s: out of memory", path); return NULL; }
    l->file = l->dx = l->dy = -1;
    snprintf(l->path, sizeof l->path, "%s", path);
    snprintf(l->split, sizeof l->split, "%s", split);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->info.kind = kind;

    if (kind == ZT_DS_MNIST) {
        snprintf(l->dx_name, sizeof l->dx_name, "/%.20s/images", split);
        snprintf(l->dy_name, sizeof l->dy_name, "/%.20s/labels", split);
        if (strcmp(split, "train") && strcmp(split, "test"))
            FAIL("%s: dataset %s: split '%s' is not one of train|test for mnist", path, l->dx_name, split);
    } else if (kind == ZT_DS_TEXT) {
        snprintf(l->dx_name, sizeof l->dx_name, "/%.20s/tokens", split);
        if (strcmp(split, "train") && strcmp(split, "val"))
            FAIL("%s: dataset %s: split '%s' is not one of train|val for text", path, l->dx_name, split);
        if (ctx < 1)
            FAIL("%s: dataset %s: context length %d must be >= 1", path, l->dx_name, ctx);
    } else {
        FAIL("%s: unknown dataset kind %d", path, (int)kind);
    }

    char what[80];
    snprintf(what, sizeof what, "dataset %s", l->dx_name);
    if ((l->file = zt_h5_open_ro(path, what, err, errlen)) < 0) goto fail;

    if ((l->dx = open_ds(l, l->dx_name, err, errlen)) < 0) goto fail;
    int rank, u8;
    hsize_t dims[8];
    char desc[200];
    ds_shape(l->dx, &rank, dims, &u8, desc, sizeof desc);

    if (kind == ZT_DS_MNIST) {
        if (!u8 || rank != 3 || dims[1] != 28 || dims[2] != 28)
            FAIL("%s: dataset %s: expected uint8 [N,28,28], got %s", path, l->dx_name, desc);
        uint64_t n = dims[0];
        if ((l->dy = open_ds(l, l->dy_name, err, errlen)) < 0) goto fail;
        ds_shape(l->dy, &rank, dims, &u8, desc, sizeof desc);
        if (!u8 || rank != 1)
            FAIL("%s: dataset %s: expected uint8 [N], got %s", path, l->dy_name, desc);
        if (dims[0] != n)
            FAIL("%s: dataset %s: %llu labels, but %s has %llu images", path, l->dy_name,
                 (unsigned long long)dims[0], l->dx_name, (unsigned long long)n);
        if (n == 0) FAIL("%s: dataset %s: empty (0 rows)", path, l->dx_name);
        uint64_t at = 0;
        int v = 0, r = scan_u8(l->dy, n, 10, &at, &v, NULL);
        if (r < 0) FAIL("%s: dataset %s: read error", path, l->dy_name);
        if (r > 0)
            FAIL("%s: dataset %s: label %d at row %llu is out of range [0,10)", path, l->dy_name, v,
                 (unsigned long long)at);
        l->info.n_rows = n;
        l->info.in_dim = PIX;
        l->info.img_h = 28; l->info.img_w = 28; l->info.img_c = 1;
        l->info.n_classes = 10;
        l->info.ctx = 0;
    } else {
        if (!u8 || rank != 1)
            FAIL("%s: dataset %s: expected uint8 [N], got %s", path, l->dx_name, desc);
        uint64_t n = dims[0];
        if (n == 0) FAIL("%s: dataset %s: empty (0 tokens)", path, l->dx_name);
        int64_t vs = 0;
        if (zt_h5_read_attr_i64(l->file, "vocab_size", &vs) < 0)
            FAIL("%s: attribute /vocab_size: missing or not an integer (needed for dataset %s)", path,
                 l->dx_name);
        if (vs < 1 || vs > 256)
            FAIL("%s: attribute /vocab_size: %lld is not in [1,256] (dataset %s)", path, (long long)vs,
                 l->dx_name);
        char vocab[512];
        long vl = zt_h5_read_attr_str(l->file, "vocab", vocab, sizeof vocab, 0);
        if (vl < 0)
            FAIL("%s: attribute /vocab: missing or not a string (needed for dataset %s)", path, l->dx_name);
        if (vl > vs) {  /* fixed-length with NUL padding: trim it */
            while (vl > vs && vocab[vl - 1] == 0) vl--;
        }
        if (vl != vs)
            FAIL("%s: attribute /vocab: %ld bytes, but /vocab_size is %lld (dataset %s)", path, vl,
                 (long long)vs, l->dx_name);
        memcpy(l->info.vocab, vocab, (size_t)vs);
        l->info.vocab[vs] = 0;
        l->info.vocab_size = (int)vs;
        if (n < (uint64_t)ctx + 1)
            FAIL("%s: dataset %s: %llu tokens, fewer than one window of ctx+1 = %d", path, l->dx_name,
                 (unsigned long long)n, ctx + 1);
        /* one pass checks every token and counts them for the entropy */
        uint64_t at = 0, counts[256] = {0};
        int v = 0, r = scan_u8(l->dx, n, (int)vs, &at, &v, counts);
        if (r < 0) FAIL("%s: dataset %s: read error", path, l->dx_name);
        if (r > 0) {
            /* the first row whose window [r*ctx, r*ctx+ctx] holds token `at` */
            uint64_t row = at <= (uint64_t)ctx ? 0 : (at - 1) / (uint64_t)ctx;
            uint64_t rows = (n - 1) / (uint64_t)ctx;
            char where[96];
            if (row < rows) snprintf(where, sizeof where, "row %llu (ctx %d)", (unsigned long long)row, ctx);
            else snprintf(where, sizeof where, "the tail after the last row (ctx %d)", ctx);
            FAIL("%s: dataset %s: token %d at index %llu, in %s, is >= vocab_size %lld", path, l->dx_name,
                 v, (unsigned long long)at, where, (long long)vs);
        }
        l->info.unigram_entropy = entropy(counts, n);
        l->n_tokens = n;
        l->info.n_rows = (n - 1) / (uint64_t)ctx;
        l->info.in_dim = ctx;
        l->info.n_classes = (int)vs;
        l->info.ctx = ctx;
    }
    return l;
fail:
    zt_loader_close(l);
    return NULL;
}

zt_loader *zt_loader_open(const char *path, zt_ds_kind kind, const char *split,
                          int ctx, char *err, size_t errlen) {
    zt_loader *l;
    ZT_H5_QUIET(l = loader_open(path, kind, split, ctx, err, errlen));
    return l;
}

const zt_ds_info *zt_loader_info(const zt_loader *l) { return &l->info; }
uint64_t zt_loader_rows(const zt_loader *l) { return l->info.n_rows; }

int zt_loader_require_rows(const zt_loader *l, uint64_t global_batch, char *err, size_t errlen) {
    if (l->info.n_rows >= global_batch && global_batch > 0) return 0;
    if (l->info.kind == ZT_DS_TEXT)
        snprintf(err, errlen, "%s: dataset %s: %llu rows (windows of %d+1 tokens), fewer than one global batch of %llu",
                 l->path, l->dx_name, (unsigned long long)l->info.n_rows, l->info.ctx,
                 (unsigned long long)global_batch);
    else
        snprintf(err, errlen, "%s: dataset %s: %llu rows, fewer than one global batch of %llu", l->path,
                 l->dx_name, (unsigned long long)l->info.n_rows, (unsigned long long)global_batch);
    return -1;
}

/* ---- reading ---------------------------------------------------------- */

typedef struct { uint64_t row; int pos; } rowpos;
typedef struct { uint64_t start, len; } run;

static int cmp_rowpos(const void *a, const void *b) {
    const rowpos *x = a, *y = b;
    if (x->row != y->row) return x->row < y->row ? -1 : 1;
    return x->pos - y->pos;
}

/* Reads the union of runs (file units along dim 0; each unit is the
 * dataset's trailing dims, unit_bytes bytes) into buf in file order: one
 * H5Dread per ZT_MAX_RUNS runs (one in all but pathological cases), since
 * building an OR-union of many blocks costs more than another read. */
static int read_runs(hid_t d, int rank, const hsize_t *inner_dims, const run *runs, int nr,
                     uint64_t unit_bytes, uint8_t *buf) {
    hid_t fs = H5Dget_space(d);
    hsize_t start[3] = {0, 0, 0}, count[3] = {0, 0, 0};
    for (int k = 1; k < rank; k++) count[k] = inner_dims[k - 1];
    herr_t e = 0;
    for (int i0 = 0; i0 < nr && e >= 0; i0 += ZT_MAX_RUNS) {
        int i1 = nr - i0 < ZT_MAX_RUNS ? nr : i0 + ZT_MAX_RUNS;
        hsize_t m = 0;
        for (int i = i0; i < i1 && e >= 0; i++) {
            start[0] = runs[i].start;
            count[0] = runs[i].len;
            m += runs[i].len;
            e = H5Sselect_hyperslab(fs, i > i0 ? H5S_SELECT_OR : H5S_SELECT_SET, start, NULL, count, NULL);
        }
        m *= unit_bytes;
        hid_t ms = H5Screate_simple(1, &m, NULL);
        if (e >= 0) e = H5Dread(d, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, buf);
        H5Sclose(ms);
        buf += m;
    }
    H5Sclose(fs);
    return e < 0 ? -1 : 0;
}

static int read_rows(zt_loader *l, const uint64_t *rows, int n, float *xf, int32_t *xi, int32_t *y,
                     char *err, size_t errlen) {
    if (n < 0) { snprintf(err, errlen, "%s: dataset %s: negative row count %d", l->path, l->dx_name, n); return -1; }
    if (n == 0) return 0;
    const int text = l->info.kind == ZT_DS_TEXT;
    if (!y || (text ? !xi : !xf)) {
        snprintf(err, errlen, "%s: dataset %s: missing output buffer", l->path, l->dx_name);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (rows[i] >= l->info.n_rows) {
            snprintf(err, errlen, "%s: dataset %s: row %llu out of range [0,%llu)", l->path, l->dx_name,
                     (unsigned long long)rows[i], (unsigned long long)l->info.n_rows);
            return -1;
        }
    int rc = -1;
    rowpos *rp = malloc((size_t)n * sizeof *rp);
    run *runs = malloc((size_t)n * sizeof *runs);
    uint64_t *off = malloc((size_t)n * sizeof *off);   /* per sorted entry: offset in buf */
    uint8_t *buf = NULL, *lbuf = NULL;
    if (!rp || !runs || !off) goto oom;
    for (int i = 0; i < n; i++) { rp[i].row = rows[i]; rp[i].pos = i; }
    qsort(rp, (size_t)n, sizeof *rp, cmp_rowpos);

    /* Each sorted row is an interval of file units: [r, r+1) images, or the
     * window [r*ctx, r*ctx+ctx+1) tokens. Intervals that overlap, touch or
     * lie within ZT_GAP_BYTES of each other merge into one run (data
     * sieving: HDF5 reads contiguous data through a 64 KiB sieve buffer
     * anyway, while every extra hyperslab block makes the union selection
     * slower — superlinearly in 1.10). off[k] = buffer offset, in units. */
    const uint64_t ctx = text ? (uint64_t)l->info.ctx : 1, w = text ? ctx + 1 : 1;
    const uint64_t unit_bytes = text ? 1 : PIX;
    const uint64_t gap = ZT_GAP_BYTES / unit_bytes;
    int nr = 0;
    uint64_t total = 0;   /* units in the buffer */
    for (int k = 0; k < n; k++) {
        uint64_t s = rp[k].row * ctx, e = s + w;
        if (nr && s <= runs[nr - 1].start + runs[nr - 1].len + gap) {
            run *R = &runs[nr - 1];
            off[k] = total - R->len + (s - R->start);
            if (e > R->start + R->len) { total += e - (R->start + R->len); R->len = e - R->start; }
        } else {
            runs[nr].start = s; runs[nr].len = w; nr++;
            off[k] = total;
            total += w;
        }
    }
    buf = malloc(total * unit_bytes);
    if (!text) lbuf = malloc(total);
    if (!buf || (!text && !lbuf)) goto oom;
    hsize_t inner[2] = {28, 28};
    if (read_runs(l->dx, text ? 1 : 3, inner, runs, nr, unit_bytes, buf) < 0 ||
        (!text && read_runs(l->dy, 1, NULL, runs, nr, 1, lbuf) < 0)) {
        snprintf(err, errlen, "%s: dataset %s: HDF5 read of %d rows failed", l->path,
                 l->dx_name, n);
        goto out;
    }
    if (!text) {
        const float sc = 1.0f / 255.0f;
        for (int k = 0; k < n; k++) {
            const uint8_t *src = buf + off[k] * PIX;
            float *dst = xf + (size_t)rp[k].pos * PIX;
            for (int p = 0; p < PIX; p++) dst[p] = (float)src[p] * sc;
            y[rp[k].pos] = lbuf[off[k]];
        }
    } else {
        for (int k = 0; k < n; k++) {
            const uint8_t *src = buf + off[k];
            int32_t *xo = xi + (size_t)rp[k].pos * ctx, *yo = y + (size_t)rp[k].pos * ctx;
            for (uint64_t t = 0; t < ctx; t++) { xo[t] = src[t]; yo[t] = src[t + 1]; }
        }
    }
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "%s: dataset %s: out of memory reading %d rows", l->path, l->dx_name, n);
out:
    free(rp); free(runs); free(off); free(buf); free(lbuf);
    return rc;
}

int zt_loader_read(zt_loader *l, const uint64_t *rows, int n, float *xf, int32_t *xi, int32_t *y,
                   char *err, size_t errlen) {
    int rc;
    ZT_H5_QUIET(rc = read_rows(l, rows, n, xf, xi, y, err, errlen));
    return rc;
}

/* ---- prefetch --------------------------------------------------------- */

static void *worker(void *arg) {
    zt_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->quit && l->pending != 1) pthread_cond_wait(&l->cv, &l->mu);
        if (l->quit) break;
        pthread_mutex_unlock(&l->mu);
        l->perr[0] = 0;
        int rc;
        ZT_H5_QUIET(rc = read_rows(l, l->rq, l->rq_n, l->oxf, l->oxi, l->oy, l->perr, sizeof l->perr));
        pthread_mutex_lock(&l->mu);
        l->prc = rc;
        l->pending = 2;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Queues a request for the worker (called with l->mu held). */
static int queue(zt_loader *l, const uint64_t *rows, int n, float *xf, int32_t *xi, int32_t *y) {
    if ((size_t)n > l->rq_cap) {
        uint64_t *q = realloc(l->rq, (size_t)n * sizeof *q);
        if (!q) return -1;
        l->rq = q;
        l->rq_cap = (size_t)n;
    }
    if (n) memcpy(l->rq, rows, (size_t)n * sizeof *rows);
    l->rq_n = n;
    l->oxf = xf; l->oxi = xi; l->oy = y;
    if (!l->th_started) {
        if (pthread_create(&l->th, NULL, worker, l) != 0) return -1;
        l->th_started = 1;
    }
    l->pending = 1;
    pthread_cond_broadcast(&l->cv);
    return 0;
}

int zt_loader_prefetch_into(zt_loader *l, const uint64_t *rows, int n,
                            float *xf, int32_t *xi, int32_t *y) {
    if (n < 0) return -1;
    pthread_mutex_lock(&l->mu);
    int rc = l->pending ? -1 : queue(l, rows, n, xf, xi, y);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

/* The copying form keeps its own buffers, grown to the largest request. */
int zt_loader_prefetch(zt_loader *l, const uint64_t *rows, int n) {
    if (n < 0) return -1;
    pthread_mutex_lock(&l->mu);
    if (l->pending) { pthread_mutex_unlock(&l->mu); return -1; }
    const int text = l->info.kind == ZT_DS_TEXT;
    size_t per = text ? (size_t)l->info.ctx : PIX, c = (size_t)n;
    int rc = -1;
    if (c > l->p_cap) {
        if (text) {
            int32_t *a = realloc(l->pxi, c * per * sizeof *a);
            if (!a) goto out;
            l->pxi = a;
            int32_t *b = realloc(l->py, c * per * sizeof *b);
            if (!b) goto out;
            l->py = b;
        } else {
            float *a = realloc(l->pxf, c * per * sizeof *a);
            if (!a) goto out;
            l->pxf = a;
            int32_t *b = realloc(l->py, c * sizeof *b);
            if (!b) goto out;
            l->py = b;
        }
        l->p_cap = c;
    }
    rc = queue(l, rows, n, l->pxf, l->pxi, l->py);
out:
    pthread_mutex_unlock(&l->mu);
    return rc;
}

/* Waits for the outstanding request (called with l->mu held); its rc. */
static int wait_locked(zt_loader *l, char *err, size_t errlen) {
    if (!l->pending) {
        snprintf(err, errlen, "%s: dataset %s: waiting for rows without a prefetch", l->path, l->dx_name);
        return -1;
    }
    while (l->pending == 1) pthread_cond_wait(&l->cv, &l->mu);
    if (l->prc) snprintf(err, errlen, "%s", l->perr);
    return l->prc;
}

int zt_loader_wait(zt_loader *l, char *err, size_t errlen) {
    pthread_mutex_lock(&l->mu);
    int rc = wait_locked(l, err, errlen);
    l->pending = 0;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

static void copy_if(void *dst, const void *src, size_t bytes) {
    if (dst != src) memcpy(dst, src, bytes);
}

int zt_loader_take(zt_loader *l, float *xf, int32_t *xi, int32_t *y, char *err, size_t errlen) {
    pthread_mutex_lock(&l->mu);
    int had = l->pending != 0;
    int rc = wait_locked(l, err, errlen);
    if (rc == 0 && l->rq_n > 0) {
        size_t n = (size_t)l->rq_n;
        if (l->info.kind == ZT_DS_TEXT) {
            size_t m = n * (size_t)l->info.ctx;
            if (!xi || !y) rc = -1;
            else { copy_if(xi, l->oxi, m * sizeof *xi); copy_if(y, l->oy, m * sizeof *y); }
        } else {
            if (!xf || !y) rc = -1;
            else { copy_if(xf, l->oxf, n * PIX * sizeof *xf); copy_if(y, l->oy, n * sizeof *y); }
        }
        if (rc) snprintf(err, errlen, "%s: dataset %s: missing output buffer", l->path, l->dx_name);
    }
    if (had) l->pending = 0;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void zt_loader_close(zt_loader *l) {
    if (!l) return;
    if (l->th_started) {
        pthread_mutex_lock(&l->mu);
        while (l->pending == 1) pthread_cond_wait(&l->cv, &l->mu);
        l->quit = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->th, NULL);
    }
    if (l->dy >= 0) H5Dclose(l->dy);
    if (l->dx >= 0) H5Dclose(l->dx);
    if (l->file >= 0) H5Fclose(l->file);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l->rq); free(l->pxf); free(l->pxi); free(l->py);
    free(l);
}

/* ---- statistics ------------------------------------------------------- */

static double unigram_entropy(const char *h5, const char *split) {
    char name[64], err[512];
    snprintf(name, sizeof name, "/%.20s/tokens", split ? split : "train");
    if (!h5) return -1.0;
    hid_t f = zt_h5_open_ro(h5, NULL, err, sizeof err);
    if (f < 0) return -1.0;
    double H = -1.0;
    if (zt_h5_exists(f, name)) {
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
        hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
        hsize_t n = 0;
        uint64_t at, counts[256] = {0};
        int v;
        if (zt_h5_is_u8(t) && H5Sget_simple_extent_ndims(sp) == 1) {
            H5Sget_simple_extent_dims(sp, &n, NULL);
            if (n && scan_u8(d, n, 256, &at, &v, counts) == 0) H = entropy(counts, n);
        }
        H5Sclose(sp);
        H5Tclose(t);
        H5Dclose(d);
    }
    H5Fclose(f);
    return H;
}

double zt_text_unigram_entropy(const char *h5, const char *split) {
    double H;
    ZT_H5_QUIET(H = unigram_entropy(h5, split));
    return H;
}
