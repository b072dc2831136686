/* engine_bigstep.c — a checkpoint whose step is 16,777,217 (2^24 + 1, the
 * first integer a float cannot hold) is written, resolved and opened with
 * exactly that step, through the calls a resume makes (zt_ck_resolve_open,
 * then the fallback below a failed step). The trainer's side, with ranks,
 * is tests/ranks/big_step.sh. */
#include <criterion/criterion.h>   /* Test, cr_assert */
#include <stdio.h>                 /* snprintf */
#include <string.h>                /* strstr */
#include "ckpt_util.h"             /* ckt_write, ckt_mkdtemp, ckt_flip */
#include "zt_ckpt.h"               /* zt_ck_resolve_open */

#define BIG 16777217ull

Test(bigstep, resolves_and_falls_back_exactly) {
    char root[512], path[700], log[4096], err[1024], shard[800];
    ckt_mkdtemp(root, sizeof root);
    cr_assert_eq(ckt_write(root, BIG - 1, 3, &ckt_layout, 1, 0, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ckt_write(root, BIG, 3, &ckt_layout, 2, 0, 0, err, sizeof err), 0, "%s", err);

    zt_ck_reader *r = NULL;
    cr_assert_eq(zt_ck_resolve_open(root, ZT_CK_RESOLVE_NO_CRC, 0, &r, path, sizeof path, log, sizeof log,
                                    err, sizeof err), 0, "%s", err);
    cr_assert_not_null(r, "the chosen checkpoint comes back open");
    cr_assert(strstr(path, "/step-16777217"), "%s", path);
    cr_assert_eq(zt_ck_meta_of(r)->step, BIG);
    cr_assert_eq(zt_ck_verify_shards(r, 0, 1, err, sizeof err), 0, "%s", err);
    zt_ck_close(r);

    /* damage it: a resume retries below the failed step, which must be
     * exactly BIG (a float would make it BIG - 1 and skip the good one) */
    snprintf(shard, sizeof shard, "%s/step-16777217/shard-00001-of-00003.h5", root);
    ckt_flip(shard, ckt_file_size(shard) / 2);
    cr_assert_eq(zt_ck_resolve_open(root, ZT_CK_RESOLVE_NO_CRC, BIG, &r, path, sizeof path, log, sizeof log,
                                    err, sizeof err), 0, "%s", err);
    cr_assert(strstr(path, "/step-16777216"), "%s", path);
    cr_assert_eq(zt_ck_meta_of(r)->step, BIG - 1);
    zt_ck_close(r);
    /* with CRCs checked in one go the damaged one is skipped by itself */
    cr_assert_eq(zt_ck_resolve(root, path, sizeof path, log, sizeof log, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(path, "/step-16777216"), "%s", path);
    cr_assert(strstr(log, "shard-00001-of-00003.h5"), "%s", log);
    /* nothing below the older one: 1 would be "nothing to resume", -1 all bad */
    r = (zt_ck_reader *)1;
    cr_assert_eq(zt_ck_resolve_open(root, ZT_CK_RESOLVE_NO_CRC, BIG - 1, &r, path, sizeof path, log, sizeof log,
                                    err, sizeof err), -1);
    cr_assert_null(r, "no reader when nothing is chosen");
    ckt_rmdir(root);
}
