/* data_cmd.c — `ztrain data prep mnist OUT.h5 [JSON_DIR]` and
 * `ztrain data prep text OUT.h5 [FILES...]`. After writing, the file is
 * opened again through the loader (the same validation training uses) and a
 * summary is printed from what was read back. */
#include "zt_data.h"
#include "zt_h5util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum { EXIT_USAGE = 2, EXIT_DATA = 4 };   /* = ZT_EXIT_CONFIG, ZT_EXIT_DATA */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void usage(FILE *o) {
    fprintf(o,
            "usage: ztrain data prep mnist OUT.h5 [JSON_DIR]   (default JSON_DIR data/raw/mnist)\n"
            "       ztrain data prep text  OUT.h5 [FILES|DIRS...] (default %s)\n",
            ZT_TEXT_DEFAULT_DIR);
}

static double file_mb(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (double)st.st_size / 1e6 : 0.0;
}

static int summary_mnist(const char *out, double secs) {
    char err[1024];
    for (int s = 0; s < 2; s++) {
        const char *split = s ? "test" : "train";
        zt_loader *l = zt_loader_open(out, ZT_DS_MNIST, split, 0, err, sizeof err);
        if (!l) { fprintf(stderr, "ztrain data: %s\n", err); return EXIT_DATA; }
        uint64_t n = zt_loader_rows(l), cnt[10] = {0};
        double mean = 0;
        const int chunk = 1000;
        uint64_t *rows = malloc(chunk * sizeof *rows);
        float *x = malloc((size_t)chunk * 784 * sizeof *x);
        int32_t *y = malloc(chunk * sizeof *y);
        int rc = rows && x && y ? 0 : -1;
        for (uint64_t o = 0; rc == 0 && o < n; o += chunk) {
            int k = (int)(n - o < (uint64_t)chunk ? n - o : (uint64_t)chunk);
            for (int i = 0; i < k; i++) rows[i] = o + (uint64_t)i;
            rc = zt_loader_read(l, rows, k, x, NULL, y, err, sizeof err);
            for (int i = 0; rc == 0 && i < k; i++) {
                cnt[y[i]]++;
                for (int p = 0; p < 784; p++) mean += x[(size_t)i * 784 + p];
            }
        }
        free(rows); free(x); free(y);
        zt_loader_close(l);
        if (rc) { fprintf(stderr, "ztrain data: %s\n", err); return EXIT_DATA; }
        printf("  %-5s %6llu images 28x28, mean pixel %.4f, per class:", split, (unsigned long long)n,
               mean / ((double)n * 784));
        for (int d = 0; d < 10; d++) printf(" %llu", (unsigned long long)cnt[d]);
        printf("\n");
    }
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    char sha[80] = "", src[4200] = "";
    if (f >= 0) {
        zt_h5_read_attr_str(f, "sha256", sha, sizeof sha, 1);
        zt_h5_read_attr_str(f, "source", src, sizeof src, 1);
        H5Fclose(f);
    }
    printf("  source %s\n  sha256 %s\n  wrote %s (%.2f MB) in %.2f s\n", src, sha, out, file_mb(out), secs);
    return 0;
}

static int summary_text(const char *out, double secs) {
    char err[1024];
    uint64_t n[2] = {0, 0};
    int V = 0;
    for (int s = 0; s < 2; s++) {
        zt_loader *l = zt_loader_open(out, ZT_DS_TEXT, s ? "val" : "train", 1, err, sizeof err);
        if (!l) { fprintf(stderr, "ztrain data: %s\n", err); return EXIT_DATA; }
        n[s] = zt_loader_rows(l) + 1;   /* ctx 1: rows = tokens - 1 */
        V = zt_loader_info(l)->vocab_size;
        zt_loader_close(l);
    }
    double ht = zt_text_unigram_entropy(out, "train"), hv = zt_text_unigram_entropy(out, "val");
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    char sha[80] = "";
    int64_t nf = 0;
    if (f >= 0) {
        zt_h5_read_attr_str(f, "sha256", sha, sizeof sha, 1);
        zt_h5_read_attr_i64(f, "n_files", &nf);
        H5Fclose(f);
    }
    printf("  corpus %lld files, %llu bytes; vocab %d symbols\n", (long long)nf,
           (unsigned long long)(n[0] + n[1]), V);
    printf("  train %llu tokens, val %llu tokens\n", (unsigned long long)n[0], (unsigned long long)n[1]);
    printf("  unigram entropy: train %.4f nats (%.3f bits), val %.4f nats (%.3f bits)\n", ht,
           ht / 0.6931471805599453, hv, hv / 0.6931471805599453);
    printf("  sha256 %s\n  wrote %s (%.2f MB) in %.2f s\n", sha, out, file_mb(out), secs);
    return 0;
}

int zt_data_cmd(int argc, char **argv) {
    int i = 0;
    if (i < argc && strcmp(argv[i], "data") != 0 && i + 1 < argc && strcmp(argv[i + 1], "data") == 0)
        i++;                                   /* "ztrain data ..." */
    if (i < argc && strcmp(argv[i], "data") == 0) i++;
    if (i < argc && (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))) { usage(stdout); return 0; }
    if (i >= argc || strcmp(argv[i], "prep") != 0) {
        fprintf(stderr, "ztrain data: expected `prep`\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    i++;
    if (argc - i < 2) {
        fprintf(stderr, "ztrain data prep: expected a kind (mnist|text) and an output file\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *kind = argv[i], *out = argv[i + 1];
    char **rest = argv + i + 2;
    int nrest = argc - i - 2;
    char err[2048] = "";
    double t0 = now_s();
    if (!strcmp(kind, "mnist")) {
        if (nrest > 1) {
            fprintf(stderr, "ztrain data prep mnist: one JSON_DIR at most\n");
            usage(stderr);
            return EXIT_USAGE;
        }
        const char *dir = nrest ? rest[0] : "data/raw/mnist";
        printf("ztrain data prep mnist: %s -> %s\n", dir, out);
        fflush(stdout);
        if (zt_prep_mnist(dir, out, err, sizeof err)) {
            fprintf(stderr, "ztrain data prep mnist: %s\n", err);
            return EXIT_DATA;
        }
        return summary_mnist(out, now_s() - t0);
    }
    if (!strcmp(kind, "text")) {
        printf("ztrain data prep text: %s -> %s\n", nrest ? "files" : ZT_TEXT_DEFAULT_DIR, out);
        fflush(stdout);
        if (zt_prep_text((const char *const *)rest, nrest, out, 0.1, err, sizeof err)) {
            fprintf(stderr, "ztrain data prep text: %s\n", err);
            return EXIT_DATA;
        }
        return summary_text(out, now_s() - t0);
    }
    fprintf(stderr, "ztrain data prep: unknown kind '%s' (mnist|text)\n", kind);
    usage(stderr);
    return EXIT_USAGE;
}
