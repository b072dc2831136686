/* info.c — `ztrain info`: every rank prints who it is (one line), rank 0 a
 * summary. Exercises PMIx bootstrap and a collective end to end. */
#include <stdio.h>       /* printf */
#include <string.h>      /* strcmp */
#include "build_info.h"  /* zt_build_gpu */
#include "cli.h"         /* zt_cli_getopt */
#include "comm.h"        /* zt_comm_create, zt_allreduce */
#include "train.h"       /* zt_info_main */
#include "zt_launcher.h" /* boot, zt_proc_format, exit codes */
#include "zt_log.h"      /* zt_fatal */

static void usage(FILE *f) {
    fprintf(f,
        "usage: ztrain info [--build] [--backend mpi|nccl]\n"
        "  every rank prints \"rank R/W local L/LS node N/NN host H backend B\", rank 0 a summary\n"
        "      --build            print what this binary was built with (gpu: none | cuda+nccl) and exit\n"
        "      --backend NAME     communicator to test: mpi (default) or nccl\n"
        "  -h, --help             this help\n");
}

static const struct option INFO_OPTS[] = {
    { "build",   no_argument,       NULL, 'b' },
    { "backend", required_argument, NULL, 'B' },
    { "help",    no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 } };

int zt_info_main(int argc, char **argv) {
    const char *backend = "mpi";
    zt_cli_reset();
    for (int o; (o = zt_cli_getopt("info", argc, argv, ":h", INFO_OPTS)) != -1;) {
        switch (o) {
        case 'b': printf("gpu: %s\n", zt_build_gpu()); return ZT_EXIT_OK;
        case 'B': backend = optarg; break;
        case 'h': usage(stdout); return ZT_EXIT_OK;
        default: usage(stderr); return ZT_EXIT_CONFIG;
        }
    }
    if (optind < argc) { zt_error("info: unexpected argument '%s'", argv[optind]); usage(stderr); return ZT_EXIT_CONFIG; }
    if (strcmp(backend, "mpi") && strcmp(backend, "nccl")) {
        zt_error("info: --backend: expected mpi or nccl, got '%s'", backend);
        return ZT_EXIT_CONFIG;
    }
    zt_proc_t p;
    if (zt_boot_init(&p)) zt_fatal(ZT_EXIT_INTERNAL, "info: PMIx bootstrap failed");
    zt_log_set_identity(p.rank, p.jobid, p.stepid, p.restarts);
    zt_comm *c = zt_comm_create(backend, &p, 60);
    if (!c) zt_fatal(ZT_EXIT_INTERNAL, "info: cannot create the %s communicator", backend);
    char line[1024];
    zt_proc_format(&p, zt_comm_backend(c), line, sizeof line);
    printf("%s\n", line);   /* a record (tests/slurm/check_info.awk parses it), not a log line */
    fflush(stdout);
    float one = 1, sum = 0;
    zt_allreduce(c, &one, &sum, 1, ZT_F32, ZT_SUM);   /* everyone is really connected */
    if (p.rank == 0)
        printf("ztrain info: %d ranks (all-reduce saw %.0f) on %d node(s), launcher %s, job %s step %s, "
               "restart %d, gpu build %s\n", p.size, sum, p.num_nodes, p.launcher, p.jobid, p.stepid,
               p.restarts, zt_build_gpu());
    fflush(stdout);
    zt_comm_destroy(c);
    zt_comm_finalize();
    zt_boot_finalize();
    return (int)sum == p.size ? ZT_EXIT_OK : ZT_EXIT_INTERNAL;
}
