/* ckpt_vds.c — index.h5 read by standard tools: h5dump and h5py read whole
 * tensors through the virtual datasets, from any cwd, after renaming the dir,
 * and agree with `ztrain ckpt export`. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_util.h"

#define PY "/usr/bin/python3"
static char root[512], step_dir[600];
static int have_h5py;

static void setup(void) {
    char err[1024];
    ckt_mkdtemp(root, sizeof root);
    snprintf(step_dir, sizeof step_dir, "%s/step-00000010", root);
    if (ckt_write(root, 10, 4, &ckt_layout, 21, 0, 0, err, sizeof err) < 0) cr_assert_fail("write: %s", err);
    have_h5py = ckt_sh(NULL, 0, PY " -c 'import h5py'") == 0;
}
static void teardown(void) { ckt_rmdir(root); }

TestSuite(vds, .init = setup, .fini = teardown);

/* Writes tensor i of params (k=0) or a slot to a raw <f4 file. */
static void expected_file(int k, int i, const char *path) {
    const zt_ck_tensor *t = &ckt_layout.t[i];
    uint64_t n = t->ndim == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
    float *full = ckt_full(&ckt_layout, k, 21);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(full + t->off, 4, n, f), n);
    fclose(f);
    free(full);
}

Test(vds, h5dump_reads_whole_2d_tensor_from_another_cwd) {
    char out[8192], exp[700], got[700];
    snprintf(exp, sizeof exp, "%s/exp.bin", root);
    snprintf(got, sizeof got, "%s/got.bin", root);
    int cases[][2] = {{0, 0}, {0, 2}, {2, 2}, {1, 1}, {0, 3}};   /* (k, tensor) */
    for (unsigned c = 0; c < sizeof cases / sizeof *cases; c++) {
        int k = cases[c][0], i = cases[c][1];
        char dset[128];
        if (k) snprintf(dset, sizeof dset, "/optim/%s/%s", ckt_layout.slot[k - 1], ckt_layout.t[i].name);
        else snprintf(dset, sizeof dset, "/param/%s", ckt_layout.t[i].name);
        expected_file(k, i, exp);
        unlink(got);
        int rc = ckt_sh(out, sizeof out, "cd / && h5dump -d %s -b LE -o %s %s/index.h5", dset, got, step_dir);
        cr_assert_eq(rc, 0, "h5dump %s: %s", dset, out);
        rc = ckt_sh(out, sizeof out, "cmp %s %s", exp, got);
        cr_assert_eq(rc, 0, "h5dump %s differs from the written values: %s", dset, out);
    }
    /* and the text dump shows the global shape */
    ckt_sh(out, sizeof out, "cd / && h5dump -H -d /param/w2 %s/index.h5", step_dir);
    cr_assert(strstr(out, "( 3, 11 )"), "%s", out);
}

Test(vds, h5py_reads_tensors_after_rename_and_from_any_cwd) {
    if (!have_h5py) cr_skip_test("no h5py under " PY);
    char out[8192], exp[700], moved[700];
    snprintf(exp, sizeof exp, "%s/exp.bin", root);
    snprintf(moved, sizeof moved, "%s/renamed-copy", root);
    expected_file(0, 0, exp);
    int rc = ckt_sh(out, sizeof out, "cd / && " PY " %s/ckpt_h5py.py tensor %s/index.h5 /param/w1 %s 5,7",
                    ZT_CK_TEST_DIR, step_dir, exp);
    cr_assert_eq(rc, 0, "%s", out);
    /* rename the step dir: source names are relative to index.h5 */
    cr_assert_eq(rename(step_dir, moved), 0);
    expected_file(2, 2, exp);
    rc = ckt_sh(out, sizeof out, "cd %s && " PY " %s/ckpt_h5py.py tensor renamed-copy/index.h5 /optim/v/w2 %s 3,11",
                root, ZT_CK_TEST_DIR, exp);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_eq(rename(moved, step_dir), 0);
}

Test(vds, h5py_index_equals_export) {
    if (!have_h5py) cr_skip_test("no h5py under " PY);
    char out[8192], xp[700];
    snprintf(xp, sizeof xp, "%s/export.h5", root);
    const char *argv[] = {"ckpt", "export", step_dir, xp};
    int rc = ckt_cmd(out, sizeof out, 4, argv);
    cr_assert_eq(rc, 0, "%s", out);
    rc = ckt_sh(out, sizeof out, "cd / && " PY " %s/ckpt_h5py.py export %s/index.h5 %s", ZT_CK_TEST_DIR, step_dir, xp);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "4 tensors equal"), "%s", out);
    /* the export, read by h5dump, equals the written values too */
    char exp[700], got[700];
    snprintf(exp, sizeof exp, "%s/exp.bin", root);
    snprintf(got, sizeof got, "%s/got.bin", root);
    expected_file(0, 2, exp);
    rc = ckt_sh(out, sizeof out, "h5dump -d /param/w2 -b LE -o %s %s && cmp %s %s", got, xp, exp, got);
    cr_assert_eq(rc, 0, "%s", out);
}

/* The caveat in checkpoint/FORMAT.md: a missing source reads as the fill value, which we
 * set to NaN; zt_ck_open is what refuses such a checkpoint. */
Test(vds, missing_shard_reads_as_nan_fill_but_open_refuses) {
    if (!have_h5py) cr_skip_test("no h5py under " PY);
    char out[8192], sp[700], err[1024];
    snprintf(sp, sizeof sp, "%s/shard-00001-of-00004.h5", step_dir);
    cr_assert_eq(unlink(sp), 0);
    int rc = ckt_sh(out, sizeof out, PY " %s/ckpt_h5py.py nan %s/index.h5 /param/w1", ZT_CK_TEST_DIR, step_dir);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_eq(atoi(out), 16, "shard 1 holds w1[19..35) = 16 elements; NaN count: %s", out);
    cr_assert_null(zt_ck_open(step_dir, err, sizeof err));
    cr_assert(strstr(err, "shard-00001-of-00004.h5"), "%s", err);
}

/* checkpoint/FORMAT.md: one mapping per (shard, tensor) piece, even where the
 * piece covers a partial row, full rows and another partial row of a 2-D
 * tensor (the virtual side is then an irregular union of rectangles). With
 * W = 4 (19 elements per shard) w1 [0,35) lies in shards 0 and 1, w2 [42,75)
 * in shards 2 and 3, each piece spanning two or three rectangles. */
static int count(const char *s, const char *word) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, word)); p += strlen(word)) n++;
    return n;
}
Test(vds, one_mapping_per_shard_piece) {
    static char out[65536];
    const char *dsets[] = {"/param/w1", "/optim/v/w1", "/param/w2", "/param/b1"};
    int want[] = {2, 2, 2, 2};   /* b1 [35,42): shards 1 and 2 */
    for (int i = 0; i < 4; i++) {
        int rc = ckt_sh(out, sizeof out, "h5dump -p -H -d %s %s/index.h5", dsets[i], step_dir);
        cr_assert_eq(rc, 0, "h5dump %s: %s", dsets[i], out);
        cr_assert_eq(count(out, "MAPPING "), want[i], "%s: %d mappings, expected %d:\n%s", dsets[i],
                     count(out, "MAPPING "), want[i], out);
    }
    {
        int rc = ckt_sh(out, sizeof out, "h5dump -p -H -d /param/w2 %s/index.h5", step_dir);
        cr_assert_eq(rc, 0, "%s", out);
        cr_assert(strstr(out, "IRREGULAR_HYPERSLAB"), "w2's pieces span partial rows:\n%s", out);
    }
}
