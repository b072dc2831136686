/* ckpt_lock.c — one job per checkpoint root (checkpoint/ckpt_lock.c): a second
 * holder is refused and told who holds it; a holder that dies (SIGKILL)
 * leaves no lock behind; the root is created on the way. */
#include <criterion/criterion.h>
#include <signal.h>     /* kill, SIGKILL */
#include <stdio.h>      /* snprintf, fopen */
#include <stdlib.h>     /* mkdtemp, system */
#include <string.h>     /* strcmp, strstr */
#include <sys/wait.h>   /* waitpid */
#include <unistd.h>     /* fork, pipe, getpid, gethostname */
#include "zt_ckpt.h"

static char dir[64], root[128];
static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/zt-lock.XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(root, sizeof root, "%s/a/b/ck", dir);   /* does not exist yet */
}
static void teardown(void) { char c[128]; snprintf(c, sizeof c, "rm -rf %s", dir); cr_assert(system(c) == 0); }
TestSuite(lock, .init = setup, .fini = teardown);

Test(lock, second_holder_is_refused_and_named) {
    char err[1024], host[256] = "";
    gethostname(host, sizeof host - 1);
    int fd = zt_ck_lock(root, "812.0", NULL, err, sizeof err);
    cr_assert(fd >= 0, "%s", err);
    /* flock conflicts between two opens even in one process: the second
     * open stands for a second job */
    zt_ck_lock_holder h;
    int again = zt_ck_lock(root, "813.0", &h, err, sizeof err);
    cr_expect(again == ZT_CK_LOCK_BUSY, "got %d: %s", again, err);
    cr_expect_str_eq(h.job, "812.0");
    cr_expect_str_eq(h.host, host);
    cr_expect(h.pid == (long)getpid(), "pid %ld", h.pid);
    zt_ck_unlock(fd);
    int fd2 = zt_ck_lock(root, "813.0", &h, err, sizeof err);
    cr_expect(fd2 >= 0, "free again after unlock: %s", err);
    /* the file now names the new holder */
    char p[256], line[256] = "";
    snprintf(p, sizeof p, "%s/" ZT_CK_LOCK_FILE, root);
    FILE *f = fopen(p, "r"); cr_assert(f);
    cr_assert(fgets(line, sizeof line, f)); fclose(f);
    cr_expect(!strncmp(line, "job 813.0 host ", 15), "%s", line);
    zt_ck_unlock(fd2);
}

Test(lock, a_killed_holder_leaves_no_lock) {
    char err[1024];
    int ready[2];
    cr_assert(pipe(ready) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {   /* the first job: takes the lock, says so, waits to be killed */
        int fd = zt_ck_lock(root, "700.0", NULL, err, sizeof err);
        char ok = fd >= 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) _exit(1);
        for (;;) pause();
    }
    char ok = 0;
    cr_assert(read(ready[0], &ok, 1) == 1 && ok == 'y', "child could not lock");
    zt_ck_lock_holder h;
    cr_expect(zt_ck_lock(root, "701.0", &h, err, sizeof err) == ZT_CK_LOCK_BUSY);
    cr_expect(h.pid == (long)pid && !strcmp(h.job, "700.0"), "holder %s pid %ld", h.job, h.pid);
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* the file still names the dead job, but nothing holds it */
    int fd = zt_ck_lock(root, "701.0", &h, err, sizeof err);
    cr_expect(fd >= 0, "stale lock blocks: %d %s", fd, err);
    zt_ck_unlock(fd);
}

Test(lock, root_that_is_a_file_is_an_error) {
    char err[1024], p[160];
    snprintf(p, sizeof p, "%s/file", dir);
    FILE *f = fopen(p, "w"); cr_assert(f); fclose(f);
    cr_expect(zt_ck_lock(p, "1", NULL, err, sizeof err) == -1);
    cr_expect(strstr(err, p) != NULL, "%s", err);
}
