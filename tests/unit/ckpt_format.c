/* ckpt_format.c — format versions and the index template: a format-1
 * checkpoint (tests/unit/fixtures/ckpt_v1, written by the format-1 library)
 * still loads; a newer format is refused by name; an index rebuilt from the
 * previous save's bytes holds this save's values; a per-node index (fewer
 * shard files than ranks) reads back at any W. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ckpt_util.h"

static char root[512];
static void setup(void) { ckt_mkdtemp(root, sizeof root); }
static void teardown(void) { ckt_rmdir(root); }
TestSuite(format, .init = setup, .fini = teardown);

/* bench/ckpt_scale.c's values, which wrote the fixture */
static float fx_val(uint64_t i, int slot) { return (float)(i % 100003) * 1e-3f + (float)slot; }

Test(format, v1_fixture_loads_and_reshards) {
    char err[4096], dir[700];
    snprintf(dir, sizeof dir, "%s/fixtures/ckpt_v1/step-00000001", ZT_CK_TEST_DIR);
    zt_ck_reader *r = zt_ck_open(dir, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_assert_eq(zt_ck_meta_of(r)->format, 1);
    cr_assert_eq(zt_ck_meta_of(r)->world, 3);
    cr_assert_eq(zt_ck_world_of(r), 3);
    cr_assert_eq(zt_ck_verify_shards(r, 0, 1, err, sizeof err), 0, "%s", err);
    const zt_ck_layout *L = zt_ck_layout_of(r);
    float *got = malloc(sizeof(float) * L->n_flat);
    for (int s = 0; s <= L->n_slots; s++) {
        for (int Wp = 1; Wp <= 4; Wp++) {
            for (int p = 0; p < Wp; p++) {
                uint64_t lo, hi;
                ckt_part(L->n_flat, Wp, p, &lo, &hi);
                cr_assert_eq(zt_ck_read(r, s ? L->slot[s - 1] : NULL, lo, hi, got + lo, err, sizeof err), 0, "%s", err);
            }
            for (uint64_t i = 0; i < L->n_flat; i++)
                cr_assert_eq(got[i], fx_val(i, s), "slot %d element %llu at W'=%d", s, (unsigned long long)i, Wp);
        }
    }
    free(got);
    zt_ck_close(r);
}

/* Sets the index's format attribute and rewrites index.crc32 to match. */
static void set_format(const char *stepdir, uint64_t fmt) {
    char p[800], line[32];
    snprintf(p, sizeof p, "%s/index.h5", stepdir);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    hid_t a = H5Aopen(f, "format", H5P_DEFAULT);
    cr_assert_geq(a, 0);
    cr_assert_geq(H5Awrite(a, H5T_NATIVE_UINT64, &fmt), 0);
    H5Aclose(a);
    H5Fclose(f);
    FILE *fp = fopen(p, "rb");
    uLong crc = crc32(0L, Z_NULL, 0);
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) crc = crc32(crc, buf, (uInt)n);
    fclose(fp);
    snprintf(p, sizeof p, "%s/index.crc32", stepdir);
    snprintf(line, sizeof line, "%08lx\n", crc);
    fp = fopen(p, "w");
    fputs(line, fp);
    fclose(fp);
}

Test(format, newer_format_refused_by_name) {
    char err[4096], dir[700], out[8192];
    cr_assert_eq(ckt_write(root, 5, 2, &ckt_layout, 1, 0, 0, err, sizeof err), 0, "%s", err);
    snprintf(dir, sizeof dir, "%s/step-00000005", root);
    set_format(dir, ZT_CK_FORMAT + 1);
    cr_assert_null(zt_ck_open(dir, err, sizeof err));
    cr_assert(strstr(err, "newer ztrain") && strstr(err, "format 3"), "%s", err);
    const char *argv[] = {"ckpt", "verify", dir};
    cr_assert_eq(ckt_cmd(out, sizeof out, 3, argv), 5, "%s", out);
    cr_assert(strstr(out, "newer ztrain"), "%s", out);
}

/* Saves 2 and 4 reuse the previous index's bytes (same W and layout); 3
 * changes W (a full write). Each index must hold its own step, CRCs and
 * values, also through the VDS (h5py). */
Test(format, template_index_holds_each_saves_values) {
    char err[4096], dir[700], out[8192];
    int Ws[] = {3, 3, 4, 4};
    for (int k = 0; k < 4; k++)
        cr_assert_eq(ckt_write(root, (uint64_t)k + 1, Ws[k], &ckt_layout, 100u + (uint32_t)k, 0, 0, err, sizeof err), 0,
                     "%s", err);
    for (int k = 0; k < 4; k++) {
        snprintf(dir, sizeof dir, "%s/step-%08d", root, k + 1);
        zt_ck_reader *r = zt_ck_open(dir, err, sizeof err);
        cr_assert_not_null(r, "%s", err);
        cr_assert_eq(zt_ck_meta_of(r)->step, (uint64_t)k + 1);
        cr_assert_eq(zt_ck_world_of(r), Ws[k]);
        cr_assert_eq(zt_ck_verify_shards(r, 0, 1, err, sizeof err), 0, "step %d: %s", k + 1, err);
        float *want = ckt_full(&ckt_layout, 2, 100u + (uint32_t)k), got[76];
        cr_assert_eq(zt_ck_read(r, "v", 0, 76, got, err, sizeof err), 0, "%s", err);
        cr_assert(memcmp(got, want, sizeof got) == 0, "step %d values", k + 1);
        zt_ck_close(r);
        if (ckt_sh(NULL, 0, "/usr/bin/python3 -c 'import h5py'") == 0) {
            char exp[700];
            snprintf(exp, sizeof exp, "%s/exp.bin", root);
            FILE *fp = fopen(exp, "wb");
            fwrite(want + ckt_layout.t[2].off, sizeof(float), 33, fp);   /* w2 [3,11] of slot v */
            fclose(fp);
            int rc = ckt_sh(out, sizeof out, "/usr/bin/python3 %s/ckpt_h5py.py tensor %s/index.h5 /optim/v/w2 %s 3,11",
                            ZT_CK_TEST_DIR, dir, exp);
            cr_assert_eq(rc, 0, "step %d: %s", k + 1, out);
        }
        free(want);
    }
}

/* Per-node: 5 ranks in files of 2, 2, 1 ranks' partitions; read at W'=1..6. */
Test(format, per_node_index_reads_at_any_W) {
    char err[4096], tmp[700], dir[700];
    const zt_ck_layout *L = &ckt_layout;
    int W = 5, nf = 3, first[] = {0, 2, 4, 5};
    cr_assert_eq(zt_ck_prepare(root, 9, err, sizeof err), 0, "%s", err);
    zt_ck_tmp_path(root, 9, tmp, sizeof tmp);
    float *full[3];
    for (int k = 0; k < 3; k++) full[k] = ckt_full(L, k, 9);
    uint64_t lo[3], hi[3], a, b;
    uint32_t crc[3];
    for (int f = 0; f < nf; f++) {
        ckt_part(L->n_flat, W, first[f], &lo[f], &b);
        ckt_part(L->n_flat, W, first[f + 1] - 1, &a, &hi[f]);
        const float *sl[2] = {full[1] + lo[f], full[2] + lo[f]};
        cr_assert_eq(zt_ck_write_shard(tmp, f, nf, L, lo[f], hi[f], full[0] + lo[f], sl, &crc[f], err, sizeof err), 0,
                     "%s", err);
    }
    zt_ck_meta m;
    ckt_meta(&m, 9, W);
    cr_assert_eq(zt_ck_write_index(tmp, nf, L, lo, hi, crc, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zt_ck_commit(root, 9, 0, 0, err, sizeof err), 0, "%s", err);
    snprintf(dir, sizeof dir, "%s/step-00000009", root);
    zt_ck_reader *r = zt_ck_open(dir, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_assert_eq(zt_ck_meta_of(r)->world, 5);
    cr_assert_eq(zt_ck_world_of(r), 3);
    cr_assert_eq(zt_ck_verify_shards(r, 0, 1, err, sizeof err), 0, "%s", err);
    float got[76];
    for (int k = 0; k < 3; k++)
        for (int Wp = 1; Wp <= 6; Wp++) {
            for (int p = 0; p < Wp; p++) {
                ckt_part(L->n_flat, Wp, p, &a, &b);
                cr_assert_eq(zt_ck_read(r, k ? L->slot[k - 1] : NULL, a, b, got + a, err, sizeof err), 0, "%s", err);
            }
            cr_assert(memcmp(got, full[k], sizeof got) == 0, "slot %d at W'=%d", k, Wp);
        }
    zt_ck_close(r);
    for (int k = 0; k < 3; k++) free(full[k]);
}
