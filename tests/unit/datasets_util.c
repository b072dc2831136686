/* datasets_util.c — see datasets_util.h. */
#define _GNU_SOURCE
#include "datasets_util.h"
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

void fx_tmpdir(char *out) {
    const char *t = getenv("TMPDIR");
    snprintf(out, 256, "%s/zt_ds_XXXXXX", t && *t ? t : "/tmp");
    cr_assert(mkdtemp(out) != NULL, "mkdtemp %s failed", out);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

void fx_rmtree(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

void fx_path(char *out, size_t n, const char *dir, const char *name) {
    snprintf(out, n, "%s/%s", dir, name);
}

hid_t fx_create(const char *path) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(f >= 0, "H5Fcreate %s", path);
    return f;
}

void fx_write(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
              const void *data) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(f, name, ftype, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(d >= 0, "H5Dcreate2 %s", name);
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    if (total) cr_assert(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, "H5Dwrite %s", name);
    H5Dclose(d);
    H5Pclose(lcpl);
    H5Sclose(sp);
}

void fx_attr_str(hid_t obj, const char *name, const char *s, size_t len) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(a >= 0 && H5Awrite(a, t, s) >= 0, "attr %s", name);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

void fx_attr_vlen_str(hid_t obj, const char *name, const char *s) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(a >= 0 && H5Awrite(a, t, &s) >= 0, "attr %s", name);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

void fx_attr_i32(hid_t obj, const char *name, int32_t v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(a >= 0 && H5Awrite(a, H5T_NATIVE_INT32, &v) >= 0, "attr %s", name);
    H5Aclose(a);
    H5Sclose(sp);
}

static void mnist_split(hid_t f, const char *split, uint64_t n, uint64_t row0) {
    uint8_t *img = malloc(n * 784 + 1), *lab = malloc(n + 1);
    for (uint64_t i = 0; i < n; i++) {
        for (int p = 0; p < 784; p++) img[i * 784 + p] = fx_pix(row0 + i, p);
        lab[i] = fx_label(row0 + i);
    }
    char name[64];
    hsize_t d3[3] = {n, 28, 28};
    snprintf(name, sizeof name, "/%s/images", split);
    fx_write(f, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, 3, d3, img);
    snprintf(name, sizeof name, "/%s/labels", split);
    fx_write(f, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, d3, lab);
    free(img);
    free(lab);
}

void fx_mnist(const char *path, uint64_t n_train, uint64_t n_test) {
    hid_t f = fx_create(path);
    mnist_split(f, "train", n_train, 0);
    if (n_test) mnist_split(f, "test", n_test, 1000000);
    H5Fclose(f);
}

void fx_text(const char *path, uint64_t n_train, uint64_t n_val, int V) {
    hid_t f = fx_create(path);
    for (int s = 0; s < 2; s++) {
        uint64_t n = s ? n_val : n_train;
        uint8_t *t = malloc(n + 1);
        for (uint64_t i = 0; i < n; i++) t[i] = fx_tok(s, i, V);
        hsize_t d = n;
        fx_write(f, s ? "/val/tokens" : "/train/tokens", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &d, t);
        free(t);
    }
    char vocab[256];
    for (int i = 0; i < V; i++) vocab[i] = (char)('a' + i);
    fx_attr_str(f, "vocab", vocab, (size_t)V);
    fx_attr_i32(f, "vocab_size", V);
    H5Fclose(f);
}

char *fx_slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    size_t n = 0, cap = 4096;
    char *b = malloc(cap);
    cr_assert(b);
    if (f) {
        size_t k;
        while ((k = fread(b + n, 1, cap - n - 1, f)) > 0) {
            n += k;
            if (cap - n < 2) { b = realloc(b, cap *= 2); cr_assert(b); }
        }
        fclose(f);
    }
    b[n] = 0;
    return b;
}

static int saved_fd2 = -1;
static char cap_path[300];

void fx_stderr_begin(const char *dir) {
    fflush(stderr);
    fx_path(cap_path, sizeof cap_path, dir, "stderr.txt");
    int fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(fd >= 0);
    saved_fd2 = dup(2);
    dup2(fd, 2);
    close(fd);
}

char *fx_stderr_end(void) {
    fflush(stderr);
    dup2(saved_fd2, 2);
    close(saved_fd2);
    saved_fd2 = -1;
    return fx_slurp(cap_path);
}

int fx_run(int (*fn)(int, char **), int argc, char **argv, const char *dir, char **out, char **err) {
    char po[300], pe[300];
    fx_path(po, sizeof po, dir, "run.out");
    fx_path(pe, sizeof pe, dir, "run.err");
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int o = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        int rc = fn(argc, argv);
        fflush(NULL);
        _exit(rc);
    }
    int st = 0;
    cr_assert(waitpid(pid, &st, 0) == pid);
    *out = fx_slurp(po);
    *err = fx_slurp(pe);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
