/* cli.c — getopt_long with one-line messages that name the option. */
#include "cli.h"
#include <stdio.h>    /* snprintf */
#include "zt_log.h"   /* zt_error */

void zt_cli_reset(void) {
    optind = 0;   /* glibc: 0 also resets its internal state (permutation, clusters) */
    opterr = 0;   /* we print the messages */
}

/* "--config" for the option with value `val` (or "-c" if it has no long name) */
static void option_name(int val, const struct option *longopts, char *out, size_t cap) {
    for (const struct option *o = longopts; o && o->name; o++)
        if (o->val == val) { snprintf(out, cap, "--%s", o->name); return; }
    snprintf(out, cap, "-%c", val);
}

int zt_cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                  const struct option *longopts) {
    opterr = 0;
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);
    char name[96];
    if (c == ':') {
        option_name(optopt, longopts, name, sizeof name);
        zt_error("%s: option %s needs a value", cmd, name);
        return '?';
    }
    if (c == '?') {
        if (optopt) zt_error("%s: unknown option '-%c'", cmd, optopt);
        else zt_error("%s: unknown option '%s'", cmd, argv[optind - 1]);
        return '?';
    }
    /* `--config --set k=v`: getopt takes "--set" as the file name */
    if (c != -1 && optarg && optarg[0] == '-' && optarg[1] == '-') {
        option_name(c, longopts, name, sizeof name);
        zt_error("%s: option %s needs a value (got the option '%s')", cmd, name, optarg);
        return '?';
    }
    return c;
}
