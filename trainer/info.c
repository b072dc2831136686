/* info.c — `ztrain info`: every rank prints who it is (one line), rank 0 a
 * summary. Exercises PMIx bootstrap and an MPI collective end to end. */
#include <stdio.h>     /* printf */
#include <string.h>    /* strcmp */
#include "build_info.h"
#include "comm.h"
#include "train.h"
#include "zt_launcher.h"

int zt_info_main(int argc, char **argv) {
    const char *backend = "mpi";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--build")) { printf("gpu: %s\n", zt_build_gpu()); return 0; }
        if (!strcmp(argv[i], "--backend") && i + 1 < argc) backend = argv[++i];
    }
    zt_proc_t p;
    if (zt_boot_init(&p)) { fprintf(stderr, "ztrain info: PMIx bootstrap failed\n"); return ZT_EXIT_INTERNAL; }
    zt_comm *c = zt_comm_create(backend, &p, 60);
    if (!c) { fprintf(stderr, "ztrain info: cannot create %s communicator\n", backend); return ZT_EXIT_INTERNAL; }
    printf("rank %d/%d local %d/%d node %d/%d host %s backend %s\n", p.rank, p.size, p.local_rank,
           p.local_size, p.node_id, p.num_nodes, p.hostname, zt_comm_backend(c));
    fflush(stdout);
    float one = 1, sum = 0;
    zt_allreduce(c, &one, &sum, 1, ZT_F32, ZT_SUM);   /* everyone is really connected */
    if (p.rank == 0) {
        printf("ztrain info: %d ranks (all-reduce saw %.0f) on %d node(s), launcher %s, job %s step %s, "
               "restart %d, gpu build %s\n", p.size, sum, p.num_nodes, p.launcher, p.jobid, p.stepid,
               p.restarts, zt_build_gpu());
        fflush(stdout);
    }
    zt_comm_destroy(c);
    zt_comm_finalize();
    zt_boot_finalize();
    return (int)sum == p.size ? 0 : ZT_EXIT_INTERNAL;
}
