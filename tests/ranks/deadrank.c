/* deadrank.c — the program of the dead-rank test (tests/ranks/deadrank.sh).
 *
 *   deadrank [--victim R] [--kill-at I] [--iters N] [--timeout S] [--abort]
 *
 * zt_boot_init, then MPI_Init (PMIx initialised twice in one process), then a
 * loop of barriers: MPI_Ibarrier + MPI_Test polling, so that a barrier that
 * cannot complete is given up after S seconds (the "collective timeout" of
 * the comm layer). At iteration I rank R sends itself SIGKILL, after printing
 *   DEADRANK-KILL rank R t=<epoch seconds>
 * Survivors leave the loop on the first of: PMIx peer-failure event
 * (zt_boot_peer_failed), a stop signal (the launcher's SIGTERM), or the
 * barrier timeout, print
 *   DEADRANK-EXIT rank r code 6 reason <event|signal N|timeout> t=<epoch>
 * and _exit(ZT_EXIT_PEER) without PMIx_Finalize or MPI_Finalize (never
 * finalize on an error path). With --abort rank R calls zt_boot_abort(6)
 * instead of dying by SIGKILL: the launcher must end the job with status 6.
 * With --victim -1 every rank runs N barriers,
 * finalizes MPI then PMIx, and exits 0 (DEADRANK-OK).
 *
 *   deadrank --self-event
 * Positive control of the PMIx event handler (no launcher here delivers a
 * peer-failure event to the other ranks, see deadrank.sh): every rank
 * notifies itself (PMIX_RANGE_PROC_LOCAL) first PMIX_EVENT_PROC_TERMINATED
 * with exit code 0 for rank r+2 (a normal end: must not count as a failure),
 * then PMIX_ERR_PROC_ABORTED_BY_SIG for rank r+1, and checks that the handler
 * set zt_boot_peer_failed() naming rank r+1 (DEADRANK-EVENT-OK). */
#include <mpi.h>
#include <pmix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zt_launcher.h"

static double now_epoch(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static _Noreturn void give_up(int rank, const char *reason) {
    printf("DEADRANK-EXIT rank %d code %d reason %s t=%.3f\n", rank, ZT_EXIT_PEER, reason,
           now_epoch());
    fflush(stdout);
    fflush(stderr);
    _exit(ZT_EXIT_PEER);
}

static int notify_self(pmix_status_t code, const zt_proc_t *p, int affected, int with_exit0) {
    pmix_proc_t aff;
    pmix_info_t info[2];
    int zero = 0;
    size_t ni = 0;
    PMIX_PROC_LOAD(&aff, p->nspace, (pmix_rank_t)affected);
    PMIX_INFO_LOAD(&info[ni++], PMIX_EVENT_AFFECTED_PROC, &aff, PMIX_PROC);
    if (with_exit0) PMIX_INFO_LOAD(&info[ni++], PMIX_EXIT_CODE, &zero, PMIX_INT);
    pmix_status_t rc = PMIx_Notify_event(code, NULL, PMIX_RANGE_PROC_LOCAL, info, ni, NULL, NULL);
    for (size_t i = 0; i < ni; i++) PMIX_INFO_DESTRUCT(&info[i]);
    if (rc != PMIX_SUCCESS) {
        fprintf(stderr, "deadrank: PMIx_Notify_event: %s\n", PMIx_Error_string(rc));
        return -1;
    }
    return 0;
}

static int self_event(void) {
    zt_proc_t p;
    if (zt_boot_init(&p) != 0) return ZT_EXIT_INTERNAL;
    if (p.singleton) { fprintf(stderr, "deadrank --self-event needs a launcher\n"); return 1; }
    int ok_peer = (p.rank + 2) % p.size, bad_peer = (p.rank + 1) % p.size;
    if (notify_self(PMIX_EVENT_PROC_TERMINATED, &p, ok_peer, 1) ||
        notify_self(PMIX_ERR_PROC_ABORTED_BY_SIG, &p, bad_peer, 0))
        return 1;
    double t0 = now_mono();
    while (!zt_boot_peer_failed() && now_mono() - t0 < 10) usleep(1000);
    int fr = zt_boot_failed_rank();
    if (!zt_boot_peer_failed() || fr != bad_peer) {
        fprintf(stderr, "deadrank: rank %d: flag %d, failed rank %d (want %d)\n", p.rank,
                zt_boot_peer_failed(), fr, bad_peer);
        return 1;
    }
    printf("DEADRANK-EVENT-OK rank %d: handler flagged rank %d after %.3f s\n", p.rank, fr,
           now_mono() - t0);
    fflush(stdout);
    zt_boot_fence(0);
    zt_boot_finalize();
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--self-event")) return self_event();
    int victim = 2, kill_at = 20, iters = 1000000, use_abort = 0;
    double timeout = 20.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--victim") && i + 1 < argc) victim = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kill-at") && i + 1 < argc) kill_at = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) timeout = atof(argv[++i]);
        else if (!strcmp(argv[i], "--abort")) use_abort = 1;
        else {
            fprintf(stderr, "usage: deadrank [--victim R] [--kill-at I] [--iters N] [--timeout S] "
                            "[--abort] | --self-event\n");
            return 2;
        }
    }
    zt_proc_t p;
    if (zt_boot_init(&p) != 0) return ZT_EXIT_INTERNAL;
    zt_signals_install();
    MPI_Init(&argc, &argv);
    int r, w;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    MPI_Comm_size(MPI_COMM_WORLD, &w);
    if (r != p.rank || w != p.size) {
        fprintf(stderr, "deadrank: MPI %d/%d vs PMIx %d/%d\n", r, w, p.rank, p.size);
        zt_boot_abort(ZT_EXIT_INTERNAL, "MPI and PMIx disagree");
    }
    printf("DEADRANK-START rank %d/%d launcher %s pid %d\n", p.rank, p.size, p.launcher,
           (int)getpid());
    fflush(stdout);

    for (int it = 0; it < iters; it++) {
        if (p.rank == victim && it == kill_at) {
            printf("DEADRANK-KILL rank %d t=%.3f\n", p.rank, now_epoch());
            fflush(stdout);
            if (use_abort) zt_boot_abort(ZT_EXIT_PEER, "deadrank: aborting on purpose");
            kill(getpid(), SIGKILL);
        }
        MPI_Request req;
        MPI_Ibarrier(MPI_COMM_WORLD, &req);
        double t0 = now_mono();
        for (;;) {
            int done = 0;
            MPI_Test(&req, &done, MPI_STATUS_IGNORE);
            if (done) break;
            if (zt_boot_peer_failed()) give_up(p.rank, "event");
            int sig = zt_signal_pending();
            if (sig) {
                char why[32];
                snprintf(why, sizeof why, "signal-%d", sig);
                give_up(p.rank, why);
            }
            if (now_mono() - t0 > timeout) give_up(p.rank, "timeout");
            usleep(1000);
        }
        usleep(10000);   /* ~100 barriers/s: light on 2 cores */
    }
    MPI_Finalize();
    zt_boot_finalize();
    printf("DEADRANK-OK rank %d\n", p.rank);
    return 0;
}
