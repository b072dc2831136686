/* ckpt_diskfull.c — a save that runs out of space fails with a clear error
 * (file + OS error), the previous checkpoint and latest stay intact, and
 * nothing half-written is ever named by latest.
 *   tmpfs:   a 2 MiB tmpfs (needs root + mount permission; skipped otherwise)
 *   fsize:   RLIMIT_FSIZE in a forked child (works everywhere: EFBIG) */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt_util.h"

static char root[512], mnt[600];
static int mounted;

static void setup(void) {
    ckt_mkdtemp(root, sizeof root);
    snprintf(mnt, sizeof mnt, "%s/mnt", root);
}
static void teardown(void) {
    if (mounted) umount2(mnt, MNT_DETACH);
    ckt_rmdir(root);
}

TestSuite(diskfull, .init = setup, .fini = teardown);

/* After the failure: latest = step 1, it verifies, no step-2 dir, resolve
 * picks step 1, and a commit of the failed step is refused. */
static void previous_intact(const char *ck, const char *failed_err) {
    char p[800], buf[128], err[2048], path[800], log[2048];
    /* the failing shard named in the message was removed at once (space back) */
    const char *a = strstr(failed_err, "failed on "), *b = a ? strstr(a, ".h5") : NULL;
    cr_assert(a && b, "no file in: %s", failed_err);
    a += strlen("failed on ");
    snprintf(p, sizeof p, "%.*s.h5", (int)(b - a), a);
    cr_assert_eq(access(p, F_OK), -1, "partial shard %s left behind", p);
    snprintf(p, sizeof p, "%s/latest", ck);
    cr_assert_eq(ckt_slurp(p, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "step-00000001\n");
    snprintf(p, sizeof p, "%s/step-00000001", ck);
    cr_assert_eq(zt_ck_verify(p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zt_ck_commit(ck, 2, 0, 0, err, sizeof err), -1, "a failed save must not commit");
    zt_ck_abandon(ck, 2);
    snprintf(p, sizeof p, "%s/step-00000002", ck);
    cr_assert_eq(access(p, F_OK), -1);
    snprintf(p, sizeof p, "%s/.tmp-step-00000002", ck);
    cr_assert_eq(access(p, F_OK), -1, "abandon left the tmp dir");
    cr_assert_eq(zt_ck_resolve(ck, path, sizeof path, log, sizeof log, err, sizeof err), 0, "%s", err);
    snprintf(p, sizeof p, "%s/step-00000001", ck);
    cr_assert_str_eq(path, p);
    /* the data of step 1 is right */
    zt_ck_reader *r = zt_ck_open(p, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    float *want = ckt_full(&ckt_big_layout, 1, 1), *got = malloc(4 * ckt_big_layout.n_flat);
    cr_assert_eq(zt_ck_read(r, "m", 0, ckt_big_layout.n_flat, got, err, sizeof err), 0, "%s", err);
    cr_assert(memcmp(got, want, 4 * ckt_big_layout.n_flat) == 0);
    free(want), free(got);
    zt_ck_close(r);
}

Test(diskfull, tmpfs_enospc) {
    char err[2048], ck[700];
    if (geteuid() != 0) cr_skip_test("not root: tmpfs cannot be mounted (RLIMIT_FSIZE test covers this)");
    cr_assert_eq(mkdir(mnt, 0755), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=2m") < 0)
        cr_skip_test("mount tmpfs: %s (RLIMIT_FSIZE test covers this)", strerror(errno));
    mounted = 1;
    snprintf(ck, sizeof ck, "%s/ckpt", mnt);
    /* 1.2 MiB per checkpoint: the first fits in 2 MiB, the second cannot */
    cr_assert_eq(ckt_write(ck, 1, 2, &ckt_big_layout, 1, 0, 0, err, sizeof err), 0, "%s", err);
    int rc = ckt_write_tmp(ck, 2, 2, &ckt_big_layout, 2, err, sizeof err);
    cr_assert_eq(rc, -1, "second checkpoint should not fit");
    cr_assert(strstr(err, "No space left on device"), "%s", err);
    cr_assert(strstr(err, "/.tmp-step-00000002/shard-0000"), "names the file: %s", err);
    cr_assert(strstr(err, ".c:"), "names file:line: %s", err);
    cr_log_info("ENOSPC message: %s", err);
    previous_intact(ck, err);
}

Test(diskfull, rlimit_fsize_efbig) {
    char err[2048], ck[700];
    snprintf(ck, sizeof ck, "%s/ckpt", root);
    cr_assert_eq(ckt_write(ck, 1, 2, &ckt_big_layout, 1, 0, 0, err, sizeof err), 0, "%s", err);
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {256 << 10, 256 << 10};   /* shards are ~300 KiB */
        setrlimit(RLIMIT_FSIZE, &rl);
        char e[2048] = "";
        int rc = ckt_write_tmp(ck, 2, 2, &ckt_big_layout, 2, e, sizeof e);
        if (write(pfd[1], e, strlen(e) + 1) < 0) _exit(3);
        _exit(rc == -1 ? 0 : 1);
    }
    close(pfd[1]);
    ssize_t n = read(pfd[0], err, sizeof err - 1);
    err[n > 0 ? n : 0] = '\0';
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: write should fail; status %d, err %s", st, err);
    cr_assert(strstr(err, "File too large"), "%s", err);
    cr_assert(strstr(err, "shard-0000"), "names the file: %s", err);
    cr_log_info("EFBIG message: %s", err);
    previous_intact(ck, err);
}
