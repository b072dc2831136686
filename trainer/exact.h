/* exact.h — fixed-point gradient sums whose bits do not depend on how the
 * terms are grouped (train.exact; the design is in docs/ARCHITECTURE.md,
 * "Exact mode").
 *
 * A term is one micro-batch's gradient of one tensor (n floats). It is
 * quantized with its OWN scale: e = the exponent of its largest magnitude
 * (every |x| < 2^e) and lsb = e - ZT_FX_BITS, q = round-to-nearest-even(x /
 * 2^lsb), so |q| <= 2^ZT_FX_BITS. That integer vector depends only on the
 * micro-batch, never on which rank computed it or what else it is summed
 * with. Sums of terms are kept as int64 at the finest lsb of their terms:
 * bringing a sum or a term to a finer lsb is a left shift (exact), and int64
 * addition is associative, so every grouping and order — any W, any ZeRO
 * stage — yields the same integers. They are converted to float once.
 *
 * Range: a sum of at most `terms` terms, whose scales merge to (e, lsb), has
 * magnitude < terms * 2^e, i.e. fits int64 when ceil(log2 terms) + e - lsb <=
 * 62 (zt_fx_fits). Because the merged (e, lsb) of any subset of terms is
 * within that of all of them, checking the scale of the whole sum bounds
 * every partial sum of every grouping: overflow is detected before any shift
 * or add, identically at every W, and never wraps. */
#ifndef ZT_EXACT_H
#define ZT_EXACT_H
#include <stddef.h>   /* size_t */
#include <stdint.h>   /* int64_t, uint64_t */

/* Bits kept below each term's largest magnitude: the absolute error of one
 * term is <= 2^(e - ZT_FX_BITS - 1), and the terms of one sum may differ in
 * scale by up to 62 - ZT_FX_BITS - ceil(log2 terms) binary orders. */
#define ZT_FX_BITS 32
/* The scale of an empty sum (all terms zero): neutral for max(e), min(lsb). */
#define ZT_FX_EMPTY_E   (-1000000)
#define ZT_FX_EMPTY_LSB ( 1000000)

typedef struct { int e, lsb; } zt_fx_scale;
static inline zt_fx_scale zt_fx_empty(void) { return (zt_fx_scale){ ZT_FX_EMPTY_E, ZT_FX_EMPTY_LSB }; }
static inline int zt_fx_is_empty(zt_fx_scale s) { return s.e == ZT_FX_EMPTY_E; }
static inline zt_fx_scale zt_fx_merge(zt_fx_scale a, zt_fx_scale b) {
    return (zt_fx_scale){ a.e > b.e ? a.e : b.e, a.lsb < b.lsb ? a.lsb : b.lsb };
}

enum { ZT_FX_OK = 0, ZT_FX_NONFINITE = -1, ZT_FX_OVERFLOW = -2 };

/* ceil(log2(n)) for n >= 1 */
int  zt_fx_log2ceil(uint64_t n);
/* 1 if any sum of <= terms terms within scale s fits int64 (see above). */
int  zt_fx_fits(zt_fx_scale s, uint64_t terms);
/* The scale of term x[0..n): {e, e - ZT_FX_BITS}, empty when all are zero.
 * ZT_FX_NONFINITE on a NaN or infinity, else ZT_FX_OK. */
int  zt_fx_term_scale(const float *x, size_t n, zt_fx_scale *out);
/* q[i] = round(x[i] / 2^lsb) * 2^shift (shift >= 0): a term quantized at its
 * own lsb, then brought to a sum's finer lsb - shift. Caller checked range. */
void zt_fx_quantize(const float *x, size_t n, int lsb, int shift, int64_t *q);
/* q[i] *= 2^s (s >= 0, checked by the caller) */
void zt_fx_shift(int64_t *q, size_t n, int s);
/* acc[i] = acc[i] * 2^sa + q[i] * 2^sq (sa, sq >= 0, checked by the caller). */
void zt_fx_add_shifted(int64_t *acc, int sa, const int64_t *q, int sq, size_t n);
/* acc (scale *as, summing terms so far) += term x (its own scale). terms: the
 * bound on how many terms any sum it joins will hold. ZT_FX_OVERFLOW (acc
 * untouched) when the merged scale would not fit; ZT_FX_NONFINITE. */
int  zt_fx_accumulate(int64_t *acc, zt_fx_scale *as, const float *x, size_t n, uint64_t terms);
/* out[i] = q[i] * 2^lsb rounded to float (through double: deterministic). */
void zt_fx_to_float(const int64_t *q, size_t n, int lsb, float *out);

/* Exact sum of squares, for the global gradient norm: each x² (exact in
 * double) is quantized at lsb2 = zt_fx_sumsq_lsb(e) with e the exponent of
 * the largest |x| over ALL ranks, and summed as a 128-bit integer, split into
 * ZT_FX_SQ_WORDS int64 words that a SUM all-reduce adds without overflow
 * (each word < 2^40, up to 2^23 ranks). zt_fx_sumsq_value turns the summed
 * words into the norm². Relative error <= n * 2^-59 for n elements. */
#define ZT_FX_SQ_WORDS 3
int    zt_fx_sumsq_lsb(int e);
int    zt_fx_max_exponent(const float *x, size_t n);   /* ZT_FX_EMPTY_E when all zero */
void   zt_fx_sumsq(const float *x, size_t n, int lsb2, int64_t words[ZT_FX_SQ_WORDS]);
double zt_fx_sumsq_value(const int64_t words[ZT_FX_SQ_WORDS], int lsb2);
#endif
