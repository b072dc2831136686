/* ckpt_restep.c — test helper: copy a checkpoint under another step number.
 *
 *   ckpt_restep STEPDIR ROOT STEP
 *
 * Reads every tensor and optimizer slot of STEPDIR and writes them, with the
 * same layout, W and meta except meta.step = STEP, as ROOT/step-<STEP>,
 * committed (ROOT/latest names it). Lets tests resume from steps no test
 * could train to (above 2^24). Exit 0, or 1 with a message. */
#include <stdio.h>      /* fprintf */
#include <stdlib.h>     /* calloc, strtoull */
#include <string.h>     /* memcpy */
#include "comm.h"       /* zt_part: the partition the trainer writes */
#include "zt_ckpt.h"    /* the checkpoint library */

static int die(const char *what, const char *err) {
    fprintf(stderr, "ckpt_restep: %s: %s\n", what, err);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: ckpt_restep STEPDIR ROOT STEP\n"); return 2; }
    char err[4096], tmp[4096];
    uint64_t step = strtoull(argv[3], NULL, 10);
    zt_ck_reader *r = zt_ck_open(argv[1], err, sizeof err);
    if (!r) return die(argv[1], err);
    const zt_ck_layout *L = zt_ck_layout_of(r);
    zt_ck_meta *m = calloc(1, sizeof *m);
    memcpy(m, zt_ck_meta_of(r), sizeof *m);
    m->step = step;
    int W = zt_ck_world_of(r);
    size_t n = L->n_flat;
    float *full[1 + ZT_CK_MAX_SLOTS];
    for (int k = 0; k <= L->n_slots; k++) {
        full[k] = calloc(n ? n : 1, sizeof(float));
        if (zt_ck_read(r, k ? L->slot[k - 1] : NULL, 0, n, full[k], err, sizeof err)) return die("read", err);
    }
    if (zt_ck_prepare(argv[2], step, err, sizeof err)) return die("prepare", err);
    zt_ck_tmp_path(argv[2], step, tmp, sizeof tmp);
    uint64_t *lo = calloc((size_t)W, 8), *hi = calloc((size_t)W, 8);
    uint32_t *crc = calloc((size_t)W, 4);
    for (int q = 0; q < W; q++) {
        size_t o, l; zt_part(n, W, q, &o, &l);
        lo[q] = o; hi[q] = o + l;
        const float *slots[ZT_CK_MAX_SLOTS];
        for (int s = 0; s < L->n_slots; s++) slots[s] = full[1 + s] + o;
        if (zt_ck_write_shard(tmp, q, W, L, o, o + l, full[0] + o, slots, &crc[q], err, sizeof err))
            return die("write shard", err);
    }
    if (zt_ck_write_index(tmp, W, L, lo, hi, crc, m, err, sizeof err)) return die("write index", err);
    if (zt_ck_commit(argv[2], step, 0, 0, err, sizeof err)) return die("commit", err);
    zt_ck_close(r);
    printf("ckpt_restep: %s -> %s/step-%08llu\n", argv[1], argv[2], (unsigned long long)step);
    return 0;
}
