/* cli.h — command-line parsing shared by the ztrain subcommands. */
#ifndef ZT_CLI_H
#define ZT_CLI_H
#include <getopt.h>   /* struct option, optarg, optind */

/* getopt_long with ztrain's messages. `shortopts` must start with ':'.
 * Returns the option's value, -1 after the last option, or '?' after logging
 * one line: "<cmd>: option --config needs a value" (also when the value is
 * itself an option, as in `--config --set x=1`) or "<cmd>: unknown option
 * '--foo'". Call zt_cli_reset() before the first call of a new parse. */
int  zt_cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                   const struct option *longopts);
void zt_cli_reset(void);
#endif
