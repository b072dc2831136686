/* datasets_schema.c — the images / features layouts of datasets/FORMAT.md:
 * shapes other than 28x28, any integer label type, n_classes from the file,
 * the kind taken from the file, the eval split; files written with raw HDF5
 * and read back value for value. */
#include "datasets_util.h"   /* fx_* fixture writers */
#include "zt_data.h"

#include <criterion/criterion.h>
#include <math.h>            /* NAN */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[256], path[300];
static void setup(void) {
    fx_tmpdir(dir);
    fx_path(path, sizeof path, dir, "schema.h5");
}
static void teardown(void) { fx_rmtree(dir); }
TestSuite(datasets_schema, .init = setup, .fini = teardown, .timeout = 30);

enum { N = 20, H = 5, Wd = 4, C = 3, D = 7 };

static uint8_t pix(int split, int r, int k) { return (uint8_t)((r * 37 + k * 11 + split * 101) & 255); }
static float feat(int split, int r, int k) { return (float)(r * 0.25 - k * 1.5 + split * 1000) * 1e-3f; }

/* images [n,H,W,C] (labels int16, r % 3) in /train and /val */
static void write_images(int n_classes, int with_kind) {
    hid_t f = fx_create(path);
    for (int s = 0; s < 2; s++) {
        char nm[64];
        uint8_t *x = malloc(N * H * Wd * C);
        int16_t y[N];
        for (int r = 0; r < N; r++) {
            y[r] = (int16_t)((r + s) % 3);
            for (int k = 0; k < H * Wd * C; k++) x[r * H * Wd * C + k] = pix(s, r, k);
        }
        hsize_t d[4] = {N, H, Wd, C}, dl = N;
        snprintf(nm, sizeof nm, "/%s/images", s ? "val" : "train");
        fx_write(f, nm, H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, d, x);
        snprintf(nm, sizeof nm, "/%s/labels", s ? "val" : "train");
        fx_write(f, nm, H5T_STD_I16LE, H5T_NATIVE_INT16, 1, &dl, y);
        free(x);
    }
    if (with_kind) fx_attr_str(f, "kind", "images", 6);
    if (n_classes) fx_attr_i32(f, "n_classes", n_classes);
    H5Fclose(f);
}

/* features [N,D] float32 (labels int64, r % 5), /train and /test */
static void write_features(float poison) {
    hid_t f = fx_create(path);
    for (int s = 0; s < 2; s++) {
        char nm[64];
        float x[N * D];
        int64_t y[N];
        for (int r = 0; r < N; r++) {
            y[r] = (r * 3 + s) % 5;
            for (int k = 0; k < D; k++) x[r * D + k] = feat(s, r, k);
        }
        if (s == 1 && poison != 0) x[13 * D + 4] = poison;
        hsize_t d[2] = {N, D}, dl = N;
        snprintf(nm, sizeof nm, "/%s/features", s ? "test" : "train");
        fx_write(f, nm, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d, x);
        snprintf(nm, sizeof nm, "/%s/labels", s ? "test" : "train");
        fx_write(f, nm, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &dl, y);
    }
    fx_attr_str(f, "kind", "features", 8);
    fx_attr_i32(f, "n_classes", 5);
    H5Fclose(f);
}

static void expect_fail(zt_ds_kind kind, const char *split, const char *what) {
    char err[1024] = "";
    zt_loader *l = zt_loader_open(path, kind, split, 0, err, sizeof err);
    if (l) zt_loader_close(l);
    cr_assert(l == NULL, "open of %s succeeded, expected an error about %s", path, what);
    cr_assert(strstr(err, path), "error does not name the file: %s", err);
    cr_assert(strstr(err, what), "error does not say '%s': %s", what, err);
    fprintf(stderr, "  ok: %s\n", err);
}

Test(datasets_schema, images_hwc_read_back_exactly_in_given_row_order) {
    write_images(3, 1);
    zt_ds_kind k = 0;
    char err[1024];
    cr_assert_eq(zt_data_file_kind(path, &k, err, sizeof err), 0, "%s", err);
    cr_assert_eq(k, ZT_DS_IMAGES);
    for (int s = 0; s < 2; s++) {
        zt_loader *l = zt_loader_open(path, ZT_DS_AUTO, s ? "eval" : "train", 0, err, sizeof err);
        cr_assert(l, "%s", err);
        const zt_ds_info *di = zt_loader_info(l);
        cr_assert_eq(di->kind, ZT_DS_IMAGES);
        cr_assert_str_eq(di->split, s ? "val" : "train");
        cr_assert(di->img_h == H && di->img_w == Wd && di->img_c == C && di->in_dim == H * Wd * C);
        cr_assert_eq(di->n_classes, 3);
        cr_assert_eq(di->n_rows, N);
        uint64_t rows[4] = {17, 2, 3, 17};
        float x[4 * H * Wd * C];
        int32_t y[4];
        cr_assert_eq(zt_loader_read(l, rows, 4, x, NULL, y, err, sizeof err), 0, "%s", err);
        for (int i = 0; i < 4; i++) {
            cr_assert_eq(y[i], (int32_t)((rows[i] + s) % 3));
            for (int p = 0; p < H * Wd * C; p++)
                cr_assert_eq(x[i * H * Wd * C + p], (float)pix(s, (int)rows[i], p) * (1.0f / 255.0f));
        }
        /* the prefetch path copies in_dim floats per row too */
        cr_assert_eq(zt_loader_prefetch(l, rows, 4), 0);
        float x2[4 * H * Wd * C];
        int32_t y2[4];
        cr_assert_eq(zt_loader_take(l, x2, NULL, y2, err, sizeof err), 0, "%s", err);
        cr_assert(!memcmp(x, x2, sizeof x) && !memcmp(y, y2, sizeof y));
        zt_loader_close(l);
    }
}

Test(datasets_schema, features_read_back_exactly) {
    write_features(0);
    char err[1024];
    zt_loader *l = zt_loader_open(path, ZT_DS_AUTO, "eval", 0, err, sizeof err);
    cr_assert(l, "%s", err);
    const zt_ds_info *di = zt_loader_info(l);
    cr_assert(di->kind == ZT_DS_FEATURES && di->in_dim == D && di->n_classes == 5);
    cr_assert_str_eq(di->split, "test");
    uint64_t rows[3] = {19, 0, 8};
    float x[3 * D];
    int32_t y[3];
    cr_assert_eq(zt_loader_read(l, rows, 3, x, NULL, y, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(y[i], (int32_t)((rows[i] * 3 + 1) % 5));
        for (int k = 0; k < D; k++) cr_assert_eq(x[i * D + k], feat(1, (int)rows[i], k));
    }
    zt_loader_close(l);
}

Test(datasets_schema, refusals_name_what_is_wrong) {
    write_images(0, 1);
    expect_fail(ZT_DS_AUTO, "train", "attribute /n_classes: missing");
    write_images(1, 1);
    expect_fail(ZT_DS_AUTO, "train", "attribute /n_classes: 1 is not in [2,");
    write_images(2, 1);   /* labels go up to 2 */
    expect_fail(ZT_DS_AUTO, "train", "/train/labels: label 2 at row 2 is out of range [0,2)");
    write_images(3, 1);
    expect_fail(ZT_DS_FEATURES, "train", "the file's attribute /kind is 'images', not features");
    write_features(NAN);
    expect_fail(ZT_DS_AUTO, "test", "/test/features: value nan at row 13, column 4 is not finite");
    write_images(3, 0);   /* no kind attribute: the layout says images, n_classes from the file */
    char err[1024];
    zt_loader *l = zt_loader_open(path, ZT_DS_AUTO, "train", 0, err, sizeof err);
    cr_assert(l, "%s", err);
    cr_assert_eq(zt_loader_info(l)->n_classes, 3);
    zt_loader_close(l);
    hid_t f = fx_create(path);
    fx_attr_str(f, "kind", "pictures", 8);
    H5Fclose(f);
    zt_ds_kind k;
    cr_assert_eq(zt_data_file_kind(path, &k, err, sizeof err), -1);
    cr_assert(strstr(err, "attribute /kind: 'pictures' is not one of images|features|tokens"), "%s", err);
    f = fx_create(path);
    H5Fclose(f);
    cr_assert_eq(zt_data_file_kind(path, &k, err, sizeof err), -1);
    cr_assert(strstr(err, "not a dataset file"), "%s", err);
}
