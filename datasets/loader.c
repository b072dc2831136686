/* loader.c — opens a prepared split with full validation and reads exactly the
 * rows the sampler names, with one HDF5 read per dataset per call: the rows
 * are sorted, de-duplicated, merged into runs of consecutive rows (text
 * windows that touch or overlap merge too) and selected as one hyperslab
 * union; the result is scattered back into the caller's order. Debian's HDF5
 * is thread-safe behind one global lock, so few large calls matter more than
 * anything else here. A worker thread serves one outstanding prefetch. */
#include "zt_data.h"
#include "zt_h5util.h"    /* ZT_H5_QUIET, zt_h5_open_ro, zt_h5_exists, ... */

#include <limits.h>       /* INT_MAX */
#include <math.h>         /* log, isfinite */
#include <pthread.h>      /* the prefetch thread */
#include <stdio.h>        /* snprintf */
#include <stdlib.h>       /* malloc, qsort */
#include <string.h>       /* memcpy, strcmp */

#define ZT_GAP_BYTES (16u << 10)   /* merge runs closer than this */
#define ZT_MAX_RUNS 256            /* hyperslab blocks per H5Dread */

struct zt_loader {
    char path[4096];
    char split[16];
    char dx_name[64], dy_name[64];   /* images|features + labels, or tokens */
    hid_t file, dx, dy;
    zt_ds_info info;
    int x_rank;                      /* images, features: rank of dx, */
    hsize_t x_inner[3];              /* its dims after the first, */
    uint64_t unit;                   /* and elements per row (in_dim) */
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

const char *zt_ds_kind_name(zt_ds_kind k) {
    switch (k) {
    case ZT_DS_IMAGES: return "images";
    case ZT_DS_FEATURES: return "features";
    case ZT_DS_TOKENS: return "tokens";
    default: return "auto";
    }
}
static const char *kind_name(zt_ds_kind k) { return zt_ds_kind_name(k); }

/* Checks a dataset exists and returns it open; on failure writes an error
 * that names file and dataset, with a hint if the file is of the other kind. */
static hid_t open_ds(zt_loader *l, const char *name, char *err, size_t errlen) {
    if (!zt_h5_exists(l->file, name)) {
        static const char *const other[] = {"/train/tokens", "/train/images", "/train/features"};
        char hint[96] = "";
        for (int i = 0; i < 3; i++)
            if (!strstr(name, other[i] + 6) && zt_h5_exists(l->file, other[i])) {
                snprintf(hint, sizeof hint, " (this looks like a%s %s dataset: %s)", i == 1 ? "n" : "",
                         other[i] + 7, other[i]);
                break;
            }
        snprintf(err, errlen, "%s: dataset %s: not found in a%s %s file%s", l->path, name,
                 l->info.kind == ZT_DS_IMAGES ? "n" : "", kind_name(l->info.kind), hint);
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

/* Text tokens: uint8 (char files) or uint16 (subword files), unsigned. */
static int is_token_type(hid_t d) {
    hid_t t = H5Dget_type(d);
    int ok = H5Tget_class(t) == H5T_INTEGER && H5Tget_sign(t) == H5T_SGN_NONE &&
             (H5Tget_size(t) == 1 || H5Tget_size(t) == 2);
    H5Tclose(t);
    return ok;
}

/* Scans a token dataset of either width (read as uint16) in slices for the
 * first value >= limit, counting every value into counts[65536] (if not
 * NULL). Returns -1 on read error, 0 if all fine, 1 if found (*at, *val set;
 * counts then incomplete). */
static int scan_tokens(hid_t d, uint64_t n, int limit, uint64_t *at, int *val, uint64_t *counts) {
    const uint64_t SL = 1u << 23;
    uint16_t *b = malloc((n < SL ? (n ? n : 1) : SL) * sizeof *b);
    if (!b) return -1;
    hid_t fs = H5Dget_space(d);
    int rc = 0;
    for (uint64_t o = 0; o < n && rc == 0; o += SL) {
        hsize_t st = o, ct = n - o < SL ? n - o : SL;
        hid_t ms = H5Screate_simple(1, &ct, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &st, NULL, &ct, NULL);
        if (H5Dread(d, H5T_NATIVE_UINT16, ms, fs, H5P_DEFAULT, b) < 0) rc = -1;
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
static double entropy(const uint64_t *counts, int nc, uint64_t n) {
    double H = 0.0;
    for (int k = 0; k < nc; k++)
        if (counts[k]) {
            double p = (double)counts[k] / (double)n;
            H -= p * log(p);
        }
    return H;
}


/* ---- kinds and the labeled layouts (images, features) ------------------ */

/* The root attribute `kind` mapped to a zt_ds_kind: 1 found (*k set), 0
 * absent, -1 present but not a known kind (its value in val). */
static int kind_attr(hid_t f, zt_ds_kind *k, char *val, size_t n) {
    long len = zt_h5_read_attr_str(f, "kind", val, n, 1);
    if (len == -1) return 0;
    if (len < 0) return -1;
    static const struct { const char *s; zt_ds_kind k; } map[] = {
        {"images", ZT_DS_IMAGES}, {"features", ZT_DS_FEATURES}, {"tokens", ZT_DS_TOKENS},
        {"mnist", ZT_DS_IMAGES}, {"text", ZT_DS_TOKENS}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(val, map[i].s)) { *k = map[i].k; return 1; }
    return -1;
}

static int file_kind(const char *path, zt_ds_kind *kind, char *err, size_t errlen) {
    hid_t f = zt_h5_open_ro(path, "a dataset", err, errlen);
    if (f < 0) return -1;
    char val[64];
    int rc = kind_attr(f, kind, val, sizeof val);
    if (rc < 0)
        snprintf(err, errlen, "%s: attribute /kind: '%s' is not one of images|features|tokens", path, val);
    else if (rc == 0) {   /* the older layouts had no kind attribute */
        rc = -1;
        if (zt_h5_exists(f, "/train/images")) { *kind = ZT_DS_IMAGES; rc = 1; }
        else if (zt_h5_exists(f, "/train/features")) { *kind = ZT_DS_FEATURES; rc = 1; }
        else if (zt_h5_exists(f, "/train/tokens")) { *kind = ZT_DS_TOKENS; rc = 1; }
        else snprintf(err, errlen, "%s: not a dataset file: no attribute /kind and none of /train/images, "
                      "/train/features, /train/tokens", path);
    }
    H5Fclose(f);
    return rc > 0 ? 0 : -1;
}

int zt_data_file_kind(const char *path, zt_ds_kind *kind, char *err, size_t errlen) {
    int rc;
    ZT_H5_QUIET(rc = file_kind(path, kind, err, errlen));
    return rc;
}

#define LABEL_SLICE (1u << 20)

/* Checks every label is in [0, n_classes): labels of any integer type are
 * read as int64 in slices (HDF5 converts; a uint64 above INT64_MAX clips to
 * INT64_MAX and is refused as out of range). */
static int check_labels(zt_loader *l, uint64_t n, int n_classes, char *err, size_t errlen) {
    int64_t *b = malloc((n < LABEL_SLICE ? n : LABEL_SLICE) * sizeof *b);
    if (!b) { snprintf(err, errlen, "%s: dataset %s: out of memory", l->path, l->dy_name); return -1; }
    hid_t fs = H5Dget_space(l->dy);
    int rc = 0;
    for (uint64_t o = 0; o < n && rc == 0; o += LABEL_SLICE) {
        hsize_t st = o, ct = n - o < LABEL_SLICE ? n - o : LABEL_SLICE;
        hid_t ms = H5Screate_simple(1, &ct, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &st, NULL, &ct, NULL);
        if (H5Dread(l->dy, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, b) < 0) {
            snprintf(err, errlen, "%s: dataset %s: read error", l->path, l->dy_name);
            rc = -1;
        }
        H5Sclose(ms);
        for (hsize_t i = 0; rc == 0 && i < ct; i++)
            if (b[i] < 0 || b[i] >= n_classes) {
                snprintf(err, errlen, "%s: dataset %s: label %lld at row %llu is out of range [0,%d)", l->path,
                         l->dy_name, (long long)b[i], (unsigned long long)(o + i), n_classes);
                rc = -1;
            }
    }
    H5Sclose(fs);
    free(b);
    return rc;
}

/* Features must be finite: a NaN row would poison every step it lands in. */
static int check_features(zt_loader *l, uint64_t n, uint64_t D, char *err, size_t errlen) {
    uint64_t rows = (LABEL_SLICE + D - 1) / D;
    float *b = malloc(rows * D * sizeof *b);
    if (!b) { snprintf(err, errlen, "%s: dataset %s: out of memory", l->path, l->dx_name); return -1; }
    hid_t fs = H5Dget_space(l->dx);
    int rc = 0;
    for (uint64_t o = 0; o < n && rc == 0; o += rows) {
        hsize_t st[2] = {o, 0}, ct[2] = {n - o < rows ? n - o : rows, D}, m = ct[0] * D;
        hid_t ms = H5Screate_simple(1, &m, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, ct, NULL);
        if (H5Dread(l->dx, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, b) < 0) {
            snprintf(err, errlen, "%s: dataset %s: read error", l->path, l->dx_name);
            rc = -1;
        }
        H5Sclose(ms);
        for (hsize_t i = 0; rc == 0 && i < m; i++)
            if (!isfinite(b[i])) {
                snprintf(err, errlen, "%s: dataset %s: value %g at row %llu, column %llu is not finite", l->path,
                         l->dx_name, (double)b[i], (unsigned long long)(o + i / D), (unsigned long long)(i % D));
                rc = -1;
            }
    }
    H5Sclose(fs);
    free(b);
    return rc;
}

/* images / features: split names, file, n_classes, shapes and types, then
 * every label (and every feature value) checked once. */
static int open_labeled(zt_loader *l, const char *split, char *err, size_t errlen) {
    const char *path = l->path, *x = l->info.kind == ZT_DS_IMAGES ? "images" : "features";
    if (strcmp(split, "train") && strcmp(split, "test") && strcmp(split, "val") && strcmp(split, "eval")) {
        snprintf(err, errlen, "%s: dataset /%.20s/%s: split '%s' is not one of train|test|val", path, split, x,
                 split);
        return -1;
    }
    char what[80];
    if (!strcmp(split, "eval")) snprintf(what, sizeof what, "dataset /test/%s or /val/%s", x, x);
    else snprintf(what, sizeof what, "dataset /%s/%s", split, x);
    if ((l->file = zt_h5_open_ro(path, what, err, errlen)) < 0) return -1;
    if (!strcmp(split, "eval")) {   /* the evaluation split: test, else val */
        char t[32];
        snprintf(t, sizeof t, "/test/%s", x);
        split = zt_h5_exists(l->file, t) ? "test" : "val";
        snprintf(t, sizeof t, "/val/%s", x);
        if (!strcmp(split, "val") && !zt_h5_exists(l->file, t)) {
            snprintf(err, errlen, "%s: dataset /test/%s or /val/%s: not found (an evaluation split is needed)",
                     path, x, x);
            return -1;
        }
    }
    snprintf(l->info.split, sizeof l->info.split, "%s", split);
    snprintf(l->dx_name, sizeof l->dx_name, "/%s/%s", split, x);
    snprintf(l->dy_name, sizeof l->dy_name, "/%s/labels", split);

    zt_ds_kind fk;
    char val[64];
    int ka = kind_attr(l->file, &fk, val, sizeof val);
    if (ka < 0) {
        snprintf(err, errlen, "%s: attribute /kind: '%s' is not one of images|features|tokens", path, val);
        return -1;
    }
    if (ka > 0 && fk != l->info.kind) {
        snprintf(err, errlen, "%s: dataset %s: the file's attribute /kind is '%s', not %s", path, l->dx_name, val,
                 x);
        return -1;
    }
    if ((l->dx = open_ds(l, l->dx_name, err, errlen)) < 0) return -1;
    int rank, u8;
    hsize_t d[8];
    char desc[200];
    ds_shape(l->dx, &rank, d, &u8, desc, sizeof desc);
    uint64_t n = rank > 0 ? d[0] : 0, unit = 1;
    for (int k = 1; k < rank; k++) unit *= d[k];
    if (l->info.kind == ZT_DS_IMAGES) {
        if (!u8 || (rank != 3 && rank != 4) || unit == 0) {
            snprintf(err, errlen, "%s: dataset %s: expected uint8 [N,H,W,C] or [N,H,W], got %s", path,
                     l->dx_name, desc);
            return -1;
        }
        l->info.img_h = (int)d[1];
        l->info.img_w = (int)d[2];
        l->info.img_c = rank == 4 ? (int)d[3] : 1;
    } else {
        hid_t t = H5Dget_type(l->dx);
        int f32 = H5Tget_class(t) == H5T_FLOAT && H5Tget_size(t) == 4;
        H5Tclose(t);
        if (!f32 || rank != 2 || unit == 0) {
            snprintf(err, errlen, "%s: dataset %s: expected float32 [N,D], got %s", path, l->dx_name, desc);
            return -1;
        }
    }
    if (unit > INT_MAX / 4) {
        snprintf(err, errlen, "%s: dataset %s: %llu values per row, more than %d", path, l->dx_name,
                 (unsigned long long)unit, INT_MAX / 4);
        return -1;
    }
    l->x_rank = rank;
    for (int k = 1; k < rank; k++) l->x_inner[k - 1] = d[k];
    l->unit = unit;

    if ((l->dy = open_ds(l, l->dy_name, err, errlen)) < 0) return -1;
    ds_shape(l->dy, &rank, d, &u8, desc, sizeof desc);
    hid_t t = H5Dget_type(l->dy);
    int integer = H5Tget_class(t) == H5T_INTEGER;
    H5Tclose(t);
    if (!integer || rank != 1) {
        snprintf(err, errlen, "%s: dataset %s: expected an integer type [N], got %s", path, l->dy_name, desc);
        return -1;
    }
    if (d[0] != n) {
        snprintf(err, errlen, "%s: dataset %s: %llu labels, but %s has %llu rows", path, l->dy_name,
                 (unsigned long long)d[0], l->dx_name, (unsigned long long)n);
        return -1;
    }
    if (n == 0) { snprintf(err, errlen, "%s: dataset %s: empty (0 rows)", path, l->dx_name); return -1; }
    /* n_classes: required, except in the older mnist layout (10 digits) */
    int64_t nc = 10;
    int legacy = ka == 0 || !strcmp(val, "mnist");
    if (zt_h5_read_attr_i64(l->file, "n_classes", &nc) < 0) {
        if (!legacy || l->info.kind != ZT_DS_IMAGES) {
            snprintf(err, errlen, "%s: attribute /n_classes: missing or not an integer (needed for dataset %s)",
                     path, l->dx_name);
            return -1;
        }
        nc = 10;
    }
    if (nc < 2 || nc > (1 << 24)) {
        snprintf(err, errlen, "%s: attribute /n_classes: %lld is not in [2,%d] (dataset %s)", path, (long long)nc,
                 1 << 24, l->dx_name);
        return -1;
    }

    if (check_labels(l, n, (int)nc, err, errlen)) return -1;
    if (l->info.kind == ZT_DS_FEATURES && check_features(l, n, unit, err, errlen)) return -1;
    l->info.n_rows = n;
    l->info.in_dim = (int)unit;
    l->info.n_classes = (int)nc;
    l->info.ctx = 0;
    return 0;
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
    if (kind == ZT_DS_AUTO && file_kind(path, &kind, err, errlen)) goto fail;
    l->info.kind = kind;
    snprintf(l->info.split, sizeof l->info.split, "%.15s", split);

    if (kind == ZT_DS_IMAGES || kind == ZT_DS_FEATURES) {
        if (open_labeled(l, split, err, errlen)) goto fail;
        return l;
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

    {
        if (!is_token_type(l->dx) || rank != 1)
            FAIL("%s: dataset %s: expected uint16 or uint8 [N], got %s", path, l->dx_name, desc);
        uint64_t n = dims[0];
        if (n == 0) FAIL("%s: dataset %s: empty (0 tokens)", path, l->dx_name);
        int64_t vs = 0;
        if (zt_h5_read_attr_i64(l->file, "vocab_size", &vs) < 0)
            FAIL("%s: attribute /vocab_size: missing or not an integer (needed for dataset %s)", path,
                 l->dx_name);
        char tk[32] = "char";
        long tl = zt_h5_read_attr_str(l->file, "tokenizer", tk, sizeof tk, 1);
        if (tl == -2 || (tl >= 0 && strcmp(tk, "char") && strcmp(tk, "sentencepiece")))
            FAIL("%s: attribute /tokenizer: '%.31s' is not char or sentencepiece (dataset %s)", path, tk,
                 l->dx_name);
        if (tl < 0) strcpy(tk, "char");   /* older files: char */
        snprintf(l->info.tokenizer, sizeof l->info.tokenizer, "%s", tk);
        const int spm = !strcmp(tk, "sentencepiece");
        if (vs < 1 || vs > (spm ? 65535 : 256))
            FAIL("%s: attribute /vocab_size: %lld is not in [1,%d] (dataset %s, tokenizer %s)", path,
                 (long long)vs, spm ? 65535 : 256, l->dx_name, tk);
        if (spm && !zt_h5_exists(l->file, "/tokenizer/model"))
            FAIL("%s: dataset /tokenizer/model: missing (needed for tokenizer sentencepiece)", path);
        char vocab[512];
        if (!spm) {
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
        }
        l->info.vocab_size = (int)vs;
        if (n < (uint64_t)ctx + 1)
            FAIL("%s: dataset %s: %llu tokens, fewer than one window of ctx+1 = %d", path, l->dx_name,
                 (unsigned long long)n, ctx + 1);
        /* one pass checks every token and counts them for the entropy */
        uint64_t at = 0, *counts = calloc(65536, sizeof *counts);
        if (!counts) FAIL("%s: out of memory", path);
        int v = 0, r = scan_tokens(l->dx, n, (int)vs, &at, &v, counts);
        if (r == 0) l->info.unigram_entropy = entropy(counts, 65536, n);
        free(counts);
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
 * dataset's trailing dims, unit_elems elements of memory type mtype) into
 * buf in file order: one
 * H5Dread per ZT_MAX_RUNS runs (one in all but pathological cases), since
 * building an OR-union of many blocks costs more than another read. */
static int read_runs(hid_t d, hid_t mtype, int rank, const hsize_t *inner_dims, const run *runs, int nr,
                     uint64_t unit_elems, uint8_t *buf) {
    hid_t fs = H5Dget_space(d);
    hsize_t start[4] = {0, 0, 0, 0}, count[4] = {0, 0, 0, 0};
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
        m *= unit_elems;
        hid_t ms = H5Screate_simple(1, &m, NULL);
        if (e >= 0) e = H5Dread(d, mtype, ms, fs, H5P_DEFAULT, buf);
        H5Sclose(ms);
        buf += m * H5Tget_size(mtype);
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
    uint8_t *buf = NULL;
    int32_t *lbuf = NULL;
    if (!rp || !runs || !off) goto oom;
    for (int i = 0; i < n; i++) { rp[i].row = rows[i]; rp[i].pos = i; }
    qsort(rp, (size_t)n, sizeof *rp, cmp_rowpos);

    /* Each sorted row is an interval of file units: [r, r+1) images or
     * feature rows, or the
     * window [r*ctx, r*ctx+ctx+1) tokens. Intervals that overlap, touch or
     * lie within ZT_GAP_BYTES of each other merge into one run (data
     * sieving: HDF5 reads contiguous data through a 64 KiB sieve buffer
     * anyway, while every extra hyperslab block makes the union selection
     * slower — superlinearly in 1.10). off[k] = buffer offset, in units. */
    const uint64_t ctx = text ? (uint64_t)l->info.ctx : 1, w = text ? ctx + 1 : 1;
    const int feat = l->info.kind == ZT_DS_FEATURES;
    /* units: one token (read as uint16), or one image / feature row */
    const uint64_t unit = text ? 1 : l->unit,
                   unit_bytes = text ? sizeof(uint16_t) : feat ? unit * sizeof(float) : unit;
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
    if (!text) lbuf = malloc(total * sizeof *lbuf);
    if (!buf || (!text && !lbuf)) goto oom;
    /* tokens (uint8 or uint16 in the file) are read as uint16 */
    const hid_t mtype = text ? H5T_NATIVE_UINT16 : feat ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT8;
    if (read_runs(l->dx, mtype, text ? 1 : l->x_rank, l->x_inner, runs, nr, unit, buf) < 0 ||
        (!text && read_runs(l->dy, H5T_NATIVE_INT32, 1, NULL, runs, nr, 1, (uint8_t *)lbuf) < 0)) {
        snprintf(err, errlen, "%s: dataset %s: HDF5 read of %d rows failed", l->path,
                 l->dx_name, n);
        goto out;
    }
    if (feat) {
        for (int k = 0; k < n; k++) {
            memcpy(xf + (size_t)rp[k].pos * unit, buf + off[k] * unit_bytes, unit_bytes);
            y[rp[k].pos] = lbuf[off[k]];
        }
    } else if (!text) {   /* images: bytes to [0,1], NHWC as stored */
        const float sc = 1.0f / 255.0f;
        for (int k = 0; k < n; k++) {
            const uint8_t *src = buf + off[k] * unit;
            float *dst = xf + (size_t)rp[k].pos * unit;
            for (uint64_t p = 0; p < unit; p++) dst[p] = (float)src[p] * sc;
            y[rp[k].pos] = lbuf[off[k]];
        }
    } else {
        for (int k = 0; k < n; k++) {
            const uint16_t *src = (const uint16_t *)buf + off[k];
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
    size_t per = text ? (size_t)l->info.ctx : (size_t)l->unit, c = (size_t)n;
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
            else { copy_if(xf, l->oxf, n * l->unit * sizeof *xf); copy_if(y, l->oy, n * sizeof *y); }
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
        uint64_t at, *counts = calloc(65536, sizeof *counts);
        int v;
        if (counts && is_token_type(d) && H5Sget_simple_extent_ndims(sp) == 1) {
            H5Sget_simple_extent_dims(sp, &n, NULL);
            if (n && scan_tokens(d, n, 65536, &at, &v, counts) == 0) H = entropy(counts, 65536, n);
        }
        free(counts);
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
