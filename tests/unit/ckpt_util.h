/* ckpt_util.h — helpers shared by the checkpoint unit tests (tests/unit/ckpt_*.c). */
#ifndef ZT_CKPT_TEST_UTIL_H
#define ZT_CKPT_TEST_UTIL_H
#include "zt_ckpt.h"
#include <stddef.h>
#include <stdint.h>

#ifndef ZT_CK_TEST_DIR
#define ZT_CK_TEST_DIR "."
#endif

/* The synthetic layout: w1 [5,7], b1 [7], w2 [3,11], s [1]  (76 elements),
 * slots "m" and "v". */
extern const zt_ck_layout ckt_layout;
/* A big layout for the disk-full tests: big [150,1024] (600 KiB), b [24]; slot "m". */
extern const zt_ck_layout ckt_big_layout;

/* Deterministic value of element x of the params (k = 0) or slot k-1, for a
 * checkpoint written with `salt` (different checkpoints, different values). */
float ckt_val(int k, uint64_t x, uint32_t salt);
/* The full flat buffer of params (k = 0) or slot k-1: malloc'd. */
float *ckt_full(const zt_ck_layout *L, int k, uint32_t salt);
/* The flat partitioning (docs/ARCHITECTURE.md, Conventions): P' = ceil(n/W)*W, rank r owns [r*P'/W, (r+1)*P'/W) ∩ [0,n). */
void ckt_part(uint64_t n, int W, int r, uint64_t *lo, uint64_t *hi);
void ckt_meta(zt_ck_meta *m, uint64_t step, int W);

/* Writes a whole checkpoint under root at W (W sequential write_shard calls,
 * index, commit). 0, or -1 with err. */
int ckt_write(const char *root, uint64_t step, int W, const zt_ck_layout *L, uint32_t salt, int keep_last,
              int keep_every, char *err, size_t errlen);
/* Same without commit: leaves root/.tmp-step-N complete. */
int ckt_write_tmp(const char *root, uint64_t step, int W, const zt_ck_layout *L, uint32_t salt, char *err,
                  size_t errlen);

/* Fresh temp dir (under $TMPDIR or /tmp), removed by ckt_rmdir. */
void ckt_mkdtemp(char *out, size_t cap);
void ckt_rmdir(const char *path);
/* Flip one bit of byte `off` of a file; truncate a file to `len`. */
void ckt_flip(const char *path, long off);
void ckt_truncate(const char *path, long len);
long ckt_file_size(const char *path);
/* File offset of the first data chunk of dataset dpath in an HDF5 file. */
long ckt_chunk_addr(const char *path, const char *dpath);
/* Runs a shell command (sh -c), output captured into out; returns exit status. */
int ckt_sh(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* zt_ck_cmd in-process with stdout+stderr captured; returns its status. */
int ckt_cmd(char *out, size_t cap, int argc, const char **argv);
/* Reads a whole small file into out; 0 or -1. */
int ckt_slurp(const char *path, char *out, size_t cap);
#endif
