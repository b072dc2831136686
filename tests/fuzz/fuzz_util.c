/* fuzz_util.c — scratch dir and file helpers for the fuzz targets. */
#include "fuzz_util.h"
#include <stdio.h>      /* snprintf, fopen, perror */
#include <stdlib.h>     /* malloc, abort, atexit */
#include <string.h>     /* strlen */
#include <unistd.h>     /* getpid, access */
#include <sys/stat.h>   /* mkdir */
#include <dirent.h>     /* opendir: removing the scratch dir */

static char g_dir[256];

static void rm_tree(const char *p) {
    DIR *d = opendir(p);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char q[512];
            snprintf(q, sizeof q, "%s/%s", p, e->d_name);
            rm_tree(q);
        }
        closedir(d);
        rmdir(p);
    } else {
        unlink(p);
    }
}

static void cleanup(void) { if (g_dir[0]) rm_tree(g_dir); }

const char *fz_dir(const char *target) {
    if (g_dir[0]) return g_dir;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(g_dir, sizeof g_dir, "%s/zt-fuzz-%s-%d", base, target, (int)getpid());
    rm_tree(g_dir);
    if (mkdir(g_dir, 0700) != 0) { perror(g_dir); abort(); }
    atexit(cleanup);
    return g_dir;
}

void fz_write(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(d, 1, n, f) != n) || fclose(f) != 0) { perror(path); abort(); }
}

uint8_t *fz_read(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); abort(); }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    if (!b || len < 0 || fread(b, 1, (size_t)len, f) != (size_t)len) { perror(path); abort(); }
    fclose(f);
    *n = (size_t)len;
    return b;
}
