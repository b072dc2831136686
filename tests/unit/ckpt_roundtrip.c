/* ckpt_roundtrip.c — write at W, read back at W' (resharding), exact values. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_util.h"

static char root[512], step_dir[600];

static void setup(void) {
    ckt_mkdtemp(root, sizeof root);
    snprintf(step_dir, sizeof step_dir, "%s/step-00000010", root);
}
static void teardown(void) { ckt_rmdir(root); }

TestSuite(roundtrip, .init = setup, .fini = teardown);

/* Reads every partition of W' (params and each slot) and compares exactly. */
static void check_partitions(zt_ck_reader *r, const zt_ck_layout *L, int Wp, uint32_t salt) {
    char err[2048];
    for (int k = 0; k <= L->n_slots; k++) {
        float *want = ckt_full(L, k, salt);
        for (int p = 0; p < Wp; p++) {
            uint64_t lo, hi;
            ckt_part(L->n_flat, Wp, p, &lo, &hi);
            float *got = malloc(sizeof(float) * (hi - lo + 1));
            int rc = zt_ck_read(r, k ? L->slot[k - 1] : NULL, lo, hi, got, err, sizeof err);
            cr_assert_eq(rc, 0, "read W'=%d part %d slot %d: %s", Wp, p, k, err);
            cr_assert(memcmp(got, want + lo, sizeof(float) * (hi - lo)) == 0,
                      "values differ: W'=%d partition %d [%llu,%llu) slot %d", Wp, p, (unsigned long long)lo,
                      (unsigned long long)hi, k);
            free(got);
        }
        free(want);
    }
}

Test(roundtrip, w4_read_at_1_2_3_5) {
    char err[2048];
    cr_assert_eq(ckt_write(root, 10, 4, &ckt_layout, 7, 0, 0, err, sizeof err), 0, "%s", err);
    zt_ck_reader *r = zt_ck_open(step_dir, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_assert_eq(zt_ck_verify_shards(r, 0, 1, err, sizeof err), 0, "%s", err);
    int wps[] = {1, 2, 3, 4, 5};
    for (unsigned i = 0; i < sizeof wps / sizeof *wps; i++) check_partitions(r, &ckt_layout, wps[i], 7);
    zt_ck_close(r);
}

Test(roundtrip, meta_and_layout_survive) {
    char err[2048];
    cr_assert_eq(ckt_write(root, 10, 3, &ckt_layout, 1, 0, 0, err, sizeof err), 0, "%s", err);
    zt_ck_reader *r = zt_ck_open(step_dir, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    zt_ck_meta want;
    ckt_meta(&want, 10, 3);
    const zt_ck_meta *m = zt_ck_meta_of(r);
    cr_assert_eq(m->step, 10);
    cr_assert_eq(m->world, 3);
    cr_assert_eq(zt_ck_world_of(r), 3);
    cr_assert_eq(m->stage, want.stage);
    cr_assert_eq(m->seed, want.seed);
    cr_assert_str_eq(m->model, want.model);
    cr_assert_str_eq(m->optim, want.optim);
    cr_assert_str_eq(m->config, want.config);
    const zt_ck_layout *L = zt_ck_layout_of(r);
    cr_assert_eq(L->n_tensors, ckt_layout.n_tensors);
    cr_assert_eq(L->n_flat, ckt_layout.n_flat);
    cr_assert_eq(L->n_slots, 2);
    cr_assert_str_eq(L->slot[0], "m");
    cr_assert_str_eq(L->slot[1], "v");
    for (int i = 0; i < L->n_tensors; i++) {
        cr_assert_str_eq(L->t[i].name, ckt_layout.t[i].name);
        cr_assert_eq(L->t[i].ndim, ckt_layout.t[i].ndim);
        cr_assert_eq(L->t[i].shape[0], ckt_layout.t[i].shape[0]);
        if (L->t[i].ndim == 2) cr_assert_eq(L->t[i].shape[1], ckt_layout.t[i].shape[1]);
        cr_assert_eq(L->t[i].off, ckt_layout.t[i].off);
    }
    cr_assert_eq(zt_ck_check_layout(r, &ckt_layout, err, sizeof err), 0, "%s", err);
    zt_ck_close(r);
}

/* Every range [lo,hi) of the 76 elements: inside one tensor, across several,
 * across shard borders, empty. */
Test(roundtrip, every_flat_range) {
    char err[2048];
    cr_assert_eq(ckt_write(root, 10, 4, &ckt_layout, 3, 0, 0, err, sizeof err), 0, "%s", err);
    zt_ck_reader *r = zt_ck_open(step_dir, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    float *want = ckt_full(&ckt_layout, 0, 3), *wantv = ckt_full(&ckt_layout, 2, 3), got[80];
    uint64_t n = ckt_layout.n_flat;
    for (uint64_t lo = 0; lo <= n; lo++)
        for (uint64_t hi = lo; hi <= n; hi++) {
            memset(got, 0xff, sizeof got);
            cr_assert_eq(zt_ck_read(r, NULL, lo, hi, got, err, sizeof err), 0, "[%llu,%llu): %s",
                         (unsigned long long)lo, (unsigned long long)hi, err);
            cr_assert(memcmp(got, want + lo, 4 * (hi - lo)) == 0, "param [%llu,%llu)", (unsigned long long)lo,
                      (unsigned long long)hi);
            if ((lo + hi) % 5 == 0) {
                cr_assert_eq(zt_ck_read(r, "v", lo, hi, got, err, sizeof err), 0, "%s", err);
                cr_assert(memcmp(got, wantv + lo, 4 * (hi - lo)) == 0, "slot v [%llu,%llu)", (unsigned long long)lo,
                          (unsigned long long)hi);
            }
        }
    /* out of range and unknown slot are errors, not crashes */
    cr_assert_eq(zt_ck_read(r, NULL, 10, n + 1, got, err, sizeof err), -1);
    cr_assert_eq(zt_ck_read(r, "momentum", 0, 4, got, err, sizeof err), -1);
    cr_assert(strstr(err, "momentum"), "%s", err);
    free(want), free(wantv);
    zt_ck_close(r);
}

/* Uneven and degenerate W: 76 over 3, 7 and 100 shards (the last ones empty). */
Test(roundtrip, uneven_and_empty_shards) {
    char err[2048];
    int ws[] = {1, 3, 7, 100};
    for (unsigned i = 0; i < sizeof ws / sizeof *ws; i++) {
        uint64_t step = 10 + i;
        cr_assert_eq(ckt_write(root, step, ws[i], &ckt_layout, 11 + i, 0, 0, err, sizeof err), 0, "W=%d: %s", ws[i],
                     err);
        char d[700];
        snprintf(d, sizeof d, "%s/step-%08llu", root, (unsigned long long)step);
        zt_ck_reader *r = zt_ck_open(d, err, sizeof err);
        cr_assert_not_null(r, "W=%d: %s", ws[i], err);
        cr_assert_eq(zt_ck_verify_shards(r, 0, 1, err, sizeof err), 0, "%s", err);
        check_partitions(r, &ckt_layout, 3, 11 + i);
        check_partitions(r, &ckt_layout, 5, 11 + i);
        zt_ck_close(r);
    }
}

/* Bigger tensors than a chunk / an I/O slice boundary are not needed for
 * correctness here; the bench covers volume. Shards written concurrently from
 * threads (HDF5 is the thread-safe build) must be as good as sequential ones. */
typedef struct {
    const char *tmp;
    int r, W, rc;
    float *full[3];
    uint64_t lo, hi;
    uint32_t crc;
    char err[1024];
} wjob;

static void *writer(void *arg) {
    wjob *j = arg;
    const float *slots[2] = {j->full[1] + j->lo, j->full[2] + j->lo};
    j->rc = zt_ck_write_shard(j->tmp, j->r, j->W, &ckt_layout, j->lo, j->hi, j->full[0] + j->lo, slots, &j->crc,
                              j->err, sizeof j->err);
    return NULL;
}

Test(roundtrip, shards_written_by_threads) {
    char err[2048], tmp[700];
    enum { W = 4 };
    float *full[3];
    for (int k = 0; k < 3; k++) full[k] = ckt_full(&ckt_layout, k, 99);
    cr_assert_eq(zt_ck_prepare(root, 10, err, sizeof err), 0, "%s", err);
    zt_ck_tmp_path(root, 10, tmp, sizeof tmp);
    wjob j[W];
    pthread_t th[W];
    uint64_t lo[W], hi[W];
    uint32_t crc[W];
    for (int r = 0; r < W; r++) {
        memset(&j[r], 0, sizeof j[r]);
        j[r].tmp = tmp, j[r].r = r, j[r].W = W;
        memcpy(j[r].full, full, sizeof full);
        ckt_part(ckt_layout.n_flat, W, r, &j[r].lo, &j[r].hi);
        pthread_create(&th[r], NULL, writer, &j[r]);
    }
    for (int r = 0; r < W; r++) {
        pthread_join(th[r], NULL);
        cr_assert_eq(j[r].rc, 0, "rank %d: %s", r, j[r].err);
        lo[r] = j[r].lo, hi[r] = j[r].hi, crc[r] = j[r].crc;
    }
    zt_ck_meta m;
    ckt_meta(&m, 10, W);
    cr_assert_eq(zt_ck_write_index(tmp, W, &ckt_layout, lo, hi, crc, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zt_ck_commit(root, 10, 0, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zt_ck_verify(step_dir, err, sizeof err), 0, "%s", err);
    zt_ck_reader *r = zt_ck_open(step_dir, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    check_partitions(r, &ckt_layout, 3, 99);
    zt_ck_close(r);
    for (int k = 0; k < 3; k++) free(full[k]);
}

/* A tensor larger than one chunk and one I/O slice would need 64 MiB here;
 * instead: the big layout (600 KiB, one 2-D tensor over several chunk rows)
 * read back at W'=3 after a W=2 write. */
Test(roundtrip, big_tensor_w2_to_w3) {
    char err[2048];
    cr_assert_eq(ckt_write(root, 10, 2, &ckt_big_layout, 5, 0, 0, err, sizeof err), 0, "%s", err);
    zt_ck_reader *r = zt_ck_open(step_dir, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    check_partitions(r, &ckt_big_layout, 3, 5);
    zt_ck_close(r);
}

Test(roundtrip, write_shard_rejects_bad_arguments) {
    char err[1024], tmp[700];
    float x[80] = {0};
    const float *slots[2] = {x, x};
    uint32_t crc;
    cr_assert_eq(zt_ck_prepare(root, 10, err, sizeof err), 0, "%s", err);
    zt_ck_tmp_path(root, 10, tmp, sizeof tmp);
    cr_assert_eq(zt_ck_write_shard(tmp, 4, 4, &ckt_layout, 0, 10, x, slots, &crc, err, sizeof err), -1);
    cr_assert_eq(zt_ck_write_shard(tmp, 0, 4, &ckt_layout, 10, 77, x, slots, &crc, err, sizeof err), -1);
    zt_ck_tensor bad[2] = {{"a", 1, {3, 0}, 0}, {"b", 1, {3, 0}, 4}};   /* gap at 3 */
    zt_ck_layout L = {2, bad, 7, 0, {{0}}};
    cr_assert_eq(zt_ck_write_shard(tmp, 0, 1, &L, 0, 7, x, NULL, &crc, err, sizeof err), -1);
    cr_assert(strstr(err, "'b'"), "%s", err);
    /* a non-existent directory: the message names the file and the OS error */
    cr_assert_eq(zt_ck_write_shard("/nonexistent-dir", 0, 4, &ckt_layout, 0, 19, x, slots, &crc, err, sizeof err), -1);
    cr_assert(strstr(err, "/nonexistent-dir/shard-00000-of-00004.h5"), "%s", err);
}

/* ck_fletcher32 (internal) must equal HDF5's H5_checksum_fletcher32 (exported
 * by libhdf5) on every length and content: files are read by HDF5's filter. */
uint32_t ck_fletcher32(const void *data, size_t len);
uint32_t H5_checksum_fletcher32(const void *data, size_t len);

Test(roundtrip, fletcher32_matches_hdf5) {
    size_t N = 1 << 20;
    unsigned char *b = malloc(N + 64);
    uint32_t h = 12345;
    for (size_t i = 0; i < N + 64; i++) h = h * 1664525u + 1013904223u, b[i] = (unsigned char)(h >> 24);
    size_t lens[] = {0, 1, 2, 3, 31, 32, 33, 511, 512, 513, 8191, 8192, 8193, 65535, 131072 + 7, N};
    for (unsigned k = 0; k < sizeof lens / sizeof *lens; k++)
        for (int mode = 0; mode < 4; mode++) {
            unsigned char *q = b + (k % 3);          /* unaligned too */
            size_t len = lens[k];
            unsigned char *save = malloc(len + 1);
            memcpy(save, q, len);
            if (mode == 1) memset(q, 0, len);
            if (mode == 2) memset(q, 0xff, len);
            if (mode == 3 && len) memset(q, 0, len), q[len / 2] = 1;
            cr_assert_eq(ck_fletcher32(q, len), H5_checksum_fletcher32(q, len), "len %zu mode %d", len, mode);
            memcpy(q, save, len);
            free(save);
        }
    free(b);
}

/* A shard whose datasets have another filter pipeline (here: h5repack adds
 * shuffle) is read through H5Dread and HDF5's filters: same values. */
Test(roundtrip, other_filter_pipeline_uses_generic_path) {
    char err[2048], tmp[700], sp[800], out[4096], cmd[4096];
    cr_assert_eq(ckt_write_tmp(root, 10, 2, &ckt_big_layout, 8, err, sizeof err), 0, "%s", err);
    zt_ck_tmp_path(root, 10, tmp, sizeof tmp);
    snprintf(sp, sizeof sp, "%s/shard-00000-of-00002.h5", tmp);
    snprintf(cmd, sizeof cmd, "h5repack -f SHUF -f FLET %s %s.re && mv %s.re %s", sp, sp, sp, sp);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    cr_assert_eq(pclose(p), 0, "h5repack: %s", out);
    /* re-index (sizes changed; CRCs are not checked by read) */
    uint64_t lo[2], hi[2];
    uint32_t crc[2] = {0, 0};
    for (int r = 0; r < 2; r++) ckt_part(ckt_big_layout.n_flat, 2, r, &lo[r], &hi[r]);
    zt_ck_meta m;
    ckt_meta(&m, 10, 2);
    cr_assert_eq(zt_ck_write_index(tmp, 2, &ckt_big_layout, lo, hi, crc, &m, err, sizeof err), 0, "%s", err);
    zt_ck_reader *r = zt_ck_open(tmp, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    check_partitions(r, &ckt_big_layout, 3, 8);
    zt_ck_close(r);
}

/* Pieces of several 4 MiB chunks (interior chunks are read straight into the
 * caller's buffer), a partial edge chunk, partition borders inside chunks,
 * and a flipped byte in an interior chunk. */
Test(roundtrip, multi_chunk_pieces) {
    static const zt_ck_tensor t[] = {{"a", 1, {3}, 0}, {"huge", 2, {5000, 1024}, 3}, {"z", 1, {5}, 5120003}};
    const zt_ck_layout L = {3, t, 5120008, 1, {"m"}};
    char err[2048];
    cr_assert_eq(ckt_write(root, 10, 1, &L, 6, 0, 0, err, sizeof err), 0, "%s", err);
    zt_ck_reader *r = zt_ck_open(step_dir, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    check_partitions(r, &L, 1, 6);
    check_partitions(r, &L, 3, 6);
    /* odd ranges: starting and ending inside chunks, spanning 3 chunks */
    float *want = ckt_full(&L, 1, 6), *got = malloc(4 * L.n_flat);
    uint64_t rs[][2] = {{1048570, 4194310}, {3, 1048579}, {3, 2097155}, {2097155, 5120008}, {0, 5120000}, {0, 5120008}};
    for (unsigned k = 0; k < sizeof rs / sizeof *rs; k++) {
        uint64_t n = rs[k][1] - rs[k][0];
        memset(got, 0x7f, 4 * L.n_flat);           /* guard after the range */
        cr_assert_eq(zt_ck_read(r, "m", rs[k][0], rs[k][1], got, err, sizeof err), 0, "%s", err);
        cr_assert(memcmp(got, want + rs[k][0], 4 * n) == 0, "range %u", k);
        if (n < L.n_flat) {
            uint32_t g;
            memcpy(&g, got + n, 4);
            cr_assert_eq(g, 0x7f7f7f7fu, "range %u: wrote past its end", k);
        }
    }
    zt_ck_close(r);
    /* flip one byte of the third chunk of /param/huge */
    char sp[700];
    snprintf(sp, sizeof sp, "%s/shard-00000-of-00001.h5", step_dir);
    long addr = ckt_chunk_addr(sp, "/param/huge");
    cr_assert(addr > 0);
    ckt_flip(sp, addr + 2L * ((4L << 20) + 4) + 1000);   /* chunk = 4 MiB + 4 checksum bytes */
    r = zt_ck_open(step_dir, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_assert_eq(zt_ck_read(r, NULL, 0, L.n_flat, got, err, sizeof err), -1, "flip not detected");
    cr_assert(strstr(err, "Fletcher32") && strstr(err, "/param/huge"), "%s", err);
    zt_ck_close(r);
    free(want), free(got);
}
