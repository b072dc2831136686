/* ckpt_util.c — helpers for the checkpoint unit tests. */
#include "ckpt_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const zt_ck_tensor small_t[] = {
    {"w1", 2, {5, 7}, 0},
    {"b1", 1, {7, 0}, 35},
    {"w2", 2, {3, 11}, 42},
    {"s", 1, {1, 0}, 75},
};
const zt_ck_layout ckt_layout = {4, small_t, 76, 2, {"m", "v"}};

static const zt_ck_tensor big_t[] = {
    {"big", 2, {150, 1024}, 0},
    {"b", 1, {24, 0}, 153600},
};
const zt_ck_layout ckt_big_layout = {2, big_t, 153624, 1, {"m"}};

float ckt_val(int k, uint64_t x, uint32_t salt) {
    /* distinct, exactly representable, sign and exponent vary */
    uint32_t h = (uint32_t)(x * 2654435761u) ^ (salt * 40503u) ^ ((uint32_t)k << 24);
    h ^= h >> 13;
    float v = (float)(h % 200003u) / 64.0f - 1500.0f;
    return k == 0 ? v : v * (float)(k + 1) + 0.5f;
}

float *ckt_full(const zt_ck_layout *L, int k, uint32_t salt) {
    float *p = malloc(sizeof(float) * (L->n_flat ? L->n_flat : 1));
    for (uint64_t x = 0; x < L->n_flat; x++) p[x] = ckt_val(k, x, salt);
    return p;
}

void ckt_part(uint64_t n, int W, int r, uint64_t *lo, uint64_t *hi) {
    uint64_t pp = (n + (uint64_t)W - 1) / (uint64_t)W * (uint64_t)W;
    *lo = (uint64_t)r * pp / (uint64_t)W;
    *hi = (uint64_t)(r + 1) * pp / (uint64_t)W;
    if (*lo > n) *lo = n;
    if (*hi > n) *hi = n;
}

void ckt_meta(zt_ck_meta *m, uint64_t step, int W) {
    memset(m, 0, sizeof *m);
    m->step = step;
    m->world = W;
    m->stage = 2;
    m->seed = 1234567;
    snprintf(m->model, sizeof m->model, "mlp in=7 hidden=5 out=11");
    snprintf(m->optim, sizeof m->optim, "adamw lr=0.001 b1=0.9 b2=0.999 wd=0.01");
    snprintf(m->config, sizeof m->config, "[train]\nsteps=100\nbatch=64\n[ckpt]\nevery=10\n");
}

int ckt_write_tmp(const char *root, uint64_t step, int W, const zt_ck_layout *L, uint32_t salt, char *err,
                  size_t errlen) {
    char tmp[4096];
    int rc = -1;
    float *full[1 + ZT_CK_MAX_SLOTS] = {0};
    uint64_t *lo = calloc((size_t)W, 8), *hi = calloc((size_t)W, 8);
    uint32_t *crc = calloc((size_t)W, 4);
    zt_ck_meta *m = malloc(sizeof *m);
    for (int k = 0; k <= L->n_slots; k++) full[k] = ckt_full(L, k, salt);
    if (zt_ck_prepare(root, step, err, errlen) < 0) goto done;
    zt_ck_tmp_path(root, step, tmp, sizeof tmp);
    for (int r = 0; r < W; r++) {
        const float *slots[ZT_CK_MAX_SLOTS];
        ckt_part(L->n_flat, W, r, &lo[r], &hi[r]);
        for (int s = 0; s < L->n_slots; s++) slots[s] = full[s + 1] + lo[r];
        if (zt_ck_write_shard(tmp, r, W, L, lo[r], hi[r], full[0] + lo[r], slots, &crc[r], err, errlen) < 0)
            goto done;
    }
    ckt_meta(m, step, W);
    if (zt_ck_write_index(tmp, W, L, lo, hi, crc, m, err, errlen) < 0) goto done;
    rc = 0;
done:
    for (int k = 0; k <= L->n_slots; k++) free(full[k]);
    free(lo), free(hi), free(crc), free(m);
    return rc;
}

int ckt_write(const char *root, uint64_t step, int W, const zt_ck_layout *L, uint32_t salt, int keep_last,
              int keep_every, char *err, size_t errlen) {
    if (ckt_write_tmp(root, step, W, L, salt, err, errlen) < 0) return -1;
    return zt_ck_commit(root, step, keep_last, keep_every, err, errlen);
}

void ckt_mkdtemp(char *out, size_t cap) {
    const char *t = getenv("TMPDIR");
    snprintf(out, cap, "%s/ztck-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        abort();
    }
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) { return remove(p); }
void ckt_rmdir(const char *path) { nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

void ckt_flip(const char *path, long off) {
    int fd = open(path, O_RDWR);
    unsigned char b;
    if (fd < 0 || pread(fd, &b, 1, off) != 1) abort();
    b ^= 0x10;
    if (pwrite(fd, &b, 1, off) != 1) abort();
    close(fd);
}

void ckt_truncate(const char *path, long len) {
    if (truncate(path, len) < 0) abort();
}

long ckt_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) < 0 ? -1 : (long)st.st_size;
}

long ckt_chunk_addr(const char *path, const char *dpath) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    hid_t d = H5Dopen2(f, dpath, H5P_DEFAULT);
    haddr_t addr = HADDR_UNDEF;
    hsize_t off[1], size = 0;
    unsigned mask;
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    if (sp >= 0) H5Dget_chunk_info(d, sp, 0, off, &mask, &addr, &size);
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return addr == HADDR_UNDEF ? -1 : (long)addr;
}

int ckt_sh(char *out, size_t cap, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = 0;
    if (out && cap) {
        n = fread(out, 1, cap - 1, p);
        out[n] = '\0';
    }
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) {}
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int ckt_cmd(char *out, size_t cap, int argc, const char **argv) {
    char path[] = "/tmp/ztck-out-XXXXXX";
    int fd = mkstemp(path);
    fflush(stdout);
    fflush(stderr);
    int o1 = dup(1), o2 = dup(2);
    dup2(fd, 1);
    dup2(fd, 2);
    int rc = zt_ck_cmd(argc, (char **)argv);
    fflush(stdout);
    fflush(stderr);
    dup2(o1, 1);
    dup2(o2, 2);
    close(o1), close(o2);
    ssize_t n = pread(fd, out, cap - 1, 0);
    out[n < 0 ? 0 : n] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

int ckt_slurp(const char *path, char *out, size_t cap) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    if (n < 0) return -1;
    out[n] = '\0';
    return 0;
}
