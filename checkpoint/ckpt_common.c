/* ckpt_common.c — error context, file-system helpers, small HDF5 helpers
 * shared by the writer, the index, the reader and the tools. */
#include "ckpt_internal.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---------------------------------------------------------------- errors */

void ck_begin(ck_ctx *c, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    c->err = err;
    c->errlen = err ? errlen : 0;
    if (c->errlen) err[0] = '\0';
    /* Per thread in the thread-safe build: HDF5 keeps the error stack (and its
     * automatic printing) in thread-local storage. */
    H5Eget_auto2(H5E_DEFAULT, &c->old_func, &c->old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void ck_end(ck_ctx *c) {
    H5Eset_auto2(H5E_DEFAULT, c->old_func, c->old_data);
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int ck_fail(ck_ctx *c, const char *fmt, ...) {
    if (c->failed) return -1;
    c->failed = 1;
    if (c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int ck_fail_os(ck_ctx *c, const char *src, int line, const char *call, int errnum) {
    return ck_fail(c, "%s:%d: %s failed on %s: %s", base_name(src), line, call,
                   c->what ? c->what : "?", strerror(errnum));
}

typedef struct {
    int  n;
    char inner[512];       /* description of the innermost (originating) error */
    char minor[128];
} ck_walk;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
    ck_walk *w = data;
    if (w->n++ == 0) {
        snprintf(w->inner, sizeof w->inner, "%s", e->desc ? e->desc : "");
        if (H5Eget_msg(e->min_num, NULL, w->minor, sizeof w->minor) < 0) w->minor[0] = '\0';
    }
    return 0;
}

/* HDF5's sec2 driver words OS failures as "..., errno = 28, error message =
 * 'No space left on device', ...": pull the OS message out when present. */
static void os_message(const char *desc, char *out, size_t cap) {
    out[0] = '\0';
    const char *p = strstr(desc, "error message = '");
    if (!p) return;
    p += strlen("error message = '");
    const char *q = strchr(p, '\'');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    if (n >= cap) n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

int ck_fail_h5(ck_ctx *c, const char *src, int line, const char *call) {
    if (c->failed) return -1;
    ck_walk w = {0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &w);
    char osm[160];
    os_message(w.inner, osm, sizeof osm);
    for (char *p = w.inner; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    /* With an OS error, HDF5's own text is only its first clause ("file write
     * failed"); otherwise it is the whole reason, e.g. "Fletcher32 checksum". */
    if (osm[0]) {
        char *colon = strchr(w.inner, ':');
        if (colon) *colon = '\0';
    }
    if (strlen(w.inner) > 300) strcpy(w.inner + 297, "...");
    int r = ck_fail(c, "%s:%d: %s failed on %s: %s (HDF5: %s%s%s)", base_name(src), line, call,
                    c->what ? c->what : "?", osm[0] ? osm : (w.minor[0] ? w.minor : "error"),
                    w.n ? w.inner : "no HDF5 error stack", w.minor[0] && osm[0] ? "; " : "",
                    osm[0] ? w.minor : "");
    H5Eclear2(H5E_DEFAULT);
    return r;
}

/* ------------------------------------------------------------ file system */

int ck_path(ck_ctx *c, char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) return ck_fail(c, "path too long: %.200s...", out);
    return 0;
}

void ck_shard_name(int rank, int W, char *out, size_t cap) {
    snprintf(out, cap, "shard-%05d-of-%05d.h5", rank, W);
}

int ck_fsync_path(ck_ctx *c, const char *path, int is_dir) {
    ck_ctx *C = c;
    const char *saved = c->what;
    c->what = path;
    int fd = -1;
    osCheck(fd = open(path, (is_dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC));
    osCheck(fsync(fd));
    osCheck(close(fd));
    c->what = saved;
    return 0;
fail:
    if (fd >= 0) close(fd);
    c->what = saved;
    return -1;
}

int ck_file_crc(ck_ctx *c, const char *path, uint32_t *crc, uint64_t *size, int flags) {
    ck_ctx *C = c;
    const char *saved = c->what;
    c->what = path;
    const size_t bufsz = (size_t)8 << 20;
    unsigned char *buf = NULL;
    int fd = -1;
    uLong h = crc32(0L, Z_NULL, 0);
    uint64_t total = 0;
    osCheck(fd = open(path, O_RDONLY | O_CLOEXEC));
    if (flags & CK_CRC_WRITEBACK) sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (!(buf = malloc(bufsz))) { errno = ENOMEM; osCheck(-1); }
    off_t pos = 0;
    /* Cold reads: keep the next two buffers' worth in flight while we checksum
     * this one (a write's read-back comes from the page cache: no advice). */
    int ahead = !(flags & CK_CRC_WRITEBACK);
    if (ahead) posix_fadvise(fd, 0, (off_t)(2 * bufsz), POSIX_FADV_WILLNEED);
    for (;;) {
        if (ahead) posix_fadvise(fd, pos + (off_t)(2 * bufsz), (off_t)bufsz, POSIX_FADV_WILLNEED);
        ssize_t n = read(fd, buf, bufsz);
        if (n < 0 && errno == EINTR) continue;
        osCheck(n);
        if (n == 0) break;
        h = crc32(h, buf, (uInt)n);
        total += (uint64_t)n;
        pos += n;
    }
    if (flags & CK_CRC_FSYNC) osCheck(fsync(fd));
    osCheck(close(fd));
    fd = -1;
    free(buf);
    *crc = (uint32_t)h;
    if (size) *size = total;
    c->what = saved;
    return 0;
fail:
    if (fd >= 0) close(fd);
    free(buf);
    c->what = saved;
    return -1;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    return remove(p);
}

int ck_rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -1;
    return nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int ck_parse_step_name(const char *name, uint64_t *step) {
    if (strncmp(name, "step-", 5) != 0) return 0;
    const char *p = name + 5;
    if (!*p) return 0;
    uint64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *step = v;
    return 1;
}

int ck_read_latest(const char *root, char *name, size_t cap) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/latest", root) >= (int)sizeof path) { errno = ENAMETOOLONG; return -1; }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, name, cap - 1);
    int e = errno;
    close(fd);
    if (n < 0) { errno = e; return -1; }
    name[n] = '\0';
    while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == ' ' || name[n - 1] == '\r')) name[--n] = '\0';
    /* A bare directory name inside root: nothing else is accepted. */
    if (n == 0 || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) { errno = EINVAL; return -1; }
    return 0;
}

/* ------------------------------------------------------------------ HDF5 */

hid_t ck_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return -1;
    /* v18+ object headers, superblock v2 and B-tree v2 carry checksums, so a
     * flipped bit in HDF5 metadata is detected as well as one in the data. */
    if (H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0 ||
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

hid_t ck_lcpl(void) {
    hid_t p = H5Pcreate(H5P_LINK_CREATE);
    if (p >= 0 && H5Pset_create_intermediate_group(p, 1) < 0) { H5Pclose(p); return -1; }
    return p;
}

hid_t ck_dset_create(hid_t loc, const char *path, hid_t ftype, int rank, const hsize_t *dims) {
    hid_t sp = -1, dcpl = -1, lcpl = -1, ds = -1;
    hsize_t chunk[2];
    int empty = 0;
    for (int i = 0; i < rank; i++) empty |= dims[i] == 0;
    if ((sp = H5Screate_simple(rank, dims, NULL)) < 0) goto done;
    if ((dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0) goto done;
    if (!empty) {
        /* 1-D: ZT_CK_CHUNK elements; 2-D: whole rows up to ZT_CK_CHUNK elements. */
        if (rank == 1) chunk[0] = ck_chunk_1d(dims[0]);
        else {
            chunk[1] = dims[1] < ZT_CK_CHUNK ? dims[1] : ZT_CK_CHUNK;
            hsize_t rows = ZT_CK_CHUNK / chunk[1];
            chunk[0] = rows < 1 ? 1 : rows > dims[0] ? dims[0] : rows;
        }
        if (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0) goto done;
    }
    if (H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0) goto done;
    if ((lcpl = ck_lcpl()) < 0) goto done;
    ds = H5Dcreate2(loc, path, ftype, sp, lcpl, dcpl, H5P_DEFAULT);
done:
    if (sp >= 0) H5Sclose(sp);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (lcpl >= 0) H5Pclose(lcpl);
    return ds;
}

int ck_attr_write(hid_t obj, const char *name, hid_t type, int n, const void *buf) {
    hsize_t d = (hsize_t)(n < 0 ? 1 : n);
    hid_t sp = n < 0 ? H5Screate(H5S_SCALAR) : n == 0 ? H5Screate(H5S_NULL) : H5Screate_simple(1, &d, NULL);
    if (sp < 0) return -1;
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 ? -1 : n == 0 ? 0 : H5Awrite(a, type, buf) < 0 ? -1 : 0;
    if (a >= 0 && H5Aclose(a) < 0) rc = -1;
    H5Sclose(sp);
    return rc;
}

/* Fixed-length strings: their bytes live in the (checksummed) object header,
 * where a variable-length string would sit in the unchecksummed global heap. */
int ck_attr_write_str(hid_t obj, const char *name, const char *s) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    int rc = -1;
    if (H5Tset_size(t, strlen(s) + 1) >= 0 && H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0)
        rc = ck_attr_write(obj, name, t, -1, s);
    H5Tclose(t);
    return rc;
}

int ck_attr_len(hid_t obj, const char *name) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t sp = H5Aget_space(a);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    if (sp >= 0 && H5Sget_simple_extent_type(sp) == H5S_NULL) n = 0;
    if (sp >= 0) H5Sclose(sp);
    H5Aclose(a);
    return (int)n;
}

int ck_attr_read(hid_t obj, const char *name, hid_t memtype, int n, void *buf) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    int rc = 0;
    hid_t sp = H5Aget_space(a);
    hssize_t have = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    if (sp >= 0 && H5Sget_simple_extent_type(sp) == H5S_NULL) have = 0;
    if (have != (n < 0 ? 1 : n)) {
        H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS, H5E_ATTR, H5E_BADSIZE,
                 "attribute '%s' has %lld elements, expected %d", name, (long long)have, n < 0 ? 1 : n);
        rc = -1;
    } else if (have > 0 && H5Aread(a, memtype, buf) < 0) rc = -1;
    if (sp >= 0) H5Sclose(sp);
    H5Aclose(a);
    return rc;
}

int ck_attr_read_str(hid_t obj, const char *name, char *out, size_t cap) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    int rc = -1;
    hid_t ft = H5Aget_type(a), mt = -1;
    char *tmp = NULL;
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING) goto done;
    mt = H5Tcopy(H5T_C_S1);
    if (H5Tis_variable_str(ft) > 0) {
        if (H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Aread(a, mt, &tmp) < 0) goto done;
        snprintf(out, cap, "%s", tmp ? tmp : "");
        H5free_memory(tmp);
    } else {
        size_t sz = H5Tget_size(ft);
        if (!(tmp = calloc(1, sz + 1)) || H5Tset_size(mt, sz + 1) < 0 ||
            H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0 || H5Aread(a, mt, tmp) < 0) {
            free(tmp);
            goto done;
        }
        snprintf(out, cap, "%s", tmp);
        free(tmp);
    }
    rc = 0;
done:
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

void ck_dset_path(const char *slot, const char *name, char *out, size_t cap) {
    if (slot) snprintf(out, cap, "/optim/%s/%s", slot, name);
    else snprintf(out, cap, "/param/%s", name);
}

uint64_t ck_tensor_n(const zt_ck_tensor *t) {
    return t->ndim == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
}

int ck_layout_check(ck_ctx *c, const zt_ck_layout *L) {
    if (!L || L->n_tensors < 0 || (L->n_tensors > 0 && !L->t))
        return ck_fail(c, "layout: no tensor array");
    if (L->n_slots < 0 || L->n_slots > ZT_CK_MAX_SLOTS)
        return ck_fail(c, "layout: %d optimizer slots (0..%d allowed)", L->n_slots, ZT_CK_MAX_SLOTS);
    uint64_t pos = 0;
    for (int i = 0; i < L->n_tensors; i++) {
        const zt_ck_tensor *t = &L->t[i];
        if (!memchr(t->name, '\0', sizeof t->name) || !t->name[0] || t->name[0] == '/')
            return ck_fail(c, "layout: tensor %d has an empty, unterminated or absolute name", i);
        if (t->ndim != 1 && t->ndim != 2)
            return ck_fail(c, "layout: tensor '%s' has ndim %d (1 or 2 supported)", t->name, t->ndim);
        if (t->off != pos)
            return ck_fail(c, "layout: tensor '%s' at offset %llu, expected %llu (sorted, contiguous)",
                           t->name, (unsigned long long)t->off, (unsigned long long)pos);
        pos += ck_tensor_n(t);
        for (int j = 0; j < i; j++)
            if (!strcmp(L->t[j].name, t->name)) return ck_fail(c, "layout: tensor name '%s' twice", t->name);
    }
    if (pos != L->n_flat)
        return ck_fail(c, "layout: tensors cover %llu elements, n_flat is %llu",
                       (unsigned long long)pos, (unsigned long long)L->n_flat);
    for (int s = 0; s < L->n_slots; s++) {
        if (!memchr(L->slot[s], '\0', sizeof L->slot[s]) || !L->slot[s][0] || strchr(L->slot[s], '/'))
            return ck_fail(c, "layout: slot %d has an empty, unterminated or invalid name", s);
        for (int j = 0; j < s; j++)
            if (!strcmp(L->slot[j], L->slot[s])) return ck_fail(c, "layout: slot name '%s' twice", L->slot[s]);
    }
    return 0;
}
