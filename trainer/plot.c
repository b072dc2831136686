/* plot.c — `ztrain plot METRICS.jsonl [OUT.png]`: a picture of a run from
 * the metrics file train.c writes (log.metrics), drawn by gnuplot (Debian's
 * gnuplot-nox) run as a child process with a script generated here; the
 * data travel inside the script as gnuplot datablocks, so no temporary files.
 *
 * What train.c writes, one JSON object a line (rank 0):
 *   {"step":S,"loss":..,"lr":..,"samples_per_s":..,"tokens_per_s":..,...}  a log interval
 *   {"step":S,"eval_loss":..,"eval_acc":..} (or "unigram_entropy")        an evaluation
 *   {"event":"start","step":S,"world":W,"restart":R}                      a run (re)starts
 *   {"event":"checkpoint","step":S}                                        a save begins
 *   {"event":"memory","world":W,...}, {"summary":true,...}                 (not drawn)
 * Files from before the start event have memory events only: a run's start
 * is then the step of the last record before it.
 *
 * Panels: loss (training, validation) vs step; validation accuracy when the
 * run has one; throughput. Checkpoints are dashed grey lines, restarts solid
 * red lines labelled with the world size (an arrow when it changed). The file
 * may still be growing: a last line without its newline is left out. */
#include "plot.h"
#include "zt_launcher.h"   /* ZT_EXIT_* */
#include "zt_log.h"        /* zt_fatal, zt_info, zt_warn, mallocCheck */

#include <errno.h>         /* errno */
#include <getopt.h>        /* getopt_long */
#include <jansson.h>       /* one record per line */
#include <math.h>          /* isfinite, NAN */
#include <signal.h>        /* signal, SIGPIPE */
#include <stdio.h>         /* getline, fprintf */
#include <stdlib.h>        /* realloc */
#include <string.h>        /* strcmp, strerror */
#include <sys/wait.h>      /* waitpid */
#include <unistd.h>        /* fork, pipe, execvp */

typedef struct { double step, a, b; } pt;   /* step and up to two values */
typedef struct { pt *p; size_t n, cap; } series;

static void push(series *s, double step, double a, double b) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->p = realloc(s->p, s->cap * sizeof *s->p);
        mallocCheck(s->p);
    }
    s->p[s->n++] = (pt){ step, a, b };
}

typedef struct {
    series train;     /* step, loss, throughput */
    series eval;      /* step, eval_loss, eval_acc (NAN without) */
    series ckpt;      /* step */
    series start;     /* step, world, restart count */
    int tokens;       /* throughput in tokens/s (a language model) */
    int have_acc;
    long skipped;     /* unparseable lines */
    int partial;      /* a last line without its newline */
} run_log;

/* A new run: its lines are not joined to the last run's (after a resume
 * from an older checkpoint, steps repeat). A NAN step is a blank line. */
static void run_break(run_log *L) {
    if (L->train.n && isfinite(L->train.p[L->train.n - 1].step)) push(&L->train, NAN, 0, 0);
    if (L->eval.n && isfinite(L->eval.p[L->eval.n - 1].step)) push(&L->eval, NAN, 0, 0);
}

static double num(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void read_metrics(const char *path, run_log *L) {
    FILE *f = fopen(path, "r");
    if (!f) zt_fatal(ZT_EXIT_DATA, "plot: %s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    double last_step = 0;
    long since_start = -1;   /* records since the last start event (-1: none yet) */
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n') { L->partial = 1; break; }   /* still being written */
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)len, 0, &je);
        if (!o || !json_is_object(o)) { L->skipped++; json_decref(o); continue; }
        const char *ev = json_string_value(json_object_get(o, "event"));
        double step = num(o, "step");
        if (json_is_true(json_object_get(o, "summary"))) {
            /* the end of a run: nothing to draw */
        } else if (ev && !strcmp(ev, "start") && isfinite(step)) {
            push(&L->start, step, num(o, "world"), num(o, "restart"));
            since_start = 0;
            run_break(L);
        } else if (ev && !strcmp(ev, "checkpoint") && isfinite(step)) {
            push(&L->ckpt, step, 0, 0);
        } else if (ev && !strcmp(ev, "memory")) {
            /* older files: the memory event marks a run's start (at the
             * last step logged before it); in newer ones a start event
             * just before it already did */
            if (since_start != 0) { push(&L->start, last_step, num(o, "world"), -1); run_break(L); }
            since_start = 1;
        } else if (isfinite(step) && isfinite(num(o, "loss")) && json_object_get(o, "lr")) {
            double sps = num(o, "samples_per_s"), tps = num(o, "tokens_per_s");
            if (isfinite(tps) && isfinite(sps) && tps > sps * 1.5) L->tokens = 1;
            push(&L->train, step, num(o, "loss"), L->tokens ? tps : sps);
            last_step = step;
            since_start += since_start >= 0;
        } else if (isfinite(step) && isfinite(num(o, "eval_loss"))) {
            double acc = num(o, "eval_acc");
            if (isfinite(acc)) L->have_acc = 1;
            push(&L->eval, step, num(o, "eval_loss"), acc);
            last_step = step;
            since_start += since_start >= 0;
        }
        json_decref(o);
    }
    free(line);
    int bad = ferror(f);
    fclose(f);
    if (bad) zt_fatal(ZT_EXIT_DATA, "plot: %s: read error", path);
}

static void block(FILE *g, const char *name, const series *s, int cols) {
    fprintf(g, "$%s << EOD\n", name);
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(s->p[i].step)) fprintf(g, "\n");
        else if (cols == 1) fprintf(g, "%.17g\n", s->p[i].step);
        else if (cols == 2) fprintf(g, "%.17g %.9g\n", s->p[i].step, s->p[i].a);
        else fprintf(g, "%.17g %.9g %.9g\n", s->p[i].step, s->p[i].a, s->p[i].b);
    }
    fprintf(g, "EOD\n");
}

/* gnuplot quoting: single quotes, a quote doubled */
static void quoted(FILE *g, const char *s) {
    fputc('\'', g);
    for (; *s; s++) { if (*s == '\'') fputc('\'', g); fputc(*s, g); }
    fputc('\'', g);
}

/* Markers shared by every panel: checkpoints, then (re)starts on top. */
static void markers(FILE *g, const run_log *L) {
    fprintf(g, "unset arrow\nunset label\n");
    int tag = 1;
    for (size_t i = 0; i < L->ckpt.n && i < 2000; i++)
        fprintf(g, "set arrow %d from %.17g, graph 0 to %.17g, graph 1 nohead dt 2 lw 1 lc rgb '#a0a0a0'\n", tag++,
                L->ckpt.p[i].step, L->ckpt.p[i].step);
    for (size_t i = 0; i < L->start.n; i++) {
        const pt *p = &L->start.p[i];
        char w[64];
        if (i == 0) snprintf(w, sizeof w, "W=%.0f", p->a);
        else if (p->a != L->start.p[i - 1].a) snprintf(w, sizeof w, "restart W=%.0f->%.0f", L->start.p[i - 1].a, p->a);
        else snprintf(w, sizeof w, "restart W=%.0f", p->a);
        if (i > 0)
            fprintf(g, "set arrow %d from %.17g, graph 0 to %.17g, graph 1 nohead lw 2 lc rgb '#d62728'\n", tag++,
                    p->step, p->step);
        fprintf(g, "set label %zu \"%s\" at %.17g, graph 0.97 offset 0.5,0 left front tc rgb '#d62728' font ',9'\n",
                i + 1, w, p->step);
    }
}

static size_t count(const series *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) n += isfinite(s->p[i].step) != 0;
    return n;
}

static void write_script(FILE *g, const run_log *L, const char *in, const char *out) {
    int panels = L->have_acc ? 3 : 2;
    fprintf(g, "set terminal pngcairo size 1000,%d noenhanced font ',10'\nset output ", 300 * panels + 40);
    quoted(g, out);
    fprintf(g, "\n");
    block(g, "train", &L->train, 3);
    block(g, "eval", &L->eval, 3);
    fprintf(g, "set multiplot layout %d,1 title ", panels);
    char title[4200];
    snprintf(title, sizeof title, "%s — %zu log records, %zu evaluations, %zu checkpoints, %zu restart(s)", in,
             count(&L->train), count(&L->eval), L->ckpt.n, L->start.n ? L->start.n - 1 : 0);
    quoted(g, title);
    fprintf(g, "\nset grid\nset key top right\nset xlabel 'step'\n");
    double x0 = L->train.n ? L->train.p[0].step : 0, x1 = x0;
    for (size_t i = 0; i < L->train.n; i++) {   /* (a NAN separator compares false) */
        x1 = L->train.p[i].step > x1 ? L->train.p[i].step : x1;
        x0 = L->train.p[i].step < x0 ? L->train.p[i].step : x0;
    }
    for (size_t i = 0; i < L->eval.n; i++) x1 = L->eval.p[i].step > x1 ? L->eval.p[i].step : x1;
    for (size_t i = 0; i < L->start.n; i++) x0 = L->start.p[i].step < x0 ? L->start.p[i].step : x0;
    if (x1 <= x0) x1 = x0 + 1;
    fprintf(g, "set xrange [%.17g:%.17g]\n", x0, x1);
    markers(g, L);
    fprintf(g, "set ylabel 'loss'\nplot $train using 1:2 with lines lw 1.5 lc rgb '#1f77b4' title 'training loss'");
    if (L->eval.n)
        fprintf(g, ", $eval using 1:2 with linespoints pt 7 ps 0.6 lw 1.5 lc rgb '#ff7f0e' title 'validation loss'");
    fprintf(g, "\n");
    if (L->have_acc) {
        fprintf(g, "set key bottom right\nset ylabel 'accuracy (%%)'\nplot $eval using 1:($3*100) with linespoints pt 7 ps 0.6 lw 1.5 "
                   "lc rgb '#2ca02c' title 'validation accuracy'\n");
    }
    fprintf(g, "set key top right\nset ylabel '%s'\nplot $train using 1:3 with lines lw 1.2 lc rgb '#9467bd' title 'throughput'\n",
            L->tokens ? "tokens/s" : "samples/s");
    fprintf(g, "unset multiplot\nset output\n");
}

/* Runs gnuplot with the script on its stdin; its exit status. */
static int run_gnuplot(const run_log *L, const char *in, const char *out) {
    const char *gp = getenv("ZT_GNUPLOT");
    if (!gp || !*gp) gp = "gnuplot";
    int fd[2];
    if (pipe(fd)) zt_fatal(ZT_EXIT_INTERNAL, "plot: pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) zt_fatal(ZT_EXIT_INTERNAL, "plot: fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fd[0], 0);
        close(fd[0]);
        close(fd[1]);
        execlp(gp, gp, (char *)NULL);
        fprintf(stderr, "ztrain plot: cannot run %s: %s (Debian: apt-get install gnuplot-nox)\n", gp,
                strerror(errno));
        _exit(127);
    }
    close(fd[0]);
    FILE *g = fdopen(fd[1], "w");
    if (!g) zt_fatal(ZT_EXIT_INTERNAL, "plot: fdopen: %s", strerror(errno));
    signal(SIGPIPE, SIG_IGN);   /* a gnuplot that died early: see its status, not SIGPIPE */
    write_script(g, L, in, out);
    fclose(g);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void usage(FILE *f) {
    fprintf(f, "usage: ztrain plot METRICS.jsonl [OUT.png]\n"
               "Draws a run's metrics file (log.metrics) as a PNG: training and validation loss,\n"
               "validation accuracy, throughput against step; checkpoints as dashed lines, restarts\n"
               "as red lines with the world size. Works while the run is still writing. OUT.png\n"
               "defaults to METRICS with .png in place of .jsonl. Needs gnuplot (gnuplot-nox).\n"
               "Exit codes: 0 written, 1 gnuplot failed, 2 command line, 4 no metrics to draw.\n");
}

int zt_plot_main(int argc, char **argv) {
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:h", lo, NULL)) != -1) {
        if (c == 'h') { usage(stdout); return ZT_EXIT_OK; }
        zt_fatal(ZT_EXIT_CONFIG, "plot: unknown option '%s' (see `ztrain plot --help`)", argv[optind - 1]);
    }
    int nops = argc - optind;
    if (nops < 1 || nops > 2)
        zt_fatal(ZT_EXIT_CONFIG, "plot: expected METRICS.jsonl [OUT.png], got %d arguments (see `ztrain plot --help`)",
                 nops);
    const char *in = argv[optind];
    char out[4200];
    if (nops == 2) snprintf(out, sizeof out, "%s", argv[optind + 1]);
    else {
        size_t n = strlen(in);
        if (n > 6 && !strcmp(in + n - 6, ".jsonl")) snprintf(out, sizeof out, "%.*s.png", (int)(n - 6), in);
        else snprintf(out, sizeof out, "%s.png", in);
    }
    run_log L = {0};
    read_metrics(in, &L);
    if (L.skipped) zt_warn("plot: %s: %ld line(s) that are not JSON objects left out", in, L.skipped);
    if (!L.train.n)
        zt_fatal(ZT_EXIT_DATA, "plot: %s: no training records yet (lines with step, loss and lr; log.every sets "
                 "how often they come)", in);
    int rc = run_gnuplot(&L, in, out);
    if (rc) zt_fatal(ZT_EXIT_INTERNAL, "plot: gnuplot exited %d; %s not written", rc, out);
    zt_info("plot: wrote %s (%zu log records, %zu evaluations, %zu checkpoints, %zu restart(s)%s)", out,
            count(&L.train), count(&L.eval), L.ckpt.n, L.start.n ? L.start.n - 1 : 0, L.partial ? "; a partial last line left out" : "");
    free(L.train.p); free(L.eval.p); free(L.ckpt.p); free(L.start.p);
    return ZT_EXIT_OK;
}
