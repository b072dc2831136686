/* fuzz_config.c — libFuzzer target: the config loader (trainer/config.c).
 * Input: ini text, optionally followed by a line "%%" and then one
 * `section.key=value` override per line (the --set arguments). The text goes
 * to a file because zt_config_load reads a path, as `ztrain train --config`
 * does. No MPI: the loader is pure parsing and validation. */
#define _GNU_SOURCE     /* memmem */
#include <stdint.h>     /* uint8_t */
#include <stdio.h>      /* snprintf */
#include <stdlib.h>     /* malloc */
#include <string.h>     /* memmem */
#include "config.h"     /* zt_config_load, zt_config_origin, zt_config_render */
#include "fuzz_util.h"  /* fz_dir, fz_write */

#define MAX_SETS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static zt_config c;            /* ~40 KB: not on the stack */
    static char path[512];
    if (!path[0]) snprintf(path, sizeof path, "%s/config.ini", fz_dir("config"));

    const uint8_t *sep = memmem(data, size, "\n%%\n", 4);
    size_t ini_len = sep ? (size_t)(sep - data) + 1 : size;
    fz_write(path, data, ini_len);

    /* the overrides: NUL-terminated copies, one per line */
    char *sets[MAX_SETS];
    int n_sets = 0;
    char *tail = NULL;
    if (sep) {
        size_t tl = size - ini_len - 3;
        tail = malloc(tl + 1);
        memcpy(tail, sep + 4, tl);
        tail[tl] = '\0';
        for (char *p = tail; *p && n_sets < MAX_SETS;) {
            sets[n_sets++] = p;
            char *nl = strchr(p, '\n');
            if (!nl) break;
            *nl = '\0';
            p = nl + 1;
        }
    }
    char err[1024];
    err[0] = '\0';
    if (zt_config_load(&c, path, sets, n_sets, err, sizeof err) == 0) {
        /* a loaded config is rendered (it goes into checkpoints) and asked
         * where its keys came from, as the trainer does */
        zt_config_render(&c);
        (void)zt_config_origin(&c, "train.global_batch");
        (void)zt_config_origin(&c, "no.such_key");
        if (strlen(c.text) >= sizeof c.text) __builtin_trap();
    } else if (!err[0]) {
        __builtin_trap();          /* an error must say what is wrong */
    }
    free(tail);
    return 0;
}
