/* ckpt_seed.c — writes the tiny real checkpoint the checkpoint fuzz target is
 * built around (tests/fuzz/ckpt_base): two tensors, w [3,4] and b [4] (16
 * parameters), AdamW slots m and v, saved by W=2 ranks with the cut inside
 * w's second row, so the index maps partial rows. Run by hand when the
 * checkpoint format changes:
 *   build/tests/ckpt_seed OUTROOT && cp OUTROOT/step-00000005/ tests/fuzz/ckpt_base/ */
#include <stdio.h>      /* printf */
#include <string.h>     /* strcpy */
#include "zt_ckpt.h"    /* zt_ck_prepare, write_shard, write_index, commit */

int main(int argc, char **argv) {
    if (argc != 2) { printf("usage: ckpt_seed OUTROOT\n"); return 2; }
    const char *root = argv[1];
    zt_ck_tensor t[2] = {{"w", 2, {3, 4}, 0}, {"b", 1, {4, 0}, 12}};
    zt_ck_layout L = {.n_tensors = 2, .t = t, .n_flat = 16, .n_slots = 2};
    strcpy(L.slot[0], "m");
    strcpy(L.slot[1], "v");
    float p[16], m[16], v[16];
    for (int i = 0; i < 16; i++) p[i] = 0.25f * (float)i - 1.0f, m[i] = 0.01f * (float)i, v[i] = 0.001f * (float)(i + 1);
    const uint64_t lo[2] = {0, 6}, hi[2] = {6, 16};
    uint32_t crc[2];
    char err[1024], tmp[1024];
    const uint64_t step = 5;
    if (zt_ck_prepare(root, step, err, sizeof err)) goto fail;
    zt_ck_tmp_path(root, step, tmp, sizeof tmp);
    for (int r = 0; r < 2; r++) {
        const float *slots[2] = {m + lo[r], v + lo[r]};
        if (zt_ck_write_shard(tmp, r, 2, &L, lo[r], hi[r], p + lo[r], slots, &crc[r], err, sizeof err)) goto fail;
    }
    static zt_ck_meta meta;
    meta.step = step, meta.world = 2, meta.stage = 1, meta.seed = 7;
    strcpy(meta.model, "fuzz w=3x4 b=4");
    strcpy(meta.optim, "adamw lr=0.001");
    strcpy(meta.config, "[train]\nsteps = 5\n");
    strcpy(meta.state, "epoch 0 step 5");
    if (zt_ck_write_index(tmp, 2, &L, lo, hi, crc, &meta, err, sizeof err)) goto fail;
    if (zt_ck_commit(root, step, 0, 0, err, sizeof err)) goto fail;
    printf("ckpt_seed: wrote %s/step-00000005\n", root);
    return 0;
fail:
    printf("ckpt_seed: %s\n", err);
    return 1;
}
