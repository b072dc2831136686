/* main.c — the one `ztrain` binary: subcommands train, info, data, ckpt, plot.
 * Each parses its own options (getopt_long) and answers --help on stdout. */
#include <stdio.h>     /* FILE, fprintf */
#include <stdlib.h>    /* setenv */
#include <string.h>    /* strcmp */
#include <unistd.h>    /* execv */
#include "build_info.h" /* zt_build_version, zt_build_features */
#include "ops.h"       /* zt_ops_cpu_blas_coretype_hint */
#include "plot.h"      /* zt_plot_main */
#include "train.h"     /* zt_train_main, zt_info_main */
#include "sample.h"    /* zt_sample_main */
#include "export.h"    /* ckpt export --format safetensors, ckpt logprobs */
#include "zt_ckpt.h"   /* zt_ck_cmd */
#include "zt_data.h"   /* zt_data_cmd */
#include "zt_launcher.h" /* exit codes */
#include "zt_log.h"    /* zt_error */

static void usage(FILE *f) {
    fprintf(f,
        "usage: ztrain <command> [options]   (ztrain <command> --help for each)\n"
        "  train -c FILE.ini [-s section.key=value ...]        train (see README)\n"
        "  info [--build] [--backend mpi|nccl]                 who am I, per rank\n"
        "  data prep mnist OUT.h5 [JSON_DIR] | data prep text OUT.h5 [FILES...]\n"
        "  data prep idx OUT.h5 [DIR] | data check FILE.h5\n"
        "  ckpt info DIR | ckpt verify DIR | ckpt export DIR OUT.h5 [--optim]\n"
        "  plot METRICS.jsonl [OUT.png]                         a run as a picture\n"
        "  sample DIR [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--seed S]\n"
        "  ckpt export DIR OUT --format safetensors | ckpt logprobs DIR --tokens ID,...\n"
        "  --version                                           version and build features\n");
}

int main(int argc, char **argv) {
    /* OpenBLAS 0.3.21 does not recognise some current CPUs and falls back to
     * SSE3 kernels (2x slower sgemm). It reads OPENBLAS_CORETYPE only when it
     * loads, so set it and re-exec once, before PMIx, MPI or any thread. */
    const char *ct = zt_ops_cpu_blas_coretype_hint();
    if (ct) { setenv("OPENBLAS_CORETYPE", ct, 1); execv("/proc/self/exe", argv); }
    if (argc < 2) { usage(stderr); return ZT_EXIT_CONFIG; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "train")) return zt_train_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))  return zt_info_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "data"))  return zt_data_cmd(argc - 1, argv + 1);
    if (!strcmp(cmd, "ckpt") && zt_export_handles(argc - 1, argv + 1)) return zt_export_cmd(argc - 1, argv + 1);
    if (!strcmp(cmd, "ckpt"))  return zt_ck_cmd(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot"))  return zt_plot_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "sample")) return zt_sample_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") || !strcmp(cmd, "version")) {
        printf("ztrain %s (%s)\nfeatures: %s\n", zt_build_version(),
               !strcmp(zt_build_version_source(), "git") ? "git describe" : "project version", zt_build_features());
        return ZT_EXIT_OK;
    }
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) { usage(stdout); return ZT_EXIT_OK; }
    zt_error("unknown command '%s'", cmd);
    usage(stderr);
    return ZT_EXIT_CONFIG;
}
