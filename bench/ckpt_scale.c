/* ckpt_scale.c — a checkpoint written by W ranks, simulated in one process
 * through the real checkpoint library (issue 16): how the format's metadata
 * work grows with W. bench/ckpt_scale.sh runs it and adds the h5py and
 * `ztrain ckpt verify` lines.
 *
 *   ckpt_scale --dir DIR --W W [--model gpt2|gpt2-medium|small|tiny] [--scale K]
 *              [--node N] [--samples S]
 *
 * Tensor table: trainer/models/model_gpt.c's (wte, wpe, per layer ln1.g/b,
 * attn.qkv.w/b, attn.proj.w/b, ln2.g/b, mlp.fc.w/b, mlp.proj.w/b; lnf.g/b,
 * head.w) with GPT-2's V=50257, T=1024, C=768 L=12 (gpt2) or C=1024 L=24
 * (gpt2-medium); --scale K divides V, T and C by K (same tensor count and
 * the same number of pieces per shard, 1/K^2 of the bytes). AdamW: params +
 * slots m and v. ZeRO-3 partition zt_part(P, W, r) (the saver's). --node N:
 * the per-node layout, N consecutive ranks' partitions in one file (shards =
 * ceil(W/N)).
 * Values: element i of slot s (0 = params, 1 = m, 2 = v) is
 * (float)(i % 100003) * 1e-3f + s, recomputed by every check (h5py too).
 * Prints one "key value" line each:
 *   shards_write_s index_write_s commit_s index_bytes open_s
 *   resume_<W'>_per_rank_ms (mean over up to S sampled ranks: open (rank 0
 *   fully, the others ZT_CK_OPEN_TRUSTED, as trainer/saver.c) + layout check
 *   + read params, m, v of its partition, compared with the values). */
#define _GNU_SOURCE
#include <stdio.h>      /* printf */
#include <stdlib.h>     /* malloc, strtol */
#include <string.h>     /* strcmp */
#include <sys/stat.h>   /* stat: index size */
#include <time.h>       /* clock_gettime */
#include <unistd.h>     /* link */
#include "bench_util.h"   /* now, die, part */
#include "zt_ckpt.h"    /* the library under test */

static float val(uint64_t i, int slot) { return (float)(i % 100003) * 1e-3f + (float)slot; }

static zt_ck_tensor *T;
static int NT;
static uint64_t P;

static void add(const char *name, uint64_t d0, uint64_t d1) {
    T = realloc(T, sizeof *T * (size_t)(NT + 1));
    zt_ck_tensor *t = &T[NT++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1 ? d1 : 1;
    t->off = P;
    P += d0 * (d1 ? d1 : 1);
}

static void gpt(int V, int Tc, int C, int L) {
    add("wte", (uint64_t)V, (uint64_t)C);
    add("wpe", (uint64_t)Tc, (uint64_t)C);
    for (int l = 0; l < L; l++) {
        char nm[64];
        struct { const char *sfx; uint64_t d0, d1; } s[] = {
            {"ln1.g", C, 0}, {"ln1.b", C, 0}, {"attn.qkv.w", 3 * (uint64_t)C, C}, {"attn.qkv.b", 3 * (uint64_t)C, 0},
            {"attn.proj.w", C, C}, {"attn.proj.b", C, 0}, {"ln2.g", C, 0}, {"ln2.b", C, 0},
            {"mlp.fc.w", 4 * (uint64_t)C, C}, {"mlp.fc.b", 4 * (uint64_t)C, 0},
            {"mlp.proj.w", C, 4 * (uint64_t)C}, {"mlp.proj.b", C, 0}};
        for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
            snprintf(nm, sizeof nm, "h%d.%s", l, s[i].sfx);
            add(nm, s[i].d0, s[i].d1);
        }
    }
    add("lnf.g", (uint64_t)C, 0);
    add("lnf.b", (uint64_t)C, 0);
    add("head.w", (uint64_t)V, (uint64_t)C);
}

int main(int argc, char **argv) {
    const char *dir = NULL, *model = "gpt2";
    int W = 64, K = 1, node = 1, samples = 16;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--W")) W = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--scale")) K = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--node")) node = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--samples")) samples = atoi(argv[i + 1]);
        else die("usage", "ckpt_scale --dir DIR --W W [--model gpt2|gpt2-medium] [--scale K] [--node N] [--samples S]");
    }
    if (!dir || W < 1 || K < 1 || node < 1) die("usage", "--dir and W >= 1 needed");
    int C = !strcmp(model, "gpt2-medium") ? 1024 : 768, L = !strcmp(model, "gpt2-medium") ? 24 : 12;
    if (!strcmp(model, "tiny")) gpt(16, 4, 4, 1);   /* test fixtures: a few KB */
    else if (!strcmp(model, "small")) gpt(96, 64, 256, 4);   /* bench/ckpt_async.sh's gpt (char vocab ~96) */
    else gpt(50257 / K, 1024 / K, C / K, L);
    zt_ck_layout lay = {.n_tensors = NT, .t = T, .n_flat = P, .n_slots = 2, .slot = {"m", "v"}};
    float *buf = malloc(sizeof(float) * 3 * P);
    if (!buf) die("malloc", "out of memory");
    for (uint64_t i = 0; i < P; i++)
        for (int s = 0; s < 3; s++) buf[(size_t)s * P + i] = val(i, s);
    char err[8192], tmp[4096], step[4096];
    int NS = (W + node - 1) / node;   /* files */
    uint64_t *lo = malloc(8 * (size_t)NS), *hi = malloc(8 * (size_t)NS);
    uint32_t *crc = malloc(4 * (size_t)NS);
    printf("model %s scale %d tensors %d params %llu W %d files %d\n", model, K, NT, (unsigned long long)P, W, NS);

    if (zt_ck_prepare(dir, 1, err, sizeof err)) die("prepare", err);
    zt_ck_tmp_path(dir, 1, tmp, sizeof tmp);
    double t0 = now();
    for (int f = 0; f < NS; f++) {
        uint64_t a, b, x, y;
        part(P, W, f * node, &a, &b);
        part(P, W, (f + 1) * node - 1 < W ? (f + 1) * node - 1 : W - 1, &x, &y);
        lo[f] = a, hi[f] = y > a ? y : a;
        if (hi[f] < lo[f]) hi[f] = lo[f];
        const float *sl[2] = {buf + P + lo[f], buf + 2 * P + lo[f]};
        if (zt_ck_write_shard(tmp, f, NS, &lay, lo[f], hi[f], buf + lo[f], sl, &crc[f], err, sizeof err))
            die("write_shard", err);
    }
    double t1 = now();
    zt_ck_meta *m = calloc(1, sizeof *m);
    m->step = 1, m->world = W, m->stage = 3, m->seed = 1;
    snprintf(m->model, sizeof m->model, "%s scale %d", model, K);
    snprintf(m->optim, sizeof m->optim, "adamw");
    if (zt_ck_write_index(tmp, NS, &lay, lo, hi, crc, m, err, sizeof err)) die("write_index", err);
    double t2 = now();
    if (zt_ck_commit(dir, 1, 0, 0, err, sizeof err)) die("commit", err);
    double t3 = now();
    /* a second save of the same run: same layout and ranges, new CRCs */
    if (zt_ck_prepare(dir, 2, err, sizeof err)) die("prepare", err);
    char tmp2[4096];
    zt_ck_tmp_path(dir, 2, tmp2, sizeof tmp2);
    for (int f = 0; f < NS; f++) {   /* the shard files, renamed in: the index must see them */
        char a[8192], b[8192];
        snprintf(a, sizeof a, "%s/step-00000001/shard-%05d-of-%05d.h5", dir, f, NS);
        snprintf(b, sizeof b, "%s/shard-%05d-of-%05d.h5", tmp2, f, NS);
        if (link(a, b)) die("link", b);
    }
    m->step = 2;
    double t4 = now();
    if (zt_ck_write_index(tmp2, NS, &lay, lo, hi, crc, m, err, sizeof err)) die("write_index", err);
    double t5 = now();
    zt_ck_abandon(dir, 2);
    snprintf(step, sizeof step, "%s/step-00000001/index.h5", dir);
    struct stat st;
    stat(step, &st);
    snprintf(step, sizeof step, "%s/step-00000001", dir);
    printf("shards_write_s %.3f\nindex_write_s %.3f (next save of the run: %.3f)\ncommit_s %.3f\nindex_bytes %lld\n",
           t1 - t0, t2 - t1, t5 - t4, t3 - t2, (long long)st.st_size);
    t0 = now();
    zt_ck_reader *r = zt_ck_open(step, err, sizeof err);
    if (!r) die("open", err);
    printf("open_s %.3f\n", now() - t0);
    zt_ck_close(r);

    int wps[2] = {W / 2 > 0 ? W / 2 : 1, W - 1 > 0 ? W - 1 : 1};
    float *out = malloc(sizeof(float) * (P / (uint64_t)wps[0] + 2));
    for (int k = 0; k < 2; k++) {
        int Wp = wps[k], n = samples < Wp ? samples : Wp;
        double tot = 0, mx = 0;
        for (int j = 0; j < n; j++) {
            int rp = (int)((long long)j * Wp / n);
            uint64_t a, b;
            part(P, Wp, rp, &a, &b);
            t0 = now();
            /* as the saver does: rank 0 opens fully, the others trusted */
            zt_ck_reader *q = zt_ck_open_ex(step, rp == 0 ? 0 : ZT_CK_OPEN_TRUSTED, err, sizeof err);
            if (!q || zt_ck_check_layout(q, &lay, err, sizeof err)) die("resume open", err);
            for (int s = 0; s < 3; s++) {
                if (zt_ck_read(q, s ? lay.slot[s - 1] : NULL, a, b, out, err, sizeof err)) die("resume read", err);
                for (uint64_t i = a; i < b; i++)
                    if (out[i - a] != val(i, s)) {
                        fprintf(stderr, "ckpt_scale: W'=%d rank %d slot %d element %llu: %g, wrote %g\n", Wp, rp, s,
                                (unsigned long long)i, out[i - a], val(i, s));
                        return 1;
                    }
            }
            zt_ck_close(q);
            double dt = now() - t0;
            tot += dt;
            if (dt > mx) mx = dt;
        }
        printf("resume_%d_per_rank_ms %.1f (max %.1f over %d sampled ranks)\n", Wp, 1e3 * tot / n, 1e3 * mx, n);
    }
    /* the first element of every tensor, for the h5py check */
    printf("expect wte[0,1] %.9g h5[1] %.9g\n", (double)val(T[0].off + 1, 0), (double)val(T[NT - 1].off + 1, 0));
    free(out), free(buf), free(lo), free(hi), free(crc), free(m), free(T);
    return 0;
}
