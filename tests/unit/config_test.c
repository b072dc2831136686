/* config_test.c — the learning-rate schedules (zt_lr_at) against closed forms
 * written here, and the config layer: files a person types (directory, empty,
 * missing), device/backend combinations, the job checks, the resume diffs
 * and the `--keys` markdown table. */
#include <criterion/criterion.h>
#include <math.h>       /* fabs, cos */
#include <stdio.h>      /* fopen, tmpfile */
#include <stdlib.h>     /* mkdtemp */
#include <string.h>     /* strstr */
#include <unistd.h>     /* symlink, dup2 */
#include "config.h"
#include "optim.h"

/* ---- schedules -------------------------------------------------------- */

/* lr 1, warmup 10, total 110, floor 0.1: every value below is worked out by
 * hand from the definitions in optim.h, not from the code. */
static zt_optim_cfg sched(zt_lr_sched s) {
    zt_optim_cfg c; zt_optim_defaults(&c, ZT_OPTIM_ADAMW);
    c.lr = 1.0f; c.warmup_steps = 10; c.total_steps = 110; c.min_lr_frac = 0.1f;
    c.decay_frac = 0.2f; c.sched = s;
    return c;
}
typedef struct { uint64_t step; double lr; } point;
static void expect_points(const zt_optim_cfg *c, const point *p, int n) {
    for (int i = 0; i < n; i++) {
        double got = zt_lr_at(c, p[i].step);
        cr_expect(fabs(got - p[i].lr) <= 1e-6 * fmax(1.0, fabs(p[i].lr)), "%s: step %llu: lr %.9g, want %.9g",
                  zt_lr_sched_name(c->sched), (unsigned long long)p[i].step, got, p[i].lr);
    }
}

Test(schedule, warmup_is_the_same_for_every_schedule) {
    const point p[] = {{0, 0.1}, {4, 0.5}, {9, 1.0}};
    zt_lr_sched all[] = {ZT_LR_COSINE, ZT_LR_LINEAR, ZT_LR_CONST, ZT_LR_WSD};
    for (int i = 0; i < 4; i++) { zt_optim_cfg c = sched(all[i]); expect_points(&c, p, 3); }
}

Test(schedule, constant) {
    zt_optim_cfg c = sched(ZT_LR_CONST);
    const point p[] = {{10, 1}, {60, 1}, {109, 1}, {110, 1}, {500, 1}};
    expect_points(&c, p, 5);
}

Test(schedule, cosine) {
    zt_optim_cfg c = sched(ZT_LR_COSINE);
    /* x = (step-10)/100; lr = 0.1 + 0.9 * (1 + cos(pi x)) / 2 */
    const point p[] = {{10, 1.0}, {35, 0.1 + 0.45 * (1 + 0.70710678118654752)}, {60, 0.55},
                       {85, 0.1 + 0.45 * (1 - 0.70710678118654752)}, {110, 0.1}, {500, 0.1}};
    expect_points(&c, p, 6);
}

Test(schedule, linear) {
    zt_optim_cfg c = sched(ZT_LR_LINEAR);
    const point p[] = {{10, 1.0}, {35, 0.775}, {60, 0.55}, {85, 0.325}, {109, 0.109}, {110, 0.1}, {500, 0.1}};
    expect_points(&c, p, 7);
}

Test(schedule, wsd) {
    zt_optim_cfg c = sched(ZT_LR_WSD);
    /* decay_frac 0.2 of the 100 steps after warmup: flat to step 90, then
     * linear to 0.1 at 110 */
    const point p[] = {{10, 1.0}, {50, 1.0}, {89, 1.0}, {90, 1.0}, {95, 0.775}, {100, 0.55},
                       {105, 0.325}, {110, 0.1}, {500, 0.1}};
    expect_points(&c, p, 9);
    /* decay_frac 1: the decay takes the whole run, as linear does */
    c.decay_frac = 1.0f;
    zt_optim_cfg lin = sched(ZT_LR_LINEAR);
    for (uint64_t s = 0; s < 130; s++)
        cr_expect(fabs(zt_lr_at(&c, s) - zt_lr_at(&lin, s)) <= 1e-6, "wsd(1.0) != linear at step %llu", (unsigned long long)s);
    /* decay_frac 0: flat to the end */
    c.decay_frac = 0.0f;
    const point q[] = {{10, 1.0}, {109, 1.0}, {110, 0.1}};
    expect_points(&c, q, 3);
}

/* Every step of the decaying schedules against a second formulation: the
 * linear ones as interpolation between the corners of their curve, the
 * cosine one as the mean of lr and the floor plus half their gap times cos. */
static double corners(const double *xs, const double *ys, int n, double x) {
    if (x <= xs[0]) return ys[0];
    for (int i = 1; i < n; i++)
        if (x <= xs[i]) return ys[i - 1] + (ys[i] - ys[i - 1]) * (x - xs[i - 1]) / (xs[i] - xs[i - 1]);
    return ys[n - 1];
}
Test(schedule, every_step_against_a_second_formulation) {
    const double lr = 6e-4, f = 0.25;   /* warmup 6, total 70, wsd decays over the last half (from 38) */
    zt_optim_cfg lin = sched(ZT_LR_LINEAR), wsd = sched(ZT_LR_WSD), cosn = sched(ZT_LR_COSINE);
    zt_optim_cfg *all[] = {&lin, &wsd, &cosn};
    for (int i = 0; i < 3; i++) {
        all[i]->lr = (float)lr; all[i]->min_lr_frac = (float)f;
        all[i]->warmup_steps = 6; all[i]->total_steps = 70; all[i]->decay_frac = 0.5f;
    }
    const double lx[] = {-1, 5, 6, 70, 1e9}, ly[] = {0, lr, lr, lr * f, lr * f};
    const double wx[] = {-1, 5, 38, 70, 1e9}, wy[] = {0, lr, lr, lr * f, lr * f};
    for (uint64_t s = 0; s < 90; s++) {
        double x = (double)s;
        double want_l = corners(lx, ly, 5, x), want_w = corners(wx, wy, 5, x);
        double want_c = s < 6 ? lr * (x + 1) / 6 : s >= 70 ? lr * f
                      : (lr + lr * f) / 2 + (lr - lr * f) / 2 * cos(M_PI * (x - 6) / 64);
        cr_expect(fabs(zt_lr_at(&lin, s) - want_l) <= 1e-6 * lr, "linear step %llu: %g vs %g", (unsigned long long)s, zt_lr_at(&lin, s), want_l);
        cr_expect(fabs(zt_lr_at(&wsd, s) - want_w) <= 1e-6 * lr, "wsd step %llu: %g vs %g", (unsigned long long)s, zt_lr_at(&wsd, s), want_w);
        cr_expect(fabs(zt_lr_at(&cosn, s) - want_c) <= 1e-6 * lr, "cosine step %llu: %g vs %g", (unsigned long long)s, zt_lr_at(&cosn, s), want_c);
    }
}

Test(schedule, no_decay_phase_when_total_is_within_warmup) {
    zt_lr_sched all[] = {ZT_LR_COSINE, ZT_LR_LINEAR, ZT_LR_WSD};
    for (int i = 0; i < 3; i++) {
        zt_optim_cfg c = sched(all[i]);
        c.total_steps = 8;   /* < warmup 10 */
        cr_expect(fabs(zt_lr_at(&c, 9) - 1.0) < 1e-7 && fabs(zt_lr_at(&c, 50) - 1.0) < 1e-7, "%s", zt_lr_sched_name(all[i]));
    }
}

Test(schedule, names) {
    zt_lr_sched s;
    const char *names[] = {"cosine", "linear", "constant", "wsd"};
    zt_lr_sched want[] = {ZT_LR_COSINE, ZT_LR_LINEAR, ZT_LR_CONST, ZT_LR_WSD};
    for (int i = 0; i < 4; i++) {
        cr_expect(zt_lr_sched_parse(names[i], &s) == 0 && s == want[i], "%s", names[i]);
        cr_expect_str_eq(zt_lr_sched_name(want[i]), names[i]);
    }
    cr_expect(zt_lr_sched_parse("Cosine", &s) != 0);
    zt_optim_cfg c = sched(ZT_LR_WSD);
    c.decay_frac = 1.5f;
    cr_expect(zt_optim_validate(&c) && strstr(zt_optim_validate(&c), "decay_frac"));
}

/* ---- config ----------------------------------------------------------- */

static char dir[64];
static char err[2048];
static void mkdir_tmp(void) { snprintf(dir, sizeof dir, "/tmp/zt-cfg.XXXXXX"); cr_assert(mkdtemp(dir)); }
static void rm_tmp(void) { char cmd[128]; snprintf(cmd, sizeof cmd, "rm -rf %s", dir); cr_assert(system(cmd) == 0); }
static const char *file_with(const char *name, const char *text) {
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w"); cr_assert(f);
    fputs(text, f); fclose(f);
    return p;
}
static int load(zt_config *c, const char *file, const char *set) {
    char *sets[1] = {(char *)set};
    return zt_config_load(c, file, sets, set ? 1 : 0, err, sizeof err);
}
TestSuite(config, .init = mkdir_tmp, .fini = rm_tmp);

Test(config, a_directory_an_empty_file_a_dangling_link_are_errors) {
    static zt_config c;
    cr_expect(load(&c, dir, NULL) == -1 && strstr(err, dir) && strstr(err, "is a directory"), "%s", err);
    const char *e = file_with("empty.ini", "");
    cr_expect(load(&c, e, NULL) == -1 && strstr(err, "empty.ini") && strstr(err, "empty"), "%s", err);
    char link[128]; snprintf(link, sizeof link, "%s/dangling.ini", dir);
    cr_assert(symlink("/nonexistent/zt.ini", link) == 0);
    cr_expect(load(&c, link, NULL) == -1 && strstr(err, "dangling.ini: cannot open config"), "%s", err);
    /* a file with only a comment has content: the defaults, no error */
    const char *comment = file_with("comment.ini", "; nothing set\n");
    cr_expect(load(&c, comment, NULL) == 0, "%s", err);
    const char *ok = file_with("ok.ini", "[train]\nsteps = 7\n");
    cr_expect(load(&c, ok, NULL) == 0 && c.steps == 7, "%s", err);
}

Test(config, device_and_backend_must_match) {
    static zt_config c;
    const char *f = file_with("cuda_mpi.ini", "[train]\ndevice = cuda\nbackend = mpi\n");
    cr_expect(load(&c, f, NULL) == -1 && strstr(err, "train.backend") && strstr(err, "cuda_mpi.ini:3"), "%s", err);
    cr_expect(load(&c, NULL, "train.backend=nccl") == -1 && strstr(err, "nccl needs train.device = cuda"), "%s", err);
    /* bf16 runs on both devices (cpu: oneDNN); bf16 gradient reductions on cpu only */
    cr_expect(load(&c, NULL, "train.precision=bf16") == 0 && !strcmp(c.precision, "bf16"), "%s", err);
    cr_expect(load(&c, NULL, "train.precision=fp16") == -1 && strstr(err, "train.precision"), "%s", err);
    cr_expect(load(&c, NULL, NULL) == 0 && !strcmp(c.grad_comm, "fp32"), "%s", err);
    cr_expect(load(&c, NULL, "train.grad_comm=bf16") == 0 && !strcmp(c.grad_comm, "bf16"), "%s", err);
    cr_expect(load(&c, NULL, "train.grad_comm=fp16") == -1 && strstr(err, "train.grad_comm"), "%s", err);
    f = file_with("cuda_auto.ini", "[train]\ndevice = cuda\n");
    cr_expect(load(&c, f, NULL) == 0, "cuda + auto is fine: %s", err);
    cr_expect(load(&c, f, "train.backend=nccl") == 0, "cuda + nccl is fine: %s", err);
    cr_expect(load(&c, f, "train.grad_comm=bf16") == -1 && strstr(err, "train.grad_comm"), "%s", err);
}

Test(config, schedule_keys) {
    static zt_config c;
    cr_expect(load(&c, NULL, NULL) == 0 && !strcmp(c.lr_schedule, "cosine") && fabs(c.decay_frac - 0.2) < 1e-12);
    cr_expect(load(&c, NULL, "optim.schedule=wsd") == 0 && !strcmp(c.lr_schedule, "wsd"), "%s", err);
    cr_expect(load(&c, NULL, "optim.schedule=step") == -1 && strstr(err, "optim.schedule"), "%s", err);
    cr_expect(load(&c, NULL, "optim.decay_frac=1.5") == -1 && strstr(err, "optim.decay_frac"), "%s", err);
    cr_expect(load(&c, NULL, "model.hidden=64,,x") == -1 && strstr(err, "model.hidden"), "%s", err);
    cr_expect(load(&c, NULL, "model.hidden=1,2,3,4,5,6,7,8,9") == -1 && strstr(err, "model.hidden"), "%s", err);
}

Test(config, job_checks) {
    static zt_config c;
    cr_assert(load(&c, NULL, NULL) == 0);   /* global 64, micro 32 */
    zt_job_shape j = {.world = 2, .local_ranks = 2, .gpus = 0, .have_cuda = 0, .host = "h1"};
    cr_expect(zt_config_check_job(&c, &j, err, sizeof err) == 0, "%s", err);
    j.world = 3;   /* 2 micro-batches of 32: at most 2 ranks */
    cr_expect(zt_config_check_job(&c, &j, err, sizeof err) == -1 && strstr(err, "fewer than the 3 ranks"), "%s", err);
    cr_assert(load(&c, NULL, "train.micro_batch=8") == 0);   /* 8 micro-batches: W = 3 splits them 3+3+2 */
    cr_expect(zt_config_check_job(&c, &j, err, sizeof err) == 0, "%s", err);
    cr_expect(load(&c, NULL, "train.micro_batch=24") == -1 && strstr(err, "must divide train.global_batch"), "%s", err);
    j.world = 2;
    cr_assert(load(&c, NULL, "train.device=cuda") == 0);
    cr_expect(zt_config_check_job(&c, &j, err, sizeof err) == -1 && strstr(err, "built without CUDA"), "%s", err);
    j.have_cuda = 1; j.gpus = 1;
    cr_expect(zt_config_check_job(&c, &j, err, sizeof err) == -1 && strstr(err, "2 ranks on host h1 but 1 GPU(s)"), "%s", err);
    j.gpus = 2;
    cr_expect(zt_config_check_job(&c, &j, err, sizeof err) == 0, "%s", err);
}

Test(config, resume_diffs) {
    static zt_config old, now;
    char d[640];
    cr_assert(load(&old, NULL, NULL) == 0);
    /* the saved text reads back to the same config */
    cr_assert(zt_config_load_text(&now, old.text, "saved", err, sizeof err) == 0, "%s", err);
    cr_expect(zt_config_diff(&old, &now, ZT_KEYS_RESUME_FIXED, d, sizeof d) == 0, "%s", d);
    cr_expect(zt_config_diff(&old, &now, ZT_KEYS_SCHEDULE, d, sizeof d) == 0, "%s", d);
    char *sets[] = {"train.global_batch=128", "model.hidden=64", "train.steps=500", "optim.lr=0.002",
                    "train.seed=9", "optim.decay_frac=0.5"};
    cr_assert(zt_config_load(&now, NULL, sets, 6, err, sizeof err) == 0, "%s", err);
    cr_expect(zt_config_diff(&old, &now, ZT_KEYS_RESUME_FIXED, d, sizeof d) == 2, "%s", d);
    cr_expect(strstr(d, "train.global_batch 64 -> 128") && strstr(d, "model.hidden 256,128 -> 64"), "%s", d);
    /* decay_frac does not shape a cosine schedule; the seed is no schedule key */
    cr_expect(zt_config_diff(&old, &now, ZT_KEYS_SCHEDULE, d, sizeof d) == 2, "%s", d);
    cr_expect(strstr(d, "train.steps 100 -> 500") && strstr(d, "optim.lr 0.001 -> 0.002"), "%s", d);
    /* the gpt widths mean nothing to an mlp, and the other way round */
    char *g1[] = {"model.name=gpt", "model.n_layer=4"}, *g2[] = {"model.name=gpt", "model.n_layer=6"};
    cr_assert(zt_config_load(&old, NULL, g1, 2, err, sizeof err) == 0);
    cr_assert(zt_config_load(&now, NULL, g2, 2, err, sizeof err) == 0);
    cr_expect(zt_config_diff(&old, &now, ZT_KEYS_RESUME_FIXED, d, sizeof d) == 1 && strstr(d, "model.n_layer 4 -> 6"), "%s", d);
    cr_assert(load(&now, NULL, "model.name=mlp") == 0);
    cr_expect(zt_config_diff(&old, &now, ZT_KEYS_RESUME_FIXED, d, sizeof d) == 1 && strstr(d, "model.name gpt -> mlp"), "%s", d);
}

/* `ztrain train --keys`: a markdown table whose rows all have 3 cells */
Test(config, keys_table_escapes_pipes) {
    fflush(stdout);
    FILE *t = tmpfile(); cr_assert(t);
    int saved = dup(1); dup2(fileno(t), 1);
    zt_config_print_keys();
    fflush(stdout); dup2(saved, 1); close(saved);
    rewind(t);
    char line[1024]; int rows = 0, model_name = 0;
    while (fgets(line, sizeof line, t)) {
        int cells = 0;
        for (char *p = line; *p; p++) if (*p == '|' && (p == line || p[-1] != '\\')) cells++;
        cr_expect(cells == 4, "row with %d unescaped pipes: %s", cells, line);
        if (strstr(line, "`model.name`")) model_name = strstr(line, "mlp \\| gpt") != NULL;
        rows++;
    }
    fclose(t);
    cr_expect(rows > 30, "only %d rows", rows);
    cr_expect(model_name, "model.name row does not escape 'mlp | gpt'");
}

/* ---- model.preset ------------------------------------------------------ */

/* Writes text to a fresh file; its path in out (256 bytes). */
static void preset_ini(char *out, const char *text) {
    snprintf(out, 256, "/tmp/zt_preset_XXXXXX");
    int fd = mkstemp(out);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

Test(preset, gpt2_sizes_and_explicit_keys_win_in_any_order) {
    char p[256], err[512];
    zt_config c;
    preset_ini(p, "[model]\npreset = gpt2\n");
    cr_assert_eq(zt_config_load(&c, p, NULL, 0, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(c.model_name, "gpt");
    cr_expect(c.gpt_d_model == 768 && c.gpt_n_layer == 12 && c.gpt_n_head == 12 && c.gpt_ctx == 1024,
              "gpt2: C=%d L=%d H=%d T=%d", c.gpt_d_model, c.gpt_n_layer, c.gpt_n_head, c.gpt_ctx);
    cr_expect(strstr(zt_config_origin(&c, "model.d_model"), "preset gpt2") != NULL, "%s",
              zt_config_origin(&c, "model.d_model"));
    remove(p);
    /* an explicit key before the preset line, one after, and one from --set */
    preset_ini(p, "[model]\nctx = 256\npreset = gpt2-medium\nn_layer = 3\n");
    char set[] = "model.n_head=8";
    char *sets[] = {set};
    cr_assert_eq(zt_config_load(&c, p, sets, 1, err, sizeof err), 0, "%s", err);
    cr_expect(c.gpt_ctx == 256 && c.gpt_n_layer == 3 && c.gpt_n_head == 8 && c.gpt_d_model == 1024,
              "gpt2-medium with overrides: C=%d L=%d H=%d T=%d", c.gpt_d_model, c.gpt_n_layer, c.gpt_n_head,
              c.gpt_ctx);
    /* the rendered config (what checkpoints keep) reads back to the same sizes */
    zt_config back;
    cr_assert_eq(zt_config_load_text(&back, c.text, "saved", err, sizeof err), 0, "%s", err);
    cr_expect(back.gpt_ctx == 256 && back.gpt_n_layer == 3 && back.gpt_n_head == 8 && back.gpt_d_model == 1024);
    remove(p);
    preset_ini(p, "[model]\npreset = gpt3\n");
    cr_expect_eq(zt_config_load(&c, p, NULL, 0, err, sizeof err), -1);
    cr_expect(strstr(err, "model.preset") && strstr(err, "gpt3"), "%s", err);
    remove(p);
}
