/* data_check.c — `ztrain data check FILE`: is this a file `ztrain train` can
 * use, and what is in it. The validation is the loader's own (zt_loader_open
 * checks every label, token and feature value, the same as at the start of
 * training); this file only reads the splits back through the loader for a
 * summary: shapes and types, class counts per split, value ranges, the
 * tokenizer. A problem ends the process through zt_fatal with exit 4 and the
 * loader's line (file, dataset, row, value). */
#include "zt_data.h"
#include "zt_h5util.h"      /* zt_h5_open_ro, zt_h5_exists, zt_h5_type_name, zt_h5_read_attr_* */
#include "zt_launcher.h"    /* ZT_EXIT_DATA */
#include "zt_log.h"         /* zt_fatal, mallocCheck */

#include <float.h>          /* FLT_MAX */
#include <stdio.h>          /* printf */
#include <stdlib.h>         /* malloc */
#include <string.h>         /* strcmp */

#define CHUNK 1024          /* rows per read */

/* "uint8 [60000,28,28,1]" for a dataset (display only; the loader validated it) */
static void describe(hid_t f, const char *name, char *out, size_t n) {
    snprintf(out, n, "?");
    if (!zt_h5_exists(f, name)) return;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return;
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    hsize_t dims[8];
    int r = H5Sget_simple_extent_ndims(sp);
    char tn[32], ds[160] = "";
    zt_h5_type_name(t, tn, sizeof tn);
    if (r >= 0 && r <= 8) {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        zt_h5_dims_str(r, dims, ds, sizeof ds);
    }
    snprintf(out, n, "%s %s", tn, ds);
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(d);
}

/* One images / features split: every row read back through the loader. */
static void check_labeled(const char *path, hid_t f, zt_ds_kind kind, const char *split) {
    char err[1024];
    zt_loader *l = zt_loader_open(path, kind, split, 0, err, sizeof err);
    if (!l) zt_fatal(ZT_EXIT_DATA, "data check: %s", err);
    const zt_ds_info *di = zt_loader_info(l);
    const int D = di->in_dim, K = di->n_classes;
    uint64_t n = di->n_rows, *cnt = calloc((size_t)K, sizeof *cnt), *rows = malloc(CHUNK * sizeof *rows);
    float *x = malloc((size_t)CHUNK * (size_t)D * sizeof *x);
    int32_t *y = malloc(CHUNK * sizeof *y);
    mallocCheck(cnt); mallocCheck(rows); mallocCheck(x); mallocCheck(y);
    double lo = FLT_MAX, hi = -FLT_MAX, sum = 0;
    for (uint64_t o = 0; o < n; o += CHUNK) {
        int k = (int)(n - o < CHUNK ? n - o : CHUNK);
        for (int i = 0; i < k; i++) rows[i] = o + (uint64_t)i;
        if (zt_loader_read(l, rows, k, x, NULL, y, err, sizeof err)) zt_fatal(ZT_EXIT_DATA, "data check: %s", err);
        for (int i = 0; i < k; i++) {
            cnt[y[i]]++;
            for (int p = 0; p < D; p++) {
                double v = x[(size_t)i * D + p];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
                sum += v;
            }
        }
    }
    char xn[64], yn[64], xd[200], yd[200];
    snprintf(xn, sizeof xn, "/%s/%s", di->split, kind == ZT_DS_IMAGES ? "images" : "features");
    snprintf(yn, sizeof yn, "/%s/labels", di->split);
    describe(f, xn, xd, sizeof xd);
    describe(f, yn, yd, sizeof yd);
    printf("  %-5s %llu rows\n", di->split, (unsigned long long)n);
    printf("    %-15s %s", xn, xd);
    if (kind == ZT_DS_IMAGES)
        printf(" -> %dx%dx%d (H,W,C), %d floats per row; pixels %.0f..%.0f, mean %.4f (scaled to [0,1])\n",
               di->img_h, di->img_w, di->img_c, D, lo * 255.0, hi * 255.0, sum / ((double)n * D));
    else
        printf(" -> %d floats per row; values %.6g..%.6g, mean %.6g\n", D, lo, hi, sum / ((double)n * D));
    printf("    %-15s %s, classes 0..%d, per class:", yn, yd, K - 1);
    int empty = 0;
    for (int c = 0; c < K; c++) {
        if (c < 32) printf(" %llu", (unsigned long long)cnt[c]);
        empty += cnt[c] == 0;
    }
    printf("%s\n", K > 32 ? " ..." : "");
    if (empty) printf("    note: %d of %d classes have no rows in this split\n", empty, K);
    free(cnt); free(rows); free(x); free(y);
    zt_loader_close(l);
}

/* One tokens split: the loader checks every token (windows of ctx 1). */
static void check_tokens(const char *path, hid_t f, const char *split) {
    char err[1024], name[64], desc[200];
    zt_loader *l = zt_loader_open(path, ZT_DS_TOKENS, split, 1, err, sizeof err);
    if (!l) zt_fatal(ZT_EXIT_DATA, "data check: %s", err);
    const zt_ds_info *di = zt_loader_info(l);
    snprintf(name, sizeof name, "/%s/tokens", split);
    describe(f, name, desc, sizeof desc);
    printf("  %-5s %s %s: %llu tokens, all < vocab_size %d; unigram entropy %.4f nats\n", split, name, desc,
           (unsigned long long)di->n_rows + 1, di->vocab_size, di->unigram_entropy);
    zt_loader_close(l);
}

int zt_data_check(const char *path) {
    char err[1024];
    zt_ds_kind kind;
    if (zt_data_file_kind(path, &kind, err, sizeof err)) zt_fatal(ZT_EXIT_DATA, "data check: %s", err);
    hid_t f = zt_h5_open_ro(path, NULL, err, sizeof err);
    if (f < 0) zt_fatal(ZT_EXIT_DATA, "data check: %s", err);
    char kattr[64] = "";
    zt_h5_read_attr_str(f, "kind", kattr, sizeof kattr, 1);
    printf("%s: kind %s%s%s%s\n", path, zt_ds_kind_name(kind), kattr[0] ? "" : " (no kind attribute: the older ",
           kattr[0] ? "" : kind == ZT_DS_TOKENS ? "text" : "mnist", kattr[0] ? "" : " layout)");
    if (kind == ZT_DS_TOKENS) {
        char tok[64] = "char";
        zt_h5_read_attr_str(f, "tokenizer", tok, sizeof tok, 1);
        int64_t vs = 0;
        zt_h5_read_attr_i64(f, "vocab_size", &vs);
        printf("  tokenizer %s, vocab_size %lld\n", tok, (long long)vs);
        check_tokens(path, f, "train");
        if (!zt_h5_exists(f, "/val/tokens"))
            zt_fatal(ZT_EXIT_DATA, "data check: %s: dataset /val/tokens: not found (training evaluates on it)",
                     path);
        check_tokens(path, f, "val");
    } else {
        const char *x = kind == ZT_DS_IMAGES ? "images" : "features";
        int64_t nc = 0;
        if (zt_h5_read_attr_i64(f, "n_classes", &nc) == 0) printf("  n_classes %lld\n", (long long)nc);
        check_labeled(path, f, kind, "train");
        int evals = 0;
        for (int s = 0; s < 2; s++) {
            char name[64];
            snprintf(name, sizeof name, "/%s/%s", s ? "val" : "test", x);
            if (zt_h5_exists(f, name)) { check_labeled(path, f, kind, s ? "val" : "test"); evals++; }
        }
        if (!evals)
            zt_fatal(ZT_EXIT_DATA, "data check: %s: dataset /test/%s or /val/%s: not found (training evaluates on "
                     "one)", path, x, x);
        if (evals == 2) printf("  (training evaluates on /test; /val is not used)\n");
    }
    char src[4200] = "", sha[80] = "";
    if (zt_h5_read_attr_str(f, "source", src, sizeof src, 1) > 0) {
        char *nl = strchr(src, '\n');   /* a list of files: its first line */
        if (nl) *nl = 0;
        printf("  source %s%s\n", src, nl ? " ..." : "");
    }
    if (zt_h5_read_attr_str(f, "sha256", sha, sizeof sha, 1) > 0) printf("  sha256 %s\n", sha);
    H5Fclose(f);
    printf("ok: %s can be trained on (data.path = %s)\n", path, path);
    return 0;
}
