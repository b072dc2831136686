/* datasets_bad.c — every malformed input is refused at open with an error
 * that names the file and the dataset (files written here with raw HDF5). */
#include "datasets_util.h"
#include "zt_data.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[256], path[300];
static void setup(void) {
    fx_tmpdir(dir);
    fx_path(path, sizeof path, dir, "bad.h5");
}
static void teardown(void) { fx_rmtree(dir); }
TestSuite(datasets_bad, .init = setup, .fini = teardown, .timeout = 30);

/* open must fail; the message must contain the file, the dataset and `what` */
static void expect_fail(zt_ds_kind kind, const char *split, int ctx, const char *dataset, const char *what) {
    char err[1024] = "";
    zt_loader *l = zt_loader_open(path, kind, split, ctx, err, sizeof err);
    if (l) zt_loader_close(l);
    cr_assert(l == NULL, "open of %s (%s) succeeded, expected an error about %s", path, split, what);
    cr_assert(strstr(err, path), "error does not name the file: %s", err);
    cr_assert(strstr(err, dataset), "error does not name dataset %s: %s", dataset, err);
    cr_assert(strstr(err, what), "error does not say '%s': %s", what, err);
    fprintf(stderr, "  ok: %s\n", err);
}

static void expect_ok(zt_ds_kind kind, const char *split, int ctx) {
    char err[1024] = "";
    zt_loader *l = zt_loader_open(path, kind, split, ctx, err, sizeof err);
    cr_assert(l, "valid file refused: %s", err);
    zt_loader_close(l);
}

static void images(hid_t f, const char *name, uint64_t n, int rank, hsize_t d1, hsize_t d2) {
    hsize_t d[3] = {n, d1, d2};
    uint8_t *b = calloc(n * (rank == 3 ? d1 * d2 : rank == 2 ? d1 : 1) + 1, 1);
    fx_write(f, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, rank, d, b);
    free(b);
}

static void labels_u8(hid_t f, const char *name, uint64_t n, int bad_row, uint8_t bad_val) {
    uint8_t *b = malloc(n + 1);
    for (uint64_t i = 0; i < n; i++) b[i] = (uint8_t)(i % 10);
    if (bad_row >= 0) b[bad_row] = bad_val;
    hsize_t d = n;
    fx_write(f, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &d, b);
    free(b);
}

Test(datasets_bad, fixture_is_valid_so_the_checks_can_pass) {
    fx_mnist(path, 50, 10);
    expect_ok(ZT_DS_MNIST, "train", 0);
    expect_ok(ZT_DS_MNIST, "test", 0);
    fx_text(path, 100, 50, 20);
    expect_ok(ZT_DS_TEXT, "train", 16);
    expect_ok(ZT_DS_TEXT, "val", 16);
}

Test(datasets_bad, missing_file) {
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/images", "No such file");
    expect_fail(ZT_DS_TEXT, "val", 8, "/val/tokens", "No such file");
}

Test(datasets_bad, not_an_hdf5_file) {
    FILE *f = fopen(path, "w");
    fputs("this is not HDF5\n", f);
    fclose(f);
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/images", "not an HDF5 file");
}

Test(datasets_bad, wrong_dataset_names) {
    hid_t f = fx_create(path);
    images(f, "/train/imgs", 50, 3, 28, 28);
    labels_u8(f, "/train/labels", 50, -1, 0);
    H5Fclose(f);
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/images", "not found");
    f = fx_create(path);
    images(f, "/train/images", 50, 3, 28, 28);
    labels_u8(f, "/train/label", 50, -1, 0);
    H5Fclose(f);
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/labels", "not found");
}

Test(datasets_bad, missing_split) {
    fx_mnist(path, 50, 0);
    expect_fail(ZT_DS_MNIST, "test", 0, "/test/images", "not found");
}

Test(datasets_bad, invalid_split_name) {
    fx_mnist(path, 50, 10);
    expect_fail(ZT_DS_MNIST, "validation", 0, "/validation/images", "not one of train|test|val");
    fx_text(path, 100, 50, 20);
    expect_fail(ZT_DS_TEXT, "test", 8, "/test/tokens", "not one of train|val");
}

Test(datasets_bad, kind_mismatch) {
    fx_text(path, 100, 50, 20);
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/images", "looks like a tokens dataset");
    expect_fail(ZT_DS_FEATURES, "train", 0, "/train/features", "looks like a tokens dataset");
    fx_mnist(path, 50, 10);
    expect_fail(ZT_DS_TEXT, "train", 8, "/train/tokens", "looks like an images dataset");
}

Test(datasets_bad, labels_wrong_dtype_exact_message) {
    hid_t f = fx_create(path);
    images(f, "/train/images", 50, 3, 28, 28);
    float lab[50] = {0};
    hsize_t d = 50;
    fx_write(f, "/train/labels", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &d, lab);
    H5Fclose(f);
    char err[1024], want[600];
    cr_assert_null(zt_loader_open(path, ZT_DS_MNIST, "train", 0, err, sizeof err));
    snprintf(want, sizeof want, "%s: dataset /train/labels: expected an integer type [N], got float32 [50]", path);
    cr_assert_str_eq(err, want);
}

Test(datasets_bad, images_wrong_shape_or_dtype) {
    hid_t f = fx_create(path);
    images(f, "/train/images", 50, 2, 784, 0);
    labels_u8(f, "/train/labels", 50, -1, 0);
    H5Fclose(f);
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/images", "expected uint8 [N,H,W,C] or [N,H,W], got uint8 [50,784]");
    f = fx_create(path);
    images(f, "/train/images", 50, 3, 28, 0);
    labels_u8(f, "/train/labels", 50, -1, 0);
    H5Fclose(f);
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/images", "got uint8 [50,28,0]");
    f = fx_create(path);
    float *x = calloc(50 * 784, sizeof *x);
    hsize_t d[3] = {50, 28, 28};
    fx_write(f, "/train/images", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d, x);
    free(x);
    labels_u8(f, "/train/labels", 50, -1, 0);
    H5Fclose(f);
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/images", "got float32 [50,28,28]");
    f = fx_create(path);
    images(f, "/train/images", 50, 3, 28, 28);
    images(f, "/train/labels", 50, 2, 1, 0);
    H5Fclose(f);
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/labels", "got uint8 [50,1]");
    f = fx_create(path);
    images(f, "/train/images", 50, 3, 28, 28);
    int8_t sl[50] = {0};
    hsize_t dl = 50;
    fx_write(f, "/train/labels", H5T_STD_I8LE, H5T_NATIVE_INT8, 1, &dl, sl);
    H5Fclose(f);
    expect_ok(ZT_DS_MNIST, "train", 0);   /* labels of any integer type */
}

Test(datasets_bad, label_count_mismatch) {
    hid_t f = fx_create(path);
    images(f, "/train/images", 50, 3, 28, 28);
    labels_u8(f, "/train/labels", 49, -1, 0);
    H5Fclose(f);
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/labels", "49 labels");
}

Test(datasets_bad, labels_out_of_range) {
    hid_t f = fx_create(path);
    images(f, "/train/images", 50, 3, 28, 28);
    labels_u8(f, "/train/labels", 50, 17, 10);
    H5Fclose(f);
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/labels", "label 10 at row 17 is out of range [0,10)");
    f = fx_create(path);
    images(f, "/train/images", 50, 3, 28, 28);
    labels_u8(f, "/train/labels", 50, 49, 255);
    H5Fclose(f);
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/labels", "label 255 at row 49");
}

Test(datasets_bad, empty_datasets) {
    hid_t f = fx_create(path);
    images(f, "/train/images", 0, 3, 28, 28);
    labels_u8(f, "/train/labels", 0, -1, 0);
    H5Fclose(f);
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/images", "empty");
    fx_text(path, 0, 50, 20);
    expect_fail(ZT_DS_TEXT, "train", 8, "/train/tokens", "empty");
}

/* 100 tokens i % 20 over a 20-letter vocabulary, token bad_at set to bad */
static void tokens_with(int bad_at, uint8_t bad) {
    hid_t f = fx_create(path);
    uint8_t t[100];
    for (int i = 0; i < 100; i++) t[i] = (uint8_t)(i % 20);
    t[bad_at] = bad;
    hsize_t d = 100;
    fx_write(f, "/train/tokens", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &d, t);
    fx_attr_str(f, "vocab", "abcdefghijklmnopqrst", 20);
    fx_attr_i32(f, "vocab_size", 20);
    H5Fclose(f);
}

Test(datasets_bad, tokens_out_of_vocab) {
    /* rows are windows [8r, 8r+8]: index 77 is first read by row 9 (72..80) */
    tokens_with(77, 20);
    expect_fail(ZT_DS_TEXT, "train", 8, "/train/tokens", "token 20 at index 77, in row 9 (ctx 8), is >= vocab_size 20");
    /* index 8 is row 0's last target and row 1's first input: row 0 */
    tokens_with(8, 255);
    expect_fail(ZT_DS_TEXT, "train", 8, "/train/tokens", "token 255 at index 8, in row 0 (ctx 8)");
    /* 100 tokens at ctx 8 make 12 rows (0..96): index 98 is read by none */
    tokens_with(98, 21);
    expect_fail(ZT_DS_TEXT, "train", 8, "/train/tokens", "token 21 at index 98, in the tail after the last row");
    tokens_with(98, 19);
    expect_ok(ZT_DS_TEXT, "train", 8);
}

/* Open is where labels are checked, so that a batch never needs it: a bad
 * label in the eval split is refused too, and the first bad row is named. */
Test(datasets_bad, bad_label_at_row_7_in_either_split) {
    hid_t f = fx_create(path);
    images(f, "/train/images", 50, 3, 28, 28);
    labels_u8(f, "/train/labels", 50, -1, 0);
    images(f, "/test/images", 20, 3, 28, 28);
    uint8_t b[20];
    for (int i = 0; i < 20; i++) b[i] = (uint8_t)(i % 10);
    b[7] = 12;
    b[15] = 200;
    hsize_t d = 20;
    fx_write(f, "/test/labels", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &d, b);
    H5Fclose(f);
    expect_ok(ZT_DS_MNIST, "train", 0);
    expect_fail(ZT_DS_MNIST, "test", 0, "/test/labels", "label 12 at row 7 is out of range [0,10)");
}

Test(datasets_bad, tokens_wrong_dtype_or_shape) {
    hid_t f = fx_create(path);
    int32_t t[100] = {0};   /* tokens are uint16 or uint8 */
    hsize_t d = 100;
    fx_write(f, "/train/tokens", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, &d, t);
    fx_attr_str(f, "vocab", "ab", 2);
    fx_attr_i32(f, "vocab_size", 2);
    H5Fclose(f);
    expect_fail(ZT_DS_TEXT, "train", 8, "/train/tokens", "expected uint16 or uint8 [N], got int32 [100]");
    f = fx_create(path);
    uint8_t t2[100] = {0};
    hsize_t d2[2] = {10, 10};
    fx_write(f, "/train/tokens", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, d2, t2);
    fx_attr_str(f, "vocab", "ab", 2);
    fx_attr_i32(f, "vocab_size", 2);
    H5Fclose(f);
    expect_fail(ZT_DS_TEXT, "train", 8, "/train/tokens", "got uint8 [10,10]");
}

Test(datasets_bad, vocab_attributes_missing_or_inconsistent) {
    hid_t f = fx_create(path);
    uint8_t t[100] = {0};
    hsize_t d = 100;
    fx_write(f, "/train/tokens", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &d, t);
    fx_attr_i32(f, "vocab_size", 2);
    H5Fclose(f);
    expect_fail(ZT_DS_TEXT, "train", 8, "/train/tokens", "attribute /vocab:");
    f = fx_create(path);
    fx_write(f, "/train/tokens", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &d, t);
    fx_attr_str(f, "vocab", "ab", 2);
    H5Fclose(f);
    expect_fail(ZT_DS_TEXT, "train", 8, "/train/tokens", "attribute /vocab_size");
    f = fx_create(path);
    fx_write(f, "/train/tokens", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &d, t);
    fx_attr_str(f, "vocab", "abc", 3);
    fx_attr_i32(f, "vocab_size", 5);
    H5Fclose(f);
    expect_fail(ZT_DS_TEXT, "train", 8, "/train/tokens", "3 bytes, but /vocab_size is 5");
    f = fx_create(path);
    fx_write(f, "/train/tokens", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &d, t);
    fx_attr_str(f, "vocab", "abc", 3);
    fx_attr_i32(f, "vocab_size", 300);
    H5Fclose(f);
    expect_fail(ZT_DS_TEXT, "train", 8, "/train/tokens", "300 is not in [1,256]");
}

Test(datasets_bad, text_shorter_than_one_window) {
    fx_text(path, 8, 50, 20);
    expect_fail(ZT_DS_TEXT, "train", 8, "/train/tokens", "fewer than one window");
    expect_ok(ZT_DS_TEXT, "train", 7);
    expect_fail(ZT_DS_TEXT, "train", 0, "/train/tokens", "context length 0");
}

Test(datasets_bad, smaller_than_one_global_batch) {
    fx_mnist(path, 50, 10);
    char err[1024];
    zt_loader *l = zt_loader_open(path, ZT_DS_MNIST, "test", 0, err, sizeof err);
    cr_assert(l, "%s", err);
    cr_assert_eq(zt_loader_require_rows(l, 10, err, sizeof err), 0);
    cr_assert_eq(zt_loader_require_rows(l, 11, err, sizeof err), -1);
    cr_assert(strstr(err, path) && strstr(err, "/test/images") && strstr(err, "fewer than one global batch of 11"),
              "%s", err);
    zt_loader_close(l);
    fx_text(path, 100, 50, 20);
    l = zt_loader_open(path, ZT_DS_TEXT, "val", 16, err, sizeof err);
    cr_assert(l, "%s", err);
    cr_assert_eq(zt_loader_rows(l), 3);
    cr_assert_eq(zt_loader_require_rows(l, 4, err, sizeof err), -1);
    cr_assert(strstr(err, path) && strstr(err, "/val/tokens") && strstr(err, "3 rows"), "%s", err);
    zt_loader_close(l);
}

Test(datasets_bad, a_group_where_a_dataset_should_be) {
    hid_t f = fx_create(path);
    images(f, "/train/images/oops", 5, 3, 28, 28);
    labels_u8(f, "/train/labels", 5, -1, 0);
    H5Fclose(f);
    expect_fail(ZT_DS_MNIST, "train", 0, "/train/images", "not a dataset");
}
