/* augment.h — image augmentation for training rows (data.augment): random
 * crop with zero padding and horizontal flip, NHWC floats in place. Each
 * row's draw is a pure function of (seed, epoch, dataset row index), so a row
 * is transformed the same way whichever rank reads it, at any W. */
#ifndef ZT_AUGMENT_H
#define ZT_AUGMENT_H
#include <stddef.h>   /* size_t */
#include <stdint.h>   /* uint64_t */

typedef struct {
    int crop;   /* padding p of a random crop (shift by -p..p per axis), 0 = none */
    int flip;   /* 1: mirror left-right with probability 1/2 */
} zt_augment;

/* "crop2,flip" | "flip" | "crop4" | "" -> a; 0, or -1 with a reason in why */
int  zt_augment_parse(const char *spec, zt_augment *a, char *why, size_t whylen);
/* x [n, H, W, C] in place; rows[i] = dataset row of x[i]; tmp: H·W·C floats */
void zt_augment_apply(const zt_augment *a, float *x, int n, int H, int W, int C,
                      const uint64_t *rows, uint64_t seed, uint64_t epoch, float *tmp);
#endif
