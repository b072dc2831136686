/* augment.c — random crop (zero padding) and horizontal flip, keyed by
 * (seed, epoch, dataset row index): see augment.h. */
#include "augment.h"
#include <stdio.h>    /* snprintf */
#include <stdlib.h>   /* strtol */
#include <string.h>   /* memcpy, memset, strcmp, strtok_r */

int zt_augment_parse(const char *spec, zt_augment *a, char *why, size_t whylen) {
    char buf[128], *save = NULL;
    memset(a, 0, sizeof *a);
    if (strlen(spec) >= sizeof buf) { snprintf(why, whylen, "too long"); return -1; }
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "flip")) { a->flip = 1; continue; }
        if (!strncmp(t, "crop", 4)) {
            char *end;
            long p = strtol(t + 4, &end, 10);
            if (end != t + 4 && !*end && p >= 1 && p <= 16) { a->crop = (int)p; continue; }
        }
        snprintf(why, whylen, "unknown item '%s' (expected cropN with N in 1..16, flip)", t);
        return -1;
    }
    return 0;
}

/* splitmix64 finalizer: one 64-bit draw per (seed, epoch, row) */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void zt_augment_apply(const zt_augment *a, float *x, int n, int H, int W, int C,
                      const uint64_t *rows, uint64_t seed, uint64_t epoch, float *tmp) {
    if (!a->crop && !a->flip) return;
    const size_t row = (size_t)H * W * C;
    const uint64_t key = mix64(mix64(seed ^ 0x6175676D656E7431ULL) + epoch);   /* "augment1" */
    for (int i = 0; i < n; i++) {
        uint64_t h = mix64(key + (rows[i] + 1) * 0x9E3779B97F4A7C15ULL);
        const int span = 2 * a->crop + 1;
        const int dy = a->crop ? (int)(h % span) - a->crop : 0;
        const int dx = a->crop ? (int)((h >> 16) % span) - a->crop : 0;
        const int fl = a->flip && ((h >> 40) & 1);
        if (!dy && !dx && !fl) continue;
        float *img = x + (size_t)i * row;
        memcpy(tmp, img, row * sizeof(float));
        /* out(y, x) = in(y + dy, x' + dx), x' = mirrored x when flipping; 0 outside */
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) {
                const int sy = y + dy, sx = (fl ? W - 1 - xx : xx) + dx;
                float *o = img + ((size_t)y * W + xx) * C;
                if (sy < 0 || sy >= H || sx < 0 || sx >= W) memset(o, 0, (size_t)C * sizeof(float));
                else memcpy(o, tmp + ((size_t)sy * W + sx) * C, (size_t)C * sizeof(float));
            }
    }
}
