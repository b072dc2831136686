/* sampler.c — W-invariant distributed sampler: which rows each rank reads at a step.
 *
 * zt_perm: a keyed pseudo-random permutation of [0, n) in O(1) memory: a
 * balanced Feistel network on 2h bits (2^(2h) >= n, at most 4n) whose round
 * function is splitmix64 of (half ^ round key), round keys derived from
 * (seed, epoch). A Feistel network is a bijection of [0, 2^(2h)) for any round
 * function; "cycle walking" (apply it again while the value is >= n) restricts
 * it to a bijection of [0, n): following the cycle of i in the big
 * permutation, the first element < n is unique per i. Expected walk length
 * <= 4. */
#include "zt_data.h"

#define ZT_PERM_ROUNDS 8

static inline uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t zt_perm(uint64_t n, uint64_t seed, uint64_t epoch, uint64_t i) {
    if (n <= 1) return 0;
    if (i >= n) i %= n;
    int bits = 64 - __builtin_clzll(n - 1);      /* bits to hold n-1 */
    if (bits & 1) bits++;
    int h = bits / 2;
    uint64_t mask = h >= 64 ? ~0ull : ((1ull << h) - 1);
    uint64_t k[ZT_PERM_ROUNDS];
    uint64_t base = mix64(mix64(seed) ^ (epoch * 0xd1b54a32d192ed03ull + 0x8cb92ba72f3d8dd7ull));
    for (int r = 0; r < ZT_PERM_ROUNDS; r++) k[r] = mix64(base + (uint64_t)r * 0x9e3779b97f4a7c15ull);
    uint64_t x = i;
    do {
        uint64_t L = x >> h, R = x & mask;
        for (int r = 0; r < ZT_PERM_ROUNDS; r++) {
            uint64_t nl = R;
            R = L ^ (mix64(R ^ k[r]) & mask);
            L = nl;
        }
        x = (L << h) | R;            /* h == 32 when bits == 64: no UB */
    } while (x >= n);
    return x;
}

uint64_t zt_sampler_steps_per_epoch(const zt_sampler *s) {
    return s->global_batch ? s->n_rows / s->global_batch : 0;
}

uint64_t zt_sampler_epoch(const zt_sampler *s, uint64_t step) {
    uint64_t spe = zt_sampler_steps_per_epoch(s);
    return spe ? step / spe : 0;
}

uint64_t zt_sampler_step_in_epoch(const zt_sampler *s, uint64_t step) {
    uint64_t spe = zt_sampler_steps_per_epoch(s);
    return spe ? step % spe : step;
}

void zt_sampler_rows(const zt_sampler *s, uint64_t step, int W, int r, uint64_t *out) {
    if (W <= 0 || r < 0 || r >= W || s->n_rows == 0) return;
    uint64_t B = s->global_batch, per = B / (uint64_t)W;
    uint64_t e = zt_sampler_epoch(s, step), j = zt_sampler_step_in_epoch(s, step);
    uint64_t pos0 = j * B + (uint64_t)r * per;
    for (uint64_t t = 0; t < per; t++)
        out[t] = zt_perm(s->n_rows, s->seed, e, (pos0 + t) % s->n_rows);
}

void zt_sampler_share(uint64_t k, int W, int r, uint64_t *first, uint64_t *count) {
    if (W <= 0 || r < 0 || r >= W) { *first = 0; *count = 0; return; }
    uint64_t q = k / (uint64_t)W, extra = k % (uint64_t)W, ur = (uint64_t)r;
    *count = q + (ur < extra);
    *first = ur * q + (ur < extra ? ur : extra);
}

uint64_t zt_sampler_rows_mb(const zt_sampler *s, uint64_t step, uint64_t mb, int W, int r, uint64_t *out) {
    if (W <= 0 || r < 0 || r >= W || s->n_rows == 0 || mb == 0) return 0;
    uint64_t B = s->global_batch, first, count;
    zt_sampler_share(B / mb, W, r, &first, &count);
    uint64_t e = zt_sampler_epoch(s, step), j = zt_sampler_step_in_epoch(s, step);
    uint64_t pos0 = j * B + first * mb, n = count * mb;
    for (uint64_t t = 0; t < n; t++)
        out[t] = zt_perm(s->n_rows, s->seed, e, (pos0 + t) % s->n_rows);
    return n;
}
