/* zt_log.h — the one logger and the one check idiom of ztrain.
 *
 * Every line a rank prints goes through zt_log(), which stamps it the same way:
 *   2026-12-01T15:50:01.123Z [job 812.0 restart 1] ztrain: rank 3: <message>
 * (the "[job …]" part only once zt_log_set_identity() has a job id, i.e. under
 * Slurm or mpirun). INFO lines go to stdout, WARN and ERROR to stderr.
 *
 * Fatal errors go through zt_fatal(), the single place where the exit-code
 * contract (zt_launcher.h, README "Exit codes") is applied: it logs, flushes and
 * leaves with _exit(code) — no PMIx_Finalize (so Slurm ends the step at once)
 * and no atexit handlers (HDF5's crashed after ENOSPC). The xxxCheck macros,
 * after llm.c's mallocCheck/fopenCheck, name file:line and the failed call. */
#ifndef ZT_LOG_H
#define ZT_LOG_H
#ifdef __cplusplus   /* included from the CUDA sources (nvcc compiles them as C++) */
extern "C" {
#ifndef _Noreturn
#define _Noreturn [[noreturn]]
#endif
#endif
#include <stdarg.h>   /* va_list */
#include <stdio.h>    /* FILE */

typedef enum { ZT_LOG_INFO = 0, ZT_LOG_WARN = 1, ZT_LOG_ERROR = 2 } zt_log_level;

/* Who this process is, for the stamp. rank < 0: not known yet (no "rank N:").
 * jobid NULL or "": no job tag. Safe to call again (e.g. after boot). */
void zt_log_set_identity(int rank, const char *jobid, const char *stepid, int restarts);
/* Drop the timestamp (tests that compare output); default on. */
void zt_log_set_timestamps(int on);
/* The "[job J.S restart R] " tag ("" when there is none): for files that keep
 * their own records (metrics lines, job.out banners). */
const char *zt_log_tag(void);

void zt_log(zt_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void zt_vlog(zt_log_level lvl, const char *fmt, va_list ap);
/* Log at ERROR and exit with `code` (one of ZT_EXIT_*): see above. */
_Noreturn void zt_fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, without the log line (the caller has printed it already). */
_Noreturn void zt_exit_now(int code);
/* One function zt_exit_now runs before it exits (NULL: none): the
 * checkpoint saver finishes a commit whose shards are all written. */
void zt_set_exit_hook(void (*fn)(void *), void *arg);

#define zt_info(...)  zt_log(ZT_LOG_INFO, __VA_ARGS__)
#define zt_warn(...)  zt_log(ZT_LOG_WARN, __VA_ARGS__)
#define zt_error(...) zt_log(ZT_LOG_ERROR, __VA_ARGS__)

/* ztCheck(cond, code, fmt, ...): if !cond, exit `code` with
 * "file.c:123: <cond> failed: <message>". */
#define ztCheck(cond, code, ...) do { if (!(cond)) \
    zt_check_failed(__FILE__, __LINE__, #cond, code, __VA_ARGS__); } while (0)
/* mallocCheck(p): p == NULL is an out-of-memory exit (ZT_EXIT_INTERNAL). */
#define mallocCheck(p) do { if ((p) == NULL) \
    zt_check_failed(__FILE__, __LINE__, #p " = NULL", 1, "out of memory"); } while (0)

_Noreturn void zt_check_failed(const char *file, int line, const char *what, int code,
                               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#ifdef __cplusplus
}
#endif
#endif
