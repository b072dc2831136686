/* pmix_check.h — error checks for PMIx calls inside launcher/, in the style
 * of zt_log.h's ztCheck: the line names file:line, the failed call and
 * PMIx's error string, and goes through the logger (rank and job tag).
 *   pmixCheck(call)   on failure logs and returns -1 from the enclosing
 *                     function: the launcher reports, its caller decides the
 *                     exit code (zt_fatal).
 *   pmixWarn(call)    only logs; evaluates to the status.
 *   pmixReport(rc, fmt, ...)  the log line alone, fmt naming the call.
 * Never PMIx_Finalize on these paths: a rank that exits without it makes the
 * launcher end the whole job, which is what an error should do. */
#ifndef ZT_PMIX_CHECK_H
#define ZT_PMIX_CHECK_H
#include <pmix.h>     /* pmix_status_t, PMIx_Error_string */
#include <stdarg.h>   /* va_list */
#include <stdio.h>    /* vsnprintf */
#include "zt_log.h"   /* zt_error */

#define pmixReport(rc_, ...) pmix_report(__FILE__, __LINE__, (rc_), __VA_ARGS__)

#define pmixCheck(call)                                                           \
    do {                                                                          \
        pmix_status_t pmix_rc_ = (call);                                          \
        if (pmix_rc_ != PMIX_SUCCESS) {                                           \
            pmixReport(pmix_rc_, "%s", #call);                                    \
            return -1;                                                            \
        }                                                                         \
    } while (0)

#define pmixWarn(call)                                                            \
    __extension__({                                                               \
        pmix_status_t pmix_rc_ = (call);                                          \
        if (pmix_rc_ != PMIX_SUCCESS) pmixReport(pmix_rc_, "%s", #call);          \
        pmix_rc_;                                                                 \
    })

/* "file.c:123: <what> failed: <PMIx error string> (<code>)" at ERROR level. */
static inline void pmix_report(const char *file, int line, pmix_status_t rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline void pmix_report(const char *file, int line, pmix_status_t rc, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *base = file;
    for (const char *q = file; *q; q++) if (*q == '/') base = q + 1;
    zt_error("%s:%d: %s failed: %s (%d)", base, line, what, PMIx_Error_string(rc), (int)rc);
}
#endif
