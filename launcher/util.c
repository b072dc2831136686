/* util.c — pure helpers of the launcher: environment integers and PMIx/Slurm
 * rank lists ("0,1,2", "0-3,5"). No PMIx, no global state: unit-tested. */
#include "zt_launcher.h"

#include <ctype.h>   /* isdigit */
#include <errno.h>   /* errno */
#include <limits.h>  /* INT_MAX */
#include <stdlib.h>  /* getenv, strtol */

/* Parse a whole decimal int (optional sign, surrounding blanks allowed).
 * Returns 0 and sets *out, or -1 for empty/garbage/overflow. */
int zt_parse_int(const char *s, int *out) {
    if (!s) return -1;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return -1;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || errno == ERANGE || v > INT_MAX || v < INT_MIN) return -1;
    while (*end == ' ' || *end == '\t' || *end == '\n') end++;
    if (*end) return -1;
    *out = (int)v;
    return 0;
}

int zt_parse_int_env(const char *name, int dflt) {
    int v;
    if (!name) return dflt;
    if (zt_parse_int(getenv(name), &v) != 0) return dflt;
    return v;
}

/* Read one non-negative decimal number (digits only, no sign, <= INT_MAX). */
static int read_uint(const char **ps, long *out) {
    const char *s = *ps;
    if (!isdigit((unsigned char)*s)) return -1;
    long v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s - '0');
        if (v > INT_MAX) return -1;
        s++;
    }
    *ps = s;
    *out = v;
    return 0;
}

int zt_parse_ranklist(const char *list, int *out, int cap) {
    if (!list) return -1;
    const char *s = list;
    long n = 0;
    if (!*s) return 0;
    for (;;) {
        long a, b;
        if (read_uint(&s, &a) != 0) return -1;
        b = a;
        if (*s == '-') {
            s++;
            if (read_uint(&s, &b) != 0 || b < a) return -1;
        }
        if (b - a + 1 > (long)INT_MAX - n) return -1;   /* count would overflow */
        for (long r = a; out && r <= b && n + (r - a) < cap; r++) out[n + (r - a)] = (int)r;
        n += b - a + 1;
        if (*s == '\0') break;
        if (*s != ',') return -1;
        s++;
    }
    return (int)n;
}

int zt_count_ranklist(const char *list) { return zt_parse_ranklist(list, NULL, 0); }

int zt_ranklist_min(const char *list) {
    const char *s = list;
    long best = -1;
    if (zt_count_ranklist(list) <= 0) return -1;
    for (;;) {  /* already validated: every item starts with a number */
        long a, b;
        read_uint(&s, &a);
        if (best < 0 || a < best) best = a;
        if (*s == '-') { s++; read_uint(&s, &b); }
        if (*s != ',') break;
        s++;
    }
    return (int)best;
}
