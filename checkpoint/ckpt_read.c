/* ckpt_read.c — the reader: zt_ck_open, verify_shards, check_layout, read.
 *
 * zt_ck_read reads the shard files directly, not through the index's virtual
 * datasets, because:
 *  - a VDS source that is missing or unreadable reads as the fill value,
 *    silently (docs/ARCHITECTURE.md, checkpoint/FORMAT.md); opening the shard ourselves fails loudly and names it;
 *  - the pieces in a shard are already flat 1-D runs, so a flat range [lo,hi)
 *    maps onto one hyperslab per (shard, tensor), while through the VDS a
 *    range inside a 2-D tensor is a union of up to three rectangles, and HDF5 then
 *    intersects them with every mapping of the dataset under its global lock;
 *  - each piece's offset attributes and length are checked against the index,
 *    so a shard from another checkpoint cannot be mixed in unnoticed.
 * The VDS stays the interface for people and tools (h5py, h5dump).
 *
 * Chunks are read raw with H5Dread_chunk and their Fletcher32 checked here
 * with ck_fletcher32 (HDF5's checksum, ~4x faster than the filter's); the
 * next ZT_CK_PREFETCH chunks' byte ranges (H5Dget_chunk_info_by_coord) are
 * announced with POSIX_FADV_WILLNEED so the device reads ahead while we
 * checksum and copy. A dataset with any other filter setup is read through
 * H5Dread and HDF5's own filters. */
#include "ckpt_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct zt_ck_reader {
    char          dir[PATH_MAX];
    zt_ck_meta    meta;
    zt_ck_layout  L;
    zt_ck_tensor *t;
    ck_shards     s;
    hid_t        *fid;          /* shard files, opened on first use */
    int          *fd;           /* the same files, for read-ahead advice */
    hid_t         fapl;
    unsigned char *cbuf;        /* one raw chunk */
    size_t        cbuf_len;
};

static void shard_path(const zt_ck_reader *r, int i, char *out, size_t cap) {
    char name[64];
    ck_shard_name(i, r->s.W, name, sizeof name);
    if (snprintf(out, cap, "%s/%s", r->dir, name) >= (int)cap) out[0] = '\0';   /* dir length is checked at open */
}

/* Appends "; msg" (or "msg") to err, for errors that list several items. */
static void append(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *err, size_t errlen, const char *fmt, ...) {
    if (!errlen) return;
    size_t n = strlen(err);
    if (n + 4 >= errlen) return;
    if (n) n += (size_t)snprintf(err + n, errlen - n, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - n, fmt, ap);
    va_end(ap);
}

zt_ck_reader *zt_ck_open(const char *stepdir, char *err, size_t errlen) {
    return ck_open(stepdir, 1, err, errlen);
}

zt_ck_reader *zt_ck_open_ex(const char *stepdir, unsigned flags, char *err, size_t errlen) {
    return ck_open(stepdir, flags & ZT_CK_OPEN_TRUSTED ? CK_OPEN_TRUSTED : 1, err, errlen);
}

zt_ck_reader *ck_open(const char *stepdir, int check_shards, char *err, size_t errlen) {
    ck_ctx ctx, *C = &ctx;
    ck_begin(C, err, errlen);
    zt_ck_reader *r = calloc(1, sizeof *r);
    char ipath[PATH_MAX];
    hid_t f = -1;
    struct stat st = {0};
    if (!r) { ck_fail(C, "out of memory"); goto fail; }
    r->fapl = -1;
    if (strlen(stepdir) + 64 >= sizeof r->dir) { ck_fail(C, "path too long: %.200s", stepdir); goto fail; }
    if (ck_path(C, r->dir, sizeof r->dir, "%s", stepdir) < 0 ||
        ck_path(C, ipath, sizeof ipath, "%s/%s", stepdir, ZT_CK_INDEX) < 0)
        goto fail;
    int sr = stat(stepdir, &st);
    if (sr < 0 || !S_ISDIR(st.st_mode)) {
        ck_fail(C, "checkpoint %s: %s", stepdir, sr < 0 ? strerror(errno) : "not a directory");
        goto fail;
    }
    if (stat(ipath, &st) < 0) {
        ck_fail(C, "checkpoint %s: missing index %s (%s)", stepdir, ipath, strerror(errno));
        goto fail;
    }
    /* The index's own CRC first: HDF5 never parses a damaged index. */
    if (check_shards != CK_OPEN_TRUSTED) {
        char cpath[PATH_MAX], line[32];
        uint32_t want = 0, got = 0;
        if (ck_path(C, cpath, sizeof cpath, "%s/%s", stepdir, ZT_CK_INDEX_CRC) < 0) goto fail;
        int fd = open(cpath, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, line, sizeof line - 1);
        if (fd >= 0) close(fd);
        if (n < 0) {
            ck_fail(C, "checkpoint %s: missing index checksum %s (%s)", stepdir, cpath, strerror(errno));
            goto fail;
        }
        line[n] = '\0';
        if (sscanf(line, "%8x", &want) != 1) {
            ck_fail(C, "checkpoint %s: unreadable index checksum %s", stepdir, cpath);
            goto fail;
        }
        if (ck_file_crc(C, ipath, &got, NULL, 0) < 0) goto fail;
        if (got != want) {
            ck_fail(C, "checkpoint %s: index %s is corrupt: CRC32 %08x, %s records %08x", stepdir, ipath, got,
                    ZT_CK_INDEX_CRC, want);
            goto fail;
        }
    }
    C->what = ipath;
    h5Check(r->fapl = ck_fapl());
    if ((f = H5Fopen(ipath, H5F_ACC_RDONLY, r->fapl)) < 0) {
        char why[768];
        ck_ctx c2 = *C;              /* format the HDF5 reason, then prefix it */
        c2.err = why, c2.errlen = sizeof why, c2.failed = 0;
        ck_fail_h5(&c2, __FILE__, __LINE__, "H5Fopen");
        ck_fail(C, "checkpoint %s: index %s is unreadable or corrupt: %s", stepdir, ipath, why);
        goto fail;
    }
    if (ck_index_load(C, f, &r->meta, &r->L, &r->t, &r->s) < 0) goto fail;
    hid_t ff = f;
    f = -1;
    h5Check(H5Fclose(ff));
    r->fid = malloc(sizeof(hid_t) * (size_t)r->s.W);
    r->fd = malloc(sizeof(int) * (size_t)r->s.W);
    if (!r->fid || !r->fd) { ck_fail(C, "out of memory"); goto fail; }
    for (int i = 0; i < r->s.W; i++) r->fid[i] = -1, r->fd[i] = -1;
    /* Every shard present, with the size the index recorded. All problems are
     * listed, each naming its file. */
    char msg[PATH_MAX + 128];
    int bad = 0;
    for (int i = 0; check_shards == 1 && i < r->s.W; i++) {
        char sp[PATH_MAX];
        shard_path(r, i, sp, sizeof sp);
        if (stat(sp, &st) < 0) snprintf(msg, sizeof msg, "shard %s is missing (%s)", sp, strerror(errno));
        else if ((uint64_t)st.st_size != r->s.size[i])
            snprintf(msg, sizeof msg, "shard %s has %lld bytes, the index records %llu (truncated or replaced)", sp,
                     (long long)st.st_size, (unsigned long long)r->s.size[i]);
        else continue;
        if (!bad++) {
            if (errlen) snprintf(err, errlen, "checkpoint %s: %s", stepdir, msg);
        } else append(err, errlen, "%s", msg);
    }
    if (bad) { C->failed = 1; goto fail; }
    ck_end(C);
    return r;
fail:
    if (f >= 0) H5Fclose(f);
    zt_ck_close(r);
    ck_end(C);
    return NULL;
}

const zt_ck_meta *zt_ck_meta_of(const zt_ck_reader *r) { return &r->meta; }
const zt_ck_layout *zt_ck_layout_of(const zt_ck_reader *r) { return &r->L; }
int zt_ck_world_of(const zt_ck_reader *r) { return r->s.W; }
const char *zt_ck_dir_of(const zt_ck_reader *r) { return r->dir; }

int zt_ck_shard_info(const zt_ck_reader *r, int i, uint64_t *lo, uint64_t *hi, uint32_t *crc, uint64_t *size) {
    if (i < 0 || i >= r->s.W) return -1;
    if (lo) *lo = r->s.lo[i];
    if (hi) *hi = r->s.hi[i];
    if (crc) *crc = r->s.crc[i];
    if (size) *size = r->s.size[i];
    return 0;
}

int zt_ck_check_shard(zt_ck_reader *r, int i, char *err, size_t errlen) {
    ck_ctx ctx, *C = &ctx;
    ck_begin(C, err, errlen);
    char sp[PATH_MAX];
    uint32_t crc;
    uint64_t size;
    int rc = 0;
    if (i < 0 || i >= r->s.W) { ck_end(C); return ck_fail(C, "no shard %d", i); }
    shard_path(r, i, sp, sizeof sp);
    if (access(sp, F_OK) < 0) {
        ck_fail(C, "shard %s is missing", sp);
        rc = ZT_CK_SHARD_MISSING;
    } else if (ck_file_crc(C, sp, &crc, &size, 0) < 0) {
        rc = ZT_CK_SHARD_BAD;
    } else if (size != r->s.size[i]) {
        ck_fail(C, "shard %s has %llu bytes, the index records %llu (truncated or replaced)", sp,
                (unsigned long long)size, (unsigned long long)r->s.size[i]);
        rc = ZT_CK_SHARD_BAD;
    } else if (crc != r->s.crc[i]) {
        ck_fail(C, "shard %s is corrupt: CRC32 %08x, the index records %08x", sp, crc, r->s.crc[i]);
        rc = ZT_CK_SHARD_BAD;
    }
    ck_end(C);
    return rc;
}

int zt_ck_verify_shards(zt_ck_reader *r, int first, int stride, char *err, size_t errlen) {
    char one[PATH_MAX + 256];
    int bad = 0;
    if (errlen) err[0] = '\0';
    if (stride < 1) stride = 1;
    for (int i = first < 0 ? 0 : first; i < r->s.W; i += stride) {
        if (zt_ck_check_shard(r, i, one, sizeof one) == 0) continue;
        bad++;
        append(err, errlen, "%s", one);
    }
    return bad ? -1 : 0;
}

static void shape_str(const zt_ck_tensor *t, char *out, size_t cap) {
    if (t->ndim == 2) snprintf(out, cap, "[%llu,%llu]", (unsigned long long)t->shape[0], (unsigned long long)t->shape[1]);
    else snprintf(out, cap, "[%llu]", (unsigned long long)t->shape[0]);
}

static const zt_ck_tensor *find_tensor(const zt_ck_layout *L, const char *name) {
    for (int i = 0; i < L->n_tensors; i++)
        if (!strcmp(L->t[i].name, name)) return &L->t[i];
    return NULL;
}

int zt_ck_check_layout(const zt_ck_reader *r, const zt_ck_layout *mine, char *err, size_t errlen) {
    const zt_ck_layout *ck = &r->L;
    int n = 0;
    char a[64], b[64], line[512];
    if (errlen) err[0] = '\0';
#define DIFF(...) do { snprintf(line, sizeof line, __VA_ARGS__); n++; \
        if (errlen && strlen(err) + strlen(line) + 4 < errlen) { strcat(err, "\n  "); strcat(err, line); } } while (0)
    for (int i = 0; i < ck->n_tensors; i++) {
        const zt_ck_tensor *t = &ck->t[i], *m = find_tensor(mine, t->name);
        if (!m) { DIFF("tensor '%s' is in the checkpoint, not in the model", t->name); continue; }
        shape_str(t, a, sizeof a);
        shape_str(m, b, sizeof b);
        if (strcmp(a, b)) DIFF("tensor '%s': checkpoint shape %s, model shape %s", t->name, a, b);
        else if (t->off != m->off)
            DIFF("tensor '%s': checkpoint flat offset %llu, model offset %llu", t->name,
                 (unsigned long long)t->off, (unsigned long long)m->off);
    }
    for (int i = 0; i < mine->n_tensors; i++)
        if (!find_tensor(ck, mine->t[i].name)) {
            shape_str(&mine->t[i], b, sizeof b);
            DIFF("tensor '%s' %s is in the model, not in the checkpoint", mine->t[i].name, b);
        }
    if (ck->n_flat != mine->n_flat)
        DIFF("parameter count: checkpoint %llu, model %llu", (unsigned long long)ck->n_flat,
             (unsigned long long)mine->n_flat);
    int same = ck->n_slots == mine->n_slots;
    for (int s = 0; same && s < ck->n_slots; s++) same = !strcmp(ck->slot[s], mine->slot[s]);
    if (!same) {
        char x[96] = "", y[96] = "";
        for (int s = 0; s < ck->n_slots; s++) strcat(strcat(x, s ? "," : ""), ck->slot[s]);
        for (int s = 0; s < mine->n_slots; s++) strcat(strcat(y, s ? "," : ""), mine->slot[s]);
        DIFF("optimizer slots: checkpoint [%s], model [%s]", x, y);
    }
#undef DIFF
    if (!n) return 0;
    if (errlen) {
        char head[PATH_MAX + 160];
        (void)!snprintf(head, sizeof head, "checkpoint %s does not match the model (%d difference%s):", r->dir, n,
                 n > 1 ? "s" : "");
        size_t hl = strlen(head), bl = strlen(err);
        if (hl + bl + 1 > errlen) bl = errlen - hl - 1 > 0 ? errlen - hl - 1 : 0;
        if (hl < errlen) {
            memmove(err + hl, err, bl);
            memcpy(err, head, hl);
            err[hl + bl] = '\0';
        }
    }
    return -1;
}

static hid_t shard_file(ck_ctx *C, zt_ck_reader *r, int i, const char *sp) {
    if (r->fid[i] >= 0) return r->fid[i];
    hid_t f = -1;
    uint64_t lo, hi;
    int32_t w;
    C->what = sp;
    h5Check(f = H5Fopen(sp, H5F_ACC_RDONLY, r->fapl));
    h5Check(ck_attr_read(f, "lo", H5T_NATIVE_UINT64, -1, &lo));
    h5Check(ck_attr_read(f, "hi", H5T_NATIVE_UINT64, -1, &hi));
    h5Check(ck_attr_read(f, "world", H5T_NATIVE_INT32, -1, &w));
    if (lo != r->s.lo[i] || hi != r->s.hi[i] || w != r->s.W) {
        ck_fail(C, "shard %s holds [%llu,%llu) of W=%d, the index expects [%llu,%llu) of W=%d", sp,
                (unsigned long long)lo, (unsigned long long)hi, w, (unsigned long long)r->s.lo[i],
                (unsigned long long)r->s.hi[i], r->s.W);
        goto fail;
    }
    r->fd[i] = open(sp, O_RDONLY | O_CLOEXEC);   /* advice only: -1 is harmless */
    return r->fid[i] = f;
fail:
    if (f >= 0) H5Fclose(f);
    return -1;
}

/* 1 when ds is chunked 1-D with exactly one filter, Fletcher32; *ch = chunk. */
static int plain_fletcher(hid_t ds, hsize_t *ch) {
    hid_t dcpl = H5Dget_create_plist(ds);
    int ok = 0;
    if (dcpl < 0) return 0;
    unsigned flags, cd[4];
    size_t ncd = 4;
    if (H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 1, ch) == 1 && H5Pget_nfilters(dcpl) == 1 &&
        H5Pget_filter2(dcpl, 0, &flags, &ncd, cd, 0, NULL, NULL) == H5Z_FILTER_FLETCHER32)
        ok = 1;
    H5Pclose(dcpl);
    return ok;
}

/* A read is planned first, then executed: one piece per (shard, tensor) it
 * touches, one job per raw chunk of a Fletcher32 piece (a generic piece is one
 * job). The executor keeps ZT_CK_PREFETCH_BYTES of the following jobs announced
 * with POSIX_FADV_WILLNEED, across piece and shard boundaries, so the device
 * reads ahead while the CPU checksums and copies (one advice call per chunk:
 * Linux caps each call at the device's read-ahead size, 8 MiB here). */
#define ZT_CK_PREFETCH_BYTES ((uint64_t)ZT_CK_PREFETCH * ZT_CK_CHUNK * 4)

typedef struct {
    hid_t    ds;
    int      shard, fast;
    hsize_t  dims, ch;
    uint64_t s, e;                 /* local element range within the dataset */
    float   *out;                  /* where element s goes */
    char     dpath[256];
} rd_piece;

typedef struct {
    int      piece;
    hsize_t  coord;                /* first element of the chunk */
    haddr_t  addr;                 /* file offset (HADDR_UNDEF: generic job) */
    hsize_t  size;
} rd_job;

typedef struct {
    rd_piece *p;
    rd_job   *j;
    int       np, nj, capp, capj;
} rd_plan;

static void plan_free(rd_plan *pl) {
    for (int i = 0; i < pl->np; i++)
        if (pl->p[i].ds >= 0) H5Dclose(pl->p[i].ds);
    free(pl->p);
    free(pl->j);
    memset(pl, 0, sizeof *pl);
}

static int push_job(rd_plan *pl, int piece, hsize_t coord, haddr_t addr, hsize_t size) {
    if (pl->nj == pl->capj) {
        int cap = pl->capj ? 2 * pl->capj : 64;
        rd_job *nj = realloc(pl->j, sizeof *nj * (size_t)cap);
        if (!nj) return -1;
        pl->j = nj, pl->capj = cap;
    }
    pl->j[pl->nj++] = (rd_job){piece, coord, addr, size};
    return 0;
}

/* Opens and checks the dataset of tensor t in shard i for flat [a,b); adds its
 * piece and jobs. */
static int plan_piece(ck_ctx *C, zt_ck_reader *r, rd_plan *pl, int i, hid_t f, const char *dpath,
                      const zt_ck_tensor *t, uint64_t a, uint64_t b, float *out) {
    if (pl->np == pl->capp) {
        int cap = pl->capp ? 2 * pl->capp : 16;
        rd_piece *np = realloc(pl->p, sizeof *np * (size_t)cap);
        if (!np) return ck_fail(C, "out of memory");
        pl->p = np, pl->capp = cap;
    }
    rd_piece *p = &pl->p[pl->np];
    memset(p, 0, sizeof *p);
    p->ds = -1;
    p->shard = i;
    p->out = out;
    snprintf(p->dpath, sizeof p->dpath, "%s", dpath);
    pl->np++;
    hid_t fsp = -1;
    uint64_t slo = r->s.lo[i], shi = r->s.hi[i], end = t->off + ck_tensor_n(t);
    uint64_t d0 = t->off > slo ? t->off : slo, d1 = end < shi ? end : shi;   /* what the shard holds */
    uint64_t off = 0;
    h5Check(p->ds = H5Dopen2(f, dpath, H5P_DEFAULT));
    h5Check(fsp = H5Dget_space(p->ds));
    h5Check(H5Sget_simple_extent_dims(fsp, &p->dims, NULL));
    H5Sclose(fsp);
    fsp = -1;
    h5Check(ck_attr_read(p->ds, "offset", H5T_NATIVE_UINT64, -1, &off));
    if (p->dims != d1 - d0 || off != d0 - t->off) {
        ck_fail(C, "shard %s: %s holds %llu elements at %llu, the index expects %llu at %llu", C->what, dpath,
                (unsigned long long)p->dims, (unsigned long long)off, (unsigned long long)(d1 - d0),
                (unsigned long long)(d0 - t->off));
        goto fail;
    }
    p->s = a - d0, p->e = b - d0;
    p->fast = plain_fletcher(p->ds, &p->ch) && p->ch > 0;
    if (!p->fast) {
        if (push_job(pl, pl->np - 1, 0, HADDR_UNDEF, 0) < 0) { ck_fail(C, "out of memory"); goto fail; }
        return 0;
    }
    for (hsize_t c = p->s / p->ch; c <= (p->e - 1) / p->ch; c++) {
        hsize_t coord = c * p->ch, size = 0;
        haddr_t addr = HADDR_UNDEF;
        unsigned mask;
        h5Check(H5Dget_chunk_info_by_coord(p->ds, &coord, &mask, &addr, &size));
        if (push_job(pl, pl->np - 1, coord, addr, size) < 0) { ck_fail(C, "out of memory"); goto fail; }
    }
    return 0;
fail:
    if (fsp >= 0) H5Sclose(fsp);
    return -1;
}

/* One raw chunk: read, check its Fletcher32, copy the wanted part. */
static int run_chunk(ck_ctx *C, zt_ck_reader *r, rd_piece *p, rd_job *j) {
    size_t nb = (size_t)p->ch * 4;
    if (r->cbuf_len < nb + 4) {
        free(r->cbuf);
        r->cbuf_len = 0;
        if (!(r->cbuf = malloc(nb + 4))) return ck_fail(C, "out of memory");
        r->cbuf_len = nb + 4;
    }
    uint32_t mask = 0;
    hsize_t coord = j->coord;
    if (j->size != nb + 4) {
        ck_fail(C, "shard %s: %s: chunk at element %llu has %llu bytes, expected %zu (corrupt)", C->what, p->dpath,
                (unsigned long long)coord, (unsigned long long)j->size, nb + 4);
        return -1;
    }
    /* A chunk wholly inside the wanted range with more of the same piece after
     * it is read straight into out: its 4 checksum bytes land on the next
     * chunk's first element, which the next job (same piece, in order)
     * overwrites. Others go through cbuf and are copied. */
    int direct = coord >= p->s && coord + p->ch < p->e;
    unsigned char *dst = direct ? (unsigned char *)(p->out + (coord - p->s)) : r->cbuf;
    h5Check(H5Dread_chunk(p->ds, H5P_DEFAULT, &coord, &mask, dst));
    const unsigned char *q = dst + nb;
    uint32_t stored = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    uint32_t sum = ck_fletcher32(dst, nb);
    /* HDF5 also accepts the byte-pair-swapped value written by 1.6.x */
    uint32_t rev = (sum & 0x00ff00ffu) << 8 | (sum & 0xff00ff00u) >> 8;
    if (mask != 0 || (stored != sum && stored != rev)) {
        ck_fail(C, "shard %s: %s: Fletcher32 checksum mismatch in the chunk at element %llu (data corrupt)", C->what,
                p->dpath, (unsigned long long)coord);
        return -1;
    }
    if (direct) return 0;
    uint64_t a = p->s > coord ? p->s : coord, b = p->e < coord + p->ch ? p->e : coord + p->ch;
    if (b > p->dims) b = p->dims;
    memcpy(p->out + (a - p->s), r->cbuf + (a - coord) * 4, (size_t)(b - a) * 4);
    return 0;
fail:
    return -1;
}

/* A piece with another filter setup: H5Dread through HDF5's filters. */
static int run_generic(ck_ctx *C, rd_piece *p) {
    hid_t fsp = -1, msp = -1;
    h5Check(fsp = H5Dget_space(p->ds));
    for (uint64_t x = p->s; x < p->e; x += ZT_CK_IO_SLICE) {
        hsize_t start = x, cnt = p->e - x < ZT_CK_IO_SLICE ? p->e - x : ZT_CK_IO_SLICE;
        h5Check(msp = H5Screate_simple(1, &cnt, NULL));
        h5Check(H5Sselect_hyperslab(fsp, H5S_SELECT_SET, &start, NULL, &cnt, NULL));
        h5Check(H5Dread(p->ds, H5T_NATIVE_FLOAT, msp, fsp, H5P_DEFAULT, p->out + (x - p->s)));
        H5Sclose(msp);
        msp = -1;
    }
    H5Sclose(fsp);
    return 0;
fail:
    if (msp >= 0) H5Sclose(msp);
    if (fsp >= 0) H5Sclose(fsp);
    return -1;
}

int zt_ck_read(zt_ck_reader *r, const char *slot, uint64_t lo, uint64_t hi, float *out, char *err, size_t errlen) {
    ck_ctx ctx, *C = &ctx;
    ck_begin(C, err, errlen);
    char sp[PATH_MAX], dpath[256];
    rd_plan pl;
    memset(&pl, 0, sizeof pl);
    if (lo > hi || hi > r->L.n_flat) {
        ck_fail(C, "read [%llu,%llu) outside [0,%llu)", (unsigned long long)lo, (unsigned long long)hi,
                (unsigned long long)r->L.n_flat);
        goto fail;
    }
    if (slot) {
        int k = -1;
        for (int s = 0; s < r->L.n_slots; s++)
            if (!strcmp(r->L.slot[s], slot)) k = s;
        if (k < 0) { ck_fail(C, "checkpoint %s has no optimizer slot '%s'", r->dir, slot); goto fail; }
    }
    /* plan: only the shards that overlap [lo,hi) are opened */
    for (int i = 0; i < r->s.W; i++) {
        uint64_t slo = r->s.lo[i], shi = r->s.hi[i];
        uint64_t a0 = lo > slo ? lo : slo, b0 = hi < shi ? hi : shi;
        if (a0 >= b0) continue;
        shard_path(r, i, sp, sizeof sp);
        hid_t f = shard_file(C, r, i, sp);
        if (f < 0) goto fail;
        C->what = sp;
        for (int k = 0; k < r->L.n_tensors; k++) {
            const zt_ck_tensor *t = &r->L.t[k];
            uint64_t e = t->off + ck_tensor_n(t);
            uint64_t a = a0 > t->off ? a0 : t->off, b = b0 < e ? b0 : e;
            if (a >= b) continue;
            ck_dset_path(slot, t->name, dpath, sizeof dpath);
            if (plan_piece(C, r, &pl, i, f, dpath, t, a, b, out + (a - lo)) < 0) goto fail;
        }
    }
    /* execute, keeping the next ZT_CK_PREFETCH_BYTES announced */
    int adv = 0;
    uint64_t inflight = 0;
    for (int k = 0; k < pl.nj; k++) {
        rd_job *j = &pl.j[k];
        rd_piece *p = &pl.p[j->piece];
        if (adv <= k) adv = k, inflight = 0;
        else inflight -= j->size;
        for (; adv < pl.nj && (adv == k || inflight < ZT_CK_PREFETCH_BYTES); adv++) {
            rd_job *n = &pl.j[adv];
            int fd = r->fd[pl.p[n->piece].shard];
            if (n->addr != HADDR_UNDEF && fd >= 0) posix_fadvise(fd, (off_t)n->addr, (off_t)n->size, POSIX_FADV_WILLNEED);
            if (adv > k) inflight += n->size;
        }
        shard_path(r, p->shard, sp, sizeof sp);
        C->what = sp;
        if ((p->fast ? run_chunk(C, r, p, j) : run_generic(C, p)) < 0) goto fail;
    }
    plan_free(&pl);
    ck_end(C);
    return 0;
fail:
    plan_free(&pl);
    ck_end(C);
    return -1;
}

void zt_ck_close(zt_ck_reader *r) {
    if (!r) return;
    for (int i = 0; i < r->s.W; i++) {
        if (r->fid && r->fid[i] >= 0) H5Fclose(r->fid[i]);
        if (r->fd && r->fd[i] >= 0) close(r->fd[i]);
    }
    if (r->fapl >= 0) H5Pclose(r->fapl);
    free(r->fid);
    free(r->fd);
    free(r->cbuf);
    free(r->t);
    ck_shards_free(&r->s);
    free(r);
}

int zt_ck_verify(const char *stepdir, char *err, size_t errlen) {
    zt_ck_reader *r = zt_ck_open(stepdir, err, errlen);
    if (!r) return -1;
    int rc = zt_ck_verify_shards(r, 0, 1, err, errlen);
    zt_ck_close(r);
    return rc;
}
