/* log.c — the one logger (zt_log.h): a stamp on every line, and the single
 * place where a fatal error becomes a documented exit code. Lines are built in
 * one buffer and written with one call, so ranks sharing a terminal or a
 * Slurm output file do not interleave inside a line. */
#include "zt_log.h"

#include <stdio.h>    /* vsnprintf, fputs, fflush */
#include <string.h>   /* strlen */
#include <sys/time.h> /* gettimeofday */
#include <time.h>     /* gmtime_r, strftime */
#include <unistd.h>   /* _exit */

static int  g_rank = -1;
static int  g_stamp = 1;
static char g_tag[160];

void zt_log_set_identity(int rank, const char *jobid, const char *stepid, int restarts) {
    g_rank = rank;
    g_tag[0] = 0;
    if (jobid && *jobid)
        snprintf(g_tag, sizeof g_tag, "[job %.64s.%.32s restart %d] ", jobid,
                 stepid && *stepid ? stepid : "-", restarts);
}

void zt_log_set_timestamps(int on) { g_stamp = on; }
const char *zt_log_tag(void) { return g_tag; }

void zt_vlog(zt_log_level lvl, const char *fmt, va_list ap) {
    char line[2048];
    size_t n = 0;
    if (g_stamp) {
        struct timeval tv; gettimeofday(&tv, NULL);
        struct tm tm; gmtime_r(&tv.tv_sec, &tm);
        n += strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof line - n, ".%03dZ ", (int)(tv.tv_usec / 1000));
    }
    n += (size_t)snprintf(line + n, sizeof line - n, "%sztrain: ", g_tag);
    if (g_rank >= 0 && n < sizeof line) n += (size_t)snprintf(line + n, sizeof line - n, "rank %d: ", g_rank);
    if (lvl == ZT_LOG_WARN && n < sizeof line) n += (size_t)snprintf(line + n, sizeof line - n, "warning: ");
    if (n < sizeof line) n += (size_t)vsnprintf(line + n, sizeof line - n, fmt, ap);
    if (n > sizeof line - 2) n = sizeof line - 2;      /* truncated: keep the newline */
    if (n == 0 || line[n - 1] != '\n') { line[n++] = '\n'; line[n] = 0; }
    FILE *f = lvl == ZT_LOG_INFO ? stdout : stderr;
    fputs(line, f);
    fflush(f);
}

void zt_log(zt_log_level lvl, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); zt_vlog(lvl, fmt, ap); va_end(ap);
}

static void (*g_exit_hook)(void *);
static void *g_exit_arg;
void zt_set_exit_hook(void (*fn)(void *), void *arg) { g_exit_hook = fn; g_exit_arg = arg; }

_Noreturn void zt_exit_now(int code) {
    void (*hook)(void *) = g_exit_hook;
    g_exit_hook = NULL;            /* once: a fatal error inside the hook exits plainly */
    if (hook) hook(g_exit_arg);
    fflush(NULL);
    _exit(code);
}

_Noreturn void zt_fatal(int code, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); zt_vlog(ZT_LOG_ERROR, fmt, ap); va_end(ap);
    zt_exit_now(code);
}

_Noreturn void zt_check_failed(const char *file, int line, const char *what, int code,
                               const char *fmt, ...) {
    char msg[1024];
    va_list ap; va_start(ap, fmt); vsnprintf(msg, sizeof msg, fmt, ap); va_end(ap);
    const char *base = strrchr(file, '/');
    zt_fatal(code, "%s:%d: %s failed: %s", base ? base + 1 : file, line, what, msg);
}
