/* ckpt_corrupt.c — damaged checkpoints are detected and named (suite corrupt),
 * zt_ck_resolve falls back to the previous complete one (suite resolve), and
 * a layout mismatch lists every difference (suite layout). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_util.h"

static char root[512], s10[600], s20[600];

static void setup(void) {
    char err[1024];
    ckt_mkdtemp(root, sizeof root);
    snprintf(s10, sizeof s10, "%s/step-00000010", root);
    snprintf(s20, sizeof s20, "%s/step-00000020", root);
    if (ckt_write(root, 10, 4, &ckt_layout, 1, 0, 0, err, sizeof err) < 0) cr_assert_fail("write 10: %s", err);
    if (ckt_write(root, 20, 4, &ckt_layout, 2, 0, 0, err, sizeof err) < 0) cr_assert_fail("write 20: %s", err);
}
static void teardown(void) { ckt_rmdir(root); }

TestSuite(corrupt, .init = setup, .fini = teardown);
TestSuite(resolve, .init = setup, .fini = teardown);
TestSuite(layout, .init = setup, .fini = teardown);

static void shard(char *out, size_t cap, const char *dir, int r) {
    snprintf(out, cap, "%s/shard-%05d-of-00004.h5", dir, r);
}

Test(corrupt, intact_checkpoint_verifies) {
    char err[2048];
    cr_assert_eq(zt_ck_verify(s10, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zt_ck_verify(s20, err, sizeof err), 0, "%s", err);
}

Test(corrupt, flipped_data_byte_is_named_by_crc_and_by_fletcher32) {
    char err[2048], sp[700];
    shard(sp, sizeof sp, s20, 2);
    long addr = ckt_chunk_addr(sp, "/param/w2");   /* shard 2 = [38,57) holds w2[0..15) */
    cr_assert(addr > 0, "no chunk address");
    ckt_flip(sp, addr + 9);
    cr_assert_eq(zt_ck_verify(s20, err, sizeof err), -1);
    cr_assert(strstr(err, "shard-00002-of-00004.h5"), "%s", err);
    cr_assert(strstr(err, "CRC32"), "%s", err);
    cr_assert_null(strstr(err, "shard-00001"), "only the bad shard is named: %s", err);
    /* without the CRC check, HDF5's Fletcher32 filter still refuses the chunk */
    zt_ck_reader *r = zt_ck_open(s20, err, sizeof err);
    cr_assert_not_null(r, "sizes are intact, open succeeds: %s", err);
    float buf[80];
    cr_assert_eq(zt_ck_read(r, NULL, 40, 50, buf, err, sizeof err), -1);
    cr_assert(strstr(err, "shard-00002-of-00004.h5"), "%s", err);
    cr_assert(strstr(err, "Fletcher32") || strstr(err, "checksum"), "%s", err);
    /* the other shards still read */
    cr_assert_eq(zt_ck_read(r, NULL, 0, 38, buf, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zt_ck_check_shard(r, 2, err, sizeof err), ZT_CK_SHARD_BAD);
    cr_assert_eq(zt_ck_check_shard(r, 1, err, sizeof err), 0, "%s", err);
    zt_ck_close(r);
}

Test(corrupt, flipped_byte_anywhere_is_caught) {
    /* every 97th byte of shard 0, one at a time: the CRC always catches it */
    char err[2048], sp[700];
    shard(sp, sizeof sp, s20, 0);
    long n = ckt_file_size(sp);
    cr_assert(n > 0);
    for (long off = 0; off < n; off += 97) {
        ckt_flip(sp, off);
        cr_assert_eq(zt_ck_verify(s20, err, sizeof err), -1, "flip at %ld not detected", off);
        cr_assert(strstr(err, "shard-00000-of-00004.h5"), "%s", err);
        ckt_flip(sp, off);
    }
    cr_assert_eq(zt_ck_verify(s20, err, sizeof err), 0, "%s", err);
}

Test(corrupt, truncated_shard_is_named) {
    char err[2048], sp[700];
    shard(sp, sizeof sp, s20, 3);
    ckt_truncate(sp, ckt_file_size(sp) / 2);
    cr_assert_null(zt_ck_open(s20, err, sizeof err));
    cr_assert(strstr(err, "shard-00003-of-00004.h5"), "%s", err);
    cr_assert(strstr(err, "truncated"), "%s", err);
    cr_assert_eq(zt_ck_verify(s20, err, sizeof err), -1);
    cr_assert(strstr(err, "shard-00003-of-00004.h5"), "%s", err);
}

Test(corrupt, deleted_shards_are_all_named) {
    char err[2048], sp[700];
    shard(sp, sizeof sp, s20, 1);
    cr_assert_eq(unlink(sp), 0);
    shard(sp, sizeof sp, s20, 3);
    cr_assert_eq(unlink(sp), 0);
    cr_assert_null(zt_ck_open(s20, err, sizeof err));
    cr_assert(strstr(err, "shard-00001-of-00004.h5") && strstr(err, "shard-00003-of-00004.h5"), "%s", err);
    cr_assert(strstr(err, "missing"), "%s", err);
}

Test(corrupt, missing_or_damaged_index_is_named) {
    char err[2048], ip[700];
    snprintf(ip, sizeof ip, "%s/index.h5", s20);
    ckt_truncate(ip, 300);
    cr_assert_null(zt_ck_open(s20, err, sizeof err));
    cr_assert(strstr(err, "index.h5") && strstr(err, "corrupt"), "%s", err);
    cr_assert_eq(unlink(ip), 0);
    cr_assert_null(zt_ck_open(s20, err, sizeof err));
    cr_assert(strstr(err, "missing index") && strstr(err, "index.h5"), "%s", err);
}

Test(corrupt, index_bit_flips_are_all_caught_before_hdf5) {
    /* every 61st byte of the index in turn: index.crc32 catches each one */
    char err[2048], ip[700];
    snprintf(ip, sizeof ip, "%s/index.h5", s20);
    long n = ckt_file_size(ip);
    cr_assert(n > 1000);
    for (long off = 0; off < n; off += 61) {
        ckt_flip(ip, off);
        zt_ck_reader *r = zt_ck_open(s20, err, sizeof err);
        cr_assert_null(r, "flip at %ld of index.h5 not detected", off);
        cr_assert(strstr(err, "index.h5 is corrupt") && strstr(err, "CRC32"), "%s", err);
        ckt_flip(ip, off);
    }
    cr_assert_eq(zt_ck_verify(s20, err, sizeof err), 0, "%s", err);
}

Test(corrupt, missing_index_checksum_is_named) {
    char err[2048], p[700];
    snprintf(p, sizeof p, "%s/index.crc32", s20);
    cr_assert_eq(unlink(p), 0);
    cr_assert_null(zt_ck_open(s20, err, sizeof err));
    cr_assert(strstr(err, "index.crc32"), "%s", err);
}

/* ------------------------------------------------------------- resolve */

static void expect_fallback(const char *what) {
    char path[700], log[4096], err[1024];
    int rc = zt_ck_resolve(root, path, sizeof path, log, sizeof log, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: %s", what, err);
    cr_assert_str_eq(path, s10, "%s: resolved %s", what, path);
    cr_assert(strstr(log, "skipping") && strstr(log, "step-00000020"), "%s: log: %s", what, log);
}

Test(resolve, latest_when_intact) {
    char path[700], log[4096], err[1024];
    cr_assert_eq(zt_ck_resolve(root, path, sizeof path, log, sizeof log, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(path, s20);
    cr_assert_str_eq(log, "");
}

Test(resolve, falls_back_on_flipped_byte) {
    char sp[700], log[4096], path[700], err[1024];
    shard(sp, sizeof sp, s20, 2);
    ckt_flip(sp, ckt_file_size(sp) / 2);
    expect_fallback("flip");
    zt_ck_resolve(root, path, sizeof path, log, sizeof log, err, sizeof err);
    cr_assert(strstr(log, "shard-00002-of-00004.h5"), "log names the shard: %s", log);
}

Test(resolve, falls_back_on_truncated_deleted_or_missing_index) {
    char sp[700], log[4096], path[700], err[1024];
    shard(sp, sizeof sp, s20, 0);
    ckt_truncate(sp, 100);
    expect_fallback("truncated");
    cr_assert_eq(unlink(sp), 0);
    expect_fallback("deleted");
    zt_ck_resolve(root, path, sizeof path, log, sizeof log, err, sizeof err);
    cr_assert(strstr(log, "shard-00000-of-00004.h5") && strstr(log, "missing"), "%s", log);
    snprintf(sp, sizeof sp, "%s/index.h5", s20);
    cr_assert_eq(unlink(sp), 0);
    expect_fallback("no index");
    /* latest names a dir that is gone */
    ckt_rmdir(s20);
    expect_fallback("dir gone");
}

Test(resolve, ignores_tmp_dirs_and_newer_dirs) {
    char err[1024], path[700], log[4096];
    /* an unfinished later save */
    cr_assert_eq(ckt_write_tmp(root, 30, 4, &ckt_layout, 3, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zt_ck_resolve(root, path, sizeof path, log, sizeof log, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(path, s20);
}

Test(resolve, no_latest_file_uses_newest_step_dir) {
    char p[700], path[700], log[4096], err[1024];
    snprintf(p, sizeof p, "%s/latest", root);
    cr_assert_eq(unlink(p), 0);
    cr_assert_eq(zt_ck_resolve(root, path, sizeof path, log, sizeof log, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(path, s20);
}

Test(resolve, all_bad_is_an_error_and_empty_root_is_nothing) {
    char sp[700], path[700], log[4096], err[1024];
    shard(sp, sizeof sp, s20, 0);
    unlink(sp);
    shard(sp, sizeof sp, s10, 3);
    ckt_flip(sp, 5);
    cr_assert_eq(zt_ck_resolve(root, path, sizeof path, log, sizeof log, err, sizeof err), -1);
    cr_assert(strstr(log, "step-00000010") && strstr(log, "step-00000020"), "%s", log);
    cr_assert(strstr(err, "no usable checkpoint"), "%s", err);
    char empty[700];
    snprintf(empty, sizeof empty, "%s/empty", root);
    mkdir(empty, 0755);
    cr_assert_eq(zt_ck_resolve(empty, path, sizeof path, log, sizeof log, err, sizeof err), 1);
    snprintf(empty, sizeof empty, "%s/does-not-exist", root);
    cr_assert_eq(zt_ck_resolve(empty, path, sizeof path, log, sizeof log, err, sizeof err), 1);
}

Test(resolve, distributed_variant_no_crc_and_before) {
    char sp[700], path[700], log[4096], err[1024];
    shard(sp, sizeof sp, s20, 2);
    ckt_flip(sp, ckt_file_size(sp) / 2);
    /* NO_CRC: sizes are right, so latest is accepted; the ranks' CRC check fails ... */
    cr_assert_eq(zt_ck_resolve_ex(root, ZT_CK_RESOLVE_NO_CRC, 0, path, sizeof path, log, sizeof log, err, sizeof err), 0);
    cr_assert_str_eq(path, s20);
    zt_ck_reader *r = zt_ck_open(path, err, sizeof err);
    cr_assert_eq(zt_ck_verify_shards(r, 2, 4, err, sizeof err), -1);   /* "rank 2 of 4" */
    cr_assert_eq(zt_ck_verify_shards(r, 1, 4, err, sizeof err), 0);
    uint64_t step = zt_ck_meta_of(r)->step;
    zt_ck_close(r);
    /* ... so rank 0 asks again for something older */
    cr_assert_eq(zt_ck_resolve_ex(root, ZT_CK_RESOLVE_NO_CRC, step, path, sizeof path, log, sizeof log, err, sizeof err), 0);
    cr_assert_str_eq(path, s10);
}

/* -------------------------------------------------------------- layout */

Test(layout, mismatch_lists_every_difference) {
    char err[4096];
    zt_ck_tensor t[] = {
        {"w1", 2, {7, 5}, 0},      /* transposed */
        {"b1", 1, {7, 0}, 35},
        {"w2", 2, {3, 11}, 42},
        {"x", 1, {2, 0}, 75},      /* new; "s" is gone */
    };
    zt_ck_layout mine = {4, t, 77, 1, {"momentum"}};
    zt_ck_reader *r = zt_ck_open(s10, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_assert_eq(zt_ck_check_layout(r, &mine, err, sizeof err), -1);
    cr_assert(strstr(err, "'w1'") && strstr(err, "[5,7]") && strstr(err, "[7,5]"), "%s", err);
    cr_assert(strstr(err, "'s' is in the checkpoint, not in the model"), "%s", err);
    cr_assert(strstr(err, "'x' [2] is in the model, not in the checkpoint"), "%s", err);
    cr_assert(strstr(err, "76") && strstr(err, "77"), "%s", err);
    cr_assert(strstr(err, "[m,v]") && strstr(err, "[momentum]"), "%s", err);
    cr_assert(strstr(err, "5 differences"), "%s", err);
    cr_assert_null(strstr(err, "'b1'"), "b1 matches: %s", err);
    cr_assert_eq(zt_ck_check_layout(r, &ckt_layout, err, sizeof err), 0, "%s", err);
    zt_ck_close(r);
}

Test(layout, reordered_tensors_are_a_difference) {
    char err[4096];
    zt_ck_tensor t[] = {
        {"b1", 1, {7, 0}, 0},
        {"w1", 2, {5, 7}, 7},
        {"w2", 2, {3, 11}, 42},
        {"s", 1, {1, 0}, 75},
    };
    zt_ck_layout mine = {4, t, 76, 2, {"m", "v"}};
    zt_ck_reader *r = zt_ck_open(s10, err, sizeof err);
    cr_assert_eq(zt_ck_check_layout(r, &mine, err, sizeof err), -1);
    cr_assert(strstr(err, "'b1'") && strstr(err, "'w1'") && strstr(err, "offset"), "%s", err);
    zt_ck_close(r);
}
