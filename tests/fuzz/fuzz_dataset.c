/* fuzz_dataset.c — libFuzzer target: a dataset file's open and first batch
 * (datasets/loader.c). Input: the bytes of an HDF5 file. It is opened as both
 * ways the trainer opens it, one split each (the kind the file names —
 * images or features — as train or eval; text as train or val: the input's
 * length picks), and each that opens reads a first batch: images and features
 * directly, text through the prefetch thread, rows out of order and repeated
 * as the sampler gives them. */
#include <math.h>       /* isfinite */
#include <stdint.h>     /* uint8_t, uint64_t */
#include <stdio.h>      /* snprintf */
#include <stdlib.h>     /* malloc */
#include <hdf5.h>       /* H5Eset_auto2: quiet HDF5 while fuzzing */
#include "zt_data.h"    /* zt_loader_* */
#include "fuzz_util.h"  /* fz_dir, fz_write */

#define BATCH 4
#define CTX 8

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return 0;
}

/* rows of a first batch: the sampler's order is a permutation, so read them
 * backwards, with a repeat when there are few */
static int first_rows(const zt_loader *l, uint64_t *rows) {
    uint64_t n = zt_loader_rows(l);
    int k = n < BATCH ? (int)n : BATCH;
    for (int i = 0; i < k; i++) rows[i] = n - 1 - (uint64_t)i;
    if (k && k < BATCH) rows[k++] = 0;
    return k;
}

/* images or features, the kind taken from the file (a text file's is
 * refused: ctx 0) */
static void try_labeled(const char *path, const char *split) {
    char err[1024];
    zt_loader *l = zt_loader_open(path, ZT_DS_AUTO, split, 0, err, sizeof err);
    if (!l) { if (!err[0]) __builtin_trap(); return; }
    const zt_ds_info *di = zt_loader_info(l);
    if (di->kind == ZT_DS_TOKENS) { zt_loader_close(l); return; }
    float *xf = malloc((size_t)BATCH * (size_t)di->in_dim * sizeof *xf);
    int32_t y[BATCH];
    uint64_t rows[BATCH];
    int k = first_rows(l, rows);
    if (xf && zt_loader_read(l, rows, k, xf, NULL, y, err, sizeof err) == 0)
        for (int i = 0; i < k; i++) {
            if (y[i] < 0 || y[i] >= di->n_classes) __builtin_trap();   /* open promised labels in range */
            for (int p = 0; p < di->in_dim; p++)
                if (!isfinite(xf[(size_t)i * di->in_dim + p])) __builtin_trap();   /* and finite values */
        }
    free(xf);
    (void)zt_loader_require_rows(l, BATCH, err, sizeof err);
    zt_loader_close(l);
}

static void try_text(const char *path, const char *split) {
    char err[1024];
    zt_loader *l = zt_loader_open(path, ZT_DS_TEXT, split, CTX, err, sizeof err);
    if (!l) { if (!err[0]) __builtin_trap(); return; }
    int32_t xi[BATCH * CTX], y[BATCH * CTX];
    uint64_t rows[BATCH];
    int k = first_rows(l, rows);
    const int V = zt_loader_info(l)->vocab_size;
    if (zt_loader_prefetch(l, rows, k) == 0 && zt_loader_take(l, NULL, xi, y, err, sizeof err) == 0)
        for (int i = 0; i < k * CTX; i++)
            if (xi[i] < 0 || xi[i] >= V || y[i] < 0 || y[i] >= V) __builtin_trap();   /* tokens < vocab_size */
    (void)zt_loader_require_rows(l, BATCH, err, sizeof err);
    zt_loader_close(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[512];
    if (!path[0]) snprintf(path, sizeof path, "%s/data.h5", fz_dir("dataset"));
    fz_write(path, data, size);
    /* one split of each kind per input (each open costs an HDF5 file open,
     * the bulk of the time): the input's length picks which */
    try_labeled(path, size & 1 ? "eval" : "train");
    try_text(path, size & 2 ? "val" : "train");
    return 0;
}
