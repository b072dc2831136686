/* zt_h5util.h — small HDF5 helpers shared by prep_*.c, loader.c and
 * data_cmd.c. Internal to datasets/. */
#ifndef ZT_H5UTIL_H
#define ZT_H5UTIL_H
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* "uint8", "int32", "float32", "string", ... for an HDF5 datatype. */
void zt_h5_type_name(hid_t type, char *buf, size_t n);
/* 1 if type is an unsigned 1-byte integer. */
int  zt_h5_is_u8(hid_t type);
/* "[9000,28,28]" */
void zt_h5_dims_str(int rank, const hsize_t *dims, char *buf, size_t n);

/* Creates a file for writing with object time tracking off (so the same
 * input gives the same bytes). Returns <0 on failure. */
hid_t zt_h5_create(const char *path);
/* Writes a contiguous uint8 dataset, creating intermediate groups. */
int  zt_h5_write_u8(hid_t file, const char *name, int rank, const hsize_t *dims,
                    const uint8_t *data);
/* Attributes on an object (file or group id). Strings are fixed-length,
 * NULLPAD, exactly len bytes (binary-safe). */
int  zt_h5_attr_str(hid_t obj, const char *name, const char *s, size_t len);
int  zt_h5_attr_u64(hid_t obj, const char *name, uint64_t v);
int  zt_h5_attr_i32(hid_t obj, const char *name, int32_t v);
int  zt_h5_attr_u64v(hid_t obj, const char *name, const uint64_t *v, hsize_t n);

/* Reads a string attribute (fixed or variable length) into buf (NUL added).
 * Fixed-length: all bytes of the type, less trailing NULs if trim. Returns
 * its length in bytes, or -1 if missing / not a string, -2 if it does not fit
 * (buf holds the first n-1 bytes). */
long zt_h5_read_attr_str(hid_t obj, const char *name, char *buf, size_t n, int trim);
/* Reads an integer attribute of any integer type. 0 ok, -1 missing/not int. */
int  zt_h5_read_attr_i64(hid_t obj, const char *name, int64_t *v);

/* 1 if the absolute path (e.g. "/train/labels") names an existing link,
 * checking each component; never prints HDF5 error stacks. */
int  zt_h5_exists(hid_t file, const char *path);

/* Writes to "<path>.tmp.<pid>" and renames over path on success. */
void zt_h5_tmp_path(const char *path, char *tmp, size_t n);
/* Close f and rename tmp over path; if `bad` or anything fails, remove tmp and
 * write "<path>: writing the HDF5 file failed" to err. 0 or -1. */
int  zt_h5_commit(hid_t f, int bad, const char *tmp, const char *path, char *err, size_t errlen);
#endif
