/* zt_launcher.h — who am I: PMIx bootstrap, key/value exchange, abort,
 * peer-failure flag, stop signals, exit codes. Used by trainer/; includes
 * nothing from the other folders. */
#ifndef ZT_LAUNCHER_H
#define ZT_LAUNCHER_H
#ifdef __cplusplus   /* included from the CUDA sources (nvcc compiles them as C++) */
extern "C" {
#ifndef _Noreturn
#define _Noreturn [[noreturn]]
#endif
#endif
#include <stddef.h>   /* size_t */

/* Documented process exit codes (README "Exit codes"). sbatch/ relies on them. */
enum {
    ZT_EXIT_OK       = 0,   /* training finished */
    ZT_EXIT_INTERNAL = 1,   /* bug / unexpected failure */
    ZT_EXIT_CONFIG   = 2,   /* bad config or command line: do not requeue */
    ZT_EXIT_STOPPED  = 3,   /* stop signal: checkpoint written, resumable: requeue */
    ZT_EXIT_DATA     = 4,   /* dataset missing/malformed: do not requeue */
    ZT_EXIT_CKPT     = 5,   /* checkpoint unusable (no fallback left), disk full */
    ZT_EXIT_PEER     = 6,   /* a peer rank died / collective timed out: requeue */
};

typedef struct {
    int  rank, size;            /* global rank / world size W */
    int  local_rank, local_size;/* on this node */
    int  node_id, num_nodes;    /* 0..num_nodes-1, ordered by lowest rank on node */
    int  singleton;             /* 1: no PMIx server, running alone (W=1) */
    char nspace[256];           /* PMIx namespace (job id) */
    char jobid[64];             /* SLURM_JOB_ID, else nspace */
    char stepid[64];            /* SLURM_STEP_ID, else "-" */
    int  restarts;              /* SLURM_RESTART_COUNT, else 0 */
    char hostname[256];
    char launcher[16];          /* "slurm", "mpirun", "singleton" */
} zt_proc_t;

/* Connect to the PMIx server (srun --mpi=pmix, or mpirun's). With no server
 * fills a singleton (W=1) and prints a one-line notice. Returns 0 or -1. */
int  zt_boot_init(zt_proc_t *p);
/* Finalize PMIx. Only on the success path: a rank that exits without it makes
 * Slurm kill the whole step at once, which is what we want on errors. */
void zt_boot_finalize(void);
/* Key/value exchange of byte blobs (e.g. the NCCL unique id). */
int  zt_boot_put(const char *key, const void *buf, size_t n);
int  zt_boot_commit(void);
int  zt_boot_fence(int collect_data);          /* all ranks of the job */
int  zt_boot_get(int rank, const char *key, void *buf, size_t cap, size_t *got);
/* Print "ztrain: rank R: msg" and abort the whole job with status. */
_Noreturn void zt_boot_abort(int status, const char *msg);
/* Set by the PMIx event handler when the server reports a dead/lost peer. */
int  zt_boot_peer_failed(void);
/* Rank named by that event, or -1 (none yet, or the server was lost). */
int  zt_boot_failed_rank(void);
/* The `ztrain info` line: "rank R/W local L/LS node N/NN host H backend B".
 * Returns snprintf's result. */
int  zt_proc_format(const zt_proc_t *p, const char *backend, char *buf, size_t cap);

/* Stop signals (SIGUSR2, SIGTERM, SIGUSR1, SIGINT): the handler only sets a flag. */
void zt_signals_install(void);
int  zt_signal_pending(void);                  /* signo or 0 */
void zt_signal_raise_for_test(int signo);
void zt_signal_clear(void);                    /* forget a pending signal */

/* Pure helpers (unit-tested): parse "0-3,5" style Slurm/PMIx rank lists. */
int  zt_parse_int_env(const char *name, int dflt);
int  zt_count_ranklist(const char *list);      /* "0,1,2" -> 3, "0-3" -> 4, bad -> -1 */
/* Whole decimal int with optional blanks around it: 0 and *out, or -1. */
int  zt_parse_int(const char *s, int *out);
/* Expand a rank list into out[0..cap); returns the full count ("" -> 0), bad -> -1. */
int  zt_parse_ranklist(const char *list, int *out, int cap);
int  zt_ranklist_min(const char *list);        /* lowest rank, or -1 if bad/empty */
#ifdef __cplusplus
}
#endif
#endif
