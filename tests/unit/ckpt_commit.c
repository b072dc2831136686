/* ckpt_commit.c — commit, latest, abandon, retention, re-commit of a step. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ckpt_util.h"

static char root[512];

static void setup(void) { ckt_mkdtemp(root, sizeof root); }
static void teardown(void) { ckt_rmdir(root); }

TestSuite(commit, .init = setup, .fini = teardown);

/* Sorted, space-separated names under root (dot entries included). */
static void listing(char *out, size_t cap) {
    struct dirent **ents;
    int n = scandir(root, &ents, NULL, alphasort);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
            if (out[0]) strncat(out, " ", cap - strlen(out) - 1);
            strncat(out, ents[i]->d_name, cap - strlen(out) - 1);
        }
        free(ents[i]);
    }
    free(ents);
}

static void latest_is(const char *want) {
    char p[700], buf[128];
    snprintf(p, sizeof p, "%s/latest", root);
    cr_assert_eq(ckt_slurp(p, buf, sizeof buf), 0, "no latest");
    char w[80];
    snprintf(w, sizeof w, "%s\n", want);
    cr_assert_str_eq(buf, w);
}

Test(commit, commit_renames_and_points_latest) {
    char err[1024], ls[2048], tmp[700];
    cr_assert_eq(ckt_write_tmp(root, 10, 4, &ckt_layout, 1, err, sizeof err), 0, "%s", err);
    zt_ck_tmp_path(root, 10, tmp, sizeof tmp);
    listing(ls, sizeof ls);
    cr_assert_str_eq(ls, ".tmp-step-00000010");
    cr_assert_eq(zt_ck_commit(root, 10, 0, 0, err, sizeof err), 0, "%s", err);
    listing(ls, sizeof ls);
    cr_assert_str_eq(ls, "latest step-00000010");
    latest_is("step-00000010");
    char d[700];
    snprintf(d, sizeof d, "%s/step-00000010", root);
    cr_assert_eq(zt_ck_verify(d, err, sizeof err), 0, "%s", err);
}

Test(commit, refuses_incomplete_tmp_dir) {
    char err[1024], tmp[700], p[800], ls[2048];
    cr_assert_eq(ckt_write(root, 10, 4, &ckt_layout, 1, 0, 0, err, sizeof err), 0, "%s", err);
    /* step 20: shards but no index */
    cr_assert_eq(ckt_write_tmp(root, 20, 4, &ckt_layout, 2, err, sizeof err), 0, "%s", err);
    zt_ck_tmp_path(root, 20, tmp, sizeof tmp);
    snprintf(p, sizeof p, "%s/index.h5", tmp);
    unlink(p);
    cr_assert_eq(zt_ck_commit(root, 20, 0, 0, err, sizeof err), -1);
    cr_assert(strstr(err, "refusing") && strstr(err, "index"), "%s", err);
    /* step 20 again: index but one shard gone */
    cr_assert_eq(ckt_write_tmp(root, 20, 4, &ckt_layout, 2, err, sizeof err), 0, "%s", err);
    snprintf(p, sizeof p, "%s/shard-00002-of-00004.h5", tmp);
    unlink(p);
    cr_assert_eq(zt_ck_commit(root, 20, 0, 0, err, sizeof err), -1);
    cr_assert(strstr(err, "shard-00002-of-00004.h5"), "%s", err);
    latest_is("step-00000010");
    zt_ck_abandon(root, 20);
    listing(ls, sizeof ls);
    cr_assert_str_eq(ls, "latest step-00000010");
}

Test(commit, write_index_needs_every_shard) {
    char err[1024], tmp[700], p[800];
    cr_assert_eq(ckt_write_tmp(root, 10, 4, &ckt_layout, 1, err, sizeof err), 0, "%s", err);
    zt_ck_tmp_path(root, 10, tmp, sizeof tmp);
    snprintf(p, sizeof p, "%s/shard-00003-of-00004.h5", tmp);
    unlink(p);
    uint64_t lo[4], hi[4];
    uint32_t crc[4] = {0};
    for (int r = 0; r < 4; r++) ckt_part(76, 4, r, &lo[r], &hi[r]);
    zt_ck_meta m;
    ckt_meta(&m, 10, 4);
    cr_assert_eq(zt_ck_write_index(tmp, 4, &ckt_layout, lo, hi, crc, &m, err, sizeof err), -1);
    cr_assert(strstr(err, "shard-00003-of-00004.h5"), "%s", err);
    /* ranges that do not tile [0,76) */
    hi[1] = 30;
    cr_assert_eq(zt_ck_write_index(tmp, 4, &ckt_layout, lo, hi, crc, &m, err, sizeof err), -1);
}

Test(commit, retention_keep_last_and_keep_every) {
    char err[1024], ls[2048];
    for (uint64_t s = 10; s <= 60; s += 10)
        cr_assert_eq(ckt_write(root, s, 2, &ckt_layout, (uint32_t)s, 3, 20, err, sizeof err), 0, "%s", err);
    listing(ls, sizeof ls);
    /* newest 3 (40,50,60) + multiples of 20 (20,40,60) */
    cr_assert_str_eq(ls, "latest step-00000020 step-00000040 step-00000050 step-00000060");
    latest_is("step-00000060");
    cr_assert_eq(ckt_write(root, 70, 2, &ckt_layout, 70, 1, 0, err, sizeof err), 0, "%s", err);
    listing(ls, sizeof ls);
    cr_assert_str_eq(ls, "latest step-00000070");
    cr_assert_eq(ckt_write(root, 80, 2, &ckt_layout, 80, 0, 0, err, sizeof err), 0, "%s", err);
    listing(ls, sizeof ls);
    cr_assert_str_eq(ls, "latest step-00000070 step-00000080");
}

Test(commit, retention_never_deletes_latest_target) {
    char err[1024], ls[2048], path[700], log[2048];
    for (uint64_t s = 10; s <= 30; s += 10)
        cr_assert_eq(ckt_write(root, s, 2, &ckt_layout, (uint32_t)s, 0, 0, err, sizeof err), 0, "%s", err);
    /* a resume from step 10 (say 20 and 30 were bad) commits 15 with keep_last=1:
     * 30 is the newest by number, 15 is what latest names: both stay */
    cr_assert_eq(ckt_write(root, 15, 2, &ckt_layout, 15, 1, 0, err, sizeof err), 0, "%s", err);
    listing(ls, sizeof ls);
    cr_assert_str_eq(ls, "latest step-00000015 step-00000030");
    latest_is("step-00000015");
    cr_assert_eq(zt_ck_resolve(root, path, sizeof path, log, sizeof log, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(path, "step-00000015"), "%s", path);
}

Test(commit, recommit_same_step_replaces_it_safely) {
    char err[1024], ls[2048], d[700];
    snprintf(d, sizeof d, "%s/step-00000010", root);
    cr_assert_eq(ckt_write(root, 10, 4, &ckt_layout, 1, 0, 0, err, sizeof err), 0, "%s", err);
    /* run again after a crash: same step, other W and values */
    cr_assert_eq(ckt_write(root, 10, 3, &ckt_layout, 2, 0, 0, err, sizeof err), 0, "%s", err);
    listing(ls, sizeof ls);
    cr_assert_str_eq(ls, "latest step-00000010");
    zt_ck_reader *r = zt_ck_open(d, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_assert_eq(zt_ck_world_of(r), 3);
    float got[76], *want = ckt_full(&ckt_layout, 0, 2);
    cr_assert_eq(zt_ck_read(r, NULL, 0, 76, got, err, sizeof err), 0, "%s", err);
    cr_assert(memcmp(got, want, sizeof got) == 0);
    zt_ck_close(r);
    free(want);
    /* only the 3 shards + index.h5 + index.crc32 are in the dir */
    DIR *dd = opendir(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd))) n += e->d_name[0] != '.';
    closedir(dd);
    cr_assert_eq(n, 5);
}

Test(commit, stale_tmp_dirs_are_cleaned_and_prepare_is_idempotent) {
    char err[1024], ls[2048], junk[800], tmp[700];
    cr_assert_eq(zt_ck_prepare(root, 5, err, sizeof err), 0, "%s", err);     /* crashed save */
    cr_assert_eq(zt_ck_prepare(root, 10, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zt_ck_prepare(root, 10, err, sizeof err), 0, "%s", err);    /* second rank */
    /* a shard left from an attempt at another W */
    zt_ck_tmp_path(root, 10, tmp, sizeof tmp);
    snprintf(junk, sizeof junk, "%s/shard-00000-of-00002.h5", tmp);
    FILE *f = fopen(junk, "w");
    fputs("junk", f);
    fclose(f);
    cr_assert_eq(ckt_write(root, 10, 4, &ckt_layout, 1, 0, 0, err, sizeof err), 0, "%s", err);
    listing(ls, sizeof ls);
    cr_assert_str_eq(ls, "latest step-00000010");
    char d[700];
    snprintf(d, sizeof d, "%s/step-00000010/shard-00000-of-00002.h5", root);
    cr_assert_eq(access(d, F_OK), -1, "stray shard committed");
    /* prepare on a path that is a file fails with a message */
    snprintf(junk, sizeof junk, "%s/afile", root);
    f = fopen(junk, "w");
    fclose(f);
    cr_assert_eq(zt_ck_prepare(junk, 10, err, sizeof err), -1);
    cr_assert(strstr(err, "afile"), "%s", err);
}

Test(commit, abandon_removes_tmp) {
    char err[1024], ls[2048];
    cr_assert_eq(ckt_write(root, 10, 2, &ckt_layout, 1, 0, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ckt_write_tmp(root, 20, 2, &ckt_layout, 2, err, sizeof err), 0, "%s", err);
    zt_ck_abandon(root, 20);
    listing(ls, sizeof ls);
    cr_assert_str_eq(ls, "latest step-00000010");
}

Test(commit, step_names) {
    char b[64];
    zt_ck_step_name(1200, b, sizeof b);
    cr_assert_str_eq(b, "step-00001200");
    zt_ck_tmp_path("ckpt", 1200, b, sizeof b);
    cr_assert_str_eq(b, "ckpt/.tmp-step-00001200");
}

/* SIGKILL at random moments while a process saves in a loop (re-committing
 * step numbers that exist, retention deleting dirs): after every kill, latest
 * names a checkpoint that opens and verifies, with no fallback. The saver
 * reports each commit on a pipe; the kill waits for 1-3 of them, then lands a
 * random 0-20 ms later, inside a following save. So every round kills after a
 * commit whatever the machine's speed (no "long enough" sleeps). */
Test(commit, sigkill_during_saves_latest_always_loads, .timeout = 120) {
    char err[2048], path[700], log[4096], want[700], name[128], p[700];
    cr_assert_eq(ckt_write(root, 1, 2, &ckt_big_layout, 1, 0, 0, err, sizeof err), 0, "%s", err);
    srand((unsigned)time(NULL));
    int kills = 0, commits_seen = 0;
    for (int round = 0; round < 30; round++) {
        int fd[2];
        cr_assert_eq(pipe(fd), 0);
        pid_t pid = fork();
        if (pid == 0) {
            char e[2048];
            close(fd[0]);
            for (uint64_t s = 2;; s++) {               /* every round restarts at 2 */
                if (ckt_write(root, s, 2, &ckt_big_layout, (uint32_t)s, 2, 0, e, sizeof e) < 0) _exit(3);
                if (write(fd[1], "c", 1) != 1) _exit(4);
            }
        }
        close(fd[1]);
        int want_commits = 1 + rand() % 3;
        char c;
        for (int i = 0; i < want_commits; i++)
            cr_assert_eq(read(fd[0], &c, 1), 1, "round %d: saver died before commit %d", round, i + 1);
        usleep((useconds_t)(rand() % 20000));
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        close(fd[0]);
        cr_assert(WIFSIGNALED(st), "saver exited by itself (status %d)", st);
        kills++;
        snprintf(p, sizeof p, "%s/latest", root);
        cr_assert_eq(ckt_slurp(p, name, sizeof name), 0, "latest missing after kill %d", round);
        name[strcspn(name, "\n")] = '\0';
        snprintf(want, sizeof want, "%s/%s", root, name);
        commits_seen += strcmp(name, "step-00000001") != 0;
        cr_assert_eq(zt_ck_resolve(root, path, sizeof path, log, sizeof log, err, sizeof err), 0, "round %d: %s\n%s",
                     round, err, log);
        cr_assert_str_eq(path, want, "round %d: latest %s did not load: %s", round, name, log);
        cr_assert_str_eq(log, "", "round %d: fallback needed: %s", round, log);
    }
    cr_log_info("%d kills, latest moved past step 1 in %d rounds", kills, commits_seen);
    cr_assert_eq(commits_seen, kills, "latest still named step 1 after a kill that followed a commit");
}
