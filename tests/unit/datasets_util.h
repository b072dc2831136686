/* datasets_util.h — fixture helpers for the datasets tests: files written with
 * raw HDF5 calls (not the library under test), temp dirs, a known pattern. */
#ifndef DATASETS_UTIL_H
#define DATASETS_UTIL_H
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* mkdtemp under $TMPDIR or /tmp; out must hold 256 bytes. */
void fx_tmpdir(char *out);
void fx_rmtree(const char *dir);
/* path = dir + "/" + name */
void fx_path(char *out, size_t n, const char *dir, const char *name);

hid_t fx_create(const char *path);
/* Writes a dataset of file type ftype from memory type mtype (intermediate
 * groups created). */
void fx_write(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
              const void *data);
void fx_attr_str(hid_t obj, const char *name, const char *s, size_t len);
void fx_attr_vlen_str(hid_t obj, const char *name, const char *s);
void fx_attr_i32(hid_t obj, const char *name, int32_t v);

/* Known pattern for the mnist fixture. */
static inline uint8_t fx_pix(uint64_t row, int p) {
    return (uint8_t)((row * 131u + (uint64_t)p * 7u + (row >> 3) + ((uint64_t)p * p >> 5)) & 255u);
}
static inline uint8_t fx_label(uint64_t row) { return (uint8_t)((row * 7u + 3u) % 10u); }
/* ... and for the text fixture (split 0 train, 1 val). */
static inline uint8_t fx_tok(int split, uint64_t i, int V) {
    return (uint8_t)((i * 13u + i / 7u + (uint64_t)split * 5u) % (uint64_t)V);
}

/* A valid mnist file with n_train / n_test rows (n_test 0: no /test group). */
void fx_mnist(const char *path, uint64_t n_train, uint64_t n_test);
/* A valid text file with vocab bytes 'a'.. of size V. */
void fx_text(const char *path, uint64_t n_train, uint64_t n_val, int V);

/* stderr (fd 2) into the file dir/stderr.txt from begin to end; end restores
 * it and returns what was written (malloc'd, NUL-terminated). */
void  fx_stderr_begin(const char *dir);
char *fx_stderr_end(void);
/* Runs fn(argc, argv) in a child process (it may exit through zt_fatal) with
 * stdout and stderr into files under dir; returns its exit status (128+sig if
 * killed) and what it printed (malloc'd). */
int fx_run(int (*fn)(int, char **), int argc, char **argv, const char *dir, char **out, char **err);
/* The whole file (malloc'd, NUL-terminated; "" if absent). */
char *fx_slurp(const char *path);
#endif
