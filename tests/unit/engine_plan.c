/* engine_plan.c — the engine's communication plan (trainer/partition.c) at
 * W = 1, 3, 1000 and 4096, without processes: buckets, per-rank counts and
 * this rank's share, checked against an independent element-by-element
 * ownership map (element i belongs to rank i / ceil(P/W), comm.h). */
#include <criterion/criterion.h>   /* Test, cr_assert */
#include <stdint.h>                /* uint64_t */
#include <stdlib.h>                /* calloc, free */
#include "comm.h"                  /* zt_part */
#include "partition.h"             /* zt_plan, zt_range_counts */

static const int Ws[] = {1, 3, 1000, 4096};

/* Owner of flat element i among W ranks over P elements. */
static int owner(size_t P, int W, size_t i) {
    size_t chunk = (P + (size_t)W - 1) / (size_t)W;
    return (int)(i / chunk);
}

/* Counts of [a, a+n) per rank, one element at a time. */
static void brute_counts(size_t P, int W, size_t a, size_t n, size_t *out) {
    for (int q = 0; q < W; q++) out[q] = 0;
    for (size_t i = a; i < a + n; i++) out[owner(P, W, i)]++;
}

/* counts and this rank's share of one range, against the brute-force map */
static void check_range(size_t P, int W, int r, size_t a, size_t n, const size_t *counts,
                        size_t my_lo, size_t my_len, size_t *scratch) {
    brute_counts(P, W, a, n, scratch);
    size_t sum = 0, before = 0;
    for (int q = 0; q < W; q++) {
        cr_assert_eq(counts[q], scratch[q], "P=%zu W=%d range [%zu,+%zu): rank %d count %zu, want %zu",
                     P, W, a, n, q, counts[q], scratch[q]);
        if (counts[q]) {   /* rank q's piece lies inside its partition */
            size_t o, l; zt_part(P, W, q, &o, &l);
            size_t s = a + sum;
            cr_assert(s >= o && s + counts[q] <= o + l, "P=%zu W=%d rank %d piece [%zu,+%zu) outside [%zu,+%zu)",
                      P, W, q, s, counts[q], o, l);
        }
        if (q < r) before += counts[q];
        sum += counts[q];
    }
    cr_assert_eq(sum, n, "P=%zu W=%d: counts sum to %zu, range has %zu", P, W, sum, n);
    cr_assert_eq(my_len, counts[r]);
    cr_assert_eq(my_lo, a + before, "rank %d share starts at %zu, displacement says %zu", r, my_lo, a + before);
}

Test(plan, range_counts) {
    const size_t Ps[] = {1, 7, 999, 1000, 1001, 4095, 4097, 10007, 65537};
    for (size_t wi = 0; wi < sizeof Ws / sizeof *Ws; wi++) {
        int W = Ws[wi];
        size_t *c = calloc((size_t)W, sizeof *c), *b = calloc((size_t)W, sizeof *b);
        cr_assert(c && b);
        for (size_t pi = 0; pi < sizeof Ps / sizeof *Ps; pi++) {
            size_t P = Ps[pi];
            uint64_t x = 88172645463325252ull ^ P ^ (uint64_t)W;
            for (int k = 0; k < 40; k++) {   /* whole, empty, single element, random ranges */
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                size_t a, n;
                if (k == 0) { a = 0; n = P; }
                else if (k == 1) { a = P / 2; n = 0; }
                else if (k == 2) { a = P - 1; n = 1; }
                else { a = (size_t)(x % P); n = (size_t)((x >> 20) % (P - a + 1)); }
                zt_range_counts(P, W, a, n, c);
                size_t before = 0;
                for (int q = 0; q < W / 2; q++) before += c[q];
                check_range(P, W, W / 2, a, n, c, a + before, c[W / 2], b);
            }
        }
        free(c); free(b);
    }
}

/* A model of U units with uneven lengths; P = their sum. */
static size_t make_units(int U, uint64_t seed, size_t *off, size_t *len) {
    size_t P = 0;
    for (int u = 0; u < U; u++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        off[u] = P; len[u] = 1 + (size_t)(seed % 3001);
        P += len[u];
    }
    return P;
}

/* Everything a plan promises, for rank r. */
static void check_plan(const zt_plan *p, size_t P, int W, int r, int U, const size_t *off, const size_t *len,
                       size_t cap, int with_units, size_t *scratch) {
    cr_assert(p->nb >= 1 && p->nb <= U);
    /* buckets: from the last unit backwards, contiguous, each closed at the cap */
    int expect_hi = U - 1;
    size_t maxb = 0, maxmy = 0, maxu = 0;
    for (int b = 0; b < p->nb; b++) {
        cr_assert_eq(p->b_hi[b], expect_hi, "bucket %d ends at unit %d, want %d", b, p->b_hi[b], expect_hi);
        cr_assert(p->b_lo[b] <= p->b_hi[b]);
        size_t acc = 0;
        for (int u = p->b_lo[b]; u <= p->b_hi[b]; u++) {
            cr_assert_eq(p->unit_bucket[u], b);
            acc += len[u];
        }
        const zt_range_plan *bp = &p->bucket[b];
        cr_assert_eq(bp->off, off[p->b_lo[b]]);
        cr_assert_eq(bp->len, acc);
        if (p->b_lo[b] > 0) {   /* closed because it reached the cap, not before */
            cr_assert(acc >= cap, "bucket %d closed at %zu < cap %zu", b, acc, cap);
            cr_assert(acc - len[p->b_lo[b]] < cap, "bucket %d should have closed one unit earlier", b);
        } else cr_assert_eq(b, p->nb - 1, "unit 0 closes the last bucket");
        check_range(P, W, r, bp->off, bp->len, bp->counts, bp->my_lo, bp->my_len, scratch);
        if (bp->len > maxb) maxb = bp->len;
        if (bp->my_len > maxmy) maxmy = bp->my_len;
        expect_hi = p->b_lo[b] - 1;
    }
    cr_assert_eq(expect_hi, -1, "buckets do not cover every unit");
    for (int u = 0; u < U; u++) {
        if (len[u] > maxu) maxu = len[u];
        if (with_units)
            check_range(P, W, r, off[u], len[u], p->unit[u].counts, p->unit[u].my_lo, p->unit[u].my_len, scratch);
    }
    cr_assert_null(with_units ? NULL : p->unit);
    cr_assert_eq(p->max_bucket, maxb);
    cr_assert_eq(p->max_my_bucket, maxmy);
    cr_assert_eq(p->max_unit, maxu);
    cr_assert(p->bytes >= (size_t)p->nb * (size_t)W * sizeof(size_t));
}

Test(plan, buckets_and_units) {
    enum { U = 23 };
    size_t off[U], len[U];
    size_t P = make_units(U, 1234567, off, len);
    const size_t caps[] = {1, 2500, 7000, (size_t)1 << 40};
    for (size_t wi = 0; wi < sizeof Ws / sizeof *Ws; wi++) {
        int W = Ws[wi];
        size_t *scratch = calloc((size_t)W, sizeof *scratch);
        const int ranks[] = {0, W / 2, W - 1};
        for (size_t ci = 0; ci < sizeof caps / sizeof *caps; ci++)
            for (int ri = 0; ri < 3; ri++)
                for (int wu = 0; wu <= 1; wu++) {
                    zt_plan p;
                    cr_assert_eq(zt_plan_init(&p, P, W, ranks[ri], U, off, len, caps[ci], wu), 0);
                    check_plan(&p, P, W, ranks[ri], U, off, len, caps[ci], wu, scratch);
                    zt_plan_free(&p);
                }
        free(scratch);
    }
}

/* Every rank's shares of every bucket, put together, cover the flat buffer
 * exactly once (what the reduce-scatters deliver into the gradient
 * partitions), and each share lies in that rank's partition. */
Test(plan, shares_tile_the_buffer) {
    enum { U = 9 };
    size_t off[U], len[U];
    size_t P = make_units(U, 99991, off, len);
    for (size_t wi = 0; wi < sizeof Ws / sizeof *Ws; wi++) {
        int W = Ws[wi];
        unsigned char *seen = calloc(P, 1);
        cr_assert(seen);
        for (int r = 0; r < W; r++) {
            zt_plan p;
            cr_assert_eq(zt_plan_init(&p, P, W, r, U, off, len, 4000, 0), 0);
            size_t o, l; zt_part(P, W, r, &o, &l);
            for (int b = 0; b < p.nb; b++) {
                const zt_range_plan *bp = &p.bucket[b];
                if (bp->my_len) cr_assert(bp->my_lo >= o && bp->my_lo + bp->my_len <= o + l);
                for (size_t i = bp->my_lo; i < bp->my_lo + bp->my_len; i++) seen[i]++;
            }
            zt_plan_free(&p);
        }
        for (size_t i = 0; i < P; i++) cr_assert_eq(seen[i], 1, "W=%d: element %zu delivered %d times", W, i, seen[i]);
        free(seen);
    }
}

/* More ranks than elements: most partitions are empty, nothing breaks. */
Test(plan, more_ranks_than_elements) {
    size_t off[3] = {0, 5, 6}, len[3] = {5, 1, 4};
    for (size_t wi = 0; wi < sizeof Ws / sizeof *Ws; wi++) {
        int W = Ws[wi];
        size_t *scratch = calloc((size_t)W, sizeof *scratch);
        for (int r = 0; r < W; r += (W > 16 ? W / 7 : 1)) {
            zt_plan p;
            cr_assert_eq(zt_plan_init(&p, 10, W, r, 3, off, len, 1, 1), 0);
            check_plan(&p, 10, W, r, 3, off, len, 1, 1, scratch);
            zt_plan_free(&p);
        }
        free(scratch);
    }
}
