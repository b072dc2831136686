/* export.c — a ztrain GPT checkpoint as Hugging Face GPT2LMHeadModel files.
 *
 * safetensors: 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__": {...}, "<name>": {"dtype": "F32", "shape": [...],
 *    "data_offsets": [begin, end]}, ...} (padded with spaces to a multiple of
 *   8, as the reference writer does), then the raw little-endian data, offsets
 *   relative to the end of the header.
 *
 * Layouts: ztrain keeps linear weights as [out, in] (y = x·Wᵀ, llm.c); HF's
 * GPT-2 uses Conv1D, [in, out] (y = x·W), so qkv, attn proj, fc and mlp proj
 * are transposed; embeddings and LayerNorm vectors are copied as they are.
 *
 * The head: GPT-2 ties it to wte, and so does the export (no lm_head.weight,
 * "tie_word_embeddings": true). A checkpoint with a separate head.w exports
 * tied when head.w equals wte bit for bit; otherwise head.w is written as
 * lm_head.weight [V, C] (nn.Linear layout, as ztrain's) and config.json says
 * "tie_word_embeddings": false, which GPT2LMHeadModel honours: no weights are
 * dropped silently. */
#include "export.h"
#include <errno.h>        /* errno */
#include <getopt.h>       /* getopt_long */
#include <hdf5.h>         /* the tokenizer dataset in index.h5 */
#include <jansson.h>      /* the safetensors header, config.json */
#include <limits.h>       /* PATH_MAX */
#include <math.h>         /* exp, log */
#include <stdint.h>       /* uint64_t */
#include <stdio.h>        /* FILE, fopen, snprintf */
#include <stdlib.h>       /* malloc, strtol */
#include <string.h>       /* strcmp, memcmp */
#include <unistd.h>       /* fsync */
#include "config.h"       /* zt_config_load_text: n_head from the saved config */
#include "model.h"        /* zt_gpt_create, the forward for logprobs */
#include "zt_ckpt.h"      /* the checkpoint reader (any W, any stage) */
#include "zt_launcher.h"  /* exit codes */
#include "zt_log.h"       /* zt_error, zt_info */

/* ---------------------------------------------------------- name map */

/* Per block: ztrain suffix after "h{i}.", HF suffix after "transformer.h.{i}.",
 * whether the weight is transposed. */
static const struct { const char *zt, *hf; int transpose; } BLOCK_MAP[] = {
    { "ln1.g",       "ln_1.weight",         0 },
    { "ln1.b",       "ln_1.bias",           0 },
    { "attn.qkv.w",  "attn.c_attn.weight",  1 },
    { "attn.qkv.b",  "attn.c_attn.bias",    0 },
    { "attn.proj.w", "attn.c_proj.weight",  1 },
    { "attn.proj.b", "attn.c_proj.bias",    0 },
    { "ln2.g",       "ln_2.weight",         0 },
    { "ln2.b",       "ln_2.bias",           0 },
    { "mlp.fc.w",    "mlp.c_fc.weight",     1 },
    { "mlp.fc.b",    "mlp.c_fc.bias",       0 },
    { "mlp.proj.w",  "mlp.c_proj.weight",   1 },
    { "mlp.proj.b",  "mlp.c_proj.bias",     0 },
};
static const struct { const char *zt, *hf; } TOP_MAP[] = {
    { "wte",   "transformer.wte.weight" },
    { "wpe",   "transformer.wpe.weight" },
    { "lnf.g", "transformer.ln_f.weight" },
    { "lnf.b", "transformer.ln_f.bias" },
};

int zt_hf_name(const char *zt, char *hf, size_t cap, int *transpose) {
    *transpose = 0;
    for (size_t i = 0; i < sizeof TOP_MAP / sizeof TOP_MAP[0]; i++)
        if (!strcmp(zt, TOP_MAP[i].zt)) { snprintf(hf, cap, "%s", TOP_MAP[i].hf); return 0; }
    int l, n = 0;
    if (sscanf(zt, "h%d.%n", &l, &n) != 1 || n == 0) return -1;
    for (size_t i = 0; i < sizeof BLOCK_MAP / sizeof BLOCK_MAP[0]; i++)
        if (!strcmp(zt + n, BLOCK_MAP[i].zt)) {
            snprintf(hf, cap, "transformer.h.%d.%s", l, BLOCK_MAP[i].hf);
            *transpose = BLOCK_MAP[i].transpose;
            return 0;
        }
    return -1;
}

/* ------------------------------------------------------ the checkpoint */

typedef struct {
    int V, T, C, L, NH;
    const zt_ck_tensor *wte, *head;   /* head: NULL for a tied model */
} gpt_shape;

static const zt_ck_tensor *find_tensor(const zt_ck_layout *L, const char *name) {
    for (int i = 0; i < L->n_tensors; i++) if (!strcmp(L->t[i].name, name)) return &L->t[i];
    return NULL;
}

/* The GPT's hyper-parameters from the checkpoint's layout (V, T, C, L) and
 * saved config (n_head). -1 + err for a checkpoint of another model. */
static int gpt_shape_of(zt_ck_reader *r, gpt_shape *g, char *err, size_t errlen) {
    const zt_ck_meta *m = zt_ck_meta_of(r);
    const zt_ck_layout *L = zt_ck_layout_of(r);
    memset(g, 0, sizeof *g);
    const zt_ck_tensor *wpe = find_tensor(L, "wpe");
    g->wte = find_tensor(L, "wte");
    g->head = find_tensor(L, "head.w");
    if (strncmp(m->model, "gpt", 3) || !g->wte || !wpe || g->wte->ndim != 2 || wpe->ndim != 2) {
        snprintf(err, errlen, "%s: a checkpoint of model '%.100s', not a GPT: only GPTs export to GPT2LMHeadModel",
                 zt_ck_dir_of(r), m->model);
        return -1;
    }
    g->V = (int)g->wte->shape[0]; g->C = (int)g->wte->shape[1]; g->T = (int)wpe->shape[0];
    char nm[64];
    for (;; g->L++) { snprintf(nm, sizeof nm, "h%d.ln1.g", g->L); if (!find_tensor(L, nm)) break; }
    zt_config *c = malloc(sizeof *c);
    if (!c) { snprintf(err, errlen, "out of memory"); return -1; }
    char cerr[512];
    int bad = zt_config_load_text(c, m->config, zt_ck_dir_of(r), cerr, sizeof cerr);
    g->NH = bad ? 0 : c->gpt_n_head;
    free(c);
    if (bad) {   /* a config this binary cannot load (keys of another version): its n_head line will do */
        const char *p = strstr(m->config, "\nn_head");
        if (p && sscanf(p, " n_head = %d", &g->NH) == 1) bad = 0;
    }
    if (bad || g->NH <= 0 || g->C % g->NH) {
        snprintf(err, errlen, "%s: cannot tell model.n_head from the saved config (%s)", zt_ck_dir_of(r),
                 bad ? cerr : "n_head does not divide d_model");
        return -1;
    }
    return 0;
}

static int read_tensor(zt_ck_reader *r, const zt_ck_tensor *t, float *out, char *err, size_t errlen) {
    uint64_t n = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
    return zt_ck_read(r, NULL, t->off, t->off + n, out, err, errlen);
}

int zt_ckpt_tokenizer(const zt_ck_reader *r, char *kind, size_t kcap, uint8_t **data, size_t *len,
                      char *err, size_t errlen) {
    uint8_t *k = NULL;
    size_t klen = 0;
    *data = NULL; *len = 0;
    int rk = zt_ck_read_blob(r, "tokenizer_kind", &k, &klen, err, errlen);
    if (rk) return rk;
    snprintf(kind, kcap, "%.*s", (int)klen, (const char *)k);
    free(k);
    return zt_ck_read_blob(r, "tokenizer", data, len, err, errlen);
}

/* ------------------------------------------------------- safetensors */

static void to_le(float *x, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (size_t i = 0; i < n; i++) { uint32_t u; memcpy(&u, &x[i], 4); u = __builtin_bswap32(u); memcpy(&x[i], &u, 4); }
#else
    (void)x; (void)n;
#endif
}

/* One output tensor: where it comes from and how. */
typedef struct {
    char hf[96];
    const zt_ck_tensor *src;
    int transpose;
    uint64_t rows, cols;   /* HF shape (cols = 0: 1-D) */
} out_tensor;

static int write_all(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n ? 0 : -1; }

/* Write a file through path.tmp, fsync, rename: a reader never sees half. */
static FILE *open_tmp(const char *path, char *tmp, size_t cap) {
    snprintf(tmp, cap, "%s.tmp", path);
    return fopen(tmp, "wb");
}
static int close_tmp(FILE *f, const char *tmp, const char *path) {
    int bad = fflush(f) || fsync(fileno(f));
    bad |= fclose(f) != 0;
    if (!bad) bad = rename(tmp, path) != 0;
    if (bad) unlink(tmp);
    return bad ? -1 : 0;
}

static int write_safetensors(zt_ck_reader *r, const out_tensor *o, int n, const char *path, char *err,
                             size_t errlen) {
    const zt_ck_meta *m = zt_ck_meta_of(r);
    json_t *h = json_object(), *meta = json_object();
    char step[32];
    snprintf(step, sizeof step, "%llu", (unsigned long long)m->step);
    json_object_set_new(meta, "format", json_string("pt"));
    json_object_set_new(meta, "source", json_string("ztrain"));
    json_object_set_new(meta, "step", json_string(step));
    json_object_set_new(h, "__metadata__", meta);
    uint64_t at = 0, maxn = 1;
    for (int i = 0; i < n; i++) {
        uint64_t cnt = o[i].rows * (o[i].cols ? o[i].cols : 1);
        json_t *shape = o[i].cols ? json_pack("[II]", (json_int_t)o[i].rows, (json_int_t)o[i].cols)
                                  : json_pack("[I]", (json_int_t)o[i].rows);
        json_object_set_new(h, o[i].hf, json_pack("{s:s,s:o,s:[II]}", "dtype", "F32", "shape", shape,
                                                  "data_offsets", (json_int_t)at, (json_int_t)(at + 4 * cnt)));
        at += 4 * cnt;
        if (cnt > maxn) maxn = cnt;
    }
    char *js = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(h);
    float *a = malloc(maxn * sizeof *a), *b = malloc(maxn * sizeof *b);
    char tmp[PATH_MAX + 64];
    FILE *f = NULL;
    int rc = -1;
    if (!js || !a || !b) { snprintf(err, errlen, "out of memory for %llu floats", (unsigned long long)maxn); goto done; }
    size_t hl = strlen(js), pad = (8 - hl % 8) % 8;
    uint64_t hlen = hl + pad;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hlen >> (8 * i));
    if (!(f = open_tmp(path, tmp, sizeof tmp))) { snprintf(err, errlen, "%.1000s: %s", tmp, strerror(errno)); goto done; }
    int bad = write_all(f, le, 8) || write_all(f, js, hl) || write_all(f, "        ", pad);
    for (int i = 0; i < n && !bad; i++) {
        const zt_ck_tensor *t = o[i].src;
        uint64_t cnt = o[i].rows * (o[i].cols ? o[i].cols : 1);
        if (read_tensor(r, t, a, err, errlen)) { fclose(f); unlink(tmp); goto done; }
        const float *w = a;
        if (o[i].transpose) {   /* ztrain [out=cols, in=rows] -> HF [in=rows, out=cols] */
            for (uint64_t p = 0; p < o[i].cols; p++)
                for (uint64_t q = 0; q < o[i].rows; q++) b[q * o[i].cols + p] = a[p * o[i].rows + q];
            w = b;
        }
        to_le((float *)w, cnt);
        bad = write_all(f, w, 4 * cnt);
    }
    if (bad) { snprintf(err, errlen, "%.1000s: %s", tmp, strerror(errno)); fclose(f); unlink(tmp); goto done; }
    if (close_tmp(f, tmp, path)) { snprintf(err, errlen, "%.1000s: %s", path, strerror(errno)); goto done; }
    rc = 0;
done:
    free(js); free(a); free(b);
    return rc;
}

static int write_config(const gpt_shape *g, int tied, uint64_t step, const char *path, char *err, size_t errlen) {
    json_t *c = json_pack("{s:[s],s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:n,s:s,s:f,s:f,s:f,s:f,s:f,s:b,s:s,s:{s:I}}",
        "architectures", "GPT2LMHeadModel", "model_type", "gpt2",
        "vocab_size", g->V, "n_positions", g->T, "n_ctx", g->T, "n_embd", g->C, "n_layer", g->L,
        "n_head", g->NH, "n_inner",   /* null: 4 * n_embd */
        "activation_function", "gelu_new", "layer_norm_epsilon", 1e-5,
        "resid_pdrop", 0.0, "embd_pdrop", 0.0, "attn_pdrop", 0.0, "initializer_range", 0.02,
        "tie_word_embeddings", tied, "torch_dtype", "float32", "ztrain", "step", (json_int_t)step);
    char tmp[PATH_MAX + 64];
    FILE *f = c ? open_tmp(path, tmp, sizeof tmp) : NULL;
    int bad = !f || json_dumpf(c, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) || fputc('\n', f) == EOF;
    json_decref(c);
    if (f && (bad | close_tmp(f, tmp, path))) bad = 1;
    else if (!f) bad = 1;
    if (bad) snprintf(err, errlen, "%.1000s: %s", path, strerror(errno));
    return bad ? -1 : 0;
}

static int write_bytes(const char *path, const void *p, size_t n, char *err, size_t errlen) {
    char tmp[PATH_MAX + 64];
    FILE *f = open_tmp(path, tmp, sizeof tmp);
    if (!f || write_all(f, p, n) || close_tmp(f, tmp, path)) {
        snprintf(err, errlen, "%.1000s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The head's fate (see the top of this file): 1 tied, 0 exported apart. */
static int head_is_wte(zt_ck_reader *r, const gpt_shape *g, int *tied, char *err, size_t errlen) {
    *tied = 1;
    if (!g->head) return 0;
    uint64_t n = (uint64_t)g->V * g->C;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    int rc = -1;
    if (!a || !b) snprintf(err, errlen, "out of memory");
    else if (!read_tensor(r, g->wte, a, err, errlen) && !read_tensor(r, g->head, b, err, errlen)) {
        *tied = g->head->shape[0] == g->wte->shape[0] && !memcmp(a, b, n * sizeof *a);
        rc = 0;
    }
    free(a); free(b);
    return rc;
}

static int export_safetensors(const char *dir, const char *out) {
    char err[4096];
    if (zt_ck_verify(dir, err, sizeof err) < 0) { zt_error("ckpt export: %s", err); return ZT_EXIT_CKPT; }
    zt_ck_reader *r = zt_ck_open(dir, err, sizeof err);
    if (!r) { zt_error("ckpt export: %s", err); return ZT_EXIT_CKPT; }
    const zt_ck_layout *L = zt_ck_layout_of(r);
    gpt_shape g;
    out_tensor *o = NULL;
    uint8_t *tok = NULL;
    size_t toklen = 0;
    int rc = ZT_EXIT_CKPT, tied = 1, n = 0;
    if (gpt_shape_of(r, &g, err, sizeof err)) { rc = ZT_EXIT_CONFIG; goto fail; }
    if (head_is_wte(r, &g, &tied, err, sizeof err)) goto fail;
    if (!(o = calloc((size_t)L->n_tensors, sizeof *o))) { snprintf(err, sizeof err, "out of memory"); goto fail; }
    for (int i = 0; i < L->n_tensors; i++) {
        const zt_ck_tensor *t = &L->t[i];
        out_tensor *x = &o[n];
        if (t == g.head) {
            if (tied) continue;
            snprintf(x->hf, sizeof x->hf, "lm_head.weight");
        } else if (zt_hf_name(t->name, x->hf, sizeof x->hf, &x->transpose)) {
            snprintf(err, sizeof err, "%.1000s: tensor '%s' has no GPT2LMHeadModel counterpart", dir, t->name);
            rc = ZT_EXIT_CONFIG;
            goto fail;
        }
        x->src = t;
        x->rows = x->transpose ? t->shape[1] : t->shape[0];
        x->cols = t->ndim == 2 ? (x->transpose ? t->shape[0] : t->shape[1]) : 0;
        n++;
    }
    char path[PATH_MAX + 32];
    if (zt_ck_mkdir_p(out, err, sizeof err)) goto fail;
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    if (write_safetensors(r, o, n, path, err, sizeof err)) goto fail;
    snprintf(path, sizeof path, "%s/config.json", out);
    if (write_config(&g, tied, zt_ck_meta_of(r)->step, path, err, sizeof err)) goto fail;
    /* only a SentencePiece model is a file to export (char: the vocabulary string) */
    char tok_kind[32] = "";
    int rt = zt_ckpt_tokenizer(r, tok_kind, sizeof tok_kind, &tok, &toklen, err, sizeof err);
    if (rt < 0) goto fail;
    int have_tok = rt == 0 && !strcmp(tok_kind, "sentencepiece");
    snprintf(path, sizeof path, "%s/tokenizer.model", out);
    if (have_tok && write_bytes(path, tok, toklen, err, sizeof err)) goto fail;
    printf("exported %d tensors of %s (step %llu; V=%d T=%d C=%d L=%d H=%d, head %s) to %s/model.safetensors, "
           "config.json%s\n", n, dir, (unsigned long long)zt_ck_meta_of(r)->step, g.V, g.T, g.C, g.L, g.NH,
           tied ? "tied to wte" : "apart as lm_head.weight (head.w != wte)", out,
           have_tok ? ", tokenizer.model" : " (the checkpoint carries no tokenizer model)");
    rc = 0;
fail:
    if (rc) zt_error("ckpt export: %s", err);
    free(o); free(tok);
    zt_ck_close(r);
    return rc;
}

/* ---------------------------------------------------------- logprobs */

/* Next-token log-probabilities after `prompt`, by the trainer's own forward:
 * the model exposes only its loss, so log p(v) comes from forwards that
 * differ only in the target at the prompt's last position (loss_sum is the
 * sum of the T per-position losses / T, -log p at that position one of them).
 * V forwards: a check for tests and small models, not a sampler. */
static int cmd_logprobs(const char *dir, const char *tokens) {
    char err[4096];
    zt_ck_reader *r = zt_ck_open(dir, err, sizeof err);
    if (!r) { zt_error("ckpt logprobs: %s", err); return ZT_EXIT_CKPT; }
    const zt_ck_layout *CL = zt_ck_layout_of(r);
    gpt_shape g;
    int rc = ZT_EXIT_CONFIG, n = 0;
    float *p = NULL;
    int32_t *x = NULL, *y = NULL;
    double *d = NULL;
    zt_model *m = NULL;
    if (gpt_shape_of(r, &g, err, sizeof err)) goto fail;
    x = calloc((size_t)g.T, sizeof *x); y = calloc((size_t)g.T, sizeof *y);
    if (!x || !y) { snprintf(err, sizeof err, "out of memory"); goto fail; }
    for (const char *s = tokens; *s;) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v >= g.V || n >= g.T || (*end && *end != ',')) {
            snprintf(err, sizeof err, "--tokens: want 1 to %d comma-separated ids in [0, %d), at '%s'", g.T, g.V, s);
            goto fail;
        }
        x[n++] = (int32_t)v;
        s = *end ? end + 1 : end;
    }
    if (!n) { snprintf(err, sizeof err, "--tokens: no token ids"); goto fail; }
    zt_gpt_cfg gc = { .vocab = g.V, .ctx = g.T, .d_model = g.C, .n_layer = g.L, .n_head = g.NH };
    if (!(m = zt_gpt_create(&gc, 1))) { snprintf(err, sizeof err, "cannot build the GPT"); goto fail; }
    int same = m->n_params == CL->n_flat && m->n_tensors == CL->n_tensors;
    for (int i = 0; same && i < m->n_tensors; i++)
        same = !strcmp(m->tensors[i].name, CL->t[i].name) && m->tensors[i].off == CL->t[i].off;
    if (!same) { snprintf(err, sizeof err, "%.1000s: its tensors are not those of this ztrain's GPT", dir); goto fail; }
    rc = ZT_EXIT_CKPT;
    if (!(p = malloc(m->n_params * sizeof *p))) { snprintf(err, sizeof err, "out of memory"); goto fail; }
    if (zt_ck_read(r, NULL, 0, m->n_params, p, err, sizeof err)) goto fail;
    if (!(d = malloc((size_t)g.V * sizeof *d))) { snprintf(err, sizeof err, "out of memory"); goto fail; }
    zt_batch b = { .n = 1, .xi = x, .y = y };
    if (zt_model_check_batch(m, &b, err, sizeof err)) goto fail;   /* parsed above: a bug if not */
    double l0 = 0, mx = 0, z = 0;
    for (int v = 0; v < g.V; v++) {
        y[n - 1] = v;
        m->set_batch(m, &b);
        for (int u = 0; u < m->n_units; u++) m->forward(m, u, p + m->unit_off[u]);
        double l = m->loss_sum(m) * g.T;   /* sum of the T per-position losses */
        if (v == 0) l0 = l;
        d[v] = l0 - l;                     /* log p(v) - log p(0): the other positions cancel */
        if (d[v] > mx) mx = d[v];
    }
    for (int v = 0; v < g.V; v++) z += exp(d[v] - mx);
    for (int v = 0; v < g.V; v++) printf("%d %.9g\n", v, d[v] - mx - log(z));
    rc = 0;
fail:
    if (rc) zt_error("ckpt logprobs: %s", err);
    if (m) m->destroy(m);
    free(p); free(x); free(y); free(d);
    zt_ck_close(r);
    return rc;
}

/* ------------------------------------------------------------ the CLI */

int zt_export_handles(int argc, char **argv) {
    if (argc < 2) return 0;
    if (!strcmp(argv[1], "logprobs")) return 1;
    if (strcmp(argv[1], "export")) return 0;
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--format") || !strncmp(argv[i], "--format=", 9)) return 1;
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
        "usage: ztrain ckpt export DIR OUT --format safetensors\n"
        "           OUT/model.safetensors (Hugging Face GPT2LMHeadModel names), OUT/config.json,\n"
        "           OUT/tokenizer.model when the checkpoint carries one (GPT checkpoints only)\n"
        "       ztrain ckpt export [--optim] DIR OUT.h5 [--format hdf5]   (the default)\n"
        "       ztrain ckpt logprobs DIR --tokens ID,ID,...\n"
        "           next-token log-probabilities after the prompt, one 'id value' line per id\n"
        "           (V forwards of the trainer's model: for tests and small models)\n"
        "DIR: a step dir or a checkpoint root with a `latest` file\n"
        "exit: 0 ok, 2 usage or not a GPT, 5 checkpoint bad, incomplete or missing, or I/O error\n");
}

static const struct option OPTS[] = {
    { "format", required_argument, NULL, 'f' },
    { "tokens", required_argument, NULL, 't' },
    { "optim",  no_argument,       NULL, 'o' },
    { "help",   no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 } };

int zt_export_cmd(int argc, char **argv) {
    const char *sub = argv[1], *format = "hdf5", *tokens = NULL;
    int optim = 0;
    optind = 0; opterr = 0;
    for (int o; (o = getopt_long(argc - 1, argv + 1, ":h", OPTS, NULL)) != -1;) {
        if (o == 'f') format = optarg;
        else if (o == 't') tokens = optarg;
        else if (o == 'o') optim = 1;
        else if (o == 'h') { usage(stdout); return 0; }
        else {
            zt_error("ckpt %s: unknown option or missing value at '%s'", sub, argv[optind]);
            usage(stderr);
            return ZT_EXIT_CONFIG;
        }
    }
    char **pos = argv + 1 + optind;
    int npos = argc - 1 - optind, want = !strcmp(sub, "export") ? 2 : 1;
    if (npos != want) {
        zt_error("ckpt %s: expected %s, got %d argument%s", sub, want == 2 ? "DIR OUT" : "DIR", npos,
                 npos == 1 ? "" : "s");
        usage(stderr);
        return ZT_EXIT_CONFIG;
    }
    if (!strcmp(sub, "export") && !strcmp(format, "hdf5")) {   /* the checkpoint library's export */
        char *av[5] = { argv[0], "export", optim ? "--optim" : pos[0], optim ? pos[0] : pos[1],
                        optim ? pos[1] : NULL };
        return zt_ck_cmd(optim ? 5 : 4, av);
    }
    if (!strcmp(sub, "export") && strcmp(format, "safetensors")) {
        zt_error("ckpt export: --format: want safetensors or hdf5, got '%s'", format);
        return ZT_EXIT_CONFIG;
    }
    if (optim) { zt_error("ckpt %s: --optim goes with --format hdf5 only", sub); return ZT_EXIT_CONFIG; }
    if (!strcmp(sub, "logprobs") && !tokens) { zt_error("ckpt logprobs: --tokens is required"); return ZT_EXIT_CONFIG; }
    char dir[PATH_MAX], err[1024];
    if (zt_ck_locate(pos[0], dir, sizeof dir, err, sizeof err) < 0) {
        zt_error("ckpt %s: %s", sub, err);
        return ZT_EXIT_CKPT;
    }
    return !strcmp(sub, "export") ? export_safetensors(dir, pos[1]) : cmd_logprobs(dir, tokens);
}
