/* h5util.c — HDF5 helpers for datasets/ (see zt_h5util.h). */
#include "zt_h5util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

hid_t zt_h5_create(const char *path) {
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    return f;
}

int zt_h5_write_u8(hid_t file, const char *name, int rank, const hsize_t *dims,
                   const uint8_t *data) {
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

static int attr_write(hid_t obj, const char *name, hid_t ftype, hid_t mtype, hid_t sp,
                      const void *v) {
    int rc = -1;
    hid_t a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && H5Awrite(a, mtype, v) >= 0) rc = 0;
    if (a >= 0) H5Aclose(a);
    return rc;
}

int zt_h5_attr_str(hid_t obj, const char *name, const char *s, size_t len) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len ? len : 1);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t sp = H5Screate(H5S_SCALAR);
    char one = 0;
    int rc = attr_write(obj, name, t, t, sp, len ? s : &one);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

int zt_h5_attr_u64(hid_t obj, const char *name, uint64_t v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    int rc = attr_write(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, sp, &v);
    H5Sclose(sp);
    return rc;
}

int zt_h5_attr_i32(hid_t obj, const char *name, int32_t v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    int rc = attr_write(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT32, sp, &v);
    H5Sclose(sp);
    return rc;
}

int zt_h5_attr_u64v(hid_t obj, const char *name, const uint64_t *v, hsize_t n) {
    hid_t sp = H5Screate_simple(1, &n, NULL);
    int rc = attr_write(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, sp, v);
    H5Sclose(sp);
    return rc;
}

long zt_h5_read_attr_str(hid_t obj, const char *name, char *buf, size_t n, int trim) {
    long rc = -1;
    htri_t ex;
    H5E_BEGIN_TRY { ex = H5Aexists(obj, name); } H5E_END_TRY;
    if (ex <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    if (H5Tget_class(t) == H5T_STRING && H5Sget_simple_extent_npoints(sp) == 1) {
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            char *s = NULL;
            if (H5Aread(a, mt, &s) >= 0 && s) {
                size_t L = strlen(s);
                rc = (long)L;
                if (L + 1 > n) { L = n - 1; rc = -2; }
                memcpy(buf, s, L);
                buf[L] = 0;
                H5free_memory(s);
            }
            H5Tclose(mt);
        } else {
            size_t L = H5Tget_size(t);
            char *tmp = malloc(L + 1);
            hid_t mt = H5Tcopy(t);
            if (tmp && H5Aread(a, mt, tmp) >= 0) {
                tmp[L] = 0;
                /* trim: drop the NUL padding at the end; interior bytes are
                 * kept either way (the vocab is binary-safe) */
                while (trim && L > 0 && tmp[L - 1] == 0) L--;
                rc = (long)L;
                if (L + 1 > n) { L = n - 1; rc = -2; }
                memcpy(buf, tmp, L);
                buf[L] = 0;
            }
            H5Tclose(mt);
            free(tmp);
        }
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

int zt_h5_read_attr_i64(hid_t obj, const char *name, int64_t *v) {
    int rc = -1;
    htri_t ex;
    H5E_BEGIN_TRY { ex = H5Aexists(obj, name); } H5E_END_TRY;
    if (ex <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    if (H5Tget_class(t) == H5T_INTEGER && H5Sget_simple_extent_npoints(sp) == 1 &&
        H5Aread(a, H5T_NATIVE_INT64, v) >= 0)
        rc = 0;
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

int zt_h5_exists(hid_t file, const char *path) {
    char buf[1024];
    size_t L = strlen(path);
    if (L == 0 || L >= sizeof buf) return 0;
    memcpy(buf, path, L + 1);
    for (size_t i = 1; i <= L; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            htri_t ex;
            H5E_BEGIN_TRY { ex = H5Lexists(file, buf, H5P_DEFAULT); } H5E_END_TRY;
            buf[i] = c;
            if (ex <= 0) return 0;
            if (c == '/') {
                /* intermediate component must be a group for the next lookup */
                buf[i] = 0;
                hid_t g;
                H5E_BEGIN_TRY { g = H5Gopen2(file, buf, H5P_DEFAULT); } H5E_END_TRY;
                if (g >= 0) H5Gclose(g);
                buf[i] = '/';
                if (g < 0) return 0;
            }
        }
    }
    return 1;
}

void zt_h5_tmp_path(const char *path, char *tmp, size_t n) {
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
}

int zt_h5_commit(hid_t f, int bad, const char *tmp, const char *path, char *err, size_t errlen) {
    if (H5Fclose(f) < 0) bad = 1;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        snprintf(err, errlen, "%s: writing the HDF5 file failed", path);
        return -1;
    }
    return 0;
}
