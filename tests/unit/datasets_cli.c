/* datasets_cli.c — what a person sees: a file that cannot be opened is one
 * line saying which file and what is wrong with it (missing, not HDF5,
 * truncated, lacking a dataset) and HDF5 prints nothing; `ztrain data`
 * parses its options with getopt_long (--help at every level, unknown options
 * and missing values named, exit 2), makes the folders of its output, and
 * ends through zt_fatal (run here in a child process). */
#include "datasets_util.h"
#include "zt_data.h"
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], path[300];
static void setup(void) {
    fx_tmpdir(dir);
    fx_path(path, sizeof path, dir, "d.h5");
}
static char *last_out, *last_err;   /* what the latest run() printed */
static void teardown(void) {
    free(last_out);
    free(last_err);
    fx_rmtree(dir);
}
TestSuite(datasets_cli, .init = setup, .fini = teardown, .timeout = 60);

static void write_file(const char *p, const char *s) {
    FILE *f = fopen(p, "w");
    cr_assert(f, "%s", p);
    fputs(s, f);
    fclose(f);
}

/* zt_loader_open must fail with one line containing each of `want` (NULL
 * ended), and nothing may reach stderr (HDF5's automatic printing is on in
 * this process: only the library's own quieting keeps it silent). */
static void open_fails_quietly(const char *split, const char *const *want) {
    char err[1024] = "";
    fx_stderr_begin(dir);
    zt_loader *l = zt_loader_open(path, ZT_DS_MNIST, split, 0, err, sizeof err);
    double H = zt_text_unigram_entropy(path, "train");
    char *printed = fx_stderr_end();
    if (l) zt_loader_close(l);
    cr_assert(l == NULL, "open succeeded");
    cr_assert(H < 0, "entropy of a bad file: %g", H);
    cr_assert_str_eq(printed, "", "something was printed to stderr:\n%s", printed);
    cr_assert(strchr(err, '\n') == NULL && err[0], "not one line: '%s'", err);
    cr_assert(strncmp(err, path, strlen(path)) == 0, "does not start with the file: %s", err);
    for (int i = 0; want[i]; i++) cr_assert(strstr(err, want[i]), "no '%s' in: %s", want[i], err);
    free(printed);
}

Test(datasets_cli, missing_file) {
    open_fails_quietly("train", (const char *[]){"missing", "No such file", "/train/images", NULL});
}

Test(datasets_cli, a_text_file_is_not_hdf5) {
    write_file(path, "just some text, not HDF5\n");
    open_fails_quietly("train", (const char *[]){"not an HDF5 file", "/train/images", NULL});
}

Test(datasets_cli, a_file_truncated_to_half_its_size) {
    fx_mnist(path, 200, 20);
    struct stat st;
    cr_assert(stat(path, &st) == 0);
    long full = (long)st.st_size, half = full / 2;
    cr_assert(truncate(path, half) == 0);
    char on_disk[64], recorded[64];
    snprintf(on_disk, sizeof on_disk, "%ld bytes on disk", half);
    snprintf(recorded, sizeof recorded, "records %ld", full);
    open_fails_quietly("train", (const char *[]){"truncated HDF5 file", on_disk, recorded, NULL});
}

Test(datasets_cli, a_file_lacking_a_dataset) {
    hid_t f = fx_create(path);
    uint8_t img[5 * 784] = {0};
    hsize_t d[3] = {5, 28, 28};
    fx_write(f, "/train/images", H5T_STD_U8LE, H5T_NATIVE_UINT8, 3, d, img);
    H5Fclose(f);
    open_fails_quietly("train", (const char *[]){"dataset /train/labels", "not found", NULL});
    open_fails_quietly("test", (const char *[]){"dataset /test/images", "not found", NULL});
}

/* ---- `ztrain data` ------------------------------------------------------ */

static int run(char **out, char **err, int argc, ...) {
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) argv[i] = va_arg(ap, char *);
    va_end(ap);
    argv[argc] = NULL;
    free(last_out);
    free(last_err);
    int rc = fx_run(zt_data_cmd, argc, argv, dir, &last_out, &last_err);
    *out = last_out;
    *err = last_err;
    return rc;
}

/* exactly one line on stderr, containing `want` and not HDF5's stack */
static void one_line_with(const char *err, const char *want) {
    const char *nl = strchr(err, '\n');
    cr_assert(nl && nl[1] == 0, "not exactly one line:\n%s", err);
    cr_assert(strstr(err, want), "no '%s' in: %s", want, err);
    cr_assert(!strstr(err, "HDF5-DIAG"), "%s", err);
}

Test(datasets_cli, help_at_every_level_goes_to_stdout_with_exit_0) {
    const char *forms[][4] = {{"data", "--help"}, {"data", "prep", "-h"}, {"data", "prep", "mnist", "--help"},
                              {"data", "prep", "text", "--help"}};
    const char *expect[] = {"ztrain data prep text", "ztrain data prep text", "JSON_DIR", "--val-frac"};
    for (int i = 0; i < 4; i++) {
        char *argv[5] = {0}, *out, *err;
        int n = 0;
        while (n < 4 && forms[i][n]) { argv[n] = (char *)forms[i][n]; n++; }
        cr_assert_eq(fx_run(zt_data_cmd, n, argv, dir, &out, &err), 0, "form %d: %s", i, err);
        cr_assert(strstr(out, "usage: ztrain data") && strstr(out, expect[i]), "form %d stdout: %s", i, out);
        cr_assert_str_eq(err, "", "form %d wrote to stderr: %s", i, err);
        free(out); free(err);
    }
}

Test(datasets_cli, unknown_options_and_missing_values_are_named_with_exit_2) {
    char *out, *err, txt[300], o[300];
    fx_path(txt, sizeof txt, dir, "in.txt");
    fx_path(o, sizeof o, dir, "o.h5");
    write_file(txt, "hello there, general kenobi\nhello again\n");
    cr_assert_eq(run(&out, &err, 4, "data", "prep", "text", "--val-frac"), 2);
    one_line_with(err, "data prep text: option '--val-frac' needs a value");
    cr_assert_eq(run(&out, &err, 5, "data", "prep", "text", "--bogus", o), 2);
    one_line_with(err, "data prep text: unknown option '--bogus'");
    cr_assert_eq(run(&out, &err, 5, "data", "prep", "mnist", "-q", o), 2);
    one_line_with(err, "data prep mnist: unknown option '-q'");
    cr_assert_eq(run(&out, &err, 3, "data", "--frobnicate", "prep"), 2);
    one_line_with(err, "data: unknown option '--frobnicate'");
    cr_assert_eq(run(&out, &err, 6, "data", "prep", "text", "--val-frac", "1.5", o), 2);
    one_line_with(err, "--val-frac '1.5': expected a number between 0 and 1");
    cr_assert_eq(run(&out, &err, 3, "data", "prep", "text"), 2);
    one_line_with(err, "expected an output file OUT.h5");
    cr_assert_eq(run(&out, &err, 2, "data", "unprep"), 2);
    one_line_with(err, "unknown subcommand 'unprep'");
    struct stat st;
    cr_assert(stat(o, &st) != 0, "a usage error wrote %s", o);
}

Test(datasets_cli, positional_forms_and_exit_codes) {
    char *out, *err, o[300], txt[300], none[300];
    fx_path(o, sizeof o, dir, "t.h5");
    fx_path(txt, sizeof txt, dir, "in.txt");
    fx_path(none, sizeof none, dir, "nothing-here");
    write_file(txt, "hello there, general kenobi\nhello again, and again, and again\n");
    cr_assert_eq(run(&out, &err, 1, "data"), 2);
    one_line_with(err, "expected `prep`");
    cr_assert_eq(run(&out, &err, 3, "data", "prep", "mnist"), 2);
    cr_assert_eq(run(&out, &err, 4, "data", "prep", "images", o), 2);
    one_line_with(err, "unknown kind 'images'");
    cr_assert_eq(run(&out, &err, 6, "data", "prep", "mnist", o, none, none), 2);
    one_line_with(err, "one JSON_DIR at most");
    cr_assert_eq(run(&out, &err, 5, "data", "prep", "mnist", o, none), 4);
    one_line_with(err, "no MNIST digit files");
    cr_assert_eq(run(&out, &err, 5, "data", "prep", "text", o, txt), 0, "%s", err);
    cr_assert(strstr(out, "wrote") && strstr(out, "unigram entropy"), "%s", out);
    cr_assert_eq(run(&out, &err, 6, "ztrain", "data", "prep", "text", o, txt), 0, "%s", err);
    /* options may follow the operands (getopt_long permutes) */
    cr_assert_eq(run(&out, &err, 7, "data", "prep", "text", o, txt, "--val-frac", "0.25"), 0, "%s", err);
    hid_t f = H5Fopen(o, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    uint64_t nv = 0, nt = 0;
    hid_t a = H5Aopen(f, "n_val", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_UINT64, &nv);
    H5Aclose(a);
    a = H5Aopen(f, "n_train", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_UINT64, &nt);
    H5Aclose(a);
    H5Fclose(f);
    cr_assert_eq(nv, (uint64_t)((double)(nv + nt) * 0.25), "n_val %llu of %llu", (unsigned long long)nv,
                 (unsigned long long)(nv + nt));
}

Test(datasets_cli, output_folders_are_made) {
    char *out, *err, o[300], txt[300];
    fx_path(txt, sizeof txt, dir, "in.txt");
    write_file(txt, "the quick brown fox jumps over the lazy dog, twice: the quick brown fox\n");
    snprintf(o, sizeof o, "%s/data/deeper/still/fortunes.h5", dir);
    cr_assert_eq(run(&out, &err, 5, "data", "prep", "text", o, txt), 0, "%s", err);
    cr_assert_str_eq(err, "");
    char e2[1024];
    zt_loader *l = zt_loader_open(o, ZT_DS_TEXT, "train", 4, e2, sizeof e2);
    cr_assert(l, "%s", e2);
    zt_loader_close(l);
    /* a folder that cannot be made: one line naming it, exit 4 */
    snprintf(o, sizeof o, "%s/in.txt/sub/x.h5", dir);
    cr_assert_eq(run(&out, &err, 5, "data", "prep", "text", o, txt), 4);
    one_line_with(err, "cannot create folder");
    cr_assert(strstr(err, "in.txt/sub") && strstr(err, "Not a directory"), "%s", err);
}

Test(datasets_cli, mkdir_p_and_mkdir_parent) {
    char p[400];
    snprintf(p, sizeof p, "%s/a/b//c/", dir);
    cr_assert_eq(zt_mkdir_p(p), 0);
    cr_assert_eq(zt_mkdir_p(p), 0, "an existing folder is fine");
    struct stat st;
    snprintf(p, sizeof p, "%s/a/b/c", dir);
    cr_assert(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    snprintf(p, sizeof p, "%s/x/y/file.json", dir);
    cr_assert_eq(zt_mkdir_parent(p), 0);
    cr_assert(stat(p, &st) != 0, "the file itself is not made");
    snprintf(p, sizeof p, "%s/x/y", dir);
    cr_assert(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    cr_assert_eq(zt_mkdir_parent("plain.h5"), 0);
    write_file(path, "x");
    snprintf(p, sizeof p, "%s/inside", path);
    cr_assert_eq(zt_mkdir_p(p), -1);
}
