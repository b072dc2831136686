/* partition.c — the engine's communication plan (see partition.h). Built
 * once at engine creation: the counts never change while training, so no
 * collective of a micro-batch recomputes them or allocates. */
#include "partition.h"
#include <stdlib.h>   /* calloc, free */
#include <string.h>   /* memset */
#include "comm.h"     /* zt_part */

void zt_range_counts(size_t P, int W, size_t a, size_t n, size_t *counts) {
    memset(counts, 0, (size_t)W * sizeof *counts);
    if (n == 0 || W < 1) return;
    /* only the ranks whose partitions meet the range: q0..q1 */
    size_t chunk = (P + (size_t)W - 1) / (size_t)W;
    if (chunk == 0) return;
    size_t q0 = a / chunk, q1 = (a + n - 1) / chunk;
    if (q1 >= (size_t)W) q1 = (size_t)W - 1;
    for (size_t q = q0; q <= q1; q++) {
        size_t o, l; zt_part(P, W, (int)q, &o, &l);
        size_t lo = a > o ? a : o, hi = (a + n) < (o + l) ? (a + n) : (o + l);
        counts[q] = hi > lo ? hi - lo : 0;
    }
}

static void plan_range(zt_plan *p, zt_range_plan *rp, size_t off, size_t len, size_t *counts) {
    rp->off = off; rp->len = len; rp->counts = counts;
    zt_range_counts(p->P, p->W, off, len, counts);
    size_t before = 0;
    for (int q = 0; q < p->r; q++) before += counts[q];
    rp->my_lo = off + before; rp->my_len = counts[p->r];
}

void zt_plan_free(zt_plan *p) {
    if (!p) return;
    free(p->b_lo); free(p->b_hi); free(p->unit_bucket);
    if (p->bucket) free(p->bucket[0].counts);   /* one block for every table of counts */
    free(p->bucket); free(p->unit);
    memset(p, 0, sizeof *p);
}

int zt_plan_init(zt_plan *p, size_t P, int W, int r, int U, const size_t *unit_off,
                 const size_t *unit_len, size_t cap, int with_units) {
    memset(p, 0, sizeof *p);
    p->P = P; p->W = W; p->r = r; p->U = U;
    if (cap < 1) cap = 1;
    size_t u1 = U > 0 ? (size_t)U : 1;   /* at most one bucket per unit */
    p->b_lo = calloc(u1, sizeof(int)); p->b_hi = calloc(u1, sizeof(int));
    p->unit_bucket = calloc(u1, sizeof(int));
    p->bucket = calloc(u1, sizeof *p->bucket);
    if (with_units) p->unit = calloc(u1, sizeof *p->unit);
    size_t nranges = u1 * (with_units ? 2 : 1);
    size_t *counts = calloc(nranges * (size_t)W, sizeof *counts);
    if (!p->b_lo || !p->b_hi || !p->unit_bucket || !p->bucket || (with_units && !p->unit) || !counts) {
        free(counts); zt_plan_free(p); return -1;
    }
    p->bucket[0].counts = counts;   /* owner of the block until a plan_range points there */
    int hi = U - 1; size_t acc = 0;
    for (int u = U - 1; u >= 0; u--) {
        acc += unit_len[u];
        if (acc >= cap || u == 0) {
            int b = p->nb++;
            p->b_lo[b] = u; p->b_hi[b] = hi;
            size_t off = unit_off[u], len = unit_off[hi] + unit_len[hi] - unit_off[u];
            plan_range(p, &p->bucket[b], off, len, counts + (size_t)b * (size_t)W);
            for (int v = u; v <= hi; v++) p->unit_bucket[v] = b;
            if (len > p->max_bucket) p->max_bucket = len;
            if (p->bucket[b].my_len > p->max_my_bucket) p->max_my_bucket = p->bucket[b].my_len;
            hi = u - 1; acc = 0;
        }
    }
    for (int u = 0; u < U; u++) {
        if (unit_len[u] > p->max_unit) p->max_unit = unit_len[u];
        if (with_units)
            plan_range(p, &p->unit[u], unit_off[u], unit_len[u], counts + (u1 + (size_t)u) * (size_t)W);
    }
    p->bytes = 3 * u1 * sizeof(int) + u1 * sizeof *p->bucket + (with_units ? u1 * sizeof *p->unit : 0)
             + nranges * (size_t)W * sizeof *counts;
    return 0;
}
