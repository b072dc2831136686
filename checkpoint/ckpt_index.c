/* ckpt_index.c — index.h5: write (zt_ck_write_index) and load (ck_index_load).
 *
 *   /                      attrs format, step, world, stage, seed, n_flat,
 *                          model, optim, config (strings), n_tensors,
 *                          shard_lo[W], shard_hi[W], shard_crc[W], shard_size[W],
 *                          meta_crc (CRC32 of all of the above + the layout)
 *   /layout/names          [n] fixed strings (64)      chunked + Fletcher32
 *   /layout/ndim           [n] int32
 *   /layout/shape          [n,2] uint64 (shape[1] = 1 for 1-D tensors)
 *   /layout/offset         [n] uint64, flat offset
 *   /layout                attr slots: [n_slots] fixed strings (16)
 *   /param/<name>          VIRTUAL fp32 dataset, the tensor's global shape,
 *   /optim/<slot>/<name>   mapped onto the shards' 1-D pieces; attr flat_offset
 *   /blob/<name>           optional uint8 [len] opaque bytes the caller attaches
 *                          (zt_ck_write_index_blobs), e.g. the tokenizer model;
 *                          chunked + Fletcher32
 * and next to it index.crc32 ("%08x\n", CRC32 of index.h5's bytes): with the
 * shards' CRCs inside the index, every byte of a checkpoint is covered.
 *
 * VDS source files are stored as bare file names ("shard-00000-of-00004.h5").
 * HDF5 (1.10.8, H5Pset_virtual docs / H5F_prefix_open_file) resolves a relative
 * source name by trying, in order: each prefix in $HDF5_VDS_PREFIX, the
 * H5Pset_virtual_prefix of the access list, then the directory of the file
 * holding the VDS (as it was opened, made absolute with the cwd of that time),
 * then the cwd. The third rule finds the shards next to index.h5 from any
 * working directory and after the step dir is renamed or copied elsewhere.
 * Unmapped or unreadable sources read as the fill value, which is set to NaN
 * so that a hole is visible rather than silently zero.
 *
 * Why datasets for the layout, not attributes: a model with thousands of
 * tensors would pass the 64 KiB compact-attribute limit. */
#include "ckpt_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define NAME_LEN 64
#define SLOT_LEN 16

static uLong crc_bytes(uLong h, const void *p, size_t n) {
    return crc32(h, (const Bytef *)p, (uInt)n);
}
static uLong crc_str(uLong h, const char *s) {
    return crc_bytes(h, s, strlen(s) + 1);
}

/* CRC over every value the index stores: a flipped bit anywhere in what
 * zt_ck_open reads (even in HDF5's unchecksummed raw data) is caught. */
static uint32_t meta_crc(uint64_t fmt, const zt_ck_meta *m, const zt_ck_layout *L, const ck_shards *s) {
    uLong h = crc32(0L, Z_NULL, 0);
    uint64_t v[6] = {fmt, m->step, (uint64_t)m->world, (uint64_t)m->stage, m->seed, L->n_flat};
    h = crc_bytes(h, v, sizeof v);
    h = crc_str(h, m->model);
    h = crc_str(h, m->optim);
    h = crc_str(h, m->config);
    h = crc_str(h, m->state);
    for (int i = 0; i < L->n_tensors; i++) {
        const zt_ck_tensor *t = &L->t[i];
        uint64_t tv[4] = {(uint64_t)t->ndim, t->shape[0], t->ndim == 2 ? t->shape[1] : 1, t->off};
        h = crc_str(h, t->name);
        h = crc_bytes(h, tv, sizeof tv);
    }
    for (int i = 0; i < L->n_slots; i++) h = crc_str(h, L->slot[i]);
    h = crc_bytes(h, s->lo, sizeof(uint64_t) * (size_t)s->W);
    h = crc_bytes(h, s->hi, sizeof(uint64_t) * (size_t)s->W);
    h = crc_bytes(h, s->size, sizeof(uint64_t) * (size_t)s->W);
    h = crc_bytes(h, s->crc, sizeof(uint32_t) * (size_t)s->W);
    return (uint32_t)h;
}

void ck_shards_free(ck_shards *s) {
    free(s->lo);
    free(s->hi);
    free(s->size);
    free(s->crc);
    memset(s, 0, sizeof *s);
}

static int shards_alloc(ck_shards *s, int W) {
    memset(s, 0, sizeof *s);
    s->W = W;
    s->lo = calloc((size_t)W, sizeof *s->lo);
    s->hi = calloc((size_t)W, sizeof *s->hi);
    s->size = calloc((size_t)W, sizeof *s->size);
    s->crc = calloc((size_t)W, sizeof *s->crc);
    if (!s->lo || !s->hi || !s->size || !s->crc) { ck_shards_free(s); return -1; }
    return 0;
}

static int cmp_by_lo(const void *a, const void *b, void *arg) {
    const uint64_t *lo = arg;
    uint64_t x = lo[*(const int *)a], y = lo[*(const int *)b];
    return x < y ? -1 : x > y;
}

/* The non-empty shard ranges must tile [0, n_flat) exactly. */
static int check_tiling(ck_ctx *C, int W, const uint64_t *lo, const uint64_t *hi, uint64_t n_flat) {
    int *ord = malloc(sizeof(int) * (size_t)W);
    if (!ord) return ck_fail(C, "out of memory");
    for (int r = 0; r < W; r++) {
        if (lo[r] > hi[r] || hi[r] > n_flat) {
            free(ord);
            return ck_fail(C, "shard %d range [%llu,%llu) is not inside [0,%llu)", r,
                           (unsigned long long)lo[r], (unsigned long long)hi[r], (unsigned long long)n_flat);
        }
        ord[r] = r;
    }
    qsort_r(ord, (size_t)W, sizeof(int), cmp_by_lo, (void *)lo);
    uint64_t pos = 0;
    for (int k = 0; k < W; k++) {
        int r = ord[k];
        if (lo[r] == hi[r]) continue;
        if (lo[r] != pos) {
            free(ord);
            return ck_fail(C, "shard ranges do not tile [0,%llu): shard %d starts at %llu, expected %llu",
                           (unsigned long long)n_flat, r, (unsigned long long)lo[r], (unsigned long long)pos);
        }
        pos = hi[r];
    }
    free(ord);
    if (pos != n_flat)
        return ck_fail(C, "shard ranges cover [0,%llu), not [0,%llu)", (unsigned long long)pos,
                       (unsigned long long)n_flat);
    return 0;
}

/* Maps local elements [s,e) of tensor t (row-major) held by source dataset
 * `src` of file `file` (1-D, e-s elements) into the virtual dataset as ONE
 * mapping. For a 2-D tensor the virtual selection is the union of at most
 * three rectangles (partial first row, full rows, partial last row); HDF5
 * pairs a mapping's virtual and source selections element by element in
 * row-major order and only needs equal counts, not equal shapes. One mapping
 * per piece instead of one per rectangle: up to 3x fewer mappings, a smaller
 * index written faster; readers (h5py, h5dump) see the same values. */
static int map_range(ck_ctx *C, hid_t dcpl, hid_t vsp, const zt_ck_tensor *t, uint64_t s, uint64_t e,
                     const char *file, const char *src) {
    hid_t ssp = -1;
    hsize_t n = e - s;
    h5Check(ssp = H5Screate_simple(1, &n, NULL));
    h5Check(H5Sselect_none(vsp));
    uint64_t pos = s;
    while (pos < e) {
        hsize_t vstart[2], vcount[2], len;
        if (t->ndim == 1) {
            vstart[0] = pos;
            vcount[0] = len = e - pos;
        } else {
            uint64_t C1 = t->shape[1], row = pos / C1, col = pos % C1;
            if (col != 0 || e - pos < C1) {           /* partial row */
                len = C1 - col < e - pos ? C1 - col : e - pos;
                vstart[0] = row, vstart[1] = col, vcount[0] = 1, vcount[1] = len;
            } else {                                  /* full rows */
                uint64_t rows = (e - pos) / C1;
                len = rows * C1;
                vstart[0] = row, vstart[1] = 0, vcount[0] = rows, vcount[1] = C1;
            }
        }
        h5Check(H5Sselect_hyperslab(vsp, H5S_SELECT_OR, vstart, NULL, vcount, NULL));
        pos += len;
    }
    h5Check(H5Pset_virtual(dcpl, vsp, file, src, ssp));   /* ssp: all n elements */
    H5Sclose(ssp);
    return 0;
fail:
    if (ssp >= 0) H5Sclose(ssp);
    return -1;
}

static int write_vds(ck_ctx *C, hid_t f, const zt_ck_layout *L, const zt_ck_tensor *t, const char *slot,
                     int W, const uint64_t *lo, const uint64_t *hi) {
    hid_t dcpl = -1, vsp = -1, lcpl = -1, ds = -1;
    char path[256], file[64];
    hsize_t dims[2] = {t->shape[0], t->ndim == 2 ? t->shape[1] : 1};
    float nan = NAN;
    uint64_t n = ck_tensor_n(t), end = t->off + n;
    ck_dset_path(slot, t->name, path, sizeof path);
    h5Check(dcpl = H5Pcreate(H5P_DATASET_CREATE));
    h5Check(H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &nan));
    h5Check(vsp = H5Screate_simple(t->ndim, dims, NULL));
    for (int r = 0; r < W; r++) {
        uint64_t a = t->off > lo[r] ? t->off : lo[r];
        uint64_t b = end < hi[r] ? end : hi[r];
        if (a >= b) continue;
        ck_shard_name(r, W, file, sizeof file);
        if (map_range(C, dcpl, vsp, t, a - t->off, b - t->off, file, path) < 0) goto fail;
    }
    h5Check(H5Sselect_all(vsp));
    h5Check(lcpl = ck_lcpl());
    h5Check(ds = H5Dcreate2(f, path, H5T_IEEE_F32LE, vsp, lcpl, dcpl, H5P_DEFAULT));
    h5Check(ck_attr_write(ds, "flat_offset", H5T_NATIVE_UINT64, -1, &t->off));
    h5Check(H5Dclose(ds));
    ds = -1;
    H5Pclose(lcpl);
    H5Sclose(vsp);
    H5Pclose(dcpl);
    return 0;
fail:
    if (ds >= 0) H5Dclose(ds);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (vsp >= 0) H5Sclose(vsp);
    if (dcpl >= 0) H5Pclose(dcpl);
    return -1;
}

static int write_dset(ck_ctx *C, hid_t f, const char *path, hid_t type, int rank, const hsize_t *dims,
                      const void *buf) {
    hid_t ds = -1;
    h5Check(ds = ck_dset_create(f, path, type, rank, dims));
    if (dims[0] > 0) h5Check(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
    h5Check(H5Dclose(ds));
    return 0;
fail:
    if (ds >= 0) H5Dclose(ds);
    return -1;
}

static hid_t str_type(size_t n) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, n) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0)) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

static int write_layout(ck_ctx *C, hid_t f, const zt_ck_layout *L) {
    int n = L->n_tensors;
    hid_t g = -1, st = -1, slt = -1;
    char *names = calloc((size_t)n + 1, NAME_LEN);
    int32_t *nd = calloc((size_t)n + 1, sizeof *nd);
    uint64_t *shape = calloc((size_t)n * 2 + 2, sizeof *shape), *off = calloc((size_t)n + 1, sizeof *off);
    char slots[ZT_CK_MAX_SLOTS][SLOT_LEN];
    if (!names || !nd || !shape || !off) { ck_fail(C, "out of memory"); goto fail; }
    for (int i = 0; i < n; i++) {
        snprintf(names + (size_t)i * NAME_LEN, NAME_LEN, "%s", L->t[i].name);
        nd[i] = L->t[i].ndim;
        shape[2 * i] = L->t[i].shape[0];
        shape[2 * i + 1] = L->t[i].ndim == 2 ? L->t[i].shape[1] : 1;
        off[i] = L->t[i].off;
    }
    hsize_t d1 = (hsize_t)n, d2[2] = {(hsize_t)n, 2};
    h5Check(g = H5Gcreate2(f, "/layout", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    h5Check(st = str_type(NAME_LEN));
    if (write_dset(C, g, "names", st, 1, &d1, names) < 0 || write_dset(C, g, "ndim", H5T_NATIVE_INT32, 1, &d1, nd) < 0 ||
        write_dset(C, g, "shape", H5T_NATIVE_UINT64, 2, d2, shape) < 0 ||
        write_dset(C, g, "offset", H5T_NATIVE_UINT64, 1, &d1, off) < 0)
        goto fail;
    memset(slots, 0, sizeof slots);
    for (int s = 0; s < L->n_slots; s++) snprintf(slots[s], SLOT_LEN, "%s", L->slot[s]);
    h5Check(slt = str_type(SLOT_LEN));
    h5Check(ck_attr_write(g, "slots", slt, L->n_slots, slots));
    h5Check(H5Gclose(g));
    H5Tclose(st);
    H5Tclose(slt);
    free(names), free(nd), free(shape), free(off);
    return 0;
fail:
    if (g >= 0) H5Gclose(g);
    if (st >= 0) H5Tclose(st);
    if (slt >= 0) H5Tclose(slt);
    free(names), free(nd), free(shape), free(off);
    return -1;
}

/* /blob/<name> datasets; names must be plain (no '/', not empty). */
static int write_blobs(ck_ctx *C, hid_t f, const zt_ck_blob *b, int nb) {
    hid_t ds = -1;
    for (int i = 0; i < nb; i++) {
        if (!b[i].name || !b[i].name[0] || strchr(b[i].name, '/') || strlen(b[i].name) > 64 ||
            (b[i].len && !b[i].data))
            return ck_fail(C, "index %s: blob %d: bad name or data", C->what, i);
        char path[96];
        snprintf(path, sizeof path, "/blob/%s", b[i].name);
        hsize_t d = b[i].len;
        h5Check(ds = ck_dset_create(f, path, H5T_STD_U8LE, 1, &d));
        if (d) h5Check(H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, b[i].data));
        hid_t x = ds;
        ds = -1;
        h5Check(H5Dclose(x));
    }
    return 0;
fail:
    if (ds >= 0) H5Dclose(ds);
    return -1;
}

/* ---------------------------------------------------------- index template
 * Writing index.h5 from scratch costs one HDF5 object per tensor and slot
 * (plus its VDS mappings): milliseconds per object, the largest part of a
 * save's commit for a model of a few hundred tensors. Between two saves of a
 * run only the root attributes change (step, CRCs, sizes, state); the layout
 * datasets and every virtual dataset depend on the layout and the shard
 * ranges alone. So the bytes of the last index written are kept, keyed by
 * (W, layout, ranges); the next save with the same key writes those bytes
 * and replaces the root attributes in place. What lands on disk is a normal
 * index (same CRC sidecar, same fsync), whichever way it was made. */
static struct {
    pthread_mutex_t mu;
    unsigned char  *key, *nkey;   /* key of the template; key being written */
    size_t          kn, nkn, ncap;
    unsigned char  *bytes;        /* the template file */
    size_t          len;
} tpl = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int key_put(const void *p, size_t n) {
    if (tpl.nkn + n > tpl.ncap) {
        size_t cap = (tpl.nkn + n) * 2;
        unsigned char *k = realloc(tpl.nkey, cap);
        if (!k) return -1;
        tpl.nkey = k, tpl.ncap = cap;
    }
    memcpy(tpl.nkey + tpl.nkn, p, n);
    tpl.nkn += n;
    return 0;
}

/* The full key (not a hash of it): a template is reused only for exactly the
 * same layout and shard table. */
static int tpl_key(ck_ctx *C, int W, const zt_ck_layout *L, const uint64_t *lo, const uint64_t *hi,
                   const zt_ck_blob *b, int nb) {
    uint64_t h[4] = {(uint64_t)W, L->n_flat, (uint64_t)L->n_tensors, (uint64_t)L->n_slots};
    int bad = 0;
    tpl.nkn = 0;
    bad |= key_put(h, sizeof h);
    for (int i = 0; i < L->n_tensors && !bad; i++) bad |= key_put(&L->t[i], sizeof L->t[i]);
    for (int i = 0; i < L->n_slots && !bad; i++) bad |= key_put(L->slot[i], sizeof L->slot[i]);
    if (!bad) bad |= key_put(lo, sizeof *lo * (size_t)W);
    if (!bad) bad |= key_put(hi, sizeof *hi * (size_t)W);
    for (int i = 0; i < nb && !bad; i++) {   /* the blobs are in the template's bytes too */
        uint64_t n = b[i].len;
        bad |= key_put(&n, sizeof n);
        if (!bad && b[i].name) bad |= key_put(b[i].name, strlen(b[i].name) + 1);
        if (!bad && n && b[i].data) bad |= key_put(b[i].data, n);
    }
    return bad ? ck_fail(C, "out of memory") : 0;
}

/* After a full write: keep path's bytes and the key. A failure here only
 * costs the next save a full write. */
static int tpl_keep(ck_ctx *C, const char *path) {
    (void)C;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) { if (fd >= 0) close(fd); return 0; }
    unsigned char *b = malloc((size_t)st.st_size + 1), *k = malloc(tpl.nkn + 1);
    size_t got = 0;
    while (b && k && got < (size_t)st.st_size) {
        ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    if (!b || !k || got != (size_t)st.st_size) { free(b), free(k); return 0; }
    memcpy(k, tpl.nkey, tpl.nkn);
    free(tpl.bytes), free(tpl.key);
    tpl.bytes = b, tpl.len = got, tpl.key = k, tpl.kn = tpl.nkn;
    return 0;
}

static int tpl_restore(ck_ctx *C, const char *path) {
    int fd = -1;
    size_t off = 0;
    osCheck(fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    while (off < tpl.len) {
        ssize_t n = write(fd, tpl.bytes + off, tpl.len - off);
        if (n == 0) errno = ENOSPC, n = -1;
        if (n < 0) { int e = errno; close(fd); errno = e; osCheck(-1); }
        off += (size_t)n;
    }
    osCheck(close(fd));
    return 0;
fail:
    return -1;
}

/* Root attributes; replace = 1 deletes each one first (template path). */
static int put_attr(hid_t f, int replace, const char *name, hid_t type, int n, const void *buf) {
    if (replace && H5Aexists(f, name) > 0 && H5Adelete(f, name) < 0) return -1;
    return ck_attr_write(f, name, type, n, buf);
}
static int put_str(hid_t f, int replace, const char *name, const char *v) {
    if (replace && H5Aexists(f, name) > 0 && H5Adelete(f, name) < 0) return -1;
    return ck_attr_write_str(f, name, v);
}

static int write_root(ck_ctx *C, hid_t f, int rp, int W, const zt_ck_meta *m, const zt_ck_layout *L,
                      const ck_shards *s, uint32_t mc) {
    uint64_t fmt = ZT_CK_FORMAT, nf = L->n_flat;
    int32_t w32 = m->world, ns32 = W, st32 = m->stage, nt = L->n_tensors;
    h5Check(put_attr(f, rp, "format", H5T_NATIVE_UINT64, -1, &fmt));
    h5Check(put_attr(f, rp, "step", H5T_NATIVE_UINT64, -1, &m->step));
    h5Check(put_attr(f, rp, "world", H5T_NATIVE_INT32, -1, &w32));
    h5Check(put_attr(f, rp, "n_shards", H5T_NATIVE_INT32, -1, &ns32));
    h5Check(put_attr(f, rp, "stage", H5T_NATIVE_INT32, -1, &st32));
    h5Check(put_attr(f, rp, "seed", H5T_NATIVE_UINT64, -1, &m->seed));
    h5Check(put_attr(f, rp, "n_flat", H5T_NATIVE_UINT64, -1, &nf));
    h5Check(put_attr(f, rp, "n_tensors", H5T_NATIVE_INT32, -1, &nt));
    h5Check(put_str(f, rp, "model", m->model));
    h5Check(put_str(f, rp, "optim", m->optim));
    h5Check(put_str(f, rp, "config", m->config));
    h5Check(put_str(f, rp, "state", m->state));
    if (m->writer_version[0]) h5Check(put_str(f, rp, "writer_version", m->writer_version));
    h5Check(put_attr(f, rp, "shard_lo", H5T_NATIVE_UINT64, W, s->lo));
    h5Check(put_attr(f, rp, "shard_hi", H5T_NATIVE_UINT64, W, s->hi));
    h5Check(put_attr(f, rp, "shard_size", H5T_NATIVE_UINT64, W, s->size));
    h5Check(put_attr(f, rp, "shard_crc", H5T_NATIVE_UINT32, W, s->crc));
    h5Check(put_attr(f, rp, "meta_crc", H5T_NATIVE_UINT32, -1, &mc));
    return 0;
fail:
    return -1;
}

int zt_ck_write_index(const char *tmpdir, int W, const zt_ck_layout *L,
                      const uint64_t *lo, const uint64_t *hi, const uint32_t *crc,
                      const zt_ck_meta *m, char *err, size_t errlen) {
    return zt_ck_write_index_blobs(tmpdir, W, L, lo, hi, crc, m, NULL, 0, err, errlen);
}

int zt_ck_write_index_blobs(const char *tmpdir, int W, const zt_ck_layout *L,
                            const uint64_t *lo, const uint64_t *hi, const uint32_t *crc,
                            const zt_ck_meta *m, const zt_ck_blob *blobs, int n_blobs,
                            char *err, size_t errlen) {
    ck_ctx ctx, *C = &ctx;
    ck_begin(C, err, errlen);
    char path[PATH_MAX], sp[PATH_MAX], name[64];
    hid_t fapl = -1, f = -1;
    int created = 0, locked = 0;
    ck_shards s;
    memset(&s, 0, sizeof s);
    zt_ck_meta *mm = NULL;
    if (ck_layout_check(C, L) < 0) goto fail;
    if (W < 1 || !lo || !hi || !crc || !m) { ck_fail(C, "write_index: bad arguments (W=%d)", W); goto fail; }
    /* Our copy, strings terminated. */
    if (!(mm = malloc(sizeof *mm))) { ck_fail(C, "out of memory"); goto fail; }
    *mm = *m;
    if (mm->world < W) mm->world = W;   /* ranks (>= shard files; 0: W); W here is the number of shard files */
    mm->model[sizeof mm->model - 1] = mm->optim[sizeof mm->optim - 1] = mm->config[sizeof mm->config - 1] = '\0';
    m = mm;
    if (check_tiling(C, W, lo, hi, L->n_flat) < 0) goto fail;
    if (shards_alloc(&s, W) < 0) { ck_fail(C, "out of memory"); goto fail; }
    /* Every shard must be there before the index names it; its size goes in
     * the index so a truncated shard is reported without reading it. */
    for (int r = 0; r < W; r++) {
        struct stat st;
        ck_shard_name(r, W, name, sizeof name);
        if (ck_path(C, sp, sizeof sp, "%s/%s", tmpdir, name) < 0) goto fail;
        C->what = sp;
        osCheck(stat(sp, &st));
        s.lo[r] = lo[r], s.hi[r] = hi[r], s.crc[r] = crc[r], s.size[r] = (uint64_t)st.st_size;
    }
    if (ck_path(C, path, sizeof path, "%s/%s", tmpdir, ZT_CK_INDEX) < 0) goto fail;
    C->what = path;
    uint32_t mc = meta_crc(ZT_CK_FORMAT, m, L, &s);
    /* Same layout and shard table as the last index this process wrote:
     * start from that file's bytes and rewrite only the root attributes. */
    pthread_mutex_lock(&tpl.mu);
    locked = 1;
    if (tpl_key(C, W, L, lo, hi, blobs, n_blobs) < 0) goto fail;
    int tpl_hit = tpl.bytes && tpl.kn == tpl.nkn && !memcmp(tpl.key, tpl.nkey, tpl.kn);
    h5Check(fapl = ck_fapl());
    if (tpl_hit) {
        if (tpl_restore(C, path) < 0) goto fail;
        created = 1;
        h5Check(f = H5Fopen(path, H5F_ACC_RDWR, fapl));
        if (write_root(C, f, 1, W, m, L, &s, mc) < 0) goto fail;
    } else {
        h5Check(f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl));
        created = 1;
        if (write_root(C, f, 0, W, m, L, &s, mc) < 0) goto fail;
        if (write_layout(C, f, L) < 0) goto fail;
        if (write_blobs(C, f, blobs, n_blobs) < 0) goto fail;
        for (int slot = -1; slot < L->n_slots; slot++)
            for (int i = 0; i < L->n_tensors; i++)
                if (write_vds(C, f, L, &L->t[i], slot < 0 ? NULL : L->slot[slot], W, lo, hi) < 0) goto fail;
    }
    h5Check(H5Pclose(fapl));
    fapl = -1;
    hid_t ff = f;
    f = -1;
    h5Check(H5Fclose(ff));
    if (!tpl_hit && tpl_keep(C, path) < 0) goto fail;
    pthread_mutex_unlock(&tpl.mu);
    locked = 0;
    uint32_t icrc;
    if (ck_file_crc(C, path, &icrc, NULL, CK_CRC_FSYNC) < 0) goto fail;    /* fsyncs index.h5 */
    if (ck_path(C, sp, sizeof sp, "%s/%s", tmpdir, ZT_CK_INDEX_CRC) < 0) goto fail;
    C->what = sp;
    int fd = -1;
    char line[16];
    int ln = snprintf(line, sizeof line, "%08x\n", icrc);
    osCheck(fd = open(sp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ssize_t wn = write(fd, line, (size_t)ln);
    if (wn >= 0 && wn != ln) errno = ENOSPC, wn = -1;
    if (wn < 0 || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        osCheck(-1);
    }
    osCheck(close(fd));
    ck_shards_free(&s);
    free(mm);
    ck_end(C);
    return 0;
fail:
    if (f >= 0) H5Fclose(f);
    if (fapl >= 0) H5Pclose(fapl);
    if (created) remove(path);
    if (locked) pthread_mutex_unlock(&tpl.mu);
    ck_shards_free(&s);
    free(mm);
    ck_end(C);
    return -1;
}

/* ------------------------------------------------------------------ load */

static int read_dset(ck_ctx *C, hid_t f, const char *path, hid_t memtype, hssize_t n, void *buf) {
    hid_t ds = -1, sp = -1;
    h5Check(ds = H5Dopen2(f, path, H5P_DEFAULT));
    h5Check(sp = H5Dget_space(ds));
    hssize_t have = H5Sget_simple_extent_npoints(sp);
    if (have != n) {
        ck_fail(C, "index %s: %s has %lld elements, expected %lld", C->what, path, (long long)have, (long long)n);
        goto fail;
    }
    if (n > 0) h5Check(H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
    H5Sclose(sp);
    h5Check(H5Dclose(ds));
    return 0;
fail:
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    return -1;
}

/* Elements of dataset path, or -1 if it cannot be opened. */
static hssize_t dset_len(hid_t f, const char *path) {
    hid_t ds = H5Dopen2(f, path, H5P_DEFAULT);
    if (ds < 0) return -1;
    hid_t sp = H5Dget_space(ds);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(ds);
    return n;
}

int ck_index_load(ck_ctx *C, hid_t f, zt_ck_meta *m, zt_ck_layout *L, zt_ck_tensor **tensors, ck_shards *s) {
    uint64_t fmt = 0;
    int32_t w32 = 0, st32 = 0, nt = 0;
    uint32_t mc = 0;
    hid_t st = -1, slt = -1, g = -1;
    char *names = NULL;
    int32_t *nd = NULL;
    uint64_t *shape = NULL, *off = NULL;
    zt_ck_tensor *t = NULL;
    char slots[ZT_CK_MAX_SLOTS][SLOT_LEN];
    memset(m, 0, sizeof *m);
    memset(L, 0, sizeof *L);
    memset(s, 0, sizeof *s);
    *tensors = NULL;
    h5Check(ck_attr_read(f, "format", H5T_NATIVE_UINT64, -1, &fmt));
    if (fmt > ZT_CK_FORMAT) {
        ck_fail(C, "index %s was written by a newer ztrain (checkpoint format %llu; this build reads formats 1 to %d): "
                "resume it with that version or newer", C->what, (unsigned long long)fmt, ZT_CK_FORMAT);
        goto fail;
    }
    if (fmt < 1) { ck_fail(C, "index %s: format %llu is not a checkpoint format", C->what, (unsigned long long)fmt); goto fail; }
    h5Check(ck_attr_read(f, "step", H5T_NATIVE_UINT64, -1, &m->step));
    h5Check(ck_attr_read(f, "world", H5T_NATIVE_INT32, -1, &w32));
    h5Check(ck_attr_read(f, "stage", H5T_NATIVE_INT32, -1, &st32));
    h5Check(ck_attr_read(f, "seed", H5T_NATIVE_UINT64, -1, &m->seed));
    h5Check(ck_attr_read(f, "n_flat", H5T_NATIVE_UINT64, -1, &L->n_flat));
    h5Check(ck_attr_read(f, "n_tensors", H5T_NATIVE_INT32, -1, &nt));
    h5Check(ck_attr_read_str(f, "model", m->model, sizeof m->model));
    h5Check(ck_attr_read_str(f, "optim", m->optim, sizeof m->optim));
    h5Check(ck_attr_read_str(f, "config", m->config, sizeof m->config));
    h5Check(ck_attr_read_str(f, "state", m->state, sizeof m->state));
    m->world = w32, m->stage = st32, m->format = (int)fmt;
    /* format 1: one shard per rank; 2: n_shards files (per-node: fewer) */
    int32_t ns = w32;
    if (fmt >= 2) h5Check(ck_attr_read(f, "n_shards", H5T_NATIVE_INT32, -1, &ns));
    if (w32 < 1 || ns < 1 || ns > w32 || nt < 0) {
        ck_fail(C, "index %s: world %d, %d shard files, %d tensors", C->what, w32, ns, nt);
        goto fail;
    }
    /* Sizes come from the file: check them against what is stored before
     * allocating for them (a damaged count must not ask for 128 GB). */
    int have_w = ck_attr_len(f, "shard_lo");
    if (have_w != ns) {
        ck_fail(C, "index %s: %d shard files, but shard_lo has %d entries", C->what, ns, have_w);
        goto fail;
    }
    hssize_t have_t = dset_len(f, "/layout/names");
    if (have_t != nt) {
        ck_fail(C, "index %s: n_tensors %d, but /layout/names has %lld entries", C->what, nt, (long long)have_t);
        goto fail;
    }
    if (shards_alloc(s, ns) < 0) { ck_fail(C, "out of memory"); goto fail; }
    h5Check(ck_attr_read(f, "shard_lo", H5T_NATIVE_UINT64, ns, s->lo));
    h5Check(ck_attr_read(f, "shard_hi", H5T_NATIVE_UINT64, ns, s->hi));
    h5Check(ck_attr_read(f, "shard_size", H5T_NATIVE_UINT64, ns, s->size));
    h5Check(ck_attr_read(f, "shard_crc", H5T_NATIVE_UINT32, ns, s->crc));
    h5Check(ck_attr_read(f, "meta_crc", H5T_NATIVE_UINT32, -1, &mc));

    names = calloc((size_t)nt + 1, NAME_LEN);
    nd = calloc((size_t)nt + 1, sizeof *nd);
    shape = calloc((size_t)nt * 2 + 2, sizeof *shape);
    off = calloc((size_t)nt + 1, sizeof *off);
    t = calloc((size_t)nt + 1, sizeof *t);
    if (!names || !nd || !shape || !off || !t) { ck_fail(C, "out of memory"); goto fail; }
    h5Check(st = str_type(NAME_LEN));
    if (read_dset(C, f, "/layout/names", st, nt, names) < 0 || read_dset(C, f, "/layout/ndim", H5T_NATIVE_INT32, nt, nd) < 0 ||
        read_dset(C, f, "/layout/shape", H5T_NATIVE_UINT64, (hssize_t)nt * 2, shape) < 0 ||
        read_dset(C, f, "/layout/offset", H5T_NATIVE_UINT64, nt, off) < 0)
        goto fail;
    h5Check(g = H5Gopen2(f, "/layout", H5P_DEFAULT));
    int nsl = ck_attr_len(g, "slots");
    h5Check(nsl);
    if (nsl > ZT_CK_MAX_SLOTS) { ck_fail(C, "index %s: %d slots", C->what, nsl); goto fail; }
    h5Check(slt = str_type(SLOT_LEN));
    memset(slots, 0, sizeof slots);
    h5Check(ck_attr_read(g, "slots", slt, nsl, slots));
    for (int i = 0; i < nt; i++) {
        memcpy(t[i].name, names + (size_t)i * NAME_LEN, NAME_LEN);
        t[i].name[NAME_LEN - 1] = '\0';
        t[i].ndim = nd[i];
        t[i].shape[0] = shape[2 * i];
        t[i].shape[1] = nd[i] == 2 ? shape[2 * i + 1] : 0;
        t[i].off = off[i];
    }
    L->n_tensors = nt;
    L->t = t;
    L->n_slots = nsl;
    for (int i = 0; i < nsl; i++) {
        memcpy(L->slot[i], slots[i], SLOT_LEN);
        L->slot[i][SLOT_LEN - 1] = '\0';
    }
    uint32_t want = meta_crc(fmt, m, L, s);
    if (want != mc) {
        ck_fail(C, "index %s is corrupt: metadata CRC32 %08x, recorded %08x", C->what, want, mc);
        goto fail;
    }
    if (ck_layout_check(C, L) < 0 || check_tiling(C, ns, s->lo, s->hi, L->n_flat) < 0) goto fail;
    H5Gclose(g);
    H5Tclose(st);
    H5Tclose(slt);
    free(names), free(nd), free(shape), free(off);
    *tensors = t;
    return 0;
fail:
    if (g >= 0) H5Gclose(g);
    if (st >= 0) H5Tclose(st);
    if (slt >= 0) H5Tclose(slt);
    free(names), free(nd), free(shape), free(off), free(t);
    ck_shards_free(s);
    memset(L, 0, sizeof *L);
    return -1;
}

/* ------------------------------------------------------------------ blobs */

int zt_ck_read_blob(const zt_ck_reader *r, const char *name, uint8_t **data, size_t *len,
                    char *err, size_t errlen) {
    ck_ctx ctx, *C = &ctx;
    ck_begin(C, err, errlen);
    char path[PATH_MAX], dpath[96];
    hid_t fapl = -1, f = -1, ds = -1, sp = -1;
    int rc = -1;
    *data = NULL;
    *len = 0;
    if (!name || !name[0] || strchr(name, '/') || strlen(name) > 64) {
        ck_fail(C, "blob name '%s': not a plain name", name ? name : "(null)");
        goto fail;
    }
    if (ck_path(C, path, sizeof path, "%s/%s", zt_ck_dir_of(r), ZT_CK_INDEX) < 0) goto fail;
    C->what = path;
    snprintf(dpath, sizeof dpath, "/blob/%s", name);
    h5Check(fapl = ck_fapl());
    h5Check(f = H5Fopen(path, H5F_ACC_RDONLY, fapl));
    if (H5Lexists(f, "/blob", H5P_DEFAULT) <= 0 || H5Lexists(f, dpath, H5P_DEFAULT) <= 0) {
        rc = 1;   /* absent: older checkpoints, or nothing attached */
        goto fail;
    }
    h5Check(ds = H5Dopen2(f, dpath, H5P_DEFAULT));
    h5Check(sp = H5Dget_space(ds));
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    h5Check(n);
    if (!(*data = malloc(n ? (size_t)n : 1))) { ck_fail(C, "out of memory for blob %s", name); goto fail; }
    if (n) h5Check(H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data));
    *len = (size_t)n;
    rc = 0;
fail:
    if (rc < 0) { free(*data); *data = NULL; }
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    if (f >= 0) H5Fclose(f);
    if (fapl >= 0) H5Pclose(fapl);
    ck_end(C);
    return rc;
}
