/* launcher_launch_test.c — tests of launcher/ztrain-launch (bash): which
 * launcher it picks, the flags it adds, and that arguments reach the ranks
 * unchanged (spaces, quotes, '$', globs, newlines, empty strings), both in
 * --dry-run and through a real `mpirun` (label unit: mpirun -n 1/2 of
 * /usr/bin/printf takes about a second). The srun path is run for real by
 * tests/slurm/test_sbatch.sh inside an allocation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ZT_LAUNCH_SCRIPT
#error "ZT_LAUNCH_SCRIPT must name launcher/ztrain-launch"
#endif

/* Run the script with argv (NULL-terminated, argv[0] excluded), capture stdout
 * into out; returns the exit status (or 128+signal). */
static int run_launch(char *out, size_t cap, const char *const *args) {
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        const char *argv[64];
        int n = 0;
        argv[n++] = ZT_LAUNCH_SCRIPT;
        for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
        argv[n] = NULL;
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execv(ZT_LAUNCH_SCRIPT, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t len = 0;
    ssize_t k;
    while ((k = read(pfd[0], out + len, cap - 1 - len)) > 0) len += (size_t)k;
    out[len] = 0;
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Split dry-run output into lines (modifies buf). */
static int lines(char *buf, char **v, int cap) {
    int n = 0;
    for (char *s = buf; *s && n < cap;) {
        char *nl = strchr(s, '\n');
        if (!nl) { v[n++] = s; break; }
        *nl = 0;
        v[n++] = s;
        s = nl + 1;
    }
    return n;
}

static int has_pair(char **v, int n, const char *a, const char *b) {
    for (int i = 0; i + 1 < n; i++)
        if (!strcmp(v[i], a) && (!b || !strcmp(v[i + 1], b))) return 1;
    return 0;
}

static const char *const k_tail[] = {"prog", "a b", "", "$HOME", "\"q\" 'r'", "*", "-n", "--", NULL};
#define K_TAIL_N 8

static void expect_tail(char **v, int n) {
    cr_assert(n >= K_TAIL_N);
    for (int i = 0; i < K_TAIL_N; i++)
        cr_expect_str_eq(v[n - K_TAIL_N + i], k_tail[i], "word %d", i);
}

Test(ztrain_launch, outside_slurm_uses_mpirun) {
    unsetenv("SLURM_JOB_ID");
    unsetenv("ZT_LAUNCH_MODE");
    setenv("ZT_SOMETHING", "1", 1);
    const char *args[] = {"-n", "3", "--dry-run", "--", "prog", "a b", "", "$HOME", "\"q\" 'r'",
                          "*", "-n", "--", NULL};
    char out[8192], *v[128];
    cr_assert_eq(run_launch(out, sizeof out, args), 0);
    int n = lines(out, v, 128);
    cr_expect_str_eq(v[0], "mpirun");
    cr_expect(has_pair(v, n, "--oversubscribe", NULL));
    cr_expect(has_pair(v, n, "--bind-to", "none"));
    cr_expect(has_pair(v, n, "-n", "3"));
    cr_expect(has_pair(v, n, "-x", "PATH"));
    cr_expect(has_pair(v, n, "-x", "ZT_SOMETHING"));
    if (geteuid() == 0) cr_expect(has_pair(v, n, "--allow-run-as-root", NULL));
    expect_tail(v, n);
}

Test(ztrain_launch, inside_allocation_uses_srun) {
    setenv("SLURM_JOB_ID", "12345", 1);
    unsetenv("ZT_LAUNCH_MODE");
    /* short forms glued to their value; no "--": the command starts at "prog" */
    const char *args2[] = {"--dry-run", "-n4", "--nodes=1-2", "prog", "a b", "", "$HOME",
                           "\"q\" 'r'", "*", "-n", "--", NULL};
    char out[8192], *v[128];
    cr_assert_eq(run_launch(out, sizeof out, args2), 0);
    int n = lines(out, v, 128);
    cr_expect_str_eq(v[0], "srun");
    cr_expect_str_eq(v[1], "--mpi=pmix");
    cr_expect_str_eq(v[2], "--kill-on-bad-exit=1");
    cr_expect(has_pair(v, n, "-n", "4"));
    cr_expect(has_pair(v, n, "-N", "1-2"));
    cr_expect(!has_pair(v, n, "--oversubscribe", NULL));
    expect_tail(v, n);
}

Test(ztrain_launch, forced_mode_and_defaults) {
    setenv("SLURM_JOB_ID", "1", 1);
    setenv("ZT_LAUNCH_MODE", "mpirun", 1);
    const char *args[] = {"--dry-run", "--", "x", NULL};
    char out[8192], *v[128];
    cr_assert_eq(run_launch(out, sizeof out, args), 0);
    int n = lines(out, v, 128);
    cr_expect_str_eq(v[0], "mpirun");
    cr_expect(has_pair(v, n, "-n", "1"));   /* default outside Slurm */
    cr_expect_str_eq(v[n - 1], "x");
    setenv("ZT_LAUNCH_MODE", "srun", 1);
    cr_assert_eq(run_launch(out, sizeof out, args), 0);
    n = lines(out, v, 128);
    cr_expect_str_eq(v[0], "srun");
    cr_expect(!has_pair(v, n, "-n", NULL));   /* srun takes SLURM_NTASKS itself */
}

Test(ztrain_launch, bad_command_lines_exit_2) {
    unsetenv("SLURM_JOB_ID");
    unsetenv("ZT_LAUNCH_MODE");
    char out[4096];
    const char *a1[] = {"-n", "0", "--", "x", NULL};
    const char *a2[] = {"-n", "two", "--", "x", NULL};
    const char *a3[] = {"-n", "2", "--", NULL};
    const char *a4[] = {"--bogus", "--", "x", NULL};
    const char *a5[] = {"-n", NULL};
    const char *a6[] = {"-N", "2-x", "--", "x", NULL};
    const char *const *all[] = {a1, a2, a3, a4, a5, a6};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cr_expect_eq(run_launch(out, sizeof out, all[i]), 2, "case %zu", i);
    setenv("ZT_LAUNCH_MODE", "pbs", 1);
    const char *a7[] = {"--", "x", NULL};
    cr_expect_eq(run_launch(out, sizeof out, a7), 2);
}

/* Real mpirun: arguments arrive byte for byte, exit status comes back. */
Test(ztrain_launch, mpirun_passes_arguments_unchanged, .timeout = 60) {
    unsetenv("SLURM_JOB_ID");
    unsetenv("ZT_LAUNCH_MODE");
    const char *args[] = {"-n", "1", "--", "/usr/bin/printf", "[%s]\\n", "a b", "$HOME",
                          "\"q\" 'r'", "*", "c\nd", "-n", "--", "x;y", NULL};
    char out[8192];
    cr_assert_eq(run_launch(out, sizeof out, args), 0);
    cr_expect_str_eq(out, "[a b]\n[$HOME]\n[\"q\" 'r']\n[*]\n[c\nd]\n[-n]\n[--]\n[x;y]\n");
}

Test(ztrain_launch, mpirun_runs_n_ranks_and_returns_failure, .timeout = 60) {
    unsetenv("SLURM_JOB_ID");
    unsetenv("ZT_LAUNCH_MODE");
    const char *args[] = {"-n", "2", "--", "/bin/sh", "-c", "echo rank=$OMPI_COMM_WORLD_RANK",
                          NULL};
    char out[8192];
    cr_assert_eq(run_launch(out, sizeof out, args), 0);
    cr_expect(strstr(out, "rank=0\n") && strstr(out, "rank=1\n"), "got: %s", out);
    const char *fail[] = {"-n", "1", "--", "/bin/sh", "-c", "exit 7", NULL};
    cr_expect_neq(run_launch(out, sizeof out, fail), 0);
}
