/* fuzz_ckpt.c — libFuzzer target: a checkpoint's open, verify, layout check
 * and read (checkpoint/ckpt_read.c, ckpt_index.c, ckpt_resolve.c).
 *
 * The base is a tiny real checkpoint in tests/fuzz/ckpt_base (W=2; made by
 * ckpt_seed.c). Input: one mode byte, then a file:
 *   even mode byte: the file is index.h5. The harness writes index.crc32 to
 *     match, so HDF5 and ck_index_load really parse the bytes (with the CRC
 *     of the real sidecar, almost every mutation would stop at the sidecar);
 *   odd mode byte: the file is shard 0, cut or zero-padded to the size the
 *     base index records, so open's size check passes: verify must then fail
 *     on the CRC, and the reader, called anyway, must fail cleanly.
 * A reader that opens is asked everything the trainer asks: verify, layout
 * check against itself (must match) and against the base layout, and reads
 * of the parameters and every slot. (Resolve adds nothing here: it is open
 * and verify of the same directory, at the cost of another HDF5 open.) */
#include <stdint.h>     /* uint8_t */
#include <stdio.h>      /* snprintf */
#include <stdlib.h>     /* malloc */
#include <string.h>     /* memcpy */
#include <sys/stat.h>   /* mkdir */
#include <zlib.h>       /* crc32: the index sidecar */
#include <hdf5.h>       /* H5Eset_auto2: quiet HDF5 while fuzzing */
#include "zt_ckpt.h"    /* zt_ck_* */
#include "fuzz_util.h"  /* fz_dir, fz_write, fz_read */

#ifndef ZT_FUZZ_CKPT_BASE
#error "ZT_FUZZ_CKPT_BASE must name tests/fuzz/ckpt_base"
#endif
#define STEP_DIR "step-00000005"
#define SHARD0 "shard-00000-of-00002.h5"
#define SHARD1 "shard-00001-of-00002.h5"
#define MAX_READ (1u << 16)   /* elements: the base has 16; larger claims are not read */

static uint8_t *b_index, *b_shard0, *b_shard1;
static size_t n_index, n_shard0, n_shard1;
static char dir[600];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    b_index = fz_read(ZT_FUZZ_CKPT_BASE "/index.h5", &n_index);
    b_shard0 = fz_read(ZT_FUZZ_CKPT_BASE "/" SHARD0, &n_shard0);
    b_shard1 = fz_read(ZT_FUZZ_CKPT_BASE "/" SHARD1, &n_shard1);
    snprintf(dir, sizeof dir, "%s/" STEP_DIR, fz_dir("ckpt"));
    mkdir(dir, 0700);
    return 0;
}

static void put(const char *name, const void *d, size_t n) {
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    fz_write(p, d, n);
}

static void read_all(zt_ck_reader *r, const char *slot, uint64_t lo, uint64_t hi) {
    char err[2048];
    if (hi < lo || hi - lo > MAX_READ) return;
    float *out = malloc(((size_t)(hi - lo) + 1) * sizeof *out);
    (void)zt_ck_read(r, slot, lo, hi, out, err, sizeof err);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    if (!b_index) LLVMFuzzerInitialize(NULL, NULL);
    const int shard_mode = data[0] & 1;
    data++, size--;
    const uint8_t *idx = shard_mode ? b_index : data;
    size_t n_idx = shard_mode ? n_index : size;
    put("index.h5", idx, n_idx);
    char line[16];
    int ln = snprintf(line, sizeof line, "%08lx\n", crc32(0L, idx, (uInt)n_idx));
    put("index.crc32", line, (size_t)ln);
    int same_shard = 1;           /* shard 0 as written equals the base's */
    if (shard_mode) {
        uint8_t *s0 = calloc(1, n_shard0);
        memcpy(s0, data, size < n_shard0 ? size : n_shard0);
        put(SHARD0, s0, n_shard0);
        same_shard = !memcmp(s0, b_shard0, n_shard0);
        free(s0);
    } else {
        put(SHARD0, b_shard0, n_shard0);
    }
    put(SHARD1, b_shard1, n_shard1);

    /* the unchanged base must open and verify: else the harness is broken
     * and every other input would fail for the wrong reason */
    const int pristine = same_shard && n_idx == n_index && !memcmp(idx, b_index, n_index);
    char err[4096];
    err[0] = '\0';
    zt_ck_reader *r = zt_ck_open(dir, err, sizeof err);
    if (!r) {
        if (!err[0]) __builtin_trap();        /* a failed open says why */
        if (pristine) { fprintf(stderr, "fuzz_ckpt: the base checkpoint does not open: %s\n", err); abort(); }
    } else {
        const zt_ck_layout *L = zt_ck_layout_of(r);
        const zt_ck_meta *m = zt_ck_meta_of(r);
        if (zt_ck_world_of(r) < 1 || m->world != zt_ck_world_of(r)) __builtin_trap();
        int bad = zt_ck_verify_shards(r, 0, 1, err, sizeof err);
        if (shard_mode && !bad && !same_shard)
            __builtin_trap();                 /* a changed shard passed its CRC */
        if (pristine && bad) { fprintf(stderr, "fuzz_ckpt: the base checkpoint fails verify: %s\n", err); abort(); }
        if (zt_ck_check_layout(r, L, err, sizeof err) != 0) __builtin_trap();   /* differs from itself */
        for (int i = 0; i < zt_ck_world_of(r); i++) {
            uint64_t lo, hi, sz;
            uint32_t crc;
            if (zt_ck_shard_info(r, i, &lo, &hi, &crc, &sz) != 0) __builtin_trap();
        }
        read_all(r, NULL, 0, L->n_flat);
        read_all(r, NULL, L->n_flat / 3, L->n_flat - L->n_flat / 4);
        for (int s = 0; s < L->n_slots; s++) read_all(r, L->slot[s], 0, L->n_flat);
        read_all(r, "no-such-slot", 0, L->n_flat);
        zt_ck_close(r);
    }
    return 0;
}
