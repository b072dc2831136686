/* ckpt_write.c — paths, zt_ck_prepare, zt_ck_write_shard (one rank's file) and
 * zt_ck_sync_shard (its deferred fsync).
 *
 * Shard file (rank r of W), all fp32 little-endian, 1-D, unpadded:
 *   /                         attrs format, rank, world, lo, hi, n_flat
 *   /param/<name>             elements [a,b) of the tensor that lie in [lo,hi);
 *                             attrs offset (= a - tensor.off, within the tensor)
 *                             and flat_offset (= a)
 *   /optim/<slot>/<name>      the same range of each optimizer slot
 * A tensor that does not overlap [lo,hi) has no dataset in this shard.
 * Datasets are chunked with HDF5's Fletcher32 filter: HDF5 itself rejects a
 * chunk whose bytes changed. The whole file's CRC32 goes to the index. */
#include "ckpt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

void zt_ck_step_name(uint64_t step, char *out, size_t cap) {
    snprintf(out, cap, "step-%08llu", (unsigned long long)step);
}

void zt_ck_tmp_path(const char *root, uint64_t step, char *out, size_t cap) {
    snprintf(out, cap, "%s/.tmp-step-%08llu", root, (unsigned long long)step);
}

int zt_ck_prepare(const char *root, uint64_t step, char *err, size_t errlen) {
    char tmp[PATH_MAX];
    zt_ck_tmp_path(root, step, tmp, sizeof tmp);
    if (strlen(tmp) + 40 >= sizeof tmp) {
        snprintf(err, errlen, "checkpoint root path too long: %.200s", root);
        return -1;
    }
    /* mkdir -p (ckpt_lock.c); several ranks race here, EEXIST is fine */
    return zt_ck_mkdir_p(root, err, errlen) == 0 && zt_ck_mkdir_p(tmp, err, errlen) == 0 ? 0 : -1;
}

/* Raw chunks written, for the file CRC (see file_crc). */
typedef struct {
    uint64_t addr, size;
    uint32_t crc;
} wr_chunk;
typedef struct {
    wr_chunk *v;
    size_t    n, cap;
    int       lost;                 /* map unusable: read the whole file back */
} wr_chunks;

static int add_chunk(wr_chunks *w, uint64_t addr, uint64_t size, uint32_t crc) {
    if (w->lost) return 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        wr_chunk *nv = realloc(w->v, sizeof *nv * cap);
        if (!nv) return -1;
        w->v = nv, w->cap = cap;
    }
    w->v[w->n++] = (wr_chunk){addr, size, crc};
    return 0;
}

static int cmp_addr(const void *a, const void *b) {
    uint64_t x = ((const wr_chunk *)a)->addr, y = ((const wr_chunk *)b)->addr;
    return x < y ? -1 : x > y;
}

/* CRC32 of the whole file without reading the data back: the chunks' CRCs
 * were taken from the buffers handed to H5Dwrite_chunk (HDF5 writes them
 * verbatim and never moves a chunk); only the bytes between and around them
 * (HDF5 metadata) are read, and everything is joined with crc32_combine.
 * Falls back to reading the whole file if the chunk map looks odd. */
static int file_crc(ck_ctx *C, const char *path, wr_chunks *w, uint32_t *crc, int do_fsync) {
    int fd = -1;
    unsigned char *buf = NULL;
    const size_t bufsz = (size_t)1 << 20;
    uLong h = crc32(0L, Z_NULL, 0);
    uint64_t pos = 0;
    struct stat st;
    if (w->n) qsort(w->v, w->n, sizeof *w->v, cmp_addr);   /* an empty shard has no chunk list (v == NULL) */
    osCheck(fd = open(path, O_RDONLY | O_CLOEXEC));
    sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);        /* device starts writing now */
    osCheck(fstat(fd, &st));
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i].addr < (i ? w->v[i - 1].addr + w->v[i - 1].size : 0) ||
            w->v[i].addr + w->v[i].size > (uint64_t)st.st_size) {
            close(fd);
            return ck_file_crc(C, path, crc, NULL, CK_CRC_WRITEBACK | (do_fsync ? CK_CRC_FSYNC : 0));
        }
    if (!(buf = malloc(bufsz))) { errno = ENOMEM; osCheck(-1); }
    for (size_t i = 0; i <= w->n; i++) {
        uint64_t end = i < w->n ? w->v[i].addr : (uint64_t)st.st_size;
        while (pos < end) {                                   /* metadata bytes */
            size_t want = end - pos < bufsz ? (size_t)(end - pos) : bufsz;
            ssize_t got = pread(fd, buf, want, (off_t)pos);
            if (got == 0) errno = EIO, got = -1;
            osCheck(got);
            h = crc32(h, buf, (uInt)got);
            pos += (uint64_t)got;
        }
        if (i < w->n) {
            h = crc32_combine(h, w->v[i].crc, (z_off_t)w->v[i].size);
            pos += w->v[i].size;
        }
    }
    if (do_fsync) osCheck(fsync(fd));
    osCheck(close(fd));
    free(buf);
    *crc = (uint32_t)h;
    return 0;
fail:
    if (fd >= 0) close(fd);
    free(buf);
    return -1;
}

/* Dataset `path` of n elements from base[0..n), one chunk per call: each
 * chunk is copied into cbuf (ZT_CK_CHUNK floats + 4 bytes), the edge chunk
 * zero-padded, its Fletcher32 appended little-endian exactly as HDF5's filter
 * stores it, and written with H5Dwrite_chunk (filter mask 0 = "the filter was
 * applied"). Same file as H5Dwrite through the filter, ~4x less CPU. */
static int write_piece(ck_ctx *C, hid_t f, const char *path, uint64_t n, uint64_t off_in_tensor,
                       uint64_t flat_off, const float *base, unsigned char *cbuf, wr_chunks *w) {
    hid_t ds = -1;
    hsize_t dims = n, ch = ck_chunk_1d(n);
    h5Check(ds = ck_dset_create(f, path, H5T_IEEE_F32LE, 1, &dims));
    h5Check(ck_attr_write(ds, "offset", H5T_NATIVE_UINT64, -1, &off_in_tensor));
    h5Check(ck_attr_write(ds, "flat_offset", H5T_NATIVE_UINT64, -1, &flat_off));
    for (hsize_t c0 = 0; c0 < n; c0 += ch) {
        size_t cnt = (size_t)(n - c0 < ch ? n - c0 : ch), nb = (size_t)ch * 4;
        memcpy(cbuf, base + c0, cnt * 4);
        if (cnt < ch) memset(cbuf + cnt * 4, 0, nb - cnt * 4);
        uint32_t fl = ck_fletcher32(cbuf, nb);
        for (int k = 0; k < 4; k++) cbuf[nb + (size_t)k] = (unsigned char)(fl >> (8 * k));
        h5Check(H5Dwrite_chunk(ds, H5P_DEFAULT, 0, &c0, nb + 4, cbuf));
        unsigned mask;
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0;
        h5Check(H5Dget_chunk_info_by_coord(ds, &c0, &mask, &addr, &size));
        if (addr == HADDR_UNDEF || size != nb + 4 ||
            add_chunk(w, addr, size, (uint32_t)crc32(crc32(0L, Z_NULL, 0), cbuf, (uInt)(nb + 4))) < 0)
            w->lost = 1;                           /* give up the map: full read-back */
    }
    h5Check(H5Dclose(ds));
    return 0;
fail:
    if (ds >= 0) H5Dclose(ds);
    return -1;
}

int zt_ck_write_shard(const char *tmpdir, int rank, int W, const zt_ck_layout *L,
                      uint64_t lo, uint64_t hi, const float *param,
                      const float *const *slots, uint32_t *crc,
                      char *err, size_t errlen) {
    return zt_ck_write_shard_ex(tmpdir, rank, W, L, lo, hi, param, slots, crc, 0, err, errlen);
}

int zt_ck_sync_shard(const char *tmpdir, int rank, int W, char *err, size_t errlen) {
    ck_ctx ctx, *C = &ctx;
    ck_begin(C, err, errlen);
    char name[64], path[PATH_MAX];
    ck_shard_name(rank, W, name, sizeof name);
    int rc = ck_path(C, path, sizeof path, "%s/%s", tmpdir, name) < 0 ? -1 : ck_fsync_path(C, path, 0);
    ck_end(C);
    return rc;
}

int zt_ck_write_shard_ex(const char *tmpdir, int rank, int W, const zt_ck_layout *L,
                         uint64_t lo, uint64_t hi, const float *param,
                         const float *const *slots, uint32_t *crc, unsigned flags,
                         char *err, size_t errlen) {
    const int do_fsync = !(flags & ZT_CK_NO_FSYNC);
    ck_ctx ctx, *C = &ctx;
    ck_begin(C, err, errlen);
    char name[64], path[PATH_MAX], dpath[256];
    hid_t fapl = -1, f = -1, g = -1;
    int created = 0;
    unsigned char *cbuf = NULL;
    wr_chunks wc = {0};
    if (ck_layout_check(C, L) < 0) goto fail;
    if (W < 1 || rank < 0 || rank >= W) { ck_fail(C, "write_shard: rank %d of W=%d", rank, W); goto fail; }
    if (lo > hi || hi > L->n_flat) {
        ck_fail(C, "write_shard: partition [%llu,%llu) outside [0,%llu)", (unsigned long long)lo,
                (unsigned long long)hi, (unsigned long long)L->n_flat);
        goto fail;
    }
    if (hi > lo && !param) { ck_fail(C, "write_shard: no parameter buffer"); goto fail; }
    for (int s = 0; s < L->n_slots; s++)
        if (hi > lo && (!slots || !slots[s])) { ck_fail(C, "write_shard: no buffer for slot '%s'", L->slot[s]); goto fail; }
    ck_shard_name(rank, W, name, sizeof name);
    if (ck_path(C, path, sizeof path, "%s/%s", tmpdir, name) < 0) goto fail;
    C->what = path;
    if (!(cbuf = malloc((size_t)ZT_CK_CHUNK * 4 + 4))) { ck_fail(C, "out of memory"); goto fail; }

    uint64_t fmt = ZT_CK_FORMAT, nf = L->n_flat;
    int32_t r32 = rank, w32 = W;
    h5Check(fapl = ck_fapl());
    h5Check(f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl));
    created = 1;
    h5Check(ck_attr_write(f, "format", H5T_NATIVE_UINT64, -1, &fmt));
    h5Check(ck_attr_write(f, "rank", H5T_NATIVE_INT32, -1, &r32));
    h5Check(ck_attr_write(f, "world", H5T_NATIVE_INT32, -1, &w32));
    h5Check(ck_attr_write(f, "lo", H5T_NATIVE_UINT64, -1, &lo));
    h5Check(ck_attr_write(f, "hi", H5T_NATIVE_UINT64, -1, &hi));
    h5Check(ck_attr_write(f, "n_flat", H5T_NATIVE_UINT64, -1, &nf));
    h5Check(g = H5Gcreate2(f, "/param", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    h5Check(H5Gclose(g));
    g = -1;
    for (int s = 0; s < L->n_slots; s++) {
        char gp[64];
        snprintf(gp, sizeof gp, "/optim/%s", L->slot[s]);
        hid_t lcpl = ck_lcpl();
        g = H5Gcreate2(f, gp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (lcpl >= 0) H5Pclose(lcpl);
        h5Check(g);
        h5Check(H5Gclose(g));
        g = -1;
    }
    /* Parameters first, then each slot: every dataset is one contiguous run of
     * the caller's buffer, written in large calls. */
    for (int pass = 0; pass <= L->n_slots; pass++) {
        const float *base = pass == 0 ? param : slots[pass - 1];
        for (int i = 0; i < L->n_tensors; i++) {
            const zt_ck_tensor *t = &L->t[i];
            uint64_t a = t->off > lo ? t->off : lo;
            uint64_t e = t->off + ck_tensor_n(t);
            uint64_t b = e < hi ? e : hi;
            if (a >= b) continue;
            ck_dset_path(pass ? L->slot[pass - 1] : NULL, t->name, dpath, sizeof dpath);
            if (write_piece(C, f, dpath, b - a, a - t->off, a, base + (a - lo), cbuf, &wc) < 0) goto fail;
        }
    }
    h5Check(H5Pclose(fapl));
    fapl = -1;
    hid_t ff = f;
    f = -1;
    h5Check(H5Fclose(ff));
    /* CRC of the bytes as they are in the file, then fsync (unless deferred). */
    if ((wc.lost ? ck_file_crc(C, path, crc, NULL, CK_CRC_WRITEBACK | (do_fsync ? CK_CRC_FSYNC : 0))
                 : file_crc(C, path, &wc, crc, do_fsync)) < 0)
        goto fail;
    free(wc.v);
    free(cbuf);
    ck_end(C);
    return 0;
fail:
    free(wc.v);
    free(cbuf);
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
    if (fapl >= 0) H5Pclose(fapl);
    /* Give the space back at once (disk full): the tmp dir is abandoned anyway. */
    if (created) unlink(path);
    ck_end(C);
    return -1;
}
