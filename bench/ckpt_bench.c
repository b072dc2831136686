/* ckpt_bench.c — checkpoint write and load+reshard throughput next to dd on
 * the same disk, in the same run (issue 5).
 *
 *   ckpt_bench [--dir DIR] [--mb 256] [--W 4] [--Wp 3] [--reps 3]
 *
 * State: params + AdamW m and v (3 slots' worth of fp32 = --mb MiB in all),
 * as 2-D [1024,4096] weights and [4096] biases. Each repetition, alternating:
 *   dd write   dd if=/dev/zero of=DIR/dd.bin bs=4M conv=fsync (same bytes)
 *   dd read    dd if=DIR/dd.bin of=/dev/null bs=4M, cold cache
 *   ckpt write prepare + W x write_shard (sequential, one process) + index + commit
 *   ckpt write W forked processes (one per rank, as on one node) + index + commit
 *   ckpt read  open + read params and both slots of every W' partition, cold cache
 *   ckpt verify open + CRC32 of every shard, cold cache
 * Cold cache: `echo 3 > /proc/sys/vm/drop_caches` as root, else
 * posix_fadvise(DONTNEED) on every file involved (both are reported).
 * Prints a markdown table of medians and the ratio to dd. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"   /* now, die, part */
#include "zt_ckpt.h"

static int drop_mode;   /* 1 drop_caches, 0 fadvise */

static void fadvise_tree(const char *path) {
    struct stat st;
    if (stat(path, &st) < 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char p[4096];
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            fadvise_tree(p);
        }
        if (d) closedir(d);
        return;
    }
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

static void cold(const char *path) {
    sync();
    FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
    if (f && fputs("3\n", f) >= 0 && fclose(f) == 0) {
        drop_mode = 1;
        return;
    }
    drop_mode = 0;
    fadvise_tree(path);
}

static double sh_time(const char *cmd) {
    double t0 = now();
    if (system(cmd) != 0) die("command failed", cmd);
    return now() - t0;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static zt_ck_layout L;
static float *state[3];
static zt_ck_meta meta;

static void write_shard(const char *tmp, int r, int W, uint32_t *crc) {
    char err[2048];
    uint64_t lo, hi;
    part(L.n_flat, W, r, &lo, &hi);
    const float *slots[2] = {state[1] + lo, state[2] + lo};
    if (zt_ck_write_shard(tmp, r, W, &L, lo, hi, state[0] + lo, slots, crc, err, sizeof err) < 0) die("write_shard", err);
}

static double ckpt_write(const char *root, uint64_t step, int W, int procs) {
    char err[2048], tmp[4096];
    uint64_t lo[64], hi[64];
    uint32_t crc[64];
    double t0 = now();
    if (zt_ck_prepare(root, step, err, sizeof err) < 0) die("prepare", err);
    zt_ck_tmp_path(root, step, tmp, sizeof tmp);
    if (!procs) {
        for (int r = 0; r < W; r++) write_shard(tmp, r, W, &crc[r]);
    } else {
        int pfd[64][2];
        pid_t pid[64];
        for (int r = 0; r < W; r++) {
            if (pipe(pfd[r]) < 0) die("pipe", strerror(errno));
            if ((pid[r] = fork()) == 0) {
                uint32_t c;
                write_shard(tmp, r, W, &c);
                if (write(pfd[r][1], &c, 4) != 4) _exit(1);
                _exit(0);
            }
            close(pfd[r][1]);
        }
        for (int r = 0; r < W; r++) {
            int st;
            if (read(pfd[r][0], &crc[r], 4) != 4) die("rank", "no crc");
            close(pfd[r][0]);
            waitpid(pid[r], &st, 0);
        }
    }
    for (int r = 0; r < W; r++) part(L.n_flat, W, r, &lo[r], &hi[r]);
    meta.step = step;
    meta.world = W;
    if (zt_ck_write_index(tmp, W, &L, lo, hi, crc, &meta, err, sizeof err) < 0) die("write_index", err);
    if (zt_ck_commit(root, step, 1, 0, err, sizeof err) < 0) die("commit", err);
    return now() - t0;
}

static double ckpt_read(const char *dir, int Wp, float *buf, int check) {
    char err[4096];
    double t0 = now();
    zt_ck_reader *r = zt_ck_open(dir, err, sizeof err);
    if (!r) die("open", err);
    for (int p = 0; p < Wp; p++) {
        uint64_t lo, hi;
        part(L.n_flat, Wp, p, &lo, &hi);
        for (int k = 0; k < 3; k++)
            if (zt_ck_read(r, k ? L.slot[k - 1] : NULL, lo, hi, buf, err, sizeof err) < 0) die("read", err);
        if (check)
            for (int k = 0; k < 3; k++) {
                if (zt_ck_read(r, k ? L.slot[k - 1] : NULL, lo, hi, buf, err, sizeof err) < 0) die("read", err);
                if (memcmp(buf, state[k] + lo, 4 * (hi - lo))) die("read", "values differ");
            }
    }
    zt_ck_close(r);
    return now() - t0;
}

static double ckpt_verify(const char *dir) {
    char err[4096];
    double t0 = now();
    if (zt_ck_verify(dir, err, sizeof err) < 0) die("verify", err);
    return now() - t0;
}

int main(int argc, char **argv) {
    const char *dir = "ckpt-bench.tmp";
    int mb = 256, W = 4, Wp = 3, reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--mb")) mb = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--W")) W = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--Wp")) Wp = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else die("usage", "ckpt_bench [--dir DIR] [--mb 256] [--W 4] [--Wp 3] [--reps 3]");
    }
    if (W < 1 || W > 64 || Wp < 1 || reps < 1 || reps > 32 || mb < 1) die("usage", "bad value");
    /* layout: n_flat = mb MiB / 12 bytes (param + m + v) */
    uint64_t n = (uint64_t)mb * 1024 * 1024 / 12, pos = 0;
    int nt = 0;
    zt_ck_tensor *t = calloc(2 * (n / (1024 * 4096) + 2) + 2, sizeof *t);
    for (int blk = 0; pos < n; blk++) {
        uint64_t rows = (n - pos) / 4096;
        if (rows > 1024) rows = 1024;
        if (rows) {
            snprintf(t[nt].name, sizeof t[nt].name, "blk%d.w", blk);
            t[nt].ndim = 2, t[nt].shape[0] = rows, t[nt].shape[1] = 4096, t[nt].off = pos;
            pos += rows * 4096, nt++;
        }
        uint64_t b = n - pos < 4096 ? n - pos : 4096;
        if (b) {
            snprintf(t[nt].name, sizeof t[nt].name, "blk%d.b", blk);
            t[nt].ndim = 1, t[nt].shape[0] = b, t[nt].off = pos;
            pos += b, nt++;
        }
    }
    L.n_tensors = nt, L.t = t, L.n_flat = n, L.n_slots = 2;
    strcpy(L.slot[0], "m"), strcpy(L.slot[1], "v");
    for (int k = 0; k < 3; k++) {
        state[k] = malloc(4 * n);
        uint32_t h = 0x9e3779b9u * (uint32_t)(k + 1);
        for (uint64_t x = 0; x < n; x++) h = h * 1664525u + 1013904223u, state[k][x] = (float)(int32_t)h * 1e-9f;
    }
    snprintf(meta.model, sizeof meta.model, "bench %d tensors", nt);
    snprintf(meta.optim, sizeof meta.optim, "adamw");
    float *buf = malloc(4 * ((n + (uint64_t)Wp - 1) / (uint64_t)Wp + 1));
    double bytes = 12.0 * (double)n, MB = bytes / 1e6;
    char root[4096], cmd[8192], dd[4096], stepdir[4200];
    mkdir(dir, 0755);
    snprintf(root, sizeof root, "%s/ck", dir);
    snprintf(dd, sizeof dd, "%s/dd.bin", dir);
    long blocks = (long)(bytes / (4 << 20));     /* dd in 4 MiB blocks, same byte count */
    double v_ddw[32], v_ddr[32], v_w[32], v_wp[32], v_r[32], v_v[32];
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("# state %.1f MB (%llu params + m + v, %d tensors), W=%d -> W'=%d, %d reps, dir %s\n", MB,
           (unsigned long long)n, nt, W, Wp, reps, dir);
    for (int i = 0; i < reps; i++) {
        uint64_t step = 100 + (uint64_t)i * 10;
        snprintf(cmd, sizeof cmd, "dd if=/dev/zero of=%s bs=4M count=%ld conv=fsync status=none", dd, blocks);
        v_ddw[i] = sh_time(cmd) * bytes / ((double)blocks * (4 << 20));
        cold(dir);
        snprintf(cmd, sizeof cmd, "dd if=%s of=/dev/null bs=4M status=none", dd);
        v_ddr[i] = sh_time(cmd) * bytes / ((double)blocks * (4 << 20));
        unlink(dd);
        v_w[i] = ckpt_write(root, step, W, 0);
        v_wp[i] = ckpt_write(root, step + 1, W, 1);
        snprintf(stepdir, sizeof stepdir, "%s/step-%08llu", root, (unsigned long long)(step + 1));
        cold(dir);
        v_r[i] = ckpt_read(stepdir, Wp, buf, 0);
        cold(dir);
        v_v[i] = ckpt_verify(stepdir);
        fprintf(stderr, "  rep %d: dd write %.0f, dd read %.0f | ckpt write %.0f, write (procs) %.0f, read+reshard %.0f, verify %.0f MB/s\n", i,
                MB / v_ddw[i], MB / v_ddr[i], MB / v_w[i], MB / v_wp[i], MB / v_r[i], MB / v_v[i]);
    }
    /* correctness of what was measured: values equal after the W->W' reshard */
    ckpt_read(stepdir, Wp, buf, 1);
    double ddw = MB / median(v_ddw, reps), ddr = MB / median(v_ddr, reps);
    double w = MB / median(v_w, reps), wp = MB / median(v_wp, reps), r = MB / median(v_r, reps),
           v = MB / median(v_v, reps);
    printf("cold cache by: %s\n\n", drop_mode ? "drop_caches" : "posix_fadvise(DONTNEED)");
    printf("| operation (%.0f MB) | MB/s | dd MB/s | ratio |\n|---|---:|---:|---:|\n", MB);
    printf("| write W=%d shards, 1 process (sequential calls), fsync + commit | %.0f | %.0f | %.2f |\n", W, w, ddw, w / ddw);
    printf("| write W=%d shards, %d processes (one per rank), fsync + commit | %.0f | %.0f | %.2f |\n", W, W, wp, ddw, wp / ddw);
    printf("| read + reshard W=%d -> W'=%d (all partitions, params + m + v), cold | %.0f | %.0f | %.2f |\n", W, Wp, r, ddr, r / ddr);
    printf("| verify: CRC32 of all %d shards, cold | %.0f | %.0f | %.2f |\n", W, v, ddr, v / ddr);
    if (getenv("CKB_KEEP")) return 0;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd)) {}
    rmdir(dir);
    return 0;
}
