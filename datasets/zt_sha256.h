/* zt_sha256.h — small self-contained SHA-256 (FIPS 180-4), used for the
 * checksum attributes of prepared datasets. Internal to datasets/. */
#ifndef ZT_SHA256_H
#define ZT_SHA256_H
#include <stddef.h>   /* size_t */
#include <stdint.h>   /* uint8_t, uint32_t, uint64_t */

typedef struct {
    uint32_t h[8];
    uint64_t len;          /* bytes hashed so far */
    uint8_t  buf[64];
    size_t   nbuf;
} zt_sha256_ctx;

void zt_sha256_init(zt_sha256_ctx *c);
void zt_sha256_update(zt_sha256_ctx *c, const void *data, size_t n);
void zt_sha256_final(zt_sha256_ctx *c, uint8_t out[32]);
/* Finishes and writes 64 lowercase hex digits + NUL into hex[65]. */
void zt_sha256_hex(zt_sha256_ctx *c, char hex[65]);
#endif
