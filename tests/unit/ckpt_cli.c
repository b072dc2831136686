/* ckpt_cli.c — `ztrain ckpt info|verify|export` through zt_ck_cmd. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_util.h"

static char root[512], s10[600];
static char out[65536];

static void setup(void) {
    char err[1024];
    ckt_mkdtemp(root, sizeof root);
    snprintf(s10, sizeof s10, "%s/step-00000010", root);
    if (ckt_write(root, 10, 4, &ckt_layout, 4, 0, 0, err, sizeof err) < 0) cr_assert_fail("%s", err);
}
static void teardown(void) { ckt_rmdir(root); }

TestSuite(cli, .init = setup, .fini = teardown);

static int run(const char *a1, const char *a2, const char *a3) {
    const char *argv[] = {"ckpt", a1, a2, a3, NULL};
    return ckt_cmd(out, sizeof out, a3 ? 4 : a2 ? 3 : 2, argv);
}

Test(cli, info_shows_meta_tensors_and_shards) {
    cr_assert_eq(run("info", s10, NULL), 0, "%s", out);
    cr_assert(strstr(out, "step 10"), "%s", out);
    cr_assert(strstr(out, "world 4"), "%s", out);
    cr_assert(strstr(out, "stage 2"), "%s", out);
    cr_assert(strstr(out, "mlp in=7 hidden=5 out=11"), "%s", out);
    cr_assert(strstr(out, "w1") && strstr(out, "[5, 7]") && strstr(out, "[3, 11]"), "%s", out);
    cr_assert(strstr(out, "shard-00003-of-00004.h5"), "%s", out);
    cr_assert(strstr(out, "all 4 shards ok"), "%s", out);
    /* the root works too (through latest) */
    cr_assert_eq(run("info", root, NULL), 0, "%s", out);
    cr_assert(strstr(out, "step 10"), "%s", out);
}

Test(cli, info_marks_bad_and_missing_shards) {
    char p[700];
    snprintf(p, sizeof p, "%s/shard-00001-of-00004.h5", s10);
    ckt_flip(p, ckt_file_size(p) / 2);
    snprintf(p, sizeof p, "%s/shard-00002-of-00004.h5", s10);
    unlink(p);
    cr_assert_eq(run("info", s10, NULL), 5, "%s", out);
    char *l1 = strstr(out, "shard-00001-of-00004.h5"), *l2 = strstr(out, "shard-00002-of-00004.h5");
    cr_assert(l1 && l2, "%s", out);
    cr_assert(strstr(l1, "BAD") && strstr(l1, "BAD") < l2, "%s", out);
    cr_assert(strstr(l2, "missing"), "%s", out);
    cr_assert(strstr(out, "2 of 4 shards bad or missing"), "%s", out);
}

Test(cli, verify_exit_status_names_the_bad_shard) {
    cr_assert_eq(run("verify", s10, NULL), 0, "%s", out);
    cr_assert(strstr(out, "ok:"), "%s", out);
    cr_assert_eq(run("verify", root, NULL), 0, "%s", out);
    char p[700];
    snprintf(p, sizeof p, "%s/shard-00003-of-00004.h5", s10);
    ckt_flip(p, 100);
    cr_assert_eq(run("verify", s10, NULL), 5, "exit 5 = ZT_EXIT_CKPT: %s", out);
    cr_assert(strstr(out, "shard-00003-of-00004.h5"), "%s", out);
    cr_assert_null(strstr(out, "shard-00000"), "%s", out);
    snprintf(p, sizeof p, "%s/index.h5", s10);
    unlink(p);
    cr_assert_eq(run("verify", s10, NULL), 5, "%s", out);
    cr_assert(strstr(out, "missing index"), "%s", out);
}

Test(cli, export_refuses_a_bad_checkpoint_and_usage_errors) {
    char p[700], xp[700];
    snprintf(xp, sizeof xp, "%s/x.h5", root);
    snprintf(p, sizeof p, "%s/shard-00000-of-00004.h5", s10);
    ckt_flip(p, 300);
    cr_assert_eq(run("export", s10, xp), 5, "%s", out);
    cr_assert(strstr(out, "shard-00000-of-00004.h5"), "%s", out);
    cr_assert_eq(access(xp, F_OK), -1, "no export of a bad checkpoint");
    cr_assert_eq(run("frobnicate", s10, NULL), 2);
    cr_assert_eq(run("info", NULL, NULL), 2);
    cr_assert_eq(run("info", "/nonexistent", NULL), 5);
    cr_assert(strstr(out, "/nonexistent"), "%s", out);
}

Test(cli, export_with_optim) {
    char xp[700];
    snprintf(xp, sizeof xp, "%s/x.h5", root);
    const char *argv[] = {"ckpt", "export", root, xp, "--optim"};
    cr_assert_eq(ckt_cmd(out, sizeof out, 5, argv), 0, "%s", out);
    char sh[8192];
    int rc = ckt_sh(sh, sizeof sh, "h5dump -H %s", xp);
    cr_assert_eq(rc, 0, "%s", sh);
    cr_assert(strstr(sh, "DATASET \"w1\"") && strstr(sh, "GROUP \"v\"") && strstr(sh, "( 5, 7 )"), "%s", sh);
    cr_assert(strstr(sh, "ATTRIBUTE \"step\""), "%s", sh);
}
