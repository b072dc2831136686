/* engine_exact.c — the fixed-point sums of train.exact (trainer/exact.c)
 * against a float64 reference, on adversarial terms: values spanning 2^-40 to
 * 2^20 inside a term, exact cancellations, zeros, denormals, the largest
 * float; every grouping and order of the terms (as W ranks would split them)
 * gives the same bits; too wide a spread of scales is reported, never wrapped.
 * The reference: the terms summed in double (its own rounding, <= K 2^-53 of
 * the largest term, is far below the fixed-point bound checked). */
#include <criterion/criterion.h>
#include <float.h>    /* FLT_MAX, FLT_TRUE_MIN */
#include <math.h>     /* ldexp, fabs, nextafterf */
#include <stdlib.h>   /* calloc, free */
#include <string.h>   /* memcmp, memset */
#include "exact.h"

#define K 7          /* terms (micro-batches) */
#define N 4096       /* elements per term */

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }
static double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

/* term i: magnitudes 2^-40 .. 2^20 (log-uniform), random signs, zeros,
 * denormals, and element 0..3 cancelling exactly between terms 0 and 1 */
static void make_terms(float t[K][N]) {
    for (int i = 0; i < K; i++)
        for (int j = 0; j < N; j++) {
            int kind = (int)(rnd() % 16);
            float v;
            if (kind == 0) v = 0;
            else if (kind == 1) v = (float)(FLT_TRUE_MIN * (double)(1 + rnd() % 1000));   /* denormal */
            else v = (float)ldexp(1 + unif(), (int)(rnd() % 61) - 40);
            t[i][j] = (rnd() & 1) ? -v : v;
        }
    for (int j = 0; j < 4; j++) { t[0][j] = 1048576.0f * (j + 1); t[1][j] = -t[0][j]; }
    t[2][5] = 1048575.9f; t[3][5] = -1048575.9f;   /* cancellation at the top of the range */
}

/* sum terms idx[0..n) into acc/scale (one "rank") */
static void local_sum(float t[K][N], const int *idx, int n, int64_t *acc, zt_fx_scale *sc) {
    *sc = zt_fx_empty();
    memset(acc, 0, N * sizeof *acc);
    for (int i = 0; i < n; i++)
        cr_assert_eq(zt_fx_accumulate(acc, sc, t[idx[i]], N, K), ZT_FX_OK);
}

/* "W ranks": groups of terms summed locally, scales agreed (merge = the
 * all-reduce MAX), sums shifted to the agreed lsb and added as integers
 * (= the int64 SUM all-reduce), converted once */
static void grouped_sum(float t[K][N], const int *perm, const int *sizes, int W, float *out) {
    int64_t *acc = calloc((size_t)W * N, sizeof *acc), *tot = calloc(N, sizeof *tot);
    zt_fx_scale sc[K], g = zt_fx_empty();
    int o = 0;
    for (int r = 0; r < W; r++) { local_sum(t, perm + o, sizes[r], acc + (size_t)r * N, &sc[r]); o += sizes[r]; }
    for (int r = 0; r < W; r++) g = zt_fx_merge(g, sc[r]);
    cr_assert(zt_fx_fits(g, K));
    for (int r = W - 1; r >= 0; r--) {   /* reverse order: integer sums do not care */
        if (zt_fx_is_empty(sc[r])) continue;
        zt_fx_shift(acc + (size_t)r * N, N, sc[r].lsb - g.lsb);
        zt_fx_add_shifted(tot, 0, acc + (size_t)r * N, 0, N);
    }
    zt_fx_to_float(tot, N, g.lsb, out);
    free(acc); free(tot);
}

Test(exact, any_grouping_same_bits_and_float64_error_bound) {
    static float t[K][N], ref32[N], got[N];
    make_terms(t);
    int id[K] = { 0, 1, 2, 3, 4, 5, 6 };
    int one[1] = { K };
    grouped_sum(t, id, one, 1, ref32);                 /* W = 1, in order */
    /* W = 2..7 with uneven splits and shuffled order: bit-identical */
    int splits[][K] = { { 4, 3 }, { 3, 2, 2 }, { 2, 2, 2, 1 }, { 2, 2, 1, 1, 1 }, { 1, 1, 1, 1, 1, 2 }, { 1, 1, 1, 1, 1, 1, 1 } };
    for (int s = 0; s < 6; s++) {
        int perm[K];
        for (int i = 0; i < K; i++) perm[i] = i;
        for (int i = K - 1; i > 0; i--) { int j = (int)(rnd() % (uint64_t)(i + 1)), x = perm[i]; perm[i] = perm[j]; perm[j] = x; }
        grouped_sum(t, perm, splits[s], s + 2, got);
        cr_expect(memcmp(ref32, got, sizeof got) == 0, "W=%d grouping changed the bits", s + 2);
    }
    /* error against float64: each term rounds at half its own lsb, then one
     * conversion to float (through double: allow one float ulp) */
    double bound_terms = 0;
    for (int i = 0; i < K; i++) { zt_fx_scale s; zt_fx_term_scale(t[i], N, &s); bound_terms += ldexp(0.5, s.lsb); }
    double worst = 0;
    for (int j = 0; j < N; j++) {
        double r = 0;
        for (int i = 0; i < K; i++) r += (double)t[i][j];   /* error <= K 2^-53 |max|: far below the bound */
        double lim = bound_terms + fabs(r) * 0x1p-23 + (double)FLT_TRUE_MIN;
        double err = fabs((double)ref32[j] - r);
        cr_expect(err <= lim, "element %d: fixed point %.17g, float64 %.17g, error %.3g > bound %.3g",
                  j, (double)ref32[j], r, err, lim);
        if (err / (bound_terms + fabs(r) * 0x1p-24) > worst) worst = err / (bound_terms + fabs(r) * 0x1p-24);
    }
    /* elements 0..3 cancel exactly between terms 0 and 1 (same scale, opposite
     * integers): they equal the sum of terms 2..6 alone, bit for bit */
    static float rest[N];
    int five[1] = { K - 2 };
    grouped_sum(t, id + 2, five, 1, rest);
    cr_expect(memcmp(ref32, rest, 4 * sizeof(float)) == 0, "exact cancellation left a residue");
    cr_log_info("worst error / bound: %.3f; sum of the terms' half-lsb %.3g", worst, bound_terms);
}

Test(exact, zeros_denormals_and_the_largest_float) {
    float z[N]; memset(z, 0, sizeof z);
    int64_t acc[N]; zt_fx_scale sc = zt_fx_empty();
    cr_assert_eq(zt_fx_accumulate(acc, &sc, z, N, K), ZT_FX_OK);
    cr_expect(zt_fx_is_empty(sc), "an all-zero term leaves the sum empty");
    /* denormals only: lsb below 2^-149, so quantization is exact and so is the sum */
    float d[N], e[N], out[N];
    for (int j = 0; j < N; j++) { d[j] = FLT_TRUE_MIN * (float)(j % 97); e[j] = -FLT_TRUE_MIN * (float)(j % 89); }
    cr_assert_eq(zt_fx_accumulate(acc, &sc, d, N, K), ZT_FX_OK);
    cr_assert_eq(zt_fx_accumulate(acc, &sc, e, N, K), ZT_FX_OK);
    zt_fx_to_float(acc, N, sc.lsb, out);
    for (int j = 0; j < N; j++)
        cr_expect(out[j] == (float)((double)d[j] + (double)e[j]), "denormal sum, element %d", j);
    /* the largest float: FLT_MAX and -FLT_MAX cancel exactly; FLT_MAX + 1 is FLT_MAX */
    float big[2] = { FLT_MAX, 1.0f }, neg[2] = { -FLT_MAX, FLT_MAX }, o2[2];
    int64_t a2[2]; zt_fx_scale s2 = zt_fx_empty();
    cr_assert_eq(zt_fx_accumulate(a2, &s2, big, 2, 2), ZT_FX_OK);
    cr_expect_eq(s2.e, 128);
    cr_assert_eq(zt_fx_accumulate(a2, &s2, neg, 2, 2), ZT_FX_OK);
    zt_fx_to_float(a2, 2, s2.lsb, o2);
    cr_expect(o2[0] == 0.0f, "FLT_MAX - FLT_MAX = %g", (double)o2[0]);
    cr_expect(o2[1] == FLT_MAX, "1 + FLT_MAX = %g", (double)o2[1]);
    /* non-finite terms are refused, not summed */
    float bad[3] = { 1, NAN, 2 }, inf[2] = { INFINITY, 0 };
    cr_expect_eq(zt_fx_accumulate(a2, &s2, bad, 3, 2), ZT_FX_NONFINITE);
    cr_expect_eq(zt_fx_accumulate(a2, &s2, inf, 2, 2), ZT_FX_NONFINITE);
}

Test(exact, overflow_is_reported_never_wrapped) {
    /* terms whose scales differ by 2^60 (2^20 vs 2^-40) cannot share one int64
     * lsb: the second accumulate must refuse and leave the sum untouched */
    float hi[4] = { 1048576.0f, -3.0f, 0.5f, 0 }, lo[4] = { 0x1p-40f, -0x1p-41f, 0, 0x1p-45f };
    int64_t acc[4], keep[4]; zt_fx_scale sc = zt_fx_empty();
    cr_assert_eq(zt_fx_accumulate(acc, &sc, hi, 4, 8), ZT_FX_OK);
    memcpy(keep, acc, sizeof acc);
    zt_fx_scale before = sc;
    cr_expect_eq(zt_fx_accumulate(acc, &sc, lo, 4, 8), ZT_FX_OVERFLOW);
    cr_expect(memcmp(acc, keep, sizeof acc) == 0 && sc.e == before.e && sc.lsb == before.lsb,
              "a refused term changed the sum");
    /* the same check on merged scales (what ranks agree on): order-free */
    zt_fx_scale a, b;
    zt_fx_term_scale(hi, 4, &a); zt_fx_term_scale(lo, 4, &b);
    cr_expect(!zt_fx_fits(zt_fx_merge(a, b), 8) && !zt_fx_fits(zt_fx_merge(b, a), 8));
    /* the limit itself: a spread of 62 - 32 - log2(terms) binary orders fits, one more does not */
    zt_fx_scale top = { 10, 10 - ZT_FX_BITS };
    zt_fx_scale ok = { 10 - 27, 10 - 27 - ZT_FX_BITS }, over = { 10 - 28, 10 - 28 - ZT_FX_BITS };
    cr_expect(zt_fx_fits(zt_fx_merge(top, ok), 8), "spread 27 with 8 terms fits (3 + 27 + 32 = 62)");
    cr_expect(!zt_fx_fits(zt_fx_merge(top, over), 8), "spread 28 with 8 terms does not");
    /* at the limit, the worst case really is the largest int64 magnitude the bound allows */
    float m[1] = { nextafterf(0x1p10f, 0) };   /* just below 2^10 = 2^e */
    int64_t q[1]; zt_fx_quantize(m, 1, top.lsb, 27, q);
    cr_expect(q[0] * 8.0 < 0x1p63, "8 such terms at the finest lsb stay below 2^63");
}

Test(exact, sum_of_squares_any_split) {
    static float g[N];
    float t[K][N]; make_terms(t);
    memcpy(g, t[0], sizeof g);
    double ref = 0;
    for (int j = 0; j < N; j++) ref += (double)g[j] * g[j];
    int e = zt_fx_max_exponent(g, N), lsb2 = zt_fx_sumsq_lsb(e);
    int64_t w[ZT_FX_SQ_WORDS];
    zt_fx_sumsq(g, N, lsb2, w);
    double all = zt_fx_sumsq_value(w, lsb2);
    cr_expect(fabs(all - ref) <= ref * N * 0x1p-59 + ref * 0x1p-52, "norm² %.17g vs float64 %.17g", all, ref);
    /* split at an odd place, as another W's partitions would: the same bits */
    int64_t a[ZT_FX_SQ_WORDS], b[ZT_FX_SQ_WORDS];
    zt_fx_sumsq(g, 1237, lsb2, a);
    zt_fx_sumsq(g + 1237, N - 1237, lsb2, b);
    for (int i = 0; i < ZT_FX_SQ_WORDS; i++) a[i] += b[i];
    double split = zt_fx_sumsq_value(a, lsb2);
    cr_expect(memcmp(&split, &all, sizeof all) == 0, "split %.17g vs whole %.17g", split, all);
}
