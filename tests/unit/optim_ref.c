/* optim_ref.c — optimizers and LR schedule (trainer/optim.h) against a
 * float64 reference written here from the textbook/PyTorch formulas, golden
 * values from PyTorch 1.13, and the partition invariance ZeRO relies on. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "optim.h"
#include "ops.h"

static uint64_t rs = 88172645463325252ULL;
static double unif(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return (double)(rs >> 11) * 0x1.0p-53; }
static float nz(double lo, double hi) { double u = lo + (hi - lo) * unif(); return (float)(unif() < .5 ? -u : u); }

/* ---- float64 reference ---- */
typedef struct { double *p, *m, *v; } ref_state;
static void ref_step(const zt_optim_cfg *c, uint64_t t, double lr, double gs, ref_state *s,
                     const float *g, size_t n, double wd) {
    for (size_t i = 0; i < n; i++) {
        double gi = gs * g[i];
        if (c->kind == ZT_OPTIM_SGD) {
            gi += wd * s->p[i];
            double u = gi;
            if (c->momentum > 0) {
                s->m[i] = (t == 1) ? gi : c->momentum * s->m[i] + gi;  /* torch: buf = g at t=1 */
                u = c->nesterov ? gi + c->momentum * s->m[i] : s->m[i];
            }
            s->p[i] -= lr * u;
        } else {
            s->p[i] *= 1.0 - lr * wd;
            s->m[i] = c->beta1 * s->m[i] + (1 - c->beta1) * gi;
            s->v[i] = c->beta2 * s->v[i] + (1 - c->beta2) * gi * gi;
            double mh = s->m[i] / (1 - pow(c->beta1, (double)t));
            double vh = s->v[i] / (1 - pow(c->beta2, (double)t));
            s->p[i] -= lr * mh / (sqrt(vh) + c->eps);
        }
    }
}

static void compare_run(zt_optim_cfg *c, float wd, int steps) {
    const size_t n = 333;
    float *p = malloc(n * 4), *g = malloc(n * 4), *gcopy = malloc(n * 4);
    float *s0 = calloc(n, 4), *s1 = calloc(n, 4);
    float *slots[2] = {s0, s1};
    ref_state r = {calloc(n, 8), calloc(n, 8), calloc(n, 8)};
    for (size_t i = 0; i < n; i++) { p[i] = nz(0.1, 2.0); r.p[i] = p[i]; }
    c->warmup_steps = 3; c->total_steps = steps; c->min_lr_frac = 0.1f;
    for (int s = 0; s < steps; s++) {
        for (size_t i = 0; i < n; i++) g[i] = nz(0.01, 1.0) * (s % 3 == 2 ? 10.0f : 1.0f);
        memcpy(gcopy, g, n * 4);
        float lr = zt_lr_at(c, s), gs = (s % 2) ? 0.75f : 1.0f;
        zt_optim_step(c, s + 1, lr, gs, p, g, slots, n, wd);
        ref_step(c, s + 1, lr, gs, &r, g, n, wd);
        cr_assert(memcmp(g, gcopy, n * 4) == 0, "the gradient was modified");
    }
    long bad = 0; double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(r.p[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs(p[i] - r.p[i]);
        worst = fmax(worst, e / scale);
        if (e > 2e-6 * fabs(r.p[i]) + 5e-7 * scale) bad++;
    }
    cr_expect(bad == 0, "%s%s wd=%g: %ld of %zu parameters off the float64 reference (worst err / max|p| %.3g)",
              zt_optim_kind_name(c->kind), c->nesterov ? "+nesterov" : "", wd, bad, n, worst);
    free(p); free(g); free(gcopy); free(s0); free(s1); free(r.p); free(r.m); free(r.v);
}

Test(optim, sgd_vs_float64) {
    zt_optim_cfg c; zt_optim_defaults(&c, ZT_OPTIM_SGD);
    c.momentum = 0.0f; compare_run(&c, 0.0f, 20);
    c.momentum = 0.9f; compare_run(&c, 0.0f, 20);
    compare_run(&c, 0.05f, 20);
}
Test(optim, sgd_nesterov_vs_float64) {
    zt_optim_cfg c; zt_optim_defaults(&c, ZT_OPTIM_SGD);
    c.momentum = 0.8f; c.nesterov = 1;
    compare_run(&c, 0.0f, 20);
    compare_run(&c, 0.01f, 20);
}
Test(optim, adamw_vs_float64) {
    zt_optim_cfg c; zt_optim_defaults(&c, ZT_OPTIM_ADAMW);
    c.lr = 3e-3f;
    compare_run(&c, 0.0f, 25);
    compare_run(&c, 0.1f, 25);
    c.beta2 = 0.999f; c.eps = 1e-6f;
    compare_run(&c, 0.1f, 25);
    c.eps = 3e-2f;   /* comparable to √v: a misplaced eps shows */
    compare_run(&c, 0.1f, 25);
}

/* three steps on three values, from PyTorch 1.13 (torch.optim, float64) */
static void golden(zt_optim_cfg *c, float wd, const double want[3]) {
    float p[3] = {0.5f, -1.25f, 2.0f}, s0[3] = {0}, s1[3] = {0}, *sl[2] = {s0, s1};
    const float g[3][3] = {{0.1f, -0.3f, 0.25f}, {-0.2f, 0.05f, 0.4f}, {0.3f, 0.3f, -0.1f}};
    for (int t = 0; t < 3; t++) zt_optim_step(c, t + 1, 0.1f, 1.0f, p, g[t], sl, 3, wd);
    for (int i = 0; i < 3; i++)
        cr_expect(fabs(p[i] - want[i]) < 2e-6 * fabs(want[i]), "%s: p[%d] = %.9g, torch %.9g",
                  zt_optim_kind_name(c->kind), i, p[i], want[i]);
}
Test(optim, matches_pytorch) {
    zt_optim_cfg c;
    zt_optim_defaults(&c, ZT_OPTIM_ADAMW);   /* betas (0.9, 0.95), eps 1e-8 */
    golden(&c, 0.1f, (double[]){0.38927280292662614, -1.076159713031069, 1.6838186546549994});
    zt_optim_defaults(&c, ZT_OPTIM_SGD);
    c.momentum = 0.9f; c.nesterov = 1;
    golden(&c, 0.01f, (double[]){0.45882316198050005, -1.20762681065625, 1.808956480807});
    c.nesterov = 0;
    golden(&c, 0.0f, (double[]){0.4809, -1.2082, 1.86625});
}

/* ZeRO: stepping a range in pieces == stepping it whole, bit for bit */
static void check_partition(zt_optim_kind k) {
    const size_t n = 1001;
    zt_optim_cfg c; zt_optim_defaults(&c, k);
    if (k == ZT_OPTIM_SGD) c.nesterov = 1;
    float *pa = malloc(n * 4), *pb = malloc(n * 4), *g = malloc(n * 4);
    float *sa[2] = {calloc(n, 4), calloc(n, 4)}, *sb[2] = {calloc(n, 4), calloc(n, 4)};
    for (size_t i = 0; i < n; i++) pa[i] = pb[i] = nz(0.1, 1);
    for (int t = 1; t <= 5; t++) {
        for (size_t i = 0; i < n; i++) g[i] = nz(0.01, 1);
        zt_optim_step(&c, t, 0.01f, 0.9f, pa, g, sa, n, 0.1f);
        /* pieces of odd sizes (W = 3, 7 and ragged) */
        size_t cuts[] = {0, 1, 334, 335, 667, 1000, 1001};
        for (int j = 0; j + 1 < 7; j++) {
            size_t lo = cuts[j], len = cuts[j + 1] - lo;
            float *sl[2] = {sb[0] + lo, sb[1] + lo};
            zt_optim_step(&c, t, 0.01f, 0.9f, pb + lo, g + lo, sl, len, 0.1f);
        }
    }
    cr_expect(memcmp(pa, pb, n * 4) == 0, "%s: partitioned step differs", zt_optim_kind_name(k));
    for (int i = 0; i < zt_optim_n_slots(&c); i++)
        cr_expect(memcmp(sa[i], sb[i], n * 4) == 0, "%s: slot %d differs", zt_optim_kind_name(k), i);
    free(pa); free(pb); free(g);
    for (int i = 0; i < 2; i++) { free(sa[i]); free(sb[i]); }
}
Test(optim, partition_invariant) { check_partition(ZT_OPTIM_ADAMW); check_partition(ZT_OPTIM_SGD); }

Test(optim, gscale_is_gradient_scaling) {
    const size_t n = 64;
    zt_optim_cfg c; zt_optim_defaults(&c, ZT_OPTIM_ADAMW);
    float pa[64], pb[64], g[64], g2[64], ma[64] = {0}, va[64] = {0}, mb[64] = {0}, vb[64] = {0};
    float *sa[2] = {ma, va}, *sb[2] = {mb, vb};
    for (size_t i = 0; i < n; i++) { pa[i] = pb[i] = nz(.1, 1); g[i] = nz(.1, 1); g2[i] = 0.3f * g[i]; }
    zt_optim_step(&c, 1, 0.01f, 0.3f, pa, g, sa, n, 0.1f);
    zt_optim_step(&c, 1, 0.01f, 1.0f, pb, g2, sb, n, 0.1f);
    cr_expect(memcmp(pa, pb, sizeof pa) == 0);
}

static double ref_lr(const zt_optim_cfg *c, uint64_t s) {
    if (s < c->warmup_steps) return c->lr * (s + 1.0) / c->warmup_steps;
    if (c->sched == ZT_LR_CONST || c->total_steps <= c->warmup_steps) return c->lr;
    if (s >= c->total_steps) return c->lr * c->min_lr_frac;
    double x = (double)(s - c->warmup_steps) / (c->total_steps - c->warmup_steps);
    return c->lr * (c->min_lr_frac + (1 - c->min_lr_frac) * 0.5 * (1 + cos(M_PI * x)));
}
Test(optim, lr_schedule) {
    zt_optim_cfg c; zt_optim_defaults(&c, ZT_OPTIM_ADAMW);
    c.lr = 6e-4f; c.warmup_steps = 10; c.total_steps = 110; c.min_lr_frac = 0.1f;
    for (uint64_t s = 0; s < 130; s++)
        cr_expect(fabs(zt_lr_at(&c, s) - ref_lr(&c, s)) <= 1e-7 * c.lr, "step %lu: %g vs %g",
                  (unsigned long)s, zt_lr_at(&c, s), ref_lr(&c, s));
    cr_expect(fabsf(zt_lr_at(&c, 0) - 6e-5f) < 1e-10f);            /* first warmup step: lr/warmup */
    cr_expect(fabsf(zt_lr_at(&c, 9) - 6e-4f) < 1e-10f);            /* end of warmup: peak */
    cr_expect(fabsf(zt_lr_at(&c, 10) - 6e-4f) < 1e-10f);           /* cosine starts at the peak */
    cr_expect(fabsf(zt_lr_at(&c, 60) - 6e-4f * 0.55f) < 1e-9f);    /* half-way: mid point */
    cr_expect(fabsf(zt_lr_at(&c, 110) - 6e-5f) < 1e-10f);          /* the end: lr·min_lr_frac */
    cr_expect(fabsf(zt_lr_at(&c, 1000) - 6e-5f) < 1e-10f);
    for (uint64_t s = 11; s < 110; s++) cr_expect(zt_lr_at(&c, s) <= zt_lr_at(&c, s - 1), "not decaying at %lu", (unsigned long)s);
    c.sched = ZT_LR_CONST;
    /* constant: the warm-up still ramps (step 3 of 10: lr·4/10), then flat at
     * lr, also past total_steps where the cosine would have decayed */
    cr_expect(fabs(zt_lr_at(&c, 3) - (double)c.lr * 4.0 / 10.0) < 1e-10, "const, warm-up: %g", zt_lr_at(&c, 3));
    cr_expect(fabsf(zt_lr_at(&c, 50) - 6e-4f) < 1e-10f && fabsf(zt_lr_at(&c, 500) - 6e-4f) < 1e-10f);
    c.sched = ZT_LR_COSINE; c.warmup_steps = 0; c.total_steps = 0;   /* no schedule */
    cr_expect(zt_lr_at(&c, 0) == c.lr && zt_lr_at(&c, 77) == c.lr);
    c.total_steps = 4;
    cr_expect(zt_lr_at(&c, 0) == c.lr);
}

Test(optim, clipping_and_norms) {
    zt_optim_cfg c; zt_optim_defaults(&c, ZT_OPTIM_SGD);
    float g[1003];
    double want = 0;
    for (int i = 0; i < 1003; i++) { g[i] = nz(0.1, 3); want += (double)g[i] * g[i]; }
    double s = zt_grad_sumsq(g, 1003);
    cr_expect(fabs(s - want) <= 1e-13 * want);
    cr_expect(fabs(zt_grad_norm(s) - sqrt(want)) <= 1e-13 * sqrt(want));
    /* partitions' sums add up to the whole (as the ZeRO all-reduce does) */
    double parts = zt_grad_sumsq(g, 500) + zt_grad_sumsq(g + 500, 503);
    cr_expect(fabs(parts - s) <= 1e-13 * s);
    c.grad_clip = 1.0f;
    cr_expect(zt_clip_scale(&c, 0.25) == 1.0f);                   /* norm 0.5 < 1 */
    cr_expect(fabsf(zt_clip_scale(&c, 16.0) - (float)(1.0 / (4.0 + 1e-6))) < 1e-7f);
    c.grad_clip = 0.0f;
    cr_expect(zt_clip_scale(&c, 1e6) == 1.0f);
    cr_expect(zt_grad_sumsq(g, 0) == 0.0);
    /* the op table exposes the same functions */
    cr_expect(zt_ops_cpu.sumsq(g, 1003) == s);
    cr_expect(zt_ops_cpu.optim_step == zt_optim_step);
}

Test(optim, names_slots_validation) {
    zt_optim_cfg c;
    zt_optim_kind k;
    cr_expect(zt_optim_kind_parse("adamw", &k) == 0 && k == ZT_OPTIM_ADAMW);
    cr_expect(zt_optim_kind_parse("sgd", &k) == 0 && k == ZT_OPTIM_SGD);
    cr_expect(zt_optim_kind_parse("adam", &k) != 0);
    zt_lr_sched sch;
    cr_expect(zt_lr_sched_parse("cosine", &sch) == 0 && sch == ZT_LR_COSINE);
    cr_expect(zt_lr_sched_parse("step", &sch) != 0);   /* not a schedule */
    zt_optim_defaults(&c, ZT_OPTIM_ADAMW);
    cr_expect(zt_optim_validate(&c) == NULL);
    cr_expect(zt_optim_n_slots(&c) == 2);
    cr_expect_str_eq(zt_optim_slot_name(&c, 0), "m");
    cr_expect_str_eq(zt_optim_slot_name(&c, 1), "v");
    cr_expect_null(zt_optim_slot_name(&c, 2));
    c.beta2 = 1.0f;
    cr_expect(zt_optim_validate(&c) != NULL && strstr(zt_optim_validate(&c), "beta2"));
    zt_optim_defaults(&c, ZT_OPTIM_SGD);
    cr_expect(zt_optim_n_slots(&c) == 1);
    cr_expect_str_eq(zt_optim_slot_name(&c, 0), "momentum");
    c.momentum = 0.0f;
    cr_expect(zt_optim_n_slots(&c) == 0 && zt_optim_slot_name(&c, 0) == NULL);
    c.nesterov = 1;
    cr_expect(zt_optim_validate(&c) != NULL && strstr(zt_optim_validate(&c), "nesterov"));
    c.nesterov = 0; c.lr = -1;
    cr_expect(zt_optim_validate(&c) != NULL && strstr(zt_optim_validate(&c), "optim.lr"));
    /* weight decay only on matrices */
    zt_optim_defaults(&c, ZT_OPTIM_ADAMW);
    zt_tensor w = {.ndim = 2}, b = {.ndim = 1};
    cr_expect(zt_optim_tensor_wd(&c, &w) == c.weight_decay && c.weight_decay > 0);
    cr_expect(zt_optim_tensor_wd(&c, &b) == 0.0f);
}

/* The AdamW loop has AVX-512, AVX2 and scalar versions (picked per machine;
 * ZT_SIMD=0|1|2 caps it): all must give the same bits, so ranks on different
 * CPUs stay identical. Each path runs in a child process (the choice is made
 * once per process). */
static void adamw_in_child(const char *isa, float *out, size_t n) {
    int fd[2];
    cr_assert(pipe(fd) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        if (isa) setenv("ZT_SIMD", isa, 1);
        zt_optim_cfg c; zt_optim_defaults(&c, ZT_OPTIM_ADAMW);
        float *p = malloc(n * 4), *g = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4), *sl[2] = {m, v};
        rs = 7;
        for (size_t i = 0; i < n; i++) p[i] = nz(0.1, 1);
        for (int t = 1; t <= 4; t++) {
            for (size_t i = 0; i < n; i++) g[i] = nz(1e-4, 1);
            /* ragged pieces: the masked tails are exercised too */
            for (size_t lo = 0; lo < n; lo += 37) {
                size_t len = n - lo < 37 ? n - lo : 37;
                float *s2[2] = {sl[0] + lo, sl[1] + lo};
                zt_optim_step(&c, t, 3e-3f, 0.7f, p + lo, g + lo, s2, len, 0.1f);
            }
        }
        ssize_t w = write(fd[1], p, n * 4);
        _exit(w == (ssize_t)(n * 4) ? 0 : 1);
    }
    close(fd[1]);
    size_t got = 0;
    while (got < n * 4) {
        ssize_t r = read(fd[0], (char *)out + got, n * 4 - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    cr_assert(got == n * 4 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child for ZT_SIMD=%s failed", isa ? isa : "-");
}
Test(optim, adamw_same_bits_on_every_isa_path) {
    const size_t n = 1000;
    float *a = malloc(n * 4), *b = malloc(n * 4);
    adamw_in_child("0", a, n);          /* scalar */
    adamw_in_child("1", b, n);          /* AVX2 where the CPU has it */
    cr_expect(memcmp(a, b, n * 4) == 0, "AVX2 path differs from the scalar path");
    adamw_in_child(NULL, b, n);         /* the best path of this CPU */
    cr_expect(memcmp(a, b, n * 4) == 0, "native SIMD path differs from the scalar path");
    free(a); free(b);
}
