/* datasets_sampler.c — zt_perm is a bijection; the sampler is W-invariant
 * (ranks' rows, concatenated in rank order, are the W=1 rows), has no
 * duplicate within a step and uses every row at most once per epoch; the
 * in-tree SHA-256 matches FIPS 180-4 vectors. */
#include "zt_data.h"
#include "zt_sha256.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 12345;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void check_bijection(uint64_t n, uint64_t seed, uint64_t epoch) {
    uint8_t *seen = calloc(n, 1);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = zt_perm(n, seed, epoch, i);
        cr_assert(v < n, "perm(n=%llu) gave %llu", (unsigned long long)n, (unsigned long long)v);
        cr_assert(!seen[v], "perm(n=%llu, seed=%llu, epoch=%llu): %llu hit twice", (unsigned long long)n,
                  (unsigned long long)seed, (unsigned long long)epoch, (unsigned long long)v);
        seen[v] = 1;
    }
    free(seen);
}

Test(datasets_sampler, perm_is_bijection_small_and_edge_sizes) {
    for (uint64_t n = 1; n <= 300; n++) check_bijection(n, n * 3 + 1, n % 5);
    for (int b = 1; b <= 17; b++) {
        uint64_t p = 1ull << b;
        check_bijection(p - 1, 7, 0);
        check_bijection(p, 7, 1);
        check_bijection(p + 1, 7, 2);
    }
    for (int t = 0; t < 40; t++) check_bijection(1 + rnd() % 70000, rnd(), rnd() % 100);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(datasets_sampler, perm_injective_on_samples_for_huge_n) {
    const uint64_t ns[] = {(1ull << 40) + 7, (1ull << 62) + 3, (1ull << 63) + 5, UINT64_MAX};
    enum { K = 20000 };
    uint64_t *v = malloc(K * sizeof *v);
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < K; i++) {
            v[i] = zt_perm(ns[k], 99, 3, (uint64_t)i * 7919u + 11);
            cr_assert(v[i] < ns[k]);
        }
        qsort(v, K, sizeof *v, cmp_u64);
        for (int i = 1; i < K; i++) cr_assert(v[i] != v[i - 1], "collision for n=%llu", (unsigned long long)ns[k]);
    }
    free(v);
}

Test(datasets_sampler, perm_looks_random_and_depends_on_seed_and_epoch) {
    const uint64_t n = 10000;
    int fixed = 0, same_epoch = 0, same_seed = 0;
    double disp = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t a = zt_perm(n, 1, 0, i);
        fixed += a == i;
        same_epoch += a == zt_perm(n, 1, 1, i);
        same_seed += a == zt_perm(n, 2, 0, i);
        disp += a > i ? (double)(a - i) : (double)(i - a);
    }
    cr_assert(fixed < 10, "%d fixed points", fixed);
    cr_assert(same_epoch < 10 && same_seed < 10, "%d %d equal positions", same_epoch, same_seed);
    disp /= (double)n;   /* uniform random permutation: n/3 */
    cr_assert(disp > 0.30 * n && disp < 0.37 * n, "mean displacement %.1f", disp);
    /* first element of the permutation over 10 items, across seeds: uniform */
    int cnt[10] = {0};
    for (uint64_t s = 0; s < 20000; s++) cnt[zt_perm(10, s, 0, 0)]++;
    for (int i = 0; i < 10; i++) cr_assert(cnt[i] > 1700 && cnt[i] < 2300, "value %d: %d of 20000", i, cnt[i]);
    /* deterministic */
    cr_assert_eq(zt_perm(n, 5, 6, 77), zt_perm(n, 5, 6, 77));
}

Test(datasets_sampler, cursor_arithmetic) {
    zt_sampler s = {.n_rows = 1000, .global_batch = 64, .seed = 3};
    cr_assert_eq(zt_sampler_steps_per_epoch(&s), 15);
    cr_assert_eq(zt_sampler_epoch(&s, 0), 0);
    cr_assert_eq(zt_sampler_epoch(&s, 14), 0);
    cr_assert_eq(zt_sampler_epoch(&s, 15), 1);
    cr_assert_eq(zt_sampler_step_in_epoch(&s, 15), 0);
    cr_assert_eq(zt_sampler_step_in_epoch(&s, 47), 2);
    /* step 15 is epoch 1's first batch: permutation(seed, 1) positions [0, 64) */
    uint64_t r[64];
    zt_sampler_rows(&s, 15, 1, 0, r);
    for (int i = 0; i < 64; i++) cr_assert_eq(r[i], zt_perm(1000, 3, 1, (uint64_t)i));
    zt_sampler_rows(&s, 16, 4, 2, r);   /* rank 2 of 4, step 1 of epoch 1 */
    for (int i = 0; i < 16; i++) cr_assert_eq(r[i], zt_perm(1000, 3, 1, 64 + 32 + (uint64_t)i));
    /* n < B: no division by zero, rows stay in range */
    zt_sampler tiny = {.n_rows = 5, .global_batch = 8, .seed = 1};
    cr_assert_eq(zt_sampler_steps_per_epoch(&tiny), 0);
    zt_sampler_rows(&tiny, 3, 2, 1, r);
    for (int i = 0; i < 4; i++) cr_assert(r[i] < 5);
}

Test(datasets_sampler, property_w_invariance_no_duplicates_once_per_epoch, .timeout = 60) {
    rng_state = 777;
    uint64_t *ref = malloc(4096 * sizeof *ref), *cat = malloc(4096 * sizeof *cat);
    uint64_t *tmp = malloc(4096 * sizeof *tmp);
    int trials = 0, wcases = 0;
    for (int t = 0; t < 400; t++) {
        static const int mult[] = {1, 2, 3, 4, 5, 6, 7, 8, 12, 24};
        uint64_t B = (1 + rnd() % 48) * (uint64_t)mult[rnd() % 10];
        if (B > 4096) B = 4096;
        uint64_t N = B + rnd() % (B * 6 + 50);
        if (t % 17 == 0) N = B;                               /* exactly one step */
        zt_sampler s = {.n_rows = N, .global_batch = B, .seed = rnd()};
        uint64_t spe = zt_sampler_steps_per_epoch(&s);
        cr_assert(spe >= 1);
        uint8_t *used = calloc(N, 1);
        uint64_t max_steps = 2 * spe;
        if (max_steps * B > 60000) max_steps = 60000 / B + 1;
        for (uint64_t st = 0; st < max_steps; st++) {
            uint64_t e = zt_sampler_epoch(&s, st);
            if (zt_sampler_step_in_epoch(&s, st) == 0) memset(used, 0, N);
            zt_sampler_rows(&s, st, 1, 0, ref);
            memcpy(tmp, ref, B * sizeof *tmp);
            qsort(tmp, B, sizeof *tmp, cmp_u64);
            for (uint64_t i = 0; i < B; i++) {
                cr_assert(tmp[i] < N);
                cr_assert(i == 0 || tmp[i] != tmp[i - 1], "duplicate row %llu in step %llu (N=%llu B=%llu)",
                          (unsigned long long)tmp[i], (unsigned long long)st, (unsigned long long)N,
                          (unsigned long long)B);
                cr_assert(!used[tmp[i]], "row %llu used twice in epoch %llu", (unsigned long long)tmp[i],
                          (unsigned long long)e);
                used[tmp[i]] = 1;
            }
            for (int W = 2; W <= 12; W++) {
                if (B % (uint64_t)W) continue;
                uint64_t q = B / (uint64_t)W;
                for (int r = 0; r < W; r++) zt_sampler_rows(&s, st, W, r, cat + (uint64_t)r * q);
                cr_assert(memcmp(cat, ref, B * sizeof *ref) == 0,
                          "W=%d differs from W=1 at step %llu (N=%llu B=%llu)", W, (unsigned long long)st,
                          (unsigned long long)N, (unsigned long long)B);
                wcases++;
            }
        }
        free(used);
        trials++;
    }
    cr_assert(trials == 400 && wcases > 1000, "only %d W comparisons", wcases);
    free(ref); free(cat); free(tmp);
}

static void sha_hex(const void *d, size_t n, char hex[65]) {
    zt_sha256_ctx c;
    zt_sha256_init(&c);
    zt_sha256_update(&c, d, n);
    zt_sha256_hex(&c, hex);
}

Test(datasets_sampler, sha256_fips_vectors) {
    char h[65];
    sha_hex("", 0, h);
    cr_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_hex("abc", 3, h);
    cr_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_hex(m, strlen(m), h);
    cr_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* one million 'a', fed in uneven pieces */
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    zt_sha256_ctx c;
    zt_sha256_init(&c);
    size_t o = 0, k = 1;
    while (o < 1000000) {
        size_t take = k < 1000000 - o ? k : 1000000 - o;
        zt_sha256_update(&c, a + o, take);
        o += take;
        k = k * 3 % 1000 + 1;
    }
    zt_sha256_hex(&c, h);
    cr_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

/* Any W up to k = B/mb micro-batches: shares differ by at most one
 * micro-batch, are contiguous and in rank order, so the ranks' rows
 * concatenated are the W=1 rows; when W divides k they are zt_sampler_rows. */
Test(sampler, micro_batch_shares_any_w) {
    uint64_t ref[96], cat[96], one[96];
    int cases = 0;
    for (uint64_t mb = 1; mb <= 4; mb++)
        for (uint64_t k = 1; k <= 24 && k * mb <= 96; k++) {
            uint64_t B = k * mb;
            zt_sampler s = {.n_rows = 1000 + k, .global_batch = B, .seed = rnd()};
            for (uint64_t st = 0; st < 3; st++) {
                cr_assert_eq(zt_sampler_rows_mb(&s, st, mb, 1, 0, ref), B);
                for (int W = 1; W <= (int)k; W++) {
                    uint64_t n = 0, lo = k, hi = 0;
                    for (int r = 0; r < W; r++) {
                        uint64_t first, count;
                        zt_sampler_share(k, W, r, &first, &count);
                        cr_assert_eq(first * mb, n, "W=%d r=%d starts at micro-batch %llu", W, r,
                                     (unsigned long long)first);
                        lo = count < lo ? count : lo; hi = count > hi ? count : hi;
                        uint64_t got = zt_sampler_rows_mb(&s, st, mb, W, r, cat + n);
                        cr_assert_eq(got, count * mb);
                        if (k % (uint64_t)W == 0) {
                            zt_sampler_rows(&s, st, W, r, one);
                            cr_assert(memcmp(one, cat + n, got * sizeof *one) == 0, "W=%d r=%d: not zt_sampler_rows", W, r);
                        }
                        n += got;
                    }
                    cr_assert_eq(n, B);
                    cr_assert(hi - lo <= 1 && lo >= 1, "W=%d k=%llu: shares %llu..%llu", W, (unsigned long long)k,
                              (unsigned long long)lo, (unsigned long long)hi);
                    cr_assert(memcmp(cat, ref, B * sizeof *ref) == 0, "W=%d mb=%llu k=%llu differs from W=1", W,
                              (unsigned long long)mb, (unsigned long long)k);
                    cases++;
                }
            }
        }
    cr_assert(cases > 1000);
}
