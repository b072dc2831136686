/* sample.c — `ztrain sample DIR`: text from a GPT checkpoint, one process.
 *
 * The checkpoint is read through the checkpoint library (any W or ZeRO stage
 * wrote it: the index maps the flat space over the shards), the model sizes
 * come from the config stored in it, the tokenizer from its index blobs
 * ("tokenizer_kind", "tokenizer": see saver.c). Generation feeds one token at
 * a time through a KV cache (keys and values of every earlier position, per
 * layer), so n tokens cost O(n) forward steps of one position, not O(n²).
 * The same seed gives the same text: the sampler's RNG is ours (splitmix64)
 * and the forward is deterministic on one thread.
 *
 * --check-cache (for tests) runs the training model's full forward over the
 * final sequence and compares its next-token probabilities at every position
 * with the cached path's; exit 1 if any differs by more than 1e-4. */
#include <getopt.h>        /* struct option */
#include <math.h>          /* expf, sqrtf */
#include <stdarg.h>        /* va_list: note() */
#include <stdio.h>         /* printf, fwrite */
#include <stdlib.h>        /* malloc, strtol */
#include <string.h>        /* strcmp, memcpy */
#include <time.h>          /* clock_gettime */
#include "cli.h"           /* zt_cli_getopt */
#include "config.h"        /* zt_config_load_text: the sizes the checkpoint was trained with */
#include "export.h"        /* zt_ckpt_tokenizer: the tokenizer in the index */
#include "model.h"         /* zt_gpt_create, zt_gpt_probs: the full forward of --check-cache */
#include "ops.h"           /* zt_ops_cpu: layernorm, matmul, gelu for one position */
#include "zt_ckpt.h"       /* zt_ck_locate, zt_ck_open, zt_ck_read, zt_ck_read_blob */
#include "zt_launcher.h"   /* exit codes */
#include "zt_log.h"        /* zt_fatal, mallocCheck */
#include "zt_tokenizer.h"  /* SentencePiece encode / decode */

typedef struct {
    zt_gpt_cfg g;
    zt_ck_tensor *t;       /* the checkpoint's tensor table */
    int        n_t;
    zt_model  *m;          /* the training model, built only for --check-cache */
    float     *p;          /* all parameters, flat */
    const float *wte, *wpe, *lnf_g, *lnf_b;
    size_t     blk[12];    /* offsets of h0's tensors relative to h0.ln1.g */
    size_t     blk_stride; /* floats from h{l} to h{l+1} */
    const float *h0;
    float *kc, *vc;        /* KV cache [L, T, C] each */
    float *x, *ln, *qkv, *att, *y, *fc, *tmp, *mean, *rstd, *logits;   /* one position */
    /* tokenizer */
    char       tok_kind[32];
    uint8_t   *tok;        /* char: the vocab string; sentencepiece: the model proto */
    size_t     tok_len;
    zt_spm    *spm;
} lm;

/* Reports go to stderr (zt_info writes stdout, which carries the text). */
__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("ztrain: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const char *const BLK[12] = {"ln1.g", "ln1.b", "attn.qkv.w", "attn.qkv.b", "attn.proj.w",
                                    "attn.proj.b", "ln2.g", "ln2.b", "mlp.fc.w", "mlp.fc.b",
                                    "mlp.proj.w", "mlp.proj.b"};
enum { LN1G, LN1B, QKVW, QKVB, PROJW, PROJB, LN2G, LN2B, FCW, FCB, MPROJW, MPROJB };

/* The checkpoint's tensor `name` with the shape a gpt of s->g gives it; exit
 * 2 naming it when it is missing or shaped otherwise. */
static const float *tensor(lm *s, const char *step, const char *name, uint64_t d0, uint64_t d1) {
    for (int i = 0; i < s->n_t; i++)
        if (!strcmp(s->t[i].name, name)) {
            const zt_ck_tensor *t = &s->t[i];
            if (t->shape[0] != d0 || (d1 && (t->ndim != 2 || t->shape[1] != d1)))
                zt_fatal(ZT_EXIT_CONFIG, "sample: %s: tensor %s is [%llu,%llu], a gpt of its config has [%llu,%llu]",
                         step, name, (unsigned long long)t->shape[0],
                         (unsigned long long)(t->ndim == 2 ? t->shape[1] : 0), (unsigned long long)d0,
                         (unsigned long long)d1);
            return s->p + t->off;
        }
    zt_fatal(ZT_EXIT_CONFIG, "sample: %s has no tensor %s: not a checkpoint of this gpt", step, name);
}

/* Opens the checkpoint under dir: params, sizes, tokenizer. Exits on error:
 * 5 for an unreadable checkpoint, 2 for one that is not a GPT's. */
static void lm_open(lm *s, const char *dir) {
    char step[4096], err[2048];
    if (zt_ck_locate(dir, step, sizeof step, err, sizeof err))
        zt_fatal(ZT_EXIT_CKPT, "sample: %s", err);
    zt_ck_reader *r = zt_ck_open(step, err, sizeof err);
    if (!r) zt_fatal(ZT_EXIT_CKPT, "sample: %s", err);
    const zt_ck_meta *meta = zt_ck_meta_of(r);
    zt_config c;
    if (zt_config_load_text(&c, meta->config, step, err, sizeof err))
        zt_fatal(ZT_EXIT_CKPT, "sample: the config stored in %s: %s", step, err);
    if (strcmp(c.model_name, "gpt"))
        zt_fatal(ZT_EXIT_CONFIG, "sample: %s is a checkpoint of model '%s': sampling needs a gpt", step,
                 c.model_name);
    const zt_ck_layout *L = zt_ck_layout_of(r);
    int V = 0;
    for (int i = 0; i < L->n_tensors; i++)
        if (!strcmp(L->t[i].name, "wte")) V = (int)L->t[i].shape[0];
    if (V <= 1) zt_fatal(ZT_EXIT_CONFIG, "sample: %s has no wte tensor: not a gpt checkpoint", step);
    s->g = (zt_gpt_cfg){.vocab = V, .ctx = c.gpt_ctx, .d_model = c.gpt_d_model,
                        .n_layer = c.gpt_n_layer, .n_head = c.gpt_n_head};
    /* the tensor table must be this model's: its count here, every shape below */
    if (c.gpt_n_layer <= 0 || c.gpt_d_model <= 0 || c.gpt_n_head <= 0 || c.gpt_d_model % c.gpt_n_head ||
        L->n_tensors != 12 * c.gpt_n_layer + 4)
        zt_fatal(ZT_EXIT_CONFIG, "sample: %s: %d tensors, a tied gpt with n_layer %d has %d (written by an "
                 "older, untied gpt?)", step, L->n_tensors, c.gpt_n_layer, 12 * c.gpt_n_layer + 4);
    s->n_t = L->n_tensors;
    s->t = malloc((size_t)s->n_t * sizeof *s->t);
    mallocCheck(s->t);
    memcpy(s->t, L->t, (size_t)s->n_t * sizeof *s->t);
    s->p = malloc(L->n_flat * sizeof(float));
    mallocCheck(s->p);
    if (zt_ck_read(r, NULL, 0, L->n_flat, s->p, err, sizeof err))
        zt_fatal(ZT_EXIT_CKPT, "sample: %s", err);
    int rt = zt_ckpt_tokenizer(r, s->tok_kind, sizeof s->tok_kind, &s->tok, &s->tok_len, err, sizeof err);
    if (rt < 0) zt_fatal(ZT_EXIT_CKPT, "sample: %s", err);
    if (rt)
        zt_fatal(ZT_EXIT_CONFIG, "sample: %s carries no tokenizer (written before checkpoints stored one)", step);
    zt_ck_close(r);
    if (!strcmp(s->tok_kind, "sentencepiece")) {
        if (!(s->spm = zt_spm_load(s->tok, s->tok_len, err, sizeof err)))
            zt_fatal(ZT_EXIT_CKPT, "sample: %s: tokenizer: %s", step, err);
        if (zt_spm_vocab(s->spm) != V)
            zt_fatal(ZT_EXIT_CKPT, "sample: %s: the tokenizer has %d pieces, the model's vocabulary %d",
                     step, zt_spm_vocab(s->spm), V);
    } else if (strcmp(s->tok_kind, "char") || s->tok_len != (size_t)V)
        zt_fatal(ZT_EXIT_CKPT, "sample: %s: tokenizer '%s' of %zu bytes does not fit vocabulary %d", step,
                 s->tok_kind, s->tok_len, V);

    const int T = s->g.ctx, C = s->g.d_model, NL = s->g.n_layer;
    s->wte = tensor(s, step, "wte", (uint64_t)V, (uint64_t)C);
    s->wpe = tensor(s, step, "wpe", (uint64_t)T, (uint64_t)C);
    s->lnf_g = tensor(s, step, "lnf.g", (uint64_t)C, 0);
    s->lnf_b = tensor(s, step, "lnf.b", (uint64_t)C, 0);
    /* h{l}.*: the shapes of model_gpt.c, at the same distance from h{l}.ln1.g in every layer */
    const uint64_t shp[12][2] = {{C, 0}, {C, 0}, {3 * (uint64_t)C, C}, {3 * (uint64_t)C, 0}, {C, C},
                                 {C, 0}, {C, 0}, {C, 0}, {4 * (uint64_t)C, C}, {4 * (uint64_t)C, 0},
                                 {C, 4 * (uint64_t)C}, {C, 0}};
    char nm[64];
    for (int l = 0; l < NL; l++) {
        snprintf(nm, sizeof nm, "h%d.ln1.g", l);
        const float *hl = tensor(s, step, nm, (uint64_t)C, 0);
        if (l == 0) s->h0 = hl;
        if (l == 1) s->blk_stride = (size_t)(hl - s->h0);
        if (l > 1 && hl != s->h0 + (size_t)l * s->blk_stride)
            zt_fatal(ZT_EXIT_CONFIG, "sample: %s: layer %d is not where the gpt layout puts it", step, l);
        for (int i = 0; i < 12; i++) {
            snprintf(nm, sizeof nm, "h%d.%s", l, BLK[i]);
            size_t o = (size_t)(tensor(s, step, nm, shp[i][0], shp[i][1]) - hl);
            if (l == 0) s->blk[i] = o;
            else if (o != s->blk[i])
                zt_fatal(ZT_EXIT_CONFIG, "sample: %s: %s is not where the gpt layout puts it", step, nm);
        }
    }
    size_t kv = (size_t)NL * T * C;
    s->kc = malloc(kv * sizeof(float)); s->vc = malloc(kv * sizeof(float));
    float **one[] = {&s->x, &s->ln, &s->att, &s->y, &s->tmp};
    for (int i = 0; i < 5; i++) *one[i] = malloc((size_t)C * sizeof(float));
    s->qkv = malloc(3 * (size_t)C * sizeof(float));
    s->fc = malloc(8 * (size_t)C * sizeof(float));
    s->mean = malloc(sizeof(float)); s->rstd = malloc(sizeof(float));
    s->logits = malloc((size_t)V * sizeof(float));
    mallocCheck(s->kc); mallocCheck(s->vc); mallocCheck(s->qkv); mallocCheck(s->fc); mallocCheck(s->logits);
    for (int i = 0; i < 5; i++) mallocCheck(*one[i]);
}

/* One position: token `tok` at position `pos` (0..T-1), with the cache holding
 * positions 0..pos-1; appends this position's keys and values and leaves the
 * next-token logits [V] in s->logits. Same arithmetic as model_gpt.c. */
static void lm_step(lm *s, int tok, int pos) {
    const zt_ops *o = &zt_ops_cpu;
    const int T = s->g.ctx, C = s->g.d_model, V = s->g.vocab, NH = s->g.n_head, hs = C / NH;
    const float scale = 1.0f / sqrtf((float)hs);
    for (int c = 0; c < C; c++) s->x[c] = s->wte[(size_t)tok * C + c] + s->wpe[(size_t)pos * C + c];
    float *att = malloc((size_t)(pos + 1) * sizeof(float));
    mallocCheck(att);
    for (int l = 0; l < s->g.n_layer; l++) {
        const float *w = s->h0 + (size_t)l * s->blk_stride;
        const size_t *q = s->blk;
        float *kc = s->kc + (size_t)l * T * C, *vc = s->vc + (size_t)l * T * C;
        o->layernorm_fwd(s->ln, s->mean, s->rstd, s->x, w + q[LN1G], w + q[LN1B], 1, C);
        o->matmul_fwd(s->qkv, s->ln, w + q[QKVW], w + q[QKVB], 1, C, 3 * C);
        memcpy(kc + (size_t)pos * C, s->qkv + C, (size_t)C * sizeof(float));
        memcpy(vc + (size_t)pos * C, s->qkv + 2 * C, (size_t)C * sizeof(float));
        for (int h = 0; h < NH; h++) {   /* causal attention of this query over 0..pos */
            const float *qh = s->qkv + h * hs;
            float mx = -INFINITY, sum = 0;
            for (int t = 0; t <= pos; t++) {
                const float *kh = kc + (size_t)t * C + h * hs;
                float d = 0;
                for (int i = 0; i < hs; i++) d += qh[i] * kh[i];
                att[t] = d * scale;
                if (att[t] > mx) mx = att[t];
            }
            for (int t = 0; t <= pos; t++) { att[t] = expf(att[t] - mx); sum += att[t]; }
            float *yh = s->att + h * hs;
            for (int i = 0; i < hs; i++) yh[i] = 0;
            for (int t = 0; t <= pos; t++) {
                const float *vh = vc + (size_t)t * C + h * hs, pt = att[t] / sum;
                for (int i = 0; i < hs; i++) yh[i] += pt * vh[i];
            }
        }
        o->matmul_fwd(s->tmp, s->att, w + q[PROJW], w + q[PROJB], 1, C, C);
        o->residual_fwd(s->x, s->x, s->tmp, (size_t)C);
        o->layernorm_fwd(s->ln, s->mean, s->rstd, s->x, w + q[LN2G], w + q[LN2B], 1, C);
        o->matmul_fwd(s->fc, s->ln, w + q[FCW], w + q[FCB], 1, C, 4 * C);
        o->gelu_fwd(s->fc + 4 * C, s->fc, (size_t)4 * C);
        o->matmul_fwd(s->tmp, s->fc + 4 * C, w + q[MPROJW], w + q[MPROJB], 1, 4 * C, C);
        o->residual_fwd(s->x, s->x, s->tmp, (size_t)C);
    }
    free(att);
    o->layernorm_fwd(s->ln, s->mean, s->rstd, s->x, s->lnf_g, s->lnf_b, 1, C);
    o->matmul_fwd(s->logits, s->ln, s->wte, NULL, 1, C, V);   /* tied head */
}

static uint64_t splitmix64(uint64_t *st) {
    uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Next token from logits: greedy at temperature 0, else softmax(logits / temp)
 * over the top_k largest (0 = all), drawn with the seeded RNG. */
static int pick(const float *logits, int V, double temp, int top_k, uint64_t *rng) {
    int best = 0;
    for (int i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    if (temp <= 0) return best;
    float kth = -INFINITY;   /* the k-th largest logit: keep those >= it */
    if (top_k > 0 && top_k < V) {
        float *c = malloc((size_t)V * sizeof(float));
        mallocCheck(c);
        memcpy(c, logits, (size_t)V * sizeof(float));
        for (int k = 0; k < top_k; k++) {   /* partial selection: k is small */
            int m = k;
            for (int i = k + 1; i < V; i++) if (c[i] > c[m]) m = i;
            float t = c[k]; c[k] = c[m]; c[m] = t;
        }
        kth = c[top_k - 1];
        free(c);
    }
    double sum = 0;
    for (int i = 0; i < V; i++)
        if (logits[i] >= kth) sum += exp((logits[i] - logits[best]) / temp);
    double u = (double)(splitmix64(rng) >> 11) * (1.0 / 9007199254740992.0) * sum, acc = 0;
    int last = best;
    for (int i = 0; i < V; i++)
        if (logits[i] >= kth) {
            acc += exp((logits[i] - logits[best]) / temp);
            last = i;
            if (u < acc) return i;
        }
    return last;
}

static int32_t *encode(lm *s, const char *text, size_t *n) {
    char err[1024];
    int32_t *ids = NULL;
    if (s->spm) {
        if (zt_spm_encode(s->spm, text, strlen(text), &ids, n, err, sizeof err))
            zt_fatal(ZT_EXIT_CONFIG, "sample: --prompt: %s", err);
        return ids;
    }
    size_t L = strlen(text);
    ids = malloc((L ? L : 1) * sizeof *ids);
    mallocCheck(ids);
    for (size_t i = 0; i < L; i++) {
        const uint8_t *hit = memchr(s->tok, (uint8_t)text[i], s->tok_len);
        if (!hit)
            zt_fatal(ZT_EXIT_CONFIG, "sample: --prompt: byte 0x%02x at %zu is not in the model's %zu-symbol vocabulary",
                     (uint8_t)text[i], i, s->tok_len);
        ids[i] = (int32_t)(hit - s->tok);
    }
    *n = L;
    return ids;
}

static char *decode(lm *s, const int32_t *ids, size_t n, size_t *len) {
    char err[1024];
    if (s->spm) {
        char *t = zt_spm_decode(s->spm, ids, n, len, err, sizeof err);
        if (!t) zt_fatal(ZT_EXIT_INTERNAL, "sample: decode: %s", err);
        return t;
    }
    char *t = malloc(n + 1);
    mallocCheck(t);
    for (size_t i = 0; i < n; i++) t[i] = (char)s->tok[ids[i]];
    t[n] = 0;
    *len = n;
    return t;
}

/* --check-cache: the full forward of the training model over seq[0..n)
 * against the cached path's probabilities; the largest difference. */
static double check_cache(lm *s, const int32_t *seq, int n, const float *cached_logits) {
    const int T = s->g.ctx, V = s->g.vocab;
    s->m = zt_gpt_create(&s->g, 1);
    if (!s->m) zt_fatal(ZT_EXIT_INTERNAL, "sample: --check-cache: cannot build the gpt");
    int same = s->m->n_tensors == s->n_t;
    for (int i = 0; same && i < s->n_t; i++)
        same = !strcmp(s->m->tensors[i].name, s->t[i].name) && s->m->tensors[i].off == s->t[i].off;
    if (!same) zt_fatal(ZT_EXIT_INTERNAL, "sample: --check-cache: the model's layout is not the checkpoint's");
    int32_t *xi = calloc((size_t)T, sizeof *xi), *y = calloc((size_t)T, sizeof *y);
    mallocCheck(xi); mallocCheck(y);
    memcpy(xi, seq, (size_t)n * sizeof *xi);   /* causal: the padding after n is not seen */
    zt_batch b = {.n = 1, .xi = xi, .y = y};
    char why[256];   /* the ids come from the prompt and the sampler: in range unless a bug */
    if (zt_model_check_batch(s->m, &b, why, sizeof why))
        zt_fatal(ZT_EXIT_INTERNAL, "sample: --check-cache: a token outside the vocabulary: %s", why);
    s->m->set_batch(s->m, &b);
    for (int u = 0; u < s->m->n_units; u++) s->m->forward(s->m, u, s->p + s->m->unit_off[u]);
    const float *probs = zt_gpt_probs(s->m);
    double worst = 0;
    for (int t = 0; t < n; t++) {
        const float *lg = cached_logits + (size_t)t * V;
        double mx = lg[0], sum = 0;
        for (int i = 1; i < V; i++) if (lg[i] > mx) mx = lg[i];
        for (int i = 0; i < V; i++) sum += exp(lg[i] - mx);
        for (int i = 0; i < V; i++) {
            double d = fabs(exp(lg[i] - mx) / sum - probs[(size_t)t * V + i]);
            if (d > worst) worst = d;
        }
    }
    free(xi); free(y);
    s->m->destroy(s->m);
    s->m = NULL;
    return worst;
}

static void help(void) {
    printf("usage: ztrain sample DIR [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--seed S]\n"
           "Generates text from the GPT checkpoint under DIR (a checkpoint root: its `latest`;\n"
           "or a step-N folder), written at any W and ZeRO stage, with the tokenizer it carries.\n"
           "One process; prints the prompt and the continuation on stdout, tokens/s on stderr.\n"
           "  --prompt TEXT      start of the text (default: a newline)\n"
           "  --tokens N         tokens to generate (default 200); stops when the context is full\n"
           "  --temperature T    softmax temperature; 0 = greedy (default 0.8)\n"
           "  --top-k K          sample among the K most likely tokens; 0 = all (default 40)\n"
           "  --seed S           the same seed gives the same text (default 1234)\n"
           "  --check-cache      test: compare the KV-cached forward with the full one (exit 1 if > 1e-4)\n"
           "Exit codes: 0 done, 2 usage / not a gpt checkpoint / prompt longer than the context,\n"
           "5 unreadable checkpoint.\n");
}

int zt_sample_main(int argc, char **argv) {
    static const struct option lo[] = {
        {"help", no_argument, NULL, 'h'}, {"prompt", required_argument, NULL, 'p'},
        {"tokens", required_argument, NULL, 'n'}, {"temperature", required_argument, NULL, 't'},
        {"top-k", required_argument, NULL, 'k'}, {"seed", required_argument, NULL, 's'},
        {"check-cache", no_argument, NULL, 'C'}, {0, 0, 0, 0}};
    const char *prompt = "\n";
    long n_new = 200, top_k = 40;
    double temp = 0.8;
    unsigned long long seed = 1234;
    int check = 0, c;
    char *end;
    zt_cli_reset();
    while ((c = zt_cli_getopt("sample", argc, argv, ":hp:n:t:k:s:C", lo)) != -1) {
        switch (c) {
        case 'h': help(); return ZT_EXIT_OK;
        case 'p': prompt = optarg; break;
        case 'n': n_new = strtol(optarg, &end, 10);
            if (end == optarg || *end || n_new < 0) zt_fatal(ZT_EXIT_CONFIG, "sample: --tokens '%s': expected an integer >= 0", optarg);
            break;
        case 't': temp = strtod(optarg, &end);
            if (end == optarg || *end || !(temp >= 0)) zt_fatal(ZT_EXIT_CONFIG, "sample: --temperature '%s': expected a number >= 0", optarg);
            break;
        case 'k': top_k = strtol(optarg, &end, 10);
            if (end == optarg || *end || top_k < 0) zt_fatal(ZT_EXIT_CONFIG, "sample: --top-k '%s': expected an integer >= 0", optarg);
            break;
        case 's': seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end) zt_fatal(ZT_EXIT_CONFIG, "sample: --seed '%s': expected an integer", optarg);
            break;
        case 'C': check = 1; break;
        default: return ZT_EXIT_CONFIG;   /* zt_cli_getopt said why */
        }
    }
    if (argc - optind != 1)
        zt_fatal(ZT_EXIT_CONFIG, "sample: expected one checkpoint DIR, got %d (see `ztrain sample --help`)",
                 argc - optind);
    lm s = {0};
    lm_open(&s, argv[optind]);
    const int T = s.g.ctx, V = s.g.vocab;
    size_t np = 0;
    int32_t *pids = encode(&s, prompt, &np);
    if (np == 0) zt_fatal(ZT_EXIT_CONFIG, "sample: --prompt encodes to no tokens");
    if (np > (size_t)T)
        zt_fatal(ZT_EXIT_CONFIG, "sample: --prompt is %zu tokens, longer than the model's context of %d", np, T);
    size_t cap = np + (size_t)n_new;
    if (cap > (size_t)T) cap = (size_t)T;
    int32_t *seq = malloc((cap + 1) * sizeof *seq);
    float *all = check ? malloc(cap * (size_t)V * sizeof(float)) : NULL;
    mallocCheck(seq);
    if (check) mallocCheck(all);
    memcpy(seq, pids, np * sizeof *seq);
    free(pids);
    uint64_t rng = seed;
    struct timespec t0, t1, c0, c1;   /* wall, and this process's CPU (a shared machine) */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    size_t n = 0, made = 0;
    for (; n < cap; n++) {   /* feed position n; after the prompt, pick the next */
        lm_step(&s, seq[n], (int)n);
        if (all) memcpy(all + n * (size_t)V, s.logits, (size_t)V * sizeof(float));
        if (n + 1 >= np && n + 1 < cap) { seq[n + 1] = pick(s.logits, V, temp, (int)top_k, &rng); made++; }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
    size_t len = 0;
    char *text = decode(&s, seq, n, &len);
    fwrite(text, 1, len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    if ((size_t)n_new > made)
        note("sample: stopped at the context length %d after %zu new tokens", T, made);
    note("sample: %zu prompt + %zu new tokens in %.3f s: %.1f tokens/s over all positions; CPU %.3f s "
         "(%.1f tokens per CPU second; KV cache, 1 process, %s tokenizer, vocab %d)",
         np, made, secs, secs > 0 ? (double)n / secs : 0.0, cpu, cpu > 0 ? (double)n / cpu : 0.0,
         s.tok_kind, V);
    int rc = ZT_EXIT_OK;
    if (check) {
        double d = check_cache(&s, seq, (int)n, all);
        note("sample: --check-cache: %zu positions, largest |p_cache - p_full| = %.3g", n, d);
        if (!(d <= 1e-4)) rc = 1;
    }
    free(text); free(seq); free(all);
    return rc;
}
