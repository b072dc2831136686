/* launcher_test.c — Criterion tests of launcher/: env/rank-list parsing, the
 * singleton fallback (zt_boot_init with no PMIx server), key/value round trip
 * in singleton mode, the stop-signal flag, abort status, the info line.
 * Criterion runs every test in its own process, so PMIx and signal state
 * never leak between tests. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zt_launcher.h"

/* ---- zt_parse_int_env ---------------------------------------------------- */

Test(parse_int_env, unset_and_empty_give_default) {
    unsetenv("ZT_T_INT");
    cr_expect_eq(zt_parse_int_env("ZT_T_INT", 7), 7);
    setenv("ZT_T_INT", "", 1);
    cr_expect_eq(zt_parse_int_env("ZT_T_INT", -3), -3);
    setenv("ZT_T_INT", "   ", 1);
    cr_expect_eq(zt_parse_int_env("ZT_T_INT", 9), 9);
    cr_expect_eq(zt_parse_int_env(NULL, 4), 4);
}

Test(parse_int_env, valid_numbers) {
    setenv("ZT_T_INT", "42", 1);
    cr_expect_eq(zt_parse_int_env("ZT_T_INT", 0), 42);
    setenv("ZT_T_INT", " 17 ", 1);
    cr_expect_eq(zt_parse_int_env("ZT_T_INT", 0), 17);
    setenv("ZT_T_INT", "-5", 1);
    cr_expect_eq(zt_parse_int_env("ZT_T_INT", 0), -5);
    setenv("ZT_T_INT", "0", 1);
    cr_expect_eq(zt_parse_int_env("ZT_T_INT", 1), 0);
    setenv("ZT_T_INT", "2147483647", 1);
    cr_expect_eq(zt_parse_int_env("ZT_T_INT", 0), 2147483647);
}

Test(parse_int_env, garbage_and_overflow_give_default) {
    const char *bad[] = {"abc", "12x", "1 2", "0x10", "2147483648", "-2147483649",
                         "99999999999999999999", "+", "-", "3.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("ZT_T_INT", bad[i], 1);
        cr_expect_eq(zt_parse_int_env("ZT_T_INT", -77), -77, "'%s' should be rejected", bad[i]);
    }
}

/* ---- rank lists ---------------------------------------------------------- */

Test(ranklist, counts) {
    cr_expect_eq(zt_count_ranklist("0,1,2"), 3);
    cr_expect_eq(zt_count_ranklist("0-3"), 4);
    cr_expect_eq(zt_count_ranklist("0-3,5"), 5);
    cr_expect_eq(zt_count_ranklist("7"), 1);
    cr_expect_eq(zt_count_ranklist("4-4"), 1);
    cr_expect_eq(zt_count_ranklist("0,2-4,9,10-11"), 7);
    cr_expect_eq(zt_count_ranklist(""), 0);
    cr_expect_eq(zt_count_ranklist("0-2147483646"), 2147483647);   /* arithmetic, no loop */
}

Test(ranklist, bad_lists) {
    const char *bad[] = {"a", "3-1", "1,,2", "1,", ",1", "-1", " 1", "1 ", "1-", "1-2-3",
                         "0-2147483647", "2147483648", "1;2", "0x1"};
    cr_expect_eq(zt_count_ranklist(NULL), -1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(zt_count_ranklist(bad[i]), -1, "'%s' should be rejected", bad[i]);
}

Test(ranklist, expand_and_min) {
    int out[8] = {0};
    cr_assert_eq(zt_parse_ranklist("5,1-3", out, 8), 4);
    cr_expect_eq(out[0], 5);
    cr_expect_eq(out[1], 1);
    cr_expect_eq(out[3], 3);
    int small[2] = {-1, -1};
    cr_expect_eq(zt_parse_ranklist("0-9", small, 2), 10);   /* full count, fills cap */
    cr_expect_eq(small[1], 1);
    cr_expect_eq(zt_ranklist_min("5,3-4,9"), 3);
    cr_expect_eq(zt_ranklist_min("0"), 0);
    cr_expect_eq(zt_ranklist_min(""), -1);
    cr_expect_eq(zt_ranklist_min("x"), -1);
}

/* ---- singleton fallback -------------------------------------------------- */

static void no_pmix_env(void) {
    const char *vars[] = {"PMIX_NAMESPACE", "PMIX_RANK", "PMIX_SERVER_URI4", "PMIX_SERVER_URI3",
                          "PMIX_SERVER_URI2", "PMIX_SERVER_URI41", "PMIX_SERVER_URI21",
                          "PMIX_SERVER_TMPDIR", "PMIX_SYSTEM_TMPDIR", "SLURM_JOB_ID",
                          "SLURM_STEP_ID", "SLURM_RESTART_COUNT", "OMPI_COMM_WORLD_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
}

/* Run zt_boot_init with stderr captured into buf. */
static int init_captured(zt_proc_t *p, char *buf, size_t cap) {
    char path[] = "/tmp/zt_launcher_test_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int rc = zt_boot_init(p);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, buf, cap - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(path);
    return rc;
}

Test(singleton, no_server_gives_w1_with_one_line_notice) {
    no_pmix_env();
    zt_proc_t p;
    char err[4096];
    memset(&p, 0x5a, sizeof p);
    cr_assert_eq(init_captured(&p, err, sizeof err), 0);
    cr_expect_eq(p.singleton, 1);
    cr_expect_eq(p.rank, 0);
    cr_expect_eq(p.size, 1);
    cr_expect_eq(p.local_rank, 0);
    cr_expect_eq(p.local_size, 1);
    cr_expect_eq(p.node_id, 0);
    cr_expect_eq(p.num_nodes, 1);
    cr_expect_eq(p.restarts, 0);
    cr_expect_str_eq(p.launcher, "singleton");
    cr_expect_str_eq(p.stepid, "-");
    cr_expect_str_eq(p.jobid, p.nspace);
    cr_expect(strlen(p.hostname) > 0);
    /* exactly one line, saying what happened */
    cr_expect(strstr(err, "W=1") != NULL, "notice was: %s", err);
    char *nl = strchr(err, '\n');
    cr_expect(nl != NULL && nl[1] == '\0', "want exactly one line, got: %s", err);
    cr_expect_eq(zt_boot_peer_failed(), 0);
    cr_expect_eq(zt_boot_failed_rank(), -1);
    zt_boot_finalize();
    zt_boot_finalize();   /* idempotent */
}

Test(singleton, second_init_returns_the_same, .init = cr_redirect_stderr) {
    no_pmix_env();
    zt_proc_t a, b;
    cr_assert_eq(zt_boot_init(&a), 0);
    memset(&b, 0x33, sizeof b);
    cr_assert_eq(zt_boot_init(&b), 0);
    cr_expect_eq(memcmp(&a, &b, sizeof a), 0);
    zt_boot_finalize();
    memset(&b, 0x33, sizeof b);   /* after finalize: a fresh init works */
    cr_assert_eq(zt_boot_init(&b), 0);
    cr_expect_eq(b.size, 1);
    zt_boot_finalize();
}

Test(singleton, slurm_ids_from_environment) {
    no_pmix_env();
    setenv("SLURM_JOB_ID", "4242", 1);
    setenv("SLURM_RESTART_COUNT", "3", 1);
    zt_proc_t p;
    char err[4096];
    cr_assert_eq(init_captured(&p, err, sizeof err), 0);
    cr_expect_str_eq(p.jobid, "4242");
    cr_expect_str_eq(p.stepid, "-");
    cr_expect_eq(p.restarts, 3);
    zt_boot_finalize();
}

Test(singleton, key_value_round_trip) {
    no_pmix_env();
    zt_proc_t p;
    char err[4096];
    cr_assert_eq(init_captured(&p, err, sizeof err), 0);
    unsigned char blob[128], back[128];
    for (int i = 0; i < 128; i++) blob[i] = (unsigned char)(i * 7 + 1);
    blob[5] = 0;   /* a byte blob, not a string */
    cr_assert_eq(zt_boot_put("zt.test.blob", blob, sizeof blob), 0);
    cr_assert_eq(zt_boot_commit(), 0);
    cr_assert_eq(zt_boot_fence(1), 0);
    size_t got = 0;
    cr_assert_eq(zt_boot_get(0, "zt.test.blob", back, sizeof back, &got), 0);
    cr_expect_eq(got, sizeof blob);
    cr_expect_arr_eq(back, blob, sizeof blob);
    /* too small a buffer: error, and *got says how much is needed */
    cr_redirect_stderr();
    cr_expect_eq(zt_boot_get(0, "zt.test.blob", back, 16, &got), -1);
    cr_expect_eq(got, sizeof blob);
    zt_boot_finalize();
}

Test(singleton, kv_before_init_fails_cleanly, .init = cr_redirect_stderr) {
    char b[4];
    size_t got = 1;
    cr_expect_eq(zt_boot_put("k", "x", 1), -1);
    cr_expect_eq(zt_boot_commit(), -1);
    cr_expect_eq(zt_boot_fence(0), -1);
    cr_expect_eq(zt_boot_get(0, "k", b, sizeof b, &got), -1);
    cr_expect_eq(got, 0);
}

Test(singleton, abort_exits_with_status, .exit_code = ZT_EXIT_PEER, .init = cr_redirect_stderr) {
    no_pmix_env();
    zt_proc_t p;
    zt_boot_init(&p);
    zt_boot_abort(ZT_EXIT_PEER, "test abort");
}

Test(singleton, info_line_format) {
    zt_proc_t p;
    memset(&p, 0, sizeof p);
    p.rank = 2; p.size = 4; p.local_rank = 0; p.local_size = 1;
    p.node_id = 1; p.num_nodes = 2;
    strcpy(p.hostname, "n2");
    char line[256];
    zt_proc_format(&p, "mpi", line, sizeof line);
    cr_expect_str_eq(line, "rank 2/4 local 0/1 node 1/2 host n2 backend mpi");
}

/* ---- signals ------------------------------------------------------------- */

Test(signals, handler_only_sets_flag) {
    zt_signals_install();
    cr_expect_eq(zt_signal_pending(), 0);
    zt_signal_raise_for_test(SIGUSR2);
    cr_expect_eq(zt_signal_pending(), SIGUSR2);
    kill(getpid(), SIGTERM);   /* a real signal from outside: still alive */
    cr_expect_eq(zt_signal_pending(), SIGTERM);
    raise(SIGINT);
    cr_expect_eq(zt_signal_pending(), SIGINT);
    raise(SIGUSR1);
    cr_expect_eq(zt_signal_pending(), SIGUSR1);
    zt_signal_clear();
    cr_expect_eq(zt_signal_pending(), 0);
}

Test(signals, raise_for_test_without_handlers_only_records) {
    zt_signal_raise_for_test(SIGTERM);   /* must not kill the process */
    cr_expect_eq(zt_signal_pending(), SIGTERM);
}

Test(signals, handlers_restart_syscalls) {
    zt_signals_install();
    struct sigaction sa;
    sigaction(SIGUSR2, NULL, &sa);
    cr_expect(sa.sa_flags & SA_RESTART);
    cr_expect(sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
}
