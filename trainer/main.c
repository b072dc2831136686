/* main.c — the one `ztrain` binary: subcommands train, info, data, ckpt. */
#include <stdio.h>   /* fprintf */
#include <string.h>  /* strcmp */

int main(int argc, char **argv) {
    fprintf(stderr, "ztrain: not built yet\n");
    return 1;
}
