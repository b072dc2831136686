/* bench_util.h — what the checkpoint benches (ckpt_bench.c, ckpt_scale.c)
 * share: a monotonic clock, a fatal error naming the program, and ZeRO's
 * partition of a flat buffer (trainer/partition.c's zt_part: equal chunks of
 * ceil(n/W), the last ones short or empty). Header-only: each bench is one
 * file plus the checkpoint library. */
#ifndef ZT_BENCH_UTIL_H
#define ZT_BENCH_UTIL_H
#define _GNU_SOURCE
#include <errno.h>    /* program_invocation_short_name */
#include <stdint.h>   /* uint64_t */
#include <stdio.h>    /* fprintf */
#include <stdlib.h>   /* exit */
#include <time.h>     /* clock_gettime */

static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline void die(const char *what, const char *err) {
    fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, err);
    exit(1);
}

/* rank r's [lo, hi) of n elements over W ranks */
static inline void part(uint64_t n, int W, int r, uint64_t *lo, uint64_t *hi) {
    uint64_t chunk = (n + (uint64_t)W - 1) / (uint64_t)W, o = (uint64_t)r * chunk;
    if (o > n) o = n;
    *lo = o;
    *hi = o + chunk > n ? n : o + chunk;
}
#endif
