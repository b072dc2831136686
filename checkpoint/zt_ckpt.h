/* zt_ckpt.h — sharded HDF5 checkpoints (checkpoint/FORMAT.md).
 * Knows nothing of the trainer: it is handed a layout (named tensors over one
 * flat buffer, plus optimizer slot names) and, per rank, a flat partition
 * [lo, hi) of the parameters and of every slot. Collective steps (gathering
 * checksums, agreeing on success) are the caller's job; this library does the
 * file work each rank (or rank 0) does.
 *
 *   root/step-00001200/index.h5              rank 0: meta + one VIRTUAL dataset
 *                                            per tensor and slot, global shape
 *   root/step-00001200/index.crc32           rank 0: CRC32 of index.h5 ("%08x\n")
 *   root/step-00001200/shard-00000-of-00004.h5  rank r: its part of each tensor
 *   root/latest                              text file "step-00001200\n",
 *                                            replaced by atomic rename */
#ifndef ZT_CKPT_H
#define ZT_CKPT_H
#include <stddef.h>
#include <stdint.h>

#define ZT_CK_MAX_SLOTS 4
#define ZT_CK_FORMAT    2   /* index format written; 1 (no n_shards) is read too */

typedef struct {
    char     name[64];
    int      ndim;              /* 1 or 2 */
    uint64_t shape[2];
    uint64_t off;               /* offset in the flat buffer */
} zt_ck_tensor;

typedef struct {
    int                 n_tensors;
    const zt_ck_tensor *t;      /* sorted by off, contiguous, cover [0, n_flat) */
    uint64_t            n_flat;
    int                 n_slots;                 /* optimizer state slots */
    char                slot[ZT_CK_MAX_SLOTS][16];/* e.g. "m","v" or "momentum" */
} zt_ck_layout;

typedef struct {
    uint64_t step;              /* optimizer steps completed = sampler cursor */
    int      world, stage;      /* W and ZeRO stage that wrote it */
    uint64_t seed;
    char     model[512];        /* e.g. "mlp in=784 hidden=256,128 out=10" (compared) */
    char     optim[512];        /* e.g. "adamw lr=... b1=... wd=..." (informational) */
    char     config[16384];     /* the full effective config, ini text */
    char     state[512];        /* training state at `step`: sampler cursor (epoch,
                                 * step in epoch), LR schedule position and next lr */
    char     writer_version[64];/* `ztrain --version` of the writer (informational;
                                 * root attr writer_version, omitted when empty) */
    int      format;            /* read: the index's format version (written: ZT_CK_FORMAT) */
} zt_ck_meta;

/* Paths. */
void zt_ck_step_name(uint64_t step, char *out, size_t cap);        /* "step-00001200" */
void zt_ck_tmp_path(const char *root, uint64_t step, char *out, size_t cap); /* root/.tmp-step-... */

/* --- save --- */
/* Any rank: create root and the tmp dir (idempotent, races are fine). */
int zt_ck_prepare(const char *root, uint64_t step, char *err, size_t errlen);
/* Rank r: write shard r of W into tmpdir: the part of every tensor and slot in
 * [lo,hi), fsync it, return CRC32 of the file's bytes in *crc. slots[i] points
 * at slot i's values for [lo,hi). On any failure (ENOSPC, EFBIG...) -1 + err. */
int zt_ck_write_shard(const char *tmpdir, int rank, int W, const zt_ck_layout *L,
                      uint64_t lo, uint64_t hi, const float *param,
                      const float *const *slots, uint32_t *crc,
                      char *err, size_t errlen);
/* The same, flags ZT_CK_NO_FSYNC: the file is written (into the page cache;
 * its writeback started) but not fsynced; zt_ck_sync_shard makes it durable
 * later, from any thread. A checkpoint is committed only after that. */
#define ZT_CK_NO_FSYNC 1u
int zt_ck_write_shard_ex(const char *tmpdir, int rank, int W, const zt_ck_layout *L,
                         uint64_t lo, uint64_t hi, const float *param,
                         const float *const *slots, uint32_t *crc, unsigned flags,
                         char *err, size_t errlen);
int zt_ck_sync_shard(const char *tmpdir, int rank, int W, char *err, size_t errlen);
/* Rank 0, after every shard succeeded: index.h5 with VDS + meta + crc[W],
 * lo[W], hi[W]; fsync. W is the number of shard files; m->world the ranks
 * that wrote them (0: W). Per-node layout: W < m->world, shard i holding the
 * union of a node's partitions (any tiling of [0, n_flat) is accepted). */
int zt_ck_write_index(const char *tmpdir, int W, const zt_ck_layout *L,
                      const uint64_t *lo, const uint64_t *hi, const uint32_t *crc,
                      const zt_ck_meta *m, char *err, size_t errlen);
/* Rank 0: fsync tmpdir, rename to step-N, fsync root, point latest at it
 * (write latest.tmp, fsync, rename), then retention: keep the newest keep_last
 * (0 = all) plus every step that is a multiple of keep_every (0 = none). */
int zt_ck_commit(const char *root, uint64_t step, int keep_last, int keep_every,
                 char *err, size_t errlen);
/* Rank 0 on failure: remove the tmp dir. */
void zt_ck_abandon(const char *root, uint64_t step);

/* --- load --- */
typedef struct zt_ck_reader zt_ck_reader;
/* Open step dir: reads index.h5 (meta, layout, per-shard lo/hi/crc) and
 * checks every shard file exists. Does not checksum (see verify). */
zt_ck_reader *zt_ck_open(const char *stepdir, char *err, size_t errlen);
const zt_ck_meta   *zt_ck_meta_of(const zt_ck_reader *r);
const zt_ck_layout *zt_ck_layout_of(const zt_ck_reader *r);
int      zt_ck_world_of(const zt_ck_reader *r);   /* shard files (ranks: meta->world) */
/* CRC-check shards i = first, first+stride, ... (so W' ranks share the work);
 * -1 + err naming the bad shard file. */
int      zt_ck_verify_shards(zt_ck_reader *r, int first, int stride, char *err, size_t errlen);
/* Compare with the running model's layout: -1 + err listing every difference
 * (missing/extra tensors, shape mismatches, slot names). */
int      zt_ck_check_layout(const zt_ck_reader *r, const zt_ck_layout *mine, char *err, size_t errlen);
/* Read flat elements [lo,hi) of the params (slot == NULL) or of a slot into out,
 * touching only the shards that overlap [lo,hi). */
int      zt_ck_read(zt_ck_reader *r, const char *slot, uint64_t lo, uint64_t hi,
                    float *out, char *err, size_t errlen);
void     zt_ck_close(zt_ck_reader *r);

/* Find what to resume from under root: the step dir named by `latest`; if it
 * fails open+verify, the next older complete step dir, and so on. Writes the
 * chosen path; appends one line per skipped checkpoint (why) to log.
 * Returns 0 found, 1 nothing to resume from (empty root), -1 all unusable. */
int zt_ck_resolve(const char *root, char *path, size_t cap, char *log, size_t loglen,
                  char *err, size_t errlen);
/* Whole-checkpoint verification for the CLI: open + every shard checksum. */
int zt_ck_verify(const char *stepdir, char *err, size_t errlen);

/* --- additions (no change to the calls above) --- */
/* Like zt_ck_resolve, plus:
 *  flags ZT_CK_RESOLVE_NO_CRC: a candidate only has to open (index readable and
 *    consistent, every shard present with its recorded size): for callers that
 *    split the CRC work over ranks with zt_ck_verify_shards and call again with
 *  before = the failed candidate's step (0 = no bound): only steps < before. */
#define ZT_CK_RESOLVE_NO_CRC 1u
int zt_ck_resolve_ex(const char *root, unsigned flags, uint64_t before, char *path, size_t cap,
                     char *log, size_t loglen, char *err, size_t errlen);
/* Same, and on 0 hands back the chosen checkpoint open in *out (the caller
 * closes it), so that a resume opens it once; *out is NULL otherwise. */
int zt_ck_resolve_open(const char *root, unsigned flags, uint64_t before, zt_ck_reader **out,
                       char *path, size_t cap, char *log, size_t loglen, char *err, size_t errlen);
/* DIR as the CLI takes it: a step dir (has index.h5 or is named step-N /
 * .tmp-step-N) is returned as is; a root gives root/<latest>. 0 or -1 + err. */
int zt_ck_locate(const char *dir, char *stepdir, size_t cap, char *err, size_t errlen);
/* zt_ck_open for the other ranks of a resume, once rank 0 has opened the
 * same step dir with zt_ck_open / zt_ck_resolve_open (index CRC32, every
 * shard present with its size): ZT_CK_OPEN_TRUSTED skips both, so that W
 * ranks do not each read the whole index (O(W) bytes) and stat every shard
 * (O(W) calls): O(W^2) on the file system in all. The metadata CRC is still
 * checked; zt_ck_verify_shards and zt_ck_read check what each rank touches. */
#define ZT_CK_OPEN_TRUSTED 1u
zt_ck_reader *zt_ck_open_ex(const char *stepdir, unsigned flags, char *err, size_t errlen);
/* Reader extras. */
const char *zt_ck_dir_of(const zt_ck_reader *r);
int zt_ck_shard_info(const zt_ck_reader *r, int i, uint64_t *lo, uint64_t *hi, uint32_t *crc, uint64_t *size);
/* CRC check of shard i alone: 0 ok, ZT_CK_SHARD_BAD (size or CRC differs,
 * unreadable), ZT_CK_SHARD_MISSING, -1 (no such shard); err names the file. */
#define ZT_CK_SHARD_BAD     1
#define ZT_CK_SHARD_MISSING 2
int zt_ck_check_shard(zt_ck_reader *r, int i, char *err, size_t errlen);

/* --- named byte blobs in the index (ckpt_index.c), e.g. the tokenizer --- */
/* zt_ck_write_index plus n_blobs datasets /blob/<name> (uint8 [len], chunked,
 * Fletcher32; covered by index.crc32 like the rest of the index). name: plain,
 * at most 64 bytes. zt_ck_read_blob: *data (malloc'd, the caller frees) and
 * *len; returns 0, 1 when the checkpoint has no such blob, -1 + err. */
typedef struct {
    const char *name;
    const void *data;
    uint64_t    len;
} zt_ck_blob;
int zt_ck_write_index_blobs(const char *tmpdir, int W, const zt_ck_layout *L,
                            const uint64_t *lo, const uint64_t *hi, const uint32_t *crc,
                            const zt_ck_meta *m, const zt_ck_blob *blobs, int n_blobs,
                            char *err, size_t errlen);
int zt_ck_read_blob(const zt_ck_reader *r, const char *name, uint8_t **data, size_t *len,
                    char *err, size_t errlen);

/* --- one job per checkpoint root (ckpt_lock.c) --- */
#define ZT_CK_LOCK_FILE ".lock"
#define ZT_CK_LOCK_BUSY (-2)
typedef struct {
    char job[64], host[256];
    long pid;                   /* -1 when the file names nobody */
} zt_ck_lock_holder;
/* mkdir -p; 0 or -1 + err naming the directory. */
int  zt_ck_mkdir_p(const char *path, char *err, size_t errlen);
/* Create root (mkdir -p) and take an exclusive flock(2) on root/.lock without
 * waiting; then write "job <job> host <hostname> pid <pid>\n" into it.
 * Returns the descriptor (>= 0), which holds the lock until zt_ck_unlock or
 * the end of the process (the kernel drops it however the process ends, so a
 * killed job leaves no stale lock); ZT_CK_LOCK_BUSY if another process holds
 * it, with *holder (may be NULL) read from the file ("?" / -1 for what it
 * does not say); -1 + err on an I/O error. Holders on other hosts are seen
 * where the filesystem carries flock (local disks, NFSv4, Lustre -o flock). */
int  zt_ck_lock(const char *root, const char *job, zt_ck_lock_holder *holder, char *err, size_t errlen);
void zt_ck_unlock(int fd);

/* --- tools (ckpt_tools.c): `ztrain ckpt info|verify|export` --- */
int zt_ck_cmd(int argc, char **argv);
#endif
