/* main.c — the one `ztrain` binary: subcommands train, info, data, ckpt. */
#include <stdio.h>     /* fprintf */
#include <stdlib.h>    /* setenv */
#include <string.h>    /* strcmp */
#include <unistd.h>    /* execv */
#include "ops.h"       /* zt_ops_cpu_blas_coretype_hint */
#include "train.h"     /* zt_train_main, zt_info_main */
#include "zt_ckpt.h"   /* zt_ck_cmd */
#include "zt_data.h"   /* zt_data_cmd */

static void usage(void) {
    fprintf(stderr,
        "usage: ztrain <command> ...\n"
        "  train --config FILE.ini [--set section.key=value ...]   train (see README)\n"
        "  info [--build]                                           who am I, per rank\n"
        "  data prep mnist OUT.h5 [JSON_DIR] | data prep text OUT.h5 [FILES...]\n"
        "  ckpt info DIR | ckpt verify DIR | ckpt export DIR OUT.h5\n");
}

int main(int argc, char **argv) {
    /* OpenBLAS 0.3.21 does not recognise some current CPUs and falls back to
     * SSE3 kernels (2x slower sgemm). It reads OPENBLAS_CORETYPE only when it
     * loads, so set it and re-exec once, before PMIx, MPI or any thread. */
    const char *ct = zt_ops_cpu_blas_coretype_hint();
    if (ct) { setenv("OPENBLAS_CORETYPE", ct, 1); execv("/proc/self/exe", argv); }
    if (argc < 2) { usage(); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "train")) return zt_train_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))  return zt_info_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "data"))  return zt_data_cmd(argc - 1, argv + 1);
    if (!strcmp(cmd, "ckpt"))  return zt_ck_cmd(argc - 1, argv + 1);
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) { usage(); return 0; }
    fprintf(stderr, "ztrain: unknown command '%s'\n", cmd);
    usage();
    return 2;
}
