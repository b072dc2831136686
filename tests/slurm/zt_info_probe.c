/* zt_info_probe.c — stand-in for `ztrain info` in the Slurm tests until the
 * trainer's lands: `zt_info_probe info [--mpi]`. Every rank prints one line
 *   rank R/W local L/LS node N/NN host H backend B
 * (zt_proc_format, the format `ztrain info` uses) and a line
 *   ids rank R launcher L job J step S restarts N nspace NS
 * after checking the PMIx
 * key/value store: each rank puts a blob, fence, reads its right neighbour's.
 * With --mpi it then calls MPI_Init (PMIx initialised twice in one process),
 * checks that MPI agrees on rank and size and all-reduces the ranks; the
 * backend printed is then "mpi", else "none". Exit 0 on success, 1 otherwise. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "zt_launcher.h"

int main(int argc, char **argv) {
    int use_mpi = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mpi")) use_mpi = 1;
        else if (strcmp(argv[i], "info") != 0) {
            fprintf(stderr, "usage: zt_info_probe info [--mpi]\n");
            return 2;
        }
    }
    zt_proc_t p;
    if (zt_boot_init(&p) != 0) return 1;

    /* key/value exchange: rank r puts "r:<hostname>", reads rank r+1's. */
    char mine[300], theirs[300];
    int n = snprintf(mine, sizeof mine, "%d:%s", p.rank, p.hostname);
    if (zt_boot_put("zt.probe", mine, (size_t)n + 1) || zt_boot_commit() || zt_boot_fence(1))
        zt_boot_abort(ZT_EXIT_INTERNAL, "probe: put/commit/fence failed");
    int right = (p.rank + 1) % p.size;
    size_t got = 0;
    if (zt_boot_get(right, "zt.probe", theirs, sizeof theirs, &got) != 0)
        zt_boot_abort(ZT_EXIT_INTERNAL, "probe: get failed");
    char want[16];
    snprintf(want, sizeof want, "%d:", right);
    if (got == 0 || strncmp(theirs, want, strlen(want)) != 0) {
        fprintf(stderr, "probe: rank %d read '%s' from rank %d\n", p.rank, theirs, right);
        zt_boot_abort(ZT_EXIT_INTERNAL, "probe: wrong value from key/value store");
    }

    const char *backend = "none";
    if (use_mpi) {
        int r, w, sum = 0;
        MPI_Init(&argc, &argv);
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
        MPI_Comm_size(MPI_COMM_WORLD, &w);
        if (r != p.rank || w != p.size) {
            fprintf(stderr, "probe: MPI says %d/%d, PMIx says %d/%d\n", r, w, p.rank, p.size);
            zt_boot_abort(ZT_EXIT_INTERNAL, "probe: MPI and PMIx disagree");
        }
        MPI_Allreduce(&r, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        if (sum != w * (w - 1) / 2) zt_boot_abort(ZT_EXIT_INTERNAL, "probe: bad all-reduce");
        backend = "mpi";
    }
    char line[600];
    zt_proc_format(&p, backend, line, sizeof line);
    printf("%s\n", line);
    printf("ids rank %d launcher %s job %s step %s restarts %d nspace %s\n", p.rank, p.launcher,
           p.jobid, p.stepid, p.restarts, p.nspace);
    fflush(stdout);
    if (use_mpi) MPI_Finalize();
    zt_boot_finalize();
    return 0;
}
