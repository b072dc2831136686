/* zt_h5util.h — small HDF5 and file helpers shared by prep_*.c, loader.c and
 * data_cmd.c. Internal to datasets/ (zt_mkdir_p / zt_mkdir_parent are public,
 * in zt_data.h).
 *
 * Errors: every function here runs with HDF5's automatic error printing off
 * (HDF5 would print a 16-line stack per failure); callers turn a failure into
 * one line naming the file. ZT_H5_QUIET does the same for a caller's block. */
#ifndef ZT_H5UTIL_H
#define ZT_H5UTIL_H
#include <hdf5.h>     /* hid_t, hsize_t, H5E_BEGIN_TRY */
#include <stddef.h>   /* size_t */
#include <stdint.h>   /* uint8_t, int64_t */

/* Runs stmt with HDF5's automatic error printing off for this thread, and
 * restores what was there before (H5E_BEGIN_TRY saves H5Eget_auto2 and sets
 * H5Eset_auto2(H5E_DEFAULT, NULL, NULL)). A library must not change the
 * process-wide setting behind its caller's back; the CLI does that itself. */
#define ZT_H5_QUIET(stmt) do { H5E_BEGIN_TRY { stmt; } H5E_END_TRY; } while (0)

/* "uint8", "int32", "float32", "string", ... for an HDF5 datatype. */
void zt_h5_type_name(hid_t type, char *buf, size_t n);
/* 1 if type is an unsigned 1-byte integer. */
int  zt_h5_is_u8(hid_t type);
/* "[9000,28,28]" */
void zt_h5_dims_str(int rank, const hsize_t *dims, char *buf, size_t n);

/* Opens path read-only. On failure returns < 0 and writes one line that says
 * which of these it is: "<path>: missing: No such file or directory",
 * "<path>: not an HDF5 file", "<path>: truncated HDF5 file: 1234 bytes on
 * disk, its superblock records 2468", or HDF5's own innermost reason. `what`
 * (may be NULL) is appended as " (needed for <what>)". */
hid_t zt_h5_open_ro(const char *path, const char *what, char *err, size_t errlen);

/* Creates a file for writing with object time tracking off (so the same
 * input gives the same bytes). Returns <0 on failure. */
hid_t zt_h5_create(const char *path);
/* Writes a contiguous uint8 dataset, creating intermediate groups. */
int  zt_h5_write_u8(hid_t file, const char *name, int rank, const hsize_t *dims,
                    const uint8_t *data);
/* An attribute of `type` on obj (file or group id): n < 0 a scalar, else a
 * 1-D array of n elements read from buf (memory type = file type, native
 * byte order). Strings are fixed-length, NULLPAD, exactly len bytes
 * (binary-safe). All return 0 or -1. */
int  zt_h5_attr(hid_t obj, const char *name, hid_t type, int n, const void *buf);
int  zt_h5_attr_str(hid_t obj, const char *name, const char *s, size_t len);

/* Reads a string attribute (fixed or variable length) into buf (NUL added).
 * Fixed-length: all bytes of the type, less trailing NULs if trim. Returns
 * its length in bytes, or -1 if missing / not a string, -2 if it does not fit
 * (buf holds the first n-1 bytes). */
long zt_h5_read_attr_str(hid_t obj, const char *name, char *buf, size_t n, int trim);
/* Reads an integer attribute of any integer type. 0 ok, -1 missing/not int. */
int  zt_h5_read_attr_i64(hid_t obj, const char *name, int64_t *v);

/* 1 if the absolute path (e.g. "/train/labels") names an existing link,
 * checking each component. */
int  zt_h5_exists(hid_t file, const char *path);

/* Output files: zt_h5_begin makes the parent folders of path, then creates
 * "<path>.tmp.<pid>" (its name in tmp) for writing; on failure returns < 0
 * with "<path>: cannot create folder D: <reason>" or "<path>: cannot create
 * the file: <reason>" in err. zt_h5_commit closes f and renames tmp over path;
 * if `bad` or anything fails it removes tmp and writes "<path>: writing the
 * HDF5 file failed". 0 or -1. */
hid_t zt_h5_begin(const char *path, char *tmp, size_t tmplen, char *err, size_t errlen);
int  zt_h5_commit(hid_t f, int bad, const char *tmp, const char *path, char *err, size_t errlen);
#endif
