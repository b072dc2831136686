/* ckpt_blob.c — named byte blobs in the index (zt_ck_write_index_blobs /
 * zt_ck_read_blob; checkpoint/FORMAT.md "Blobs"): bytes back exactly (empty,
 * small, larger than one chunk), an absent name is 1 not an error, a bad
 * name is refused, and a flipped byte inside a blob fails the index CRC at
 * open like any other byte of the index. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ckpt_util.h"

/* One checkpoint at W=2 with the given blobs; the step dir in stepdir. */
static void write_with(const char *root, const zt_ck_blob *b, int nb, char *stepdir, size_t cap) {
    char err[1024], tmp[4096];
    const zt_ck_layout *L = &ckt_layout;
    const int W = 2;
    float *full[1 + ZT_CK_MAX_SLOTS] = {0};
    uint64_t lo[2], hi[2];
    uint32_t crc[2];
    for (int k = 0; k <= L->n_slots; k++) full[k] = ckt_full(L, k, 5);
    cr_assert_eq(zt_ck_prepare(root, 3, err, sizeof err), 0, "%s", err);
    zt_ck_tmp_path(root, 3, tmp, sizeof tmp);
    for (int r = 0; r < W; r++) {
        const float *slots[ZT_CK_MAX_SLOTS];
        ckt_part(L->n_flat, W, r, &lo[r], &hi[r]);
        for (int s = 0; s < L->n_slots; s++) slots[s] = full[s + 1] + lo[r];
        cr_assert_eq(zt_ck_write_shard(tmp, r, W, L, lo[r], hi[r], full[0] + lo[r], slots, &crc[r], err,
                                       sizeof err), 0, "%s", err);
    }
    zt_ck_meta m;
    ckt_meta(&m, 3, W);
    cr_assert_eq(zt_ck_write_index_blobs(tmp, W, L, lo, hi, crc, &m, b, nb, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zt_ck_commit(root, 3, 0, 0, err, sizeof err), 0, "%s", err);
    for (int k = 0; k <= L->n_slots; k++) free(full[k]);
    snprintf(stepdir, cap, "%s/step-00000003", root);
}

Test(blob, roundtrip_absent_and_bad_names) {
    char root[4096], step[4096], err[1024];
    ckt_mkdtemp(root, sizeof root);
    size_t big_n = 3u << 20;   /* > one 1 Mi-element chunk */
    uint8_t *big = malloc(big_n);
    for (size_t i = 0; i < big_n; i++) big[i] = (uint8_t)(i * 2654435761u >> 13);
    const char kind[] = "sentencepiece";
    zt_ck_blob b[3] = {{"tokenizer_kind", kind, sizeof kind - 1}, {"tokenizer", big, big_n}, {"empty", NULL, 0}};
    write_with(root, b, 3, step, sizeof step);
    cr_assert_eq(zt_ck_verify(step, err, sizeof err), 0, "%s", err);
    zt_ck_reader *r = zt_ck_open(step, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    uint8_t *d = NULL;
    size_t n = 0;
    cr_assert_eq(zt_ck_read_blob(r, "tokenizer_kind", &d, &n, err, sizeof err), 0, "%s", err);
    cr_expect(n == sizeof kind - 1 && !memcmp(d, kind, n));
    free(d);
    cr_assert_eq(zt_ck_read_blob(r, "tokenizer", &d, &n, err, sizeof err), 0, "%s", err);
    cr_expect(n == big_n && !memcmp(d, big, n), "a %zu-byte blob came back as %zu bytes or different", big_n, n);
    free(d);
    cr_assert_eq(zt_ck_read_blob(r, "empty", &d, &n, err, sizeof err), 0, "%s", err);
    cr_expect_eq(n, 0u);
    free(d);
    cr_expect_eq(zt_ck_read_blob(r, "nothing", &d, &n, err, sizeof err), 1);
    cr_expect(d == NULL && n == 0);
    cr_expect_eq(zt_ck_read_blob(r, "a/b", &d, &n, err, sizeof err), -1);
    zt_ck_close(r);
    ckt_rmdir(root);
    /* a bad name on the write side fails the index, with a message */
    ckt_mkdtemp(root, sizeof root);
    char tmp[4096];
    zt_ck_blob bad = {"x/y", kind, 3};
    uint64_t lo = 0, hi = ckt_layout.n_flat;
    uint32_t crc = 0;
    float *full[1 + ZT_CK_MAX_SLOTS] = {0};
    for (int k = 0; k <= ckt_layout.n_slots; k++) full[k] = ckt_full(&ckt_layout, k, 5);
    const float *slots[ZT_CK_MAX_SLOTS];
    for (int s = 0; s < ckt_layout.n_slots; s++) slots[s] = full[s + 1];
    cr_assert_eq(zt_ck_prepare(root, 1, err, sizeof err), 0);
    zt_ck_tmp_path(root, 1, tmp, sizeof tmp);
    cr_assert_eq(zt_ck_write_shard(tmp, 0, 1, &ckt_layout, lo, hi, full[0], slots, &crc, err, sizeof err), 0);
    zt_ck_meta m;
    ckt_meta(&m, 1, 1);
    cr_expect_eq(zt_ck_write_index_blobs(tmp, 1, &ckt_layout, &lo, &hi, &crc, &m, &bad, 1, err, sizeof err), -1);
    cr_expect(strstr(err, "blob") != NULL, "%s", err);
    for (int k = 0; k <= ckt_layout.n_slots; k++) free(full[k]);
    free(big);
    ckt_rmdir(root);
}

Test(blob, a_flipped_blob_byte_fails_the_index_crc) {
    char root[4096], step[4096], err[1024], idx[4200];
    ckt_mkdtemp(root, sizeof root);
    uint8_t data[4000];
    for (int i = 0; i < 4000; i++) data[i] = (uint8_t)(i * 7 + 1);
    zt_ck_blob b = {"tokenizer", data, sizeof data};
    write_with(root, &b, 1, step, sizeof step);
    snprintf(idx, sizeof idx, "%s/index.h5", step);
    long off = ckt_chunk_addr(idx, "/blob/tokenizer");
    cr_assert(off > 0, "no chunk for /blob/tokenizer in %s", idx);
    ckt_flip(idx, off + 1000);
    zt_ck_reader *r = zt_ck_open(step, err, sizeof err);
    cr_expect_null(r, "a checkpoint whose blob changed opened");
    cr_expect(strstr(err, "index") != NULL, "%s", err);
    zt_ck_close(r);
    ckt_rmdir(root);
}
