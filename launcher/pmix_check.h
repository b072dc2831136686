/* pmix_check.h — error-checking macros for PMIx calls inside launcher/.
 * pmixCheck(call): on failure prints "ztrain: file:line: call: PMIx error"
 * and returns -1 from the enclosing function. pmixWarn(call) only prints and
 * evaluates to the status. Never finalize PMIx on these paths (DESIGN.md). */
#ifndef ZT_PMIX_CHECK_H
#define ZT_PMIX_CHECK_H
#include <pmix.h>
#include <stdio.h>

#define pmixReport(rc_, what_)                                                    \
    fprintf(stderr, "ztrain: %s:%d: %s failed: %s (%d)\n", __FILE__, __LINE__,   \
            (what_), PMIx_Error_string(rc_), (int)(rc_))

#define pmixCheck(call)                                                           \
    do {                                                                          \
        pmix_status_t pmix_rc_ = (call);                                          \
        if (pmix_rc_ != PMIX_SUCCESS) {                                           \
            pmixReport(pmix_rc_, #call);                                          \
            return -1;                                                            \
        }                                                                         \
    } while (0)

#define pmixWarn(call)                                                            \
    __extension__({                                                               \
        pmix_status_t pmix_rc_ = (call);                                          \
        if (pmix_rc_ != PMIX_SUCCESS) pmixReport(pmix_rc_, #call);                \
        pmix_rc_;                                                                 \
    })
#endif
