/* h5util.c — HDF5 and file helpers for datasets/ (see zt_h5util.h), and
 * zt_mkdir_p / zt_mkdir_parent (zt_data.h). */
#include "zt_data.h"      /* zt_mkdir_p, zt_mkdir_parent */
#include "zt_h5util.h"

#include <errno.h>        /* errno, EEXIST, ENOTDIR */
#include <stdio.h>        /* snprintf, rename, remove */
#include <stdlib.h>       /* malloc, free */
#include <string.h>       /* strlen, strrchr, strerror, strstr */
#include <sys/stat.h>     /* stat, mkdir */
#include <unistd.h>       /* getpid */

/* ---- folders ---------------------------------------------------------- */

int zt_mkdir_p(const char *dir) {
    char b[4096];
    size_t L = strlen(dir);
    if (L == 0) return 0;
    if (L >= sizeof b) { errno = ENAMETOOLONG; return -1; }
    memcpy(b, dir, L + 1);
    /* EEXIST is fine at every level: ranks and jobs may race here */
    for (char *p = b + 1; *p; p++)
        if (*p == '/' && p[-1] != '/') {
            *p = 0;
            if (mkdir(b, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    if (mkdir(b, 0755) != 0 && errno != EEXIST) return -1;
    struct stat st;
    if (stat(b, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) { errno = ENOTDIR; return -1; }
    return 0;
}

int zt_mkdir_parent(const char *path) {
    char d[4096];
    const char *s = strrchr(path, '/');
    if (!s || s == path) return 0;            /* "f.h5" or "/f.h5": nothing to make */
    size_t L = (size_t)(s - path);
    if (L >= sizeof d) { errno = ENAMETOOLONG; return -1; }
    memcpy(d, path, L);
    d[L] = 0;
    return zt_mkdir_p(d);
}

/* ---- types and shapes -------------------------------------------------- */

void zt_h5_type_name(hid_t type, char *buf, size_t n) {
    H5T_class_t c = H5Tget_class(type);
    size_t sz = H5Tget_size(type);
    switch (c) {
    case H5T_INTEGER:
        snprintf(buf, n, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", sz * 8);
        break;
    case H5T_FLOAT: snprintf(buf, n, "float%zu", sz * 8); break;
    case H5T_STRING: snprintf(buf, n, "string"); break;
    case H5T_COMPOUND: snprintf(buf, n, "compound"); break;
    case H5T_ENUM: snprintf(buf, n, "enum"); break;
    case H5T_ARRAY: snprintf(buf, n, "array"); break;
    case H5T_VLEN: snprintf(buf, n, "vlen"); break;
    case H5T_OPAQUE: snprintf(buf, n, "opaque"); break;
    case H5T_BITFIELD: snprintf(buf, n, "bitfield%zu", sz * 8); break;
    case H5T_REFERENCE: snprintf(buf, n, "reference"); break;
    default: snprintf(buf, n, "unknown-type"); break;
    }
}

int zt_h5_is_u8(hid_t type) {
    return H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 1 &&
           H5Tget_sign(type) == H5T_SGN_NONE;
}

void zt_h5_dims_str(int rank, const hsize_t *dims, char *buf, size_t n) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, n - o, "[");
    for (int i = 0; i < rank && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%llu", i ? "," : "", (unsigned long long)dims[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

/* ---- opening ----------------------------------------------------------- */

/* What H5Fopen's error stack says: truncation (with the superblock's
 * recorded end of file) or else its innermost message. */
typedef struct {
    int truncated;
    unsigned long long stored_eof;
    char inner[200];
} open_diag;

static herr_t diag_cb(unsigned n, const H5E_error2_t *e, void *arg) {
    open_diag *d = arg;
    if (n == 0 && e->desc) snprintf(d->inner, sizeof d->inner, "%s", e->desc);
    if (e->min_num == H5E_TRUNCATED) {
        d->truncated = 1;
        const char *s = e->desc ? strstr(e->desc, "stored_eof = ") : NULL;
        if (s) sscanf(s + 13, "%llu", &d->stored_eof);
    }
    return 0;
}

static hid_t open_ro(const char *path, const char *what, char *err, size_t errlen) {
    char ctx[300] = "";
    if (what) snprintf(ctx, sizeof ctx, " (needed for %s)", what);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s: %s%s", path, errno == ENOENT ? "missing" : "cannot read",
                 strerror(errno), ctx);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, not an HDF5 file%s", path, ctx);
        return -1;
    }
    if (H5Fis_hdf5(path) <= 0) {
        snprintf(err, errlen, "%s: not an HDF5 file (%lld bytes without an HDF5 signature)%s", path,
                 (long long)st.st_size, ctx);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f >= 0) return f;
    open_diag d = {0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, diag_cb, &d);
    if (d.truncated && d.stored_eof)
        snprintf(err, errlen, "%s: truncated HDF5 file: %lld bytes on disk, its superblock records %llu%s",
                 path, (long long)st.st_size, d.stored_eof, ctx);
    else if (d.truncated)
        snprintf(err, errlen, "%s: truncated HDF5 file (%lld bytes on disk)%s", path,
                 (long long)st.st_size, ctx);
    else
        snprintf(err, errlen, "%s: HDF5 cannot open the file: %s%s", path,
                 d.inner[0] ? d.inner : "unknown reason", ctx);
    return -1;
}

hid_t zt_h5_open_ro(const char *path, const char *what, char *err, size_t errlen) {
    hid_t f;
    ZT_H5_QUIET(f = open_ro(path, what, err, errlen));
    return f;
}

/* ---- writing ----------------------------------------------------------- */

hid_t zt_h5_create(const char *path) {
    hid_t fcpl, f;
    ZT_H5_QUIET(fcpl = H5Pcreate(H5P_FILE_CREATE);
                f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
                H5Pclose(fcpl));
    return f;
}

static int write_u8(hid_t file, const char *name, int rank, const hsize_t *dims, const uint8_t *data) {
    int rc = -1;
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t d = H5Dcreate2(file, name, H5T_STD_U8LE, sp, lcpl, dcpl, H5P_DEFAULT);
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    if (d >= 0 && (total == 0 || H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0))
        rc = 0;
    if (d >= 0) H5Dclose(d);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(sp);
    return rc;
}

int zt_h5_write_u8(hid_t file, const char *name, int rank, const hsize_t *dims, const uint8_t *data) {
    int rc;
    ZT_H5_QUIET(rc = write_u8(file, name, rank, dims, data));
    return rc;
}

static int attr(hid_t obj, const char *name, hid_t type, int n, const void *buf) {
    hsize_t d = (hsize_t)(n < 0 ? 1 : n);
    hid_t sp = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &d, NULL);
    if (sp < 0) return -1;
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, type, buf) >= 0 ? 0 : -1;
    if (a >= 0 && H5Aclose(a) < 0) rc = -1;
    H5Sclose(sp);
    return rc;
}

int zt_h5_attr(hid_t obj, const char *name, hid_t type, int n, const void *buf) {
    int rc;
    ZT_H5_QUIET(rc = attr(obj, name, type, n, buf));
    return rc;
}

int zt_h5_attr_str(hid_t obj, const char *name, const char *s, size_t len) {
    char one = 0;
    int rc = -1;
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    H5Tset_size(t, len ? len : 1);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    rc = zt_h5_attr(obj, name, t, -1, len ? s : &one);
    H5Tclose(t);
    return rc;
}

/* ---- reading attributes ------------------------------------------------ */

/* Opens a one-element attribute: its id, type and class, or -1 if it is
 * missing or not a single element. */
static hid_t attr_open1(hid_t obj, const char *name, hid_t *type) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t sp = H5Aget_space(a);
    int one = sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1;
    if (sp >= 0) H5Sclose(sp);
    if (!one) { H5Aclose(a); return -1; }
    *type = H5Aget_type(a);
    return a;
}

/* Copies L bytes of s into buf[n] with a NUL; the length, or -2 if cut. */
static long put_str(char *buf, size_t n, const char *s, size_t L) {
    long rc = (long)L;
    if (L + 1 > n) { L = n - 1; rc = -2; }
    memcpy(buf, s, L);
    buf[L] = 0;
    return rc;
}

static long read_attr_str(hid_t obj, const char *name, char *buf, size_t n, int trim) {
    long rc = -1;
    hid_t t, a = attr_open1(obj, name, &t);
    if (a < 0) return -1;
    if (H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));   /* h5py writes UTF-8; HDF5 will not convert between sets */
        char *s = NULL;
        if (H5Aread(a, mt, &s) >= 0 && s) {
            rc = put_str(buf, n, s, strlen(s));
            H5free_memory(s);
        }
        H5Tclose(mt);
    } else if (H5Tget_class(t) == H5T_STRING) {
        size_t L = H5Tget_size(t);
        char *tmp = malloc(L + 1);
        if (tmp && H5Aread(a, t, tmp) >= 0) {
            /* trim: drop the NUL padding at the end; interior bytes are
             * kept either way (the vocab is binary-safe) */
            while (trim && L > 0 && tmp[L - 1] == 0) L--;
            rc = put_str(buf, n, tmp, L);
        }
        free(tmp);
    }
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

long zt_h5_read_attr_str(hid_t obj, const char *name, char *buf, size_t n, int trim) {
    long rc;
    ZT_H5_QUIET(rc = read_attr_str(obj, name, buf, n, trim));
    return rc;
}

static int read_attr_i64(hid_t obj, const char *name, int64_t *v) {
    hid_t t, a = attr_open1(obj, name, &t);
    if (a < 0) return -1;
    int rc = H5Tget_class(t) == H5T_INTEGER && H5Aread(a, H5T_NATIVE_INT64, v) >= 0 ? 0 : -1;
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

int zt_h5_read_attr_i64(hid_t obj, const char *name, int64_t *v) {
    int rc;
    ZT_H5_QUIET(rc = read_attr_i64(obj, name, v));
    return rc;
}

/* ---- links ------------------------------------------------------------- */

static int exists(hid_t file, const char *path) {
    char buf[1024];
    size_t L = strlen(path);
    if (L == 0 || L >= sizeof buf) return 0;
    memcpy(buf, path, L + 1);
    for (size_t i = 1; i <= L; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        int ok = H5Lexists(file, buf, H5P_DEFAULT) > 0;
        if (ok && c == '/') {
            /* an intermediate component must be a group for the next lookup */
            hid_t g = H5Gopen2(file, buf, H5P_DEFAULT);
            if (g >= 0) H5Gclose(g);
            ok = g >= 0;
        }
        buf[i] = c;
        if (!ok) return 0;
    }
    return 1;
}

int zt_h5_exists(hid_t file, const char *path) {
    int rc;
    ZT_H5_QUIET(rc = exists(file, path));
    return rc;
}

/* ---- output files ------------------------------------------------------ */

hid_t zt_h5_begin(const char *path, char *tmp, size_t tmplen, char *err, size_t errlen) {
    if (zt_mkdir_parent(path) != 0) {
        int e = errno;
        const char *s = strrchr(path, '/');
        snprintf(err, errlen, "%s: cannot create folder %.*s: %s", path, (int)(s - path), path, strerror(e));
        return -1;
    }
    snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid());
    errno = 0;
    hid_t f = zt_h5_create(tmp);
    if (f < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot create the file%s%s", path, e ? ": " : "", e ? strerror(e) : "");
    }
    return f;
}

int zt_h5_commit(hid_t f, int bad, const char *tmp, const char *path, char *err, size_t errlen) {
    herr_t c;
    ZT_H5_QUIET(c = H5Fclose(f));
    if (c < 0) bad = 1;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        snprintf(err, errlen, "%s: writing the HDF5 file failed", path);
        return -1;
    }
    return 0;
}
