/* model_models.c — whole-model checks for mlp and gpt (small sizes):
 *  - tensor table: names, shapes, units tile the flat buffer
 *  - loss and every parameter's gradient against a float64 reference model
 *    (model_ref.h) and its central finite differences
 *  - the unit decomposition: units run one by one on separately allocated
 *    parameter/gradient copies (as under ZeRO-3) == zt_model_loss_and_grad
 *  - gradient accumulation: two half batches == one full batch
 *  - zt_model_init_range: any subrange == the slice of the full init; the
 *    distributions; initial loss ≈ ln V; a few AdamW steps learn. */
#include <criterion/criterion.h>
#include <stdio.h>
#include "model_ref.h"
#include "ops.h"
#include "optim.h"

#define FD_H 1e-5

static const zt_mlp_cfg MLP = {.in_dim = 12, .out_dim = 5, .n_hidden = 2, .hidden = {10, 8}};
static const zt_gpt_cfg GPT = {.vocab = 7, .ctx = 5, .d_model = 8, .n_layer = 2, .n_head = 2};

/* random test batch (owned by the caller: free xf/xi/y) */
static zt_batch make_batch(const zt_model *m, int n, uint64_t seed) {
    ref_seed(seed);
    zt_batch b = {.n = n};
    if (!strcmp(m->kind, "mlp")) {
        float *xf = malloc(sizeof(float) * n * MLP.in_dim);
        int32_t *y = malloc(sizeof(int32_t) * n);
        ref_fill(xf, (size_t)n * MLP.in_dim, 0.1, 1.5);
        for (int i = 0; i < n; i++) y[i] = ref_randint(MLP.out_dim);
        b.xf = xf; b.y = y;
    } else {
        const int T = GPT.ctx;
        int32_t *xi = malloc(sizeof(int32_t) * n * T), *y = malloc(sizeof(int32_t) * n * T);
        for (int i = 0; i < n * T; i++) { xi[i] = ref_randint(GPT.vocab); y[i] = ref_randint(GPT.vocab); }
        b.xi = xi; b.y = y;
    }
    return b;
}
static void free_batch(zt_batch *b) { free((void *)b->xf); free((void *)b->xi); free((void *)b->y); }

/* random non-zero parameters of O(1) effect: matrices ±[0.2,1]/√fan_in,
 * vectors ±[0.1,0.5], LayerNorm gains 1 ± 0.5 (bigger than the real init, so
 * attention is not uniform and every path carries gradient) */
static float *random_params(const zt_model *m, uint64_t seed) {
    ref_seed(seed);
    float *p = malloc(sizeof(float) * m->n_params);
    for (int i = 0; i < m->n_tensors; i++) {
        const zt_tensor *t = &m->tensors[i];
        float *x = p + t->off;
        if (t->ndim == 2) {
            double s = 1.0 / sqrt((double)t->shape[1]);
            if (!strcmp(t->name, "wte") || !strcmp(t->name, "wpe")) s = 1.0;
            ref_fill(x, t->numel, 0.2 * s, 1.0 * s);
        } else if (t->init == ZT_INIT_ONES) {
            for (size_t j = 0; j < t->numel; j++) x[j] = 1.0f + ref_nz(0.05, 0.5);
        } else {
            ref_fill(x, t->numel, 0.1, 0.5);
        }
    }
    return p;
}

static double ref_loss(const zt_model *m, const double *p, const zt_batch *b) {
    return !strcmp(m->kind, "mlp") ? ref_mlp_loss(m, &MLP, p, b, NULL) : ref_gpt_loss(m, &GPT, p, b);
}

static zt_model *make(const char *kind, int max_batch) {
    zt_model *m = !strcmp(kind, "mlp") ? zt_mlp_create(&MLP, max_batch) : zt_gpt_create(&GPT, max_batch);
    cr_assert_not_null(m, "cannot create %s", kind);
    return m;
}

/* ------------------------------------------------------- tensor table */
static void check_table(const zt_model *m) {
    size_t off = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const zt_tensor *t = &m->tensors[i];
        cr_expect_eq(t->off, off, "%s: offset %zu, expected %zu", t->name, t->off, off);
        cr_expect_eq(t->numel, t->ndim == 2 ? t->shape[0] * t->shape[1] : t->shape[0], "%s numel", t->name);
        cr_expect(t->off >= m->unit_off[t->unit] &&
                  t->off + t->numel <= m->unit_off[t->unit] + m->unit_len[t->unit],
                  "%s outside its unit %d", t->name, t->unit);
        cr_expect(zt_model_tensor(m, t->name) == t, "%s: duplicate name", t->name);
        off += t->numel;
    }
    cr_expect_eq(off, m->n_params);
    size_t uo = 0;
    for (int u = 0; u < m->n_units; u++) {
        cr_expect_eq(m->unit_off[u], uo, "unit %d offset", u);
        cr_expect(m->unit_len[u] > 0);
        uo += m->unit_len[u];
    }
    cr_expect_eq(uo, m->n_params);
}
static void expect_shape(const zt_model *m, const char *name, size_t d0, size_t d1, int unit) {
    const zt_tensor *t = zt_model_tensor(m, name);
    cr_assert_not_null(t, "no tensor %s", name);
    cr_expect(t->shape[0] == d0 && t->shape[1] == d1 && t->ndim == (d1 ? 2 : 1) && t->unit == unit,
              "%s: [%zu,%zu] unit %d, expected [%zu,%zu] unit %d", name, t->shape[0], t->shape[1],
              t->unit, d0, d1, unit);
}

Test(models, mlp_tensor_table) {
    zt_model *m = make("mlp", 4);
    check_table(m);
    cr_expect_eq(m->n_units, 3);
    expect_shape(m, "fc0.w", 10, 12, 0); expect_shape(m, "fc0.b", 10, 0, 0);
    expect_shape(m, "fc1.w", 8, 10, 1);  expect_shape(m, "fc1.b", 8, 0, 1);
    expect_shape(m, "fc2.w", 5, 8, 2);   expect_shape(m, "fc2.b", 5, 0, 2);
    cr_expect_eq(m->n_params, (size_t)(12 * 10 + 10 + 10 * 8 + 8 + 8 * 5 + 5));
    cr_expect_eq(m->tokens_per_row, 1u);
    cr_expect(m->flops_per_row == 6.0 * (12 * 10 + 10 * 8 + 8 * 5));
    cr_expect(m->ops == &zt_ops_cpu && m->act_bytes > 0);
    m->destroy(m);
}

Test(models, gpt_tensor_table) {
    zt_model *m = make("gpt", 4);
    const size_t V = 7, T = 5, C = 8, L = 2;
    check_table(m);
    cr_expect_eq(m->n_units, (int)L + 2);
    expect_shape(m, "wte", V, C, 0); expect_shape(m, "wpe", T, C, 0);
    for (int l = 0; l < (int)L; l++) {
        char n[64];
#define S(sfx, d0, d1) (snprintf(n, sizeof n, "h%d." sfx, l), expect_shape(m, n, d0, d1, l + 1))
        S("ln1.g", C, 0); S("ln1.b", C, 0); S("attn.qkv.w", 3 * C, C); S("attn.qkv.b", 3 * C, 0);
        S("attn.proj.w", C, C); S("attn.proj.b", C, 0); S("ln2.g", C, 0); S("ln2.b", C, 0);
        S("mlp.fc.w", 4 * C, C); S("mlp.fc.b", 4 * C, 0); S("mlp.proj.w", C, 4 * C); S("mlp.proj.b", C, 0);
#undef S
    }
    expect_shape(m, "lnf.g", C, 0, L + 1); expect_shape(m, "lnf.b", C, 0, L + 1);
    cr_expect_null(zt_model_tensor(m, "head.w"), "the head is tied to wte: no head.w");
    cr_expect_eq(m->n_params, V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C);
    cr_expect_eq(m->tokens_per_row, T);
    cr_expect(m->flops_per_row > 6.0 * (double)(L * 12 * C * C) * T);
    m->destroy(m);
}

Test(models, invalid_configs) {
    zt_gpt_cfg g = GPT;
    g.n_head = 3;   /* 8 % 3 != 0 */
    cr_expect_null(zt_gpt_create(&g, 2));
    zt_mlp_cfg c = MLP;
    c.hidden[1] = 0;
    cr_expect_null(zt_mlp_create(&c, 2));
    cr_expect_null(zt_mlp_create(&MLP, 0));
}

/* ------------------------------------------- gradient vs float64 FD */
static void check_model_grad(const char *kind, int n, double atol_rel, double rtol) {
    zt_model *m = make(kind, n);
    zt_batch b = make_batch(m, n, 77);
    float *p = random_params(m, 78);
    float *g = calloc(m->n_params, sizeof(float));
    m->grad_scale = 1.0f / (float)n;
    double loss = zt_model_loss_and_grad(m, &b, p, g);

    double *pd = malloc(sizeof(double) * m->n_params), *gd = malloc(sizeof(double) * m->n_params);
    for (size_t i = 0; i < m->n_params; i++) pd[i] = p[i];
    double rl = ref_loss(m, pd, &b);
    cr_expect(fabs(loss - rl) <= 1e-5 * fabs(rl), "%s loss %.9g, reference %.9g", kind, loss, rl);
    for (size_t i = 0; i < m->n_params; i++) {
        double s = pd[i];
        pd[i] = s + FD_H; double fp = ref_loss(m, pd, &b);
        pd[i] = s - FD_H; double fm = ref_loss(m, pd, &b);
        pd[i] = s;
        gd[i] = (fp - fm) / (2 * FD_H) / n;
    }
    /* per tensor, so each is judged against its own scale */
    for (int i = 0; i < m->n_tensors; i++) {
        const zt_tensor *t = &m->tensors[i];
        ref_cmp c = ref_compare(g + t->off, gd + t->off, t->numel, atol_rel, rtol);
        cr_expect(c.ref_scale > 0, "%s: %s has zero reference gradient", kind, t->name);
        cr_expect(c.bad == 0, "%s: d%s: %ld of %ld off, max err %.3g (rel. to max|ref| %.3g)", kind,
                  t->name, c.bad, c.n, c.max_err, c.ref_scale);
    }
    free(pd); free(gd); free(p); free(g); free_batch(&b);
    m->destroy(m);
}
Test(models, mlp_gradient_vs_fd64) { check_model_grad("mlp", 6, 2e-5, 1e-4); }
Test(models, gpt_gradient_vs_fd64) { check_model_grad("gpt", 3, 2e-5, 1e-4); }

/* Weight tying: wte is both the embedding and the output head, so its
 * gradient is the sum of both uses. A token id that never occurs in the input
 * gets a gradient only from the head; ids that occur get both. Each row is
 * checked against float64 finite differences of the reference model (whose
 * logits are lnf(x)·wteᵀ), and the head-only row must be non-zero. The units
 * run on separate copies of their parameters (as under ZeRO-3), so the head
 * cannot read wte from the flat buffer behind the engine's back. */
Test(models, gpt_tied_head_gradient) {
    zt_model *m = make("gpt", 2);
    const int T = GPT.ctx, V = GPT.vocab, C = GPT.d_model;
    zt_batch b = make_batch(m, 2, 55);
    int32_t *xi = (int32_t *)b.xi, *y = (int32_t *)b.y;
    for (int i = 0; i < 2 * T; i++) {           /* id V-1: a target, never an input */
        if (xi[i] == V - 1) xi[i] = 0;
        if (i % 3 == 0) y[i] = V - 1;
    }
    float *p = random_params(m, 56), *g = calloc(m->n_params, sizeof(float));
    float *pc = malloc(sizeof(float) * m->n_params);
    memcpy(pc, p, sizeof(float) * m->n_params);
    m->grad_scale = 0.5f;
    m->set_batch(m, &b);
    for (int u = 0; u < m->n_units; u++) m->forward(m, u, pc + m->unit_off[u]);
    memset(pc, 0xff, sizeof(float) * m->unit_len[0]);   /* unit 0's copy is gone (NaN) */
    for (int u = m->n_units - 1; u >= 0; u--) {
        if (u == 0) memcpy(pc, p, sizeof(float) * m->unit_len[0]);   /* gathered again */
        m->backward(m, u, pc + m->unit_off[u], g + m->unit_off[u]);
    }
    double *pd = malloc(sizeof(double) * m->n_params);
    for (size_t i = 0; i < m->n_params; i++) pd[i] = p[i];
    const zt_tensor *wte = zt_model_tensor(m, "wte");
    cr_assert_not_null(wte);
    double head_only = 0;
    for (int v = 0; v < V; v++)
        for (int c = 0; c < C; c++) {
            size_t i = wte->off + (size_t)v * C + c;
            double s = pd[i];
            pd[i] = s + FD_H; double fp = ref_loss(m, pd, &b);
            pd[i] = s - FD_H; double fm = ref_loss(m, pd, &b);
            pd[i] = s;
            double want = (fp - fm) / (2 * FD_H) * 0.5;
            cr_expect(fabs(g[i] - want) <= 2e-5 + 1e-3 * fabs(want), "dwte[%d,%d] = %.8g, finite differences %.8g",
                      v, c, g[i], want);
            if (v == V - 1) head_only += fabs(g[i]);
        }
    cr_expect(head_only > 1e-6, "the head-only row of wte got no gradient (%g)", head_only);
    free(pd); free(pc); free(p); free(g); free_batch(&b);
    m->destroy(m);
}

Test(models, mlp_correct_counts_argmax) {
    zt_model *m = make("mlp", 16);
    zt_batch b = make_batch(m, 16, 91);
    float *p = random_params(m, 92), *g = calloc(m->n_params, sizeof(float));
    zt_model_loss_and_grad(m, &b, p, g);
    double *pd = malloc(sizeof(double) * m->n_params), logits[16 * 5];
    for (size_t i = 0; i < m->n_params; i++) pd[i] = p[i];
    ref_mlp_loss(m, &MLP, pd, &b, logits);
    int want = 0;
    for (int i = 0; i < 16; i++) {
        int best = 0;
        for (int j = 1; j < 5; j++) if (logits[i * 5 + j] > logits[i * 5 + best]) best = j;
        want += best == b.y[i];
    }
    cr_expect_eq(m->correct(m), want);
    free(pd); free(p); free(g); free_batch(&b);
    m->destroy(m);
}

/* ---------------------------------------------- unit decomposition */
static void check_units(const char *kind) {
    zt_model *m = make(kind, 4);
    zt_batch b = make_batch(m, 4, 55);
    float *p = random_params(m, 56);
    float *g_ref = calloc(m->n_params, sizeof(float));
    m->grad_scale = 0.25f;
    double l_ref = zt_model_loss_and_grad(m, &b, p, g_ref);

    /* each unit: its own freshly allocated copy of params, its own grads,
     * pre-filled with a constant to check +=, as an engine would hold them */
    float **pu = calloc((size_t)m->n_units, sizeof *pu), **gu = calloc((size_t)m->n_units, sizeof *gu);
    for (int u = 0; u < m->n_units; u++) {
        pu[u] = malloc(sizeof(float) * m->unit_len[u]);
        gu[u] = malloc(sizeof(float) * m->unit_len[u]);
        memcpy(pu[u], p + m->unit_off[u], sizeof(float) * m->unit_len[u]);
        for (size_t i = 0; i < m->unit_len[u]; i++) gu[u][i] = 0.0f;
    }
    m->set_batch(m, &b);
    for (int u = 0; u < m->n_units; u++) m->forward(m, u, pu[u]);
    double l = m->loss_sum(m);
    for (int u = m->n_units - 1; u >= 0; u--) {
        m->backward(m, u, pu[u], gu[u]);
        free(pu[u]);   /* freed after use, like ZeRO-3's gathered copy */
        pu[u] = NULL;
    }
    cr_expect(l == l_ref, "%s: loss %.17g per unit vs %.17g", kind, l, l_ref);
    for (int u = 0; u < m->n_units; u++) {
        cr_expect(memcmp(gu[u], g_ref + m->unit_off[u], sizeof(float) * m->unit_len[u]) == 0,
                  "%s: unit %d gradient differs from zt_model_loss_and_grad", kind, u);
        free(gu[u]);
    }
    /* the same again: everything recomputed, nothing left over from the first pass */
    float *g2 = calloc(m->n_params, sizeof(float));
    double l2 = zt_model_loss_and_grad(m, &b, p, g2);
    cr_expect(l2 == l_ref && memcmp(g2, g_ref, sizeof(float) * m->n_params) == 0,
              "%s: a second identical pass differs", kind);
    free(g2); free(p); free(g_ref); free_batch(&b); free(pu); free(gu);
    m->destroy(m);
}
Test(models, mlp_units_separately) { check_units("mlp"); }
Test(models, gpt_units_separately) { check_units("gpt"); }

/* ------------------------------------------- gradient accumulation */
static void check_accum(const char *kind) {
    const int n = 8, h = 4;
    zt_model *m = make(kind, n);
    zt_batch b = make_batch(m, n, 66);
    float *p = random_params(m, 67);
    float *gf = calloc(m->n_params, sizeof(float)), *ga = calloc(m->n_params, sizeof(float));
    m->grad_scale = 1.0f / n;
    double lf = zt_model_loss_and_grad(m, &b, p, gf);
    const size_t rx = !strcmp(kind, "mlp") ? (size_t)MLP.in_dim : 0, ry = !strcmp(kind, "mlp") ? 1 : GPT.ctx;
    zt_batch b1 = b, b2 = b;
    b1.n = h; b2.n = n - h;
    if (b.xf) b2.xf = b.xf + h * rx;
    if (b.xi) b2.xi = b.xi + h * ry;
    b2.y = b.y + h * ry;
    double la = zt_model_loss_and_grad(m, &b1, p, ga);
    la += zt_model_loss_and_grad(m, &b2, p, ga);
    cr_expect(fabs(la - lf) <= 1e-6 * fabs(lf), "%s: loss %.9g (halves) vs %.9g", kind, la, lf);
    for (int i = 0; i < m->n_tensors; i++) {
        const zt_tensor *t = &m->tensors[i];
        double mx = 0, err = 0;
        for (size_t j = 0; j < t->numel; j++) {
            mx = fmax(mx, fabs(gf[t->off + j]));
            err = fmax(err, fabs((double)gf[t->off + j] - ga[t->off + j]));
        }
        cr_expect(mx > 0 && err <= 1e-6 * mx, "%s: %s: halves differ by %.3g (max|g| %.3g)", kind,
                  t->name, err, mx);
    }
    free(gf); free(ga); free(p); free_batch(&b);
    m->destroy(m);
}
Test(models, mlp_accumulation) { check_accum("mlp"); }
Test(models, gpt_accumulation) { check_accum("gpt"); }

/* ------------------------------------------------------------ init */
static void check_init_ranges(const zt_model *m) {
    const size_t P = m->n_params;
    float *full = malloc(sizeof(float) * P), *part = malloc(sizeof(float) * P);
    zt_model_init_range(m, 1234, 0, P, full);
    ref_seed(3);
    for (int k = 0; k < 60; k++) {
        size_t lo = (size_t)(ref_unif() * P), hi = lo + (size_t)(ref_unif() * (P - lo + 1));
        if (k == 0) { lo = 0; hi = 1; }
        if (k == 1) { lo = P - 1; hi = P; }
        if (k == 2) { lo = 5; hi = 5; }
        for (size_t i = 0; i < P; i++) part[i] = NAN;
        zt_model_init_range(m, 1234, lo, hi, part);
        cr_expect(memcmp(part, full + lo, sizeof(float) * (hi - lo)) == 0,
                  "%s: init of [%zu,%zu) differs from the full init's slice", m->kind, lo, hi);
        if (hi - lo < P) cr_expect(isnan(part[hi - lo]), "init wrote past hi");
    }
    /* W ranks' partitions, as the engines cut them, tile the full init */
    for (int W = 1; W <= 4; W++) {
        size_t chunk = (P + W - 1) / W;
        for (int r = 0; r < W; r++) {
            size_t lo = r * chunk < P ? r * chunk : P, hi = lo + chunk < P ? lo + chunk : P;
            zt_model_init_range(m, 1234, lo, hi, part + lo);
        }
        cr_expect(memcmp(part, full, sizeof(float) * P) == 0, "W=%d partitions differ", W);
    }
    zt_model_init_range(m, 1235, 0, P, part);
    size_t same = 0;
    for (size_t i = 0; i < P; i++) same += part[i] == full[i] && full[i] != 0.0f && full[i] != 1.0f;
    cr_expect(same < P / 100, "another seed gives the same values (%zu)", same);
    free(full); free(part);
}
static void tensor_stats(const zt_model *m, const float *p, const char *name, double *mean, double *sd,
                         double *mn, double *mx) {
    const zt_tensor *t = zt_model_tensor(m, name);
    cr_assert_not_null(t);
    double s = 0, s2 = 0;
    *mn = INFINITY; *mx = -INFINITY;
    for (size_t i = 0; i < t->numel; i++) {
        double x = p[t->off + i];
        s += x; s2 += x * x;
        *mn = fmin(*mn, x); *mx = fmax(*mx, x);
    }
    *mean = s / t->numel;
    *sd = sqrt(s2 / t->numel - *mean * *mean);
}

Test(models, gpt_init) {
    zt_gpt_cfg c = {.vocab = 64, .ctx = 32, .d_model = 64, .n_layer = 3, .n_head = 4};
    zt_model *m = zt_gpt_create(&c, 2);
    cr_assert_not_null(m);
    check_init_ranges(m);
    float *p = malloc(sizeof(float) * m->n_params);
    zt_model_init_range(m, 7, 0, m->n_params, p);
    double mean, sd, mn, mx;
    const char *w02[] = {"wte", "wpe", "h0.attn.qkv.w", "h2.mlp.fc.w"};
    for (int i = 0; i < 4; i++) {
        tensor_stats(m, p, w02[i], &mean, &sd, &mn, &mx);
        cr_expect(fabs(sd - 0.02) < 0.002 && fabs(mean) < 0.002, "%s: mean %g sd %g, want N(0, 0.02²)", w02[i], mean, sd);
    }
    const double sres = 0.02 / sqrt(2.0 * 3);
    const char *wres[] = {"h0.attn.proj.w", "h1.mlp.proj.w"};
    for (int i = 0; i < 2; i++) {
        tensor_stats(m, p, wres[i], &mean, &sd, &mn, &mx);
        cr_expect(fabs(sd - sres) < 0.1 * sres, "%s: sd %g, want %g", wres[i], sd, sres);
    }
    const char *ones[] = {"h0.ln1.g", "h2.ln2.g", "lnf.g"}, *zeros[] = {"h0.ln1.b", "h1.attn.qkv.b", "h2.mlp.proj.b", "lnf.b"};
    for (int i = 0; i < 3; i++) { tensor_stats(m, p, ones[i], &mean, &sd, &mn, &mx); cr_expect(mn == 1.0 && mx == 1.0, "%s", ones[i]); }
    for (int i = 0; i < 4; i++) { tensor_stats(m, p, zeros[i], &mean, &sd, &mn, &mx); cr_expect(mn == 0.0 && mx == 0.0, "%s", zeros[i]); }
    free(p);
    m->destroy(m);
}

Test(models, mlp_init) {
    zt_mlp_cfg c = {.in_dim = 784, .out_dim = 10, .n_hidden = 1, .hidden = {128}};
    zt_model *m = zt_mlp_create(&c, 2);
    check_init_ranges(m);
    float *p = malloc(sizeof(float) * m->n_params);
    zt_model_init_range(m, 7, 0, m->n_params, p);
    double mean, sd, mn, mx;
    double b0 = sqrt(6.0 / 784), b1 = 1.0 / sqrt(128.0);
    tensor_stats(m, p, "fc0.w", &mean, &sd, &mn, &mx);
    cr_expect(mn >= -b0 && mx < b0 && mx > 0.99 * b0 && fabs(sd - b0 / sqrt(3)) < 0.02 * b0, "fc0.w: sd %g [%g,%g]", sd, mn, mx);
    tensor_stats(m, p, "fc1.w", &mean, &sd, &mn, &mx);
    cr_expect(mn >= -b1 && mx < b1 && fabs(sd - b1 / sqrt(3)) < 0.05 * b1, "fc1.w: sd %g", sd);
    tensor_stats(m, p, "fc0.b", &mean, &sd, &mn, &mx);
    cr_expect(mn == 0 && mx == 0);
    free(p);
    m->destroy(m);
}

/* initial loss ≈ ln(classes), then a few AdamW steps on one batch learn it */
static void check_learns(const char *kind) {
    const int n = 8;
    zt_model *m = make(kind, n);
    zt_batch b = make_batch(m, n, 99);
    float *p = malloc(sizeof(float) * m->n_params), *g = malloc(sizeof(float) * m->n_params);
    float *s0 = calloc(m->n_params, sizeof(float)), *s1 = calloc(m->n_params, sizeof(float));
    float *slots[2] = {s0, s1};
    zt_model_init_range(m, 42, 0, m->n_params, p);
    zt_optim_cfg oc;
    zt_optim_defaults(&oc, ZT_OPTIM_ADAMW);
    oc.lr = 1e-2f;
    m->grad_scale = 1.0f / n;
    const double lnV = log(!strcmp(kind, "mlp") ? MLP.out_dim : GPT.vocab);
    double first = 0, last = 0;
    for (int step = 0; step < 60; step++) {
        memset(g, 0, sizeof(float) * m->n_params);
        double l = zt_model_loss_and_grad(m, &b, p, g) / n;
        if (step == 0) first = l;
        last = l;
        float gs = zt_clip_scale(&oc, zt_grad_sumsq(g, m->n_params));
        for (int i = 0; i < m->n_tensors; i++) {
            const zt_tensor *t = &m->tensors[i];
            float *sl[2] = {slots[0] + t->off, slots[1] + t->off};
            zt_optim_step(&oc, step + 1, oc.lr, gs, p + t->off, g + t->off, sl, t->numel,
                          zt_optim_tensor_wd(&oc, t));
        }
    }
    cr_expect(fabs(first - lnV) < 0.35, "%s: initial loss %.4f, ln V = %.4f", kind, first, lnV);
    cr_expect(last < 0.5 * first, "%s: loss %.4f -> %.4f after 60 AdamW steps", kind, first, last);
    free(p); free(g); free(s0); free(s1); free_batch(&b);
    m->destroy(m);
}
Test(models, mlp_learns) { check_learns("mlp"); }
Test(models, gpt_learns) { check_learns("gpt"); }

/* an id outside the vocabulary / a label outside the classes would index past
 * the embedding table or the logits. set_batch does not rescan every
 * micro-batch (the loader checked each id at open; datasets_tokens and
 * datasets_bad test that): a producer the loader did not check calls
 * zt_model_check_batch, which names the row, the position and the value. */
static void expect_rejected(const char *kind, int in_x, size_t at, int32_t v, const char *want) {
    zt_model *m = make(kind, 2);
    zt_batch b = make_batch(m, 2, 5);
    char err[256] = "";
    cr_expect_eq(zt_model_check_batch(m, &b, err, sizeof err), 0, "%s: a good batch: %s", kind, err);
    ((int32_t *)(in_x ? b.xi : b.y))[at] = v;
    cr_expect_eq(zt_model_check_batch(m, &b, err, sizeof err), -1, "%s: id %d at %zu accepted", kind, v, at);
    cr_expect(strstr(err, want) != NULL, "%s: '%s' lacks '%s'", kind, err, want);
    free_batch(&b);
    m->destroy(m);
}
Test(models, gpt_rejects_token_outside_vocab) {
    char want[64];
    snprintf(want, sizeof want, "row 0, position 3: token id %d outside [0, %d)", GPT.vocab, GPT.vocab);
    expect_rejected("gpt", 1, 3, GPT.vocab, want);
}
Test(models, gpt_rejects_target_outside_vocab) {
    char want[64];
    snprintf(want, sizeof want, "row 1, position 1: target -3 outside [0, %d)", GPT.vocab);
    expect_rejected("gpt", 0, (size_t)GPT.ctx + 1, -3, want);
}
Test(models, mlp_rejects_label_outside_classes) {
    expect_rejected("mlp", 0, 1, -1, "row 1, position 0: label -1 outside");
}

/* On the host table set_batch reads the batch where it lies: the same
 * loss as from a private copy of the same rows, and a changed input row
 * changes the next forward without a new set_batch being needed to copy. */
Test(models, mlp_reads_the_batch_in_place) {
    zt_model *m = make("mlp", 2);
    zt_batch b = make_batch(m, 2, 5);
    float *p = malloc(m->n_params * sizeof *p), *g = calloc(m->n_params, sizeof *g);
    cr_assert(p && g);
    zt_model_init_range(m, 3, 0, m->n_params, p);
    double l0 = zt_model_loss_and_grad(m, &b, p, g);
    m->set_batch(m, &b);
    ((float *)b.xf)[0] += 1.0f;   /* only read in place: the next forward sees it */
    for (int u = 0; u < m->n_units; u++) m->forward(m, u, p + m->unit_off[u]);
    cr_expect_neq(m->loss_sum(m), l0, "the forward did not read the batch's buffer in place");
    ((float *)b.xf)[0] -= 1.0f;
    for (int u = 0; u < m->n_units; u++) m->forward(m, u, p + m->unit_off[u]);
    cr_expect_eq(m->loss_sum(m), l0);
    free(p); free(g); free_batch(&b);
    m->destroy(m);
}

/* ---------------------------------------------------- deep models */
/* No fixed limit on tensors or units: 48 layers (GPT-2 XL's depth) and 100.
 * The table has 2 + 12L + 2 tensors in L + 2 units that tile [0, n_params),
 * and one forward/backward runs with a finite loss and non-zero gradients
 * in the first and the last block. */
static void check_deep(int L) {
    zt_gpt_cfg c = {.vocab = 11, .ctx = 4, .d_model = 8, .n_layer = L, .n_head = 2};
    zt_model *m = zt_gpt_create(&c, 2);
    cr_assert_not_null(m, "cannot build a %d-layer gpt", L);
    cr_expect_eq(m->n_tensors, 12 * L + 4, "L=%d: %d tensors", L, m->n_tensors);
    cr_expect_eq(m->n_units, L + 2, "L=%d: %d units", L, m->n_units);
    check_table(m);
    const zt_tensor *last = &m->tensors[m->n_tensors - 1];
    cr_expect_str_eq(last->name, "lnf.b");
    cr_expect_eq(last->off + last->numel, m->n_params, "L=%d: the last tensor ends at %zu, n_params %zu",
                 L, last->off + last->numel, m->n_params);
    const size_t C = 8, V = 11, T = 4;
    cr_expect_eq(m->n_params, V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C);
    char nm[64];
    snprintf(nm, sizeof nm, "h%d.mlp.proj.b", L - 1);
    const zt_tensor *t = zt_model_tensor(m, nm);
    cr_assert_not_null(t, "no %s", nm);
    cr_expect_eq(t->unit, L);

    float *p = malloc(sizeof(float) * m->n_params), *g = calloc(m->n_params, sizeof(float));
    zt_model_init_range(m, 3, 0, m->n_params, p);
    zt_batch b = {.n = 2};
    int32_t xi[8], y[8];
    for (int i = 0; i < 8; i++) { xi[i] = (i * 3) % 11; y[i] = (i * 5 + 1) % 11; }
    b.xi = xi; b.y = y;
    m->grad_scale = 0.5f;
    double loss = zt_model_loss_and_grad(m, &b, p, g);
    cr_expect(isfinite(loss) && loss > 0, "L=%d: loss %g", L, loss);
    char last_qkv[64];
    snprintf(last_qkv, sizeof last_qkv, "h%d.attn.qkv.w", L - 1);
    const char *probe[] = {"h0.attn.qkv.w", last_qkv, "wte"};
    for (int k = 0; k < 3; k++) {
        const zt_tensor *pt = zt_model_tensor(m, probe[k]);
        cr_assert_not_null(pt);
        double ss = 0;
        for (size_t i = 0; i < pt->numel; i++) ss += (double)g[pt->off + i] * g[pt->off + i];
        cr_expect(isfinite(ss) && ss > 0, "L=%d: gradient of %s is %g", L, probe[k], ss);
    }
    free(p); free(g);
    m->destroy(m);
}
Test(models, gpt_48_layers) { check_deep(48); }
Test(models, gpt_100_layers) { check_deep(100); }

/* a failed add is an error the builder reports, not a crash: units out of
 * order and an over-long name are refused and leave the table as it was */
Test(models, add_tensor_refuses) {
    zt_model *m = make("mlp", 2);
    const int nt = m->n_tensors, nu = m->n_units;
    const size_t np = m->n_params;
    cr_expect_eq(zt_model_add_tensor(m, 0, "late", 3, 0, ZT_INIT_ZEROS, 0), -1);
    char longname[100];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    cr_expect_eq(zt_model_add_tensor(m, nu, longname, 3, 0, ZT_INIT_ZEROS, 0), -1);
    cr_expect(m->n_tensors == nt && m->n_units == nu && m->n_params == np);
    /* and a valid add after them still works, growing the table */
    for (int i = 0; i < 300; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "extra%d", i);
        cr_assert_eq(zt_model_add_tensor(m, nu + i, nm, 2, 0, ZT_INIT_ZEROS, 0), nt + i);
    }
    cr_expect_eq(m->n_units, nu + 300);
    cr_expect_eq(m->n_params, np + 600);
    check_table(m);
    m->destroy(m);
}
