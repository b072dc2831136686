/* partition.h — how the engine's collectives split the flat buffer, planned
 * once per engine: pure functions of (P, W, r, unit layout, bucket size), so
 * they are unit-tested at any W without processes (tests/unit/engine_plan.c).
 *
 * Rank q owns the flat partition zt_part(P, W, q) (comm.h). A bucket or a
 * unit is a range [off, off+len) of the flat buffer; its reduce-scatter /
 * all-gather moves counts[q] = |range ∩ partition(q)| elements to / from rank
 * q, rank q's piece starting displs[q] = counts[0]+...+counts[q-1] elements
 * into the range (the partitions are contiguous and in rank order). */
#ifndef ZT_PARTITION_H
#define ZT_PARTITION_H
#include <stddef.h>   /* size_t */

/* One range and its split over the W partitions. */
typedef struct {
    size_t  off, len;       /* flat range */
    size_t *counts;         /* [W] elements of the range in rank q's partition */
    size_t  my_lo, my_len;  /* this rank's overlap: flat offset and length */
} zt_range_plan;

typedef struct {
    size_t P; int W, r;
    int U;                  /* units of the model */
    /* buckets of consecutive units, built from the last unit backwards (the
     * order backward completes them), closed once they reach the cap */
    int nb;
    int *b_lo, *b_hi;       /* [nb] unit range, inclusive */
    int *unit_bucket;       /* [U] bucket of each unit */
    zt_range_plan *bucket;  /* [nb] */
    zt_range_plan *unit;    /* [U] when planned with units (ZeRO-3), else NULL */
    size_t max_bucket;      /* longest bucket (elements) */
    size_t max_unit;        /* longest unit */
    size_t max_my_bucket;   /* longest piece of any bucket this rank receives */
    size_t bytes;           /* host bytes of these tables */
} zt_plan;

/* counts[q] = |[a, a+n) ∩ zt_part(P, W, q)| for q = 0..W-1. */
void zt_range_counts(size_t P, int W, size_t a, size_t n, size_t *counts);
/* Fill p for a model of U units (unit_off/unit_len: flat ranges, contiguous
 * and in order); cap: bucket size in elements (>= 1); with_units: also plan
 * every unit (ZeRO-3 gathers units). 0, or -1 when out of memory (p freed). */
int  zt_plan_init(zt_plan *p, size_t P, int W, int r, int U, const size_t *unit_off,
                  const size_t *unit_len, size_t cap, int with_units);
void zt_plan_free(zt_plan *p);
#endif
