/* replay_main.c — main() for a fuzz target built without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on every file named (directories: every file
 * in them, sorted), so the regression inputs and seed corpora replay as an
 * ordinary ctest with gcc, or under ASan/UBSan in the sanitizer build. A
 * crash or sanitizer report ends the process; exit 0 means every input
 * went through. */
#include <dirent.h>     /* scandir */
#include <stdint.h>     /* uint8_t */
#include <stdio.h>      /* printf */
#include <stdlib.h>     /* free */
#include <string.h>     /* strcmp */
#include <sys/stat.h>   /* stat */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *p) {
    size_t n;
    uint8_t *b = fz_read(p, &n);
    printf("replay %s (%zu bytes)\n", p, n);
    fflush(stdout);
    LLVMFuzzerTestOneInput(b, n);
    free(b);
    return 1;
}

static int not_dot(const struct dirent *e) { return e->d_name[0] != '.'; }

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    int done = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]); return 2; }
        if (!S_ISDIR(st.st_mode)) { done += run_file(argv[i]); continue; }
        struct dirent **ents;
        int k = scandir(argv[i], &ents, not_dot, alphasort);
        if (k < 0) { perror(argv[i]); return 2; }
        for (int j = 0; j < k; j++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], ents[j]->d_name);
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) done += run_file(p);
            free(ents[j]);
        }
        free(ents);
    }
    printf("replay: %d input%s, no crash\n", done, done == 1 ? "" : "s");
    return 0;
}
