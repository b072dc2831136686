/* ckpt_internal.h — shared by the checkpoint/ sources, not installed.
 * Error context + h5Check/osCheck macros, path/fs helpers, index names. */
#ifndef ZT_CKPT_INTERNAL_H
#define ZT_CKPT_INTERNAL_H
#include "zt_ckpt.h"
#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <stdarg.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* Datasets are chunked (Fletcher32 needs chunks) in chunks of this many
 * elements (4 MiB of fp32). Shard data moves one chunk per HDF5 call
 * (H5Dwrite_chunk/H5Dread_chunk), so a data-prefetch thread calling HDF5
 * meanwhile (the thread-safe build has one global lock) waits at most one
 * chunk. The generic fallback path reads in slices of ZT_CK_IO_SLICE. */
#define ZT_CK_CHUNK    ((hsize_t)1 << 20)
#define ZT_CK_IO_SLICE ((hsize_t)16 << 20)
/* Chunks announced to the kernel (POSIX_FADV_WILLNEED) ahead of the one being
 * read, so the device reads while we checksum and copy. */
#define ZT_CK_PREFETCH 4

static inline hsize_t ck_chunk_1d(hsize_t n) { return n < ZT_CK_CHUNK ? n : ZT_CK_CHUNK; }
/* HDF5's Fletcher32 (H5_checksum_fletcher32), same result, ~4x faster. */
uint32_t ck_fletcher32(const void *data, size_t len);
#define ZT_CK_INDEX    "index.h5"
/* "%08x\n": CRC32 of index.h5, checked before HDF5 parses the index (HDF5
 * 1.10 keeps internal state after a metadata checksum failure). */
#define ZT_CK_INDEX_CRC "index.crc32"

/* One public call = one context. The first failure wins: later cleanup
 * failures do not overwrite the message. HDF5's automatic stack printing is
 * switched off for the duration of the call (per thread in the thread-safe
 * build) and the stack is folded into the message instead. */
typedef struct {
    char        *err;
    size_t       errlen;
    const char  *what;          /* file or dir being worked on, for messages */
    int          failed;
    H5E_auto2_t  old_func;
    void        *old_data;
} ck_ctx;

void ck_begin(ck_ctx *c, char *err, size_t errlen);
void ck_end(ck_ctx *c);
/* All return -1 so they can be used as `return ck_fail(...)`. */
int  ck_fail(ck_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int  ck_fail_h5(ck_ctx *c, const char *src, int line, const char *call);
int  ck_fail_os(ck_ctx *c, const char *src, int line, const char *call, int errnum);

/* Inside a function with a local `ck_ctx *C` and a `fail:` label. */
#define h5Check(call) do { if ((call) < 0) { ck_fail_h5(C, __FILE__, __LINE__, #call); goto fail; } } while (0)
#define osCheck(call) do { if ((call) < 0) { ck_fail_os(C, __FILE__, __LINE__, #call, errno); goto fail; } } while (0)

/* --- files and directories (ckpt_common.c) --- */
int  ck_path(ck_ctx *c, char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void ck_shard_name(int rank, int W, char *out, size_t cap);   /* shard-00000-of-00004.h5 */
int  ck_fsync_path(ck_ctx *c, const char *path, int is_dir);
/* CRC32 (zlib) of a whole file; *size gets its length. CK_CRC_WRITEBACK
 * starts write-back of its dirty pages first, so the device writes while we
 * read them back from the page cache; CK_CRC_FSYNC fsyncs it afterwards.
 */
#define CK_CRC_WRITEBACK 1
#define CK_CRC_FSYNC     2
int  ck_file_crc(ck_ctx *c, const char *path, uint32_t *crc, uint64_t *size, int flags);
int  ck_rm_rf(const char *path);                              /* 0 or -1 (errno) */
int  ck_parse_step_name(const char *name, uint64_t *step);    /* "step-N" -> 1 */
int  ck_read_latest(const char *root, char *name, size_t cap);/* 0, or -1 + errno */
typedef struct {
    uint64_t step;
    char     name[64];
} ck_step_ent;
/* step-N dirs under root, newest first, malloc'd; 0 (also for a missing root) or -1. */
int  ck_list_steps(const char *root, ck_step_ent **out, int *n);

/* --- HDF5 helpers (ckpt_common.c) --- */
hid_t ck_fapl(void);                       /* sec2, libver [V18, latest]: checksummed metadata */
int   ck_attr_write(hid_t obj, const char *name, hid_t type, int n, const void *buf);
int   ck_attr_write_str(hid_t obj, const char *name, const char *s);
int   ck_attr_read(hid_t obj, const char *name, hid_t memtype, int n, void *buf);
int   ck_attr_read_str(hid_t obj, const char *name, char *out, size_t cap);
int   ck_attr_len(hid_t obj, const char *name);                /* elements, -1 on error */
hid_t ck_lcpl(void);                       /* creates intermediate groups ("a/b" names) */
/* Chunked (ZT_CK_CHUNK) dataset with the Fletcher32 filter, fill never written;
 * a zero-sized one is contiguous (chunks need non-zero dims). */
hid_t ck_dset_create(hid_t loc, const char *path, hid_t ftype, int rank, const hsize_t *dims);

/* --- index (ckpt_index.c) --- */
typedef struct {
    int       W;
    uint64_t *lo, *hi, *size;
    uint32_t *crc;
} ck_shards;
/* Reads meta, layout (tensor array malloc'd into *tensors) and the shard table
 * from an open index file; checks the meta CRC and the layout's consistency. */
int  ck_index_load(ck_ctx *c, hid_t f, zt_ck_meta *m, zt_ck_layout *L, zt_ck_tensor **tensors,
                   ck_shards *s);
void ck_shards_free(ck_shards *s);
/* Consistency of a layout: sorted, contiguous, covering [0,n_flat), ndim 1|2,
 * shape product = size, unique names. 0 or -1 + message. */
int  ck_layout_check(ck_ctx *c, const zt_ck_layout *L);
uint64_t ck_tensor_n(const zt_ck_tensor *t);

/* --- reader (ckpt_read.c) --- */
/* zt_ck_open; check_shards = 0 skips the shard presence/size check (ckpt info
 * shows a checkpoint with missing shards); CK_OPEN_TRUSTED skips it and the
 * index file's CRC (zt_ck_open_ex). */
#define CK_OPEN_TRUSTED 2
zt_ck_reader *ck_open(const char *stepdir, int check_shards, char *err, size_t errlen);

/* HDF5 path of a tensor's dataset: /param/<name> or /optim/<slot>/<name>. */
void ck_dset_path(const char *slot, const char *name, char *out, size_t cap);
#endif
