/* exact.c — fixed-point sums for train.exact (see exact.h). Pure host code
 * over plain arrays: the engine calls it per tensor, the unit test against a
 * float64 reference. */
#include "exact.h"
#include <float.h>    /* FLT_MAX */
#include <math.h>     /* frexp, ldexp, fabsf, rint */
#include <string.h>   /* memcpy */

/* The per-element loops are compiled for AVX-512, AVX2 and baseline x86-64
 * and picked at load time, as the CPU op table's (ops_cpu.c). The results do
 * not depend on the pick: only IEEE adds/multiplies by powers of two, exact
 * integer ops and int64 -> double conversions, all correctly rounded. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(ZT_NO_CLONES)
#define ZT_FX_VEC __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("O3")))
#else
#define ZT_FX_VEC
#endif

int zt_fx_log2ceil(uint64_t n) {
    int b = 0;
    while (b < 64 && (1ull << b) < n) b++;
    return b;
}

int zt_fx_fits(zt_fx_scale s, uint64_t terms) {
    if (zt_fx_is_empty(s)) return 1;
    return zt_fx_log2ceil(terms ? terms : 1) + s.e - s.lsb <= 62;
}

ZT_FX_VEC int zt_fx_term_scale(const float *x, size_t n, zt_fx_scale *out) {
    float m = 0; int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        bad |= !(a <= FLT_MAX);   /* NaN fails every comparison */
        m = a > m ? a : m;
    }
    if (bad) return ZT_FX_NONFINITE;
    if (m == 0) { *out = zt_fx_empty(); return ZT_FX_OK; }
    int e; frexp((double)m, &e);   /* m = f * 2^e, f in [0.5, 1): every |x| < 2^e */
    out->e = e; out->lsb = e - ZT_FX_BITS;
    return ZT_FX_OK;
}

/* Round to nearest, ties to even, for |v| < 2^51: adding 1.5 * 2^52 leaves
 * the rounded integer in the low mantissa bits (SSE double arithmetic, the
 * default rounding mode). Vectorizes, unlike llrint. */
/* x * 2^s for s in [0, 62] without overflow (the callers' range check): a
 * shift of the two's-complement bits, which vectorizes (64-bit multiplies
 * do not before AVX-512) and is defined for negative x */
static inline int64_t shl(int64_t x, int s) { return (int64_t)((uint64_t)x << s); }

static inline int64_t rne(double v) {
    double t = v + 6755399441055744.0;
    int64_t b; memcpy(&b, &t, sizeof b);
    return b - 0x4338000000000000LL;
}

ZT_FX_VEC void zt_fx_quantize(const float *x, size_t n, int lsb, int shift, int64_t *q) {
    double s = ldexp(1.0, -lsb);                 /* power of two: x * s is exact */
    for (size_t i = 0; i < n; i++) q[i] = shl(rne((double)x[i] * s), shift);
}

ZT_FX_VEC void zt_fx_shift(int64_t *q, size_t n, int s) {
    for (size_t i = 0; i < n; i++) q[i] = shl(q[i], s);
}

ZT_FX_VEC void zt_fx_add_shifted(int64_t *acc, int sa, const int64_t *q, int sq, size_t n) {
    for (size_t i = 0; i < n; i++) acc[i] = shl(acc[i], sa) + shl(q[i], sq);
}

/* acc[i] = acc[i] * 2^sa + round(x[i] / 2^lsb) * 2^sq */
ZT_FX_VEC static void quantize_add(int64_t *acc, int sa, const float *x, size_t n, int lsb, int sq) {
    double s = ldexp(1.0, -lsb);
    for (size_t i = 0; i < n; i++) acc[i] = shl(acc[i], sa) + shl(rne((double)x[i] * s), sq);
}

int zt_fx_accumulate(int64_t *acc, zt_fx_scale *as, const float *x, size_t n, uint64_t terms) {
    zt_fx_scale t;
    int rc = zt_fx_term_scale(x, n, &t);
    if (rc) return rc;
    if (zt_fx_is_empty(t)) return ZT_FX_OK;
    zt_fx_scale m = zt_fx_merge(*as, t);
    if (!zt_fx_fits(m, terms)) return ZT_FX_OVERFLOW;
    if (zt_fx_is_empty(*as)) zt_fx_quantize(x, n, t.lsb, t.lsb - m.lsb, acc);
    else quantize_add(acc, as->lsb - m.lsb, x, n, t.lsb, t.lsb - m.lsb);
    *as = m;
    return ZT_FX_OK;
}

ZT_FX_VEC void zt_fx_to_float(const int64_t *q, size_t n, int lsb, float *out) {
    double s = ldexp(1.0, lsb);
    for (size_t i = 0; i < n; i++) out[i] = (float)((double)q[i] * s);
}

/* ---- sum of squares ----------------------------------------------------- */
int zt_fx_sumsq_lsb(int e) { return 2 * e - 60; }   /* x² < 2^(2e): q <= 2^60 */

ZT_FX_VEC int zt_fx_max_exponent(const float *x, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) { float a = fabsf(x[i]); m = a > m ? a : m; }
    if (m == 0) return ZT_FX_EMPTY_E;
    int e; frexp((double)m, &e);
    return e;
}

void zt_fx_sumsq(const float *x, size_t n, int lsb2, int64_t w[ZT_FX_SQ_WORDS]) {
    unsigned __int128 acc = 0;   /* n * 2^60 < 2^128 for any n that fits memory */
    double s = ldexp(1.0, -lsb2);
    for (size_t i = 0; i < n; i++) {
        double d = (double)x[i] * (double)x[i];   /* exact: 48 significant bits */
        acc += (unsigned __int128)(uint64_t)rint(d * s);
    }
    const uint64_t m40 = (1ull << 40) - 1;
    w[0] = (int64_t)(uint64_t)(acc & m40);
    w[1] = (int64_t)(uint64_t)((acc >> 40) & m40);
    w[2] = (int64_t)(uint64_t)(acc >> 80);
}

double zt_fx_sumsq_value(const int64_t w[ZT_FX_SQ_WORDS], int lsb2) {
    unsigned __int128 t = (unsigned __int128)(uint64_t)w[0] + ((unsigned __int128)(uint64_t)w[1] << 40)
                        + ((unsigned __int128)(uint64_t)w[2] << 80);
    return ldexp((double)t, lsb2);
}
