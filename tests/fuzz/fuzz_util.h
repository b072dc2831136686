/* fuzz_util.h — helpers shared by the libFuzzer targets in tests/fuzz: a
 * private scratch directory per process and whole-file write/read. The
 * targets hand our code real files because the APIs under test (config,
 * dataset, checkpoint) open paths, as the trainer does. */
#ifndef ZT_FUZZ_UTIL_H
#define ZT_FUZZ_UTIL_H
#include <stddef.h>   /* size_t */
#include <stdint.h>   /* uint8_t */

/* The scratch dir ("/dev/shm/zt-fuzz-<target>-<pid>", or under /tmp when
 * /dev/shm is missing), created on first use and removed at exit. */
const char *fz_dir(const char *target);
/* Writes n bytes to path (truncating); aborts on failure: a harness that
 * cannot write its input would test nothing. */
void fz_write(const char *path, const void *d, size_t n);
/* Reads a whole file into a malloc'd buffer; aborts if it cannot. */
uint8_t *fz_read(const char *path, size_t *n);
#endif
