/* init_from.c — ckpt.init_from: weights from a safetensors export or a
 * checkpoint into a fresh engine (init_from.h).
 *
 * Every rank opens the source and checks it against the model the same way
 * (the same file gives the same answer), so the ranks agree without talking;
 * one all-reduce MAX of the status still covers a rank that cannot read.
 * Each rank then reads whole tensors that overlap its partition, keeps the
 * overlap, and zt_engine_sync_partitions rebuilds what the stage keeps in
 * full. The head: a model with head.w takes it from the source's
 * head.w / lm_head.weight, or from wte when the source ties them; a model
 * without head.w accepts a source head only when it equals wte. */
#include "init_from.h"
#include <errno.h>        /* errno */
#include <jansson.h>      /* the safetensors header */
#include <limits.h>       /* PATH_MAX */
#include <math.h>         /* ldexpf: float16 subnormals */
#include <stdarg.h>       /* va_list: differ */
#include <stdint.h>       /* uint64_t */
#include <stdio.h>        /* FILE, fopen, snprintf */
#include <stdlib.h>       /* malloc */
#include <string.h>       /* strcmp */
#include <sys/stat.h>     /* stat: file or directory */
#include "comm.h"         /* zt_allreduce, commCheck */
#include "export.h"       /* zt_hf_name: the one name map */
#include "model.h"        /* zt_model tensors */
#include "ops.h"          /* to_device */
#include "zt_ckpt.h"      /* the checkpoint reader */
#include "zt_launcher.h"  /* exit codes */
#include "zt_log.h"       /* zt_error, zt_info */

typedef struct {
    int st;                  /* 1 safetensors, 0 checkpoint */
    char path[PATH_MAX + 32];
    FILE *f; json_t *hdr; uint64_t data0, fsize;     /* safetensors */
    zt_ck_reader *r;                                  /* checkpoint */
    char **diff; int ndiff;  /* the differences found, one line each */
} source;

static void differ(source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void differ(source *s, const char *fmt, ...) {
    char line[512];
    va_list ap; va_start(ap, fmt); vsnprintf(line, sizeof line, fmt, ap); va_end(ap);
    char **d = realloc(s->diff, (size_t)(s->ndiff + 1) * sizeof *d);
    mallocCheck(d);
    s->diff = d;
    d[s->ndiff] = strdup(line);
    mallocCheck(d[s->ndiff]);
    s->ndiff++;
}

static void shape_str(int ndim, const uint64_t *sh, char *out, size_t cap) {
    if (ndim == 2) snprintf(out, cap, "[%llu, %llu]", (unsigned long long)sh[0], (unsigned long long)sh[1]);
    else snprintf(out, cap, "[%llu]", (unsigned long long)sh[0]);
}

/* ------------------------------------------------------------ opening */

static int open_safetensors(source *s, char *err, size_t errlen) {
    unsigned char le[8];
    struct stat st;
    if (!(s->f = fopen(s->path, "rb")) || fstat(fileno(s->f), &st) || fread(le, 1, 8, s->f) != 8) {
        snprintf(err, errlen, "%.1000s: cannot read (%s)", s->path, s->f ? "shorter than 8 bytes" : strerror(errno));
        return -1;
    }
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)le[i] << (8 * i);
    s->fsize = (uint64_t)st.st_size;
    if (n == 0 || n > s->fsize - 8 || n > (1u << 30)) {
        snprintf(err, errlen, "%.1000s: not a safetensors file (header length %llu, file %llu bytes)", s->path,
                 (unsigned long long)n, (unsigned long long)s->fsize);
        return -1;
    }
    char *js = malloc(n);
    mallocCheck(js);
    json_error_t je;
    if (fread(js, 1, n, s->f) != n || !(s->hdr = json_loadb(js, n, 0, &je)) || !json_is_object(s->hdr)) {
        snprintf(err, errlen, "%.1000s: the safetensors header is not a JSON object%s%s", s->path,
                 s->hdr ? "" : ": ", s->hdr ? "" : je.text);
        free(js);
        return -1;
    }
    free(js);
    s->data0 = 8 + n;
    return 0;
}

static int open_source(source *s, const char *p, char *err, size_t errlen) {
    struct stat st;
    char cand[PATH_MAX + 32];
    snprintf(cand, sizeof cand, "%s/model.safetensors", p);
    size_t n = strlen(p);
    if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
        if (n < 12 || strcmp(p + n - 12, ".safetensors")) {
            snprintf(err, errlen, "%s: a file, but not *.safetensors (a checkpoint is a directory)", p);
            return ZT_EXIT_CONFIG;
        }
        s->st = 1; snprintf(s->path, sizeof s->path, "%s", p);
    } else if (stat(cand, &st) == 0) {
        s->st = 1; snprintf(s->path, sizeof s->path, "%s", cand);
    } else {
        if (zt_ck_locate(p, s->path, sizeof s->path, err, errlen) < 0) return ZT_EXIT_CONFIG;
        s->r = zt_ck_open(s->path, err, errlen);
        return s->r ? 0 : ZT_EXIT_CKPT;
    }
    return open_safetensors(s, err, errlen) ? ZT_EXIT_CKPT : 0;
}

/* ------------------------------------------------------ finding tensors */

/* A tensor of the source in ztrain's orientation. */
typedef struct {
    char name[128];        /* its name in the source */
    int ndim, transpose;
    uint64_t shape[2];     /* in ztrain's orientation ([out, in]) */
    const char *dtype;     /* safetensors */
    uint64_t begin;        /* safetensors: file offset; checkpoint: flat offset */
    json_t *entry;
    int matched;           /* a model tensor took this name (whatever its shape) */
} stensor;

static int st_lookup(source *s, const char *hf, stensor *t) {
    json_t *e = json_object_get(s->hdr, hf);
    if (!e && !strncmp(hf, "transformer.", 12)) e = json_object_get(s->hdr, hf + 12);   /* the hub's names */
    if (!e) return -1;
    snprintf(t->name, sizeof t->name, "%s", json_object_get(s->hdr, hf) ? hf : hf + 12);
    t->entry = e;
    t->dtype = json_string_value(json_object_get(e, "dtype"));
    json_t *sh = json_object_get(e, "shape"), *off = json_object_get(e, "data_offsets");
    t->ndim = (int)json_array_size(sh);
    if (t->ndim < 1 || t->ndim > 2 || json_array_size(off) != 2 || !t->dtype) { t->ndim = -1; return 0; }
    uint64_t hs[2] = { (uint64_t)json_integer_value(json_array_get(sh, 0)),
                       t->ndim == 2 ? (uint64_t)json_integer_value(json_array_get(sh, 1)) : 0 };
    t->shape[0] = t->transpose && t->ndim == 2 ? hs[1] : hs[0];
    t->shape[1] = t->transpose && t->ndim == 2 ? hs[0] : hs[1];
    t->begin = s->data0 + (uint64_t)json_integer_value(json_array_get(off, 0));
    uint64_t end = s->data0 + (uint64_t)json_integer_value(json_array_get(off, 1));
    size_t el = !strcmp(t->dtype, "F32") ? 4 : (!strcmp(t->dtype, "F16") || !strcmp(t->dtype, "BF16")) ? 2 : 0;
    if (!el) return 0;   /* dtype reported by the caller */
    if (end > s->fsize || end < t->begin || end - t->begin != el * hs[0] * (t->ndim == 2 ? hs[1] : 1)) t->ndim = -1;
    return 0;
}

/* The source tensor for model tensor `zt` (head.w: the source's head).
 * 0 found (t->ndim -1: malformed entry), -1 absent. */
static int find(source *s, const char *zt, stensor *t) {
    memset(t, 0, sizeof *t);
    if (!s->st) {
        const zt_ck_layout *L = zt_ck_layout_of(s->r);
        for (int i = 0; i < L->n_tensors; i++)
            if (!strcmp(L->t[i].name, zt)) {
                snprintf(t->name, sizeof t->name, "%s", zt);
                t->ndim = L->t[i].ndim; t->shape[0] = L->t[i].shape[0];
                t->shape[1] = t->ndim == 2 ? L->t[i].shape[1] : 0;
                t->begin = L->t[i].off;
                return 0;
            }
        return -1;
    }
    char hf[128];
    if (!strcmp(zt, "head.w")) snprintf(hf, sizeof hf, "lm_head.weight");
    else if (zt_hf_name(zt, hf, sizeof hf, &t->transpose)) return -1;
    return st_lookup(s, hf, t);
}

/* IEEE binary16 -> float, every case (clang 14 has no _Float16 on x86):
 * normals and infinities/NaN rebias the exponent; subnormals are m·2^-24. */
static float half_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    float f;
    if (e == 0) f = ldexpf((float)m, -24);
    else {
        uint32_t bits = e == 31 ? 0x7f800000u | (m << 13) : ((e + 112u) << 23) | (m << 13);
        memcpy(&f, &bits, 4);
    }
    uint32_t b;
    memcpy(&b, &f, 4);
    b |= sign;
    memcpy(&f, &b, 4);
    return f;
}

/* Whole tensor t into out (ztrain orientation, float32). */
static int read_whole(source *s, const stensor *t, float *out, char *err, size_t errlen) {
    uint64_t n = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
    if (!s->st) return zt_ck_read(s->r, NULL, t->begin, t->begin + n, out, err, errlen);
    size_t el = !strcmp(t->dtype, "F32") ? 4 : 2;
    unsigned char *raw = malloc(n ? n * el : 1);
    float *tmp = t->transpose ? malloc(n * sizeof *tmp) : out;
    mallocCheck(raw); mallocCheck(tmp);
    int bad = fseeko(s->f, (off_t)t->begin, SEEK_SET) || fread(raw, el, n, s->f) != n;
    if (bad) snprintf(err, errlen, "%.1000s: cannot read %s (%s)", s->path, t->name, strerror(errno));
    for (uint64_t i = 0; !bad && i < n; i++) {   /* little-endian bytes, whatever the host */
        const unsigned char *b = raw + i * el;
        if (el == 4) { uint32_t u = b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24; memcpy(&tmp[i], &u, 4); }
        else if (!strcmp(t->dtype, "BF16")) { uint32_t u = (uint32_t)(b[0] | b[1] << 8) << 16; memcpy(&tmp[i], &u, 4); }
        else tmp[i] = half_to_float((uint16_t)(b[0] | b[1] << 8));
    }
    if (!bad && t->transpose)   /* HF [in = shape[1], out = shape[0]] -> ztrain [out, in] */
        for (uint64_t o = 0; o < t->shape[0]; o++)
            for (uint64_t i = 0; i < t->shape[1]; i++) out[o * t->shape[1] + i] = tmp[i * t->shape[0] + o];
    free(raw);
    if (t->transpose) free(tmp);
    return bad ? -1 : 0;
}

/* ------------------------------------------------------------ checking */

static int is_buffer(const char *name) {   /* HF's attention-mask buffers */
    size_t n = strlen(name);
    return (n > 10 && !strcmp(name + n - 10, ".attn.bias")) || (n > 17 && !strcmp(name + n - 17, ".attn.masked_bias"));
}

/* Every difference between the model's tensors and the source's, into
 * s->diff. tens[i]: the source tensor for model tensor i (ndim 0: none
 * usable; wte's stands in for a tied head). */
static void check(source *s, const zt_model *m, stensor *tens) {
    const char *kind = s->st ? "safetensors" : "checkpoint";
    const zt_tensor *wte = zt_model_tensor(m, "wte");
    int used_head = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const zt_tensor *mt = &m->tensors[i];
        stensor *t = &tens[i];
        char want[48], got[48];
        uint64_t msh[2] = { mt->shape[0], mt->ndim == 2 ? mt->shape[1] : 0 };
        shape_str(mt->ndim, msh, want, sizeof want);
        int found = find(s, mt->name, t) == 0;
        if (!found && !strcmp(mt->name, "head.w")) found = find(s, "wte", t) == 0;   /* tied source */
        else if (found && !strcmp(mt->name, "head.w")) used_head = 1;
        if (!found) { differ(s, "%s %s: not in the %s", mt->name, want, kind); t->ndim = 0; continue; }
        t->matched = 1;
        if (t->ndim < 0) { differ(s, "%s: the %s entry %s is malformed", mt->name, kind, t->name); t->ndim = 0; continue; }
        if (s->st && strcmp(t->dtype, "F32") && strcmp(t->dtype, "F16") && strcmp(t->dtype, "BF16")) {
            differ(s, "%s: %s has dtype %s (F32, F16 or BF16 are read)", mt->name, t->name, t->dtype);
            t->ndim = 0; continue;
        }
        shape_str(t->ndim, t->shape, got, sizeof got);
        if (t->ndim != mt->ndim || t->shape[0] != msh[0] || t->shape[1] != msh[1]) {
            int vocab = (mt == wte || !strcmp(mt->name, "head.w")) && t->ndim == 2 && t->shape[1] == msh[1];
            if (vocab)
                differ(s, "vocabulary: %s has %llu rows in the %s (%s), the model %zu (the dataset's vocab_size)",
                       mt->name, (unsigned long long)t->shape[0], kind, t->name, mt->shape[0]);
            else
                differ(s, "%s: shape %s in the %s (%s%s), %s in the model", mt->name, got, kind, t->name,
                       t->transpose ? ", as ztrain orients it" : "", want);
            t->ndim = 0;
        }
    }
    /* what the source has and the model does not take */
    if (s->st) {
        const char *k; json_t *v;
        json_object_foreach(s->hdr, k, v) {
            if (!strcmp(k, "__metadata__") || is_buffer(k)) continue;
            int taken = 0;
            for (int i = 0; i < m->n_tensors && !taken; i++) taken = tens[i].matched && !strcmp(tens[i].name, k);
            if (!taken && !strcmp(k, "lm_head.weight") && !used_head) continue;   /* checked against wte below */
            if (!taken) differ(s, "%s: in the safetensors file, not in the model", k);
        }
    } else {
        const zt_ck_layout *L = zt_ck_layout_of(s->r);
        for (int i = 0; i < L->n_tensors; i++) {
            if (!strcmp(L->t[i].name, "head.w") && !used_head) continue;
            if (!zt_model_tensor(m, L->t[i].name))
                differ(s, "%s: in the checkpoint, not in the model", L->t[i].name);
        }
    }
}

/* A model that ties its head takes a source head only when it equals wte. */
static void check_tied_head(source *s, const zt_model *m, const stensor *tens) {
    stensor h, w;
    if (zt_model_tensor(m, "head.w") || find(s, "head.w", &h) || find(s, "wte", &w)) return;
    const zt_tensor *wte = zt_model_tensor(m, "wte");
    if (h.ndim != w.ndim || h.shape[0] != w.shape[0] || h.shape[1] != w.shape[1] ||
        (s->st && (!h.dtype || !w.dtype || strcmp(h.dtype, w.dtype)))) {
        differ(s, "%s: a separate head in the source, and the model ties its head to wte", h.name);
        return;
    }
    uint64_t n = w.shape[0] * w.shape[1];
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    mallocCheck(a); mallocCheck(b);
    char err[512];
    if (read_whole(s, &h, a, err, sizeof err) || read_whole(s, &w, b, err, sizeof err))
        differ(s, "%s", err);
    else if (memcmp(a, b, n * sizeof *a))
        differ(s, "%s differs from %s, and the model ties its head to wte (weights would be lost)", h.name,
               wte && tens ? w.name : "wte");
    free(a); free(b);
}

/* ------------------------------------------------------------- loading */

void zt_init_from(const zt_config *cfg, zt_engine *e, int rank) {
    const zt_model *m = zt_engine_model(e);
    zt_comm *ctl = zt_engine_ctl(e);
    source s = { 0 };
    char err[2048] = "";
    stensor *tens = calloc((size_t)m->n_tensors, sizeof *tens);
    mallocCheck(tens);
    int64_t code = open_source(&s, cfg->ckpt_init_from, err, sizeof err);
    if (!code && !s.st && zt_ck_verify_shards(s.r, rank, zt_engine_world(e), err, sizeof err)) code = ZT_EXIT_CKPT;
    if (!code) {
        check(&s, m, tens);
        check_tied_head(&s, m, tens);
        if (s.ndiff) code = ZT_EXIT_CONFIG;
    }
    size_t plo, plen;
    zt_engine_partition(e, &plo, &plen);
    float *h = calloc(plen ? plen : 1, sizeof *h), *whole = NULL;
    mallocCheck(h);
    for (int i = 0; !code && i < m->n_tensors; i++) {
        const zt_tensor *mt = &m->tensors[i];
        size_t a = mt->off > plo ? mt->off : plo, b = mt->off + mt->numel < plo + plen ? mt->off + mt->numel : plo + plen;
        if (a >= b) continue;   /* not in this rank's partition */
        float *w = realloc(whole, mt->numel * sizeof *w);
        mallocCheck(w);
        whole = w;
        if (read_whole(&s, &tens[i], whole, err, sizeof err)) code = ZT_EXIT_CKPT;
        else memcpy(h + (a - plo), whole + (a - mt->off), (b - a) * sizeof *h);
    }
    free(whole);
    int64_t any = 0;
    commCheck(ctl, zt_allreduce(ctl, &code, &any, 1, ZT_I64, ZT_MAX), "allreduce", "ckpt.init_from status",
              "at start");
    if (any) {
        if (s.ndiff && rank == 0) {
            zt_error("ckpt.init_from = %s does not fit the model: %d difference%s", s.path, s.ndiff,
                     s.ndiff == 1 ? "" : "s");
            for (int i = 0; i < s.ndiff; i++) zt_error("  %s", s.diff[i]);
        } else if (!s.ndiff && code) zt_error("ckpt.init_from = %s: %s", cfg->ckpt_init_from, err);
        zt_exit_now(any == ZT_EXIT_CKPT ? ZT_EXIT_CKPT : ZT_EXIT_CONFIG);
    }
    zt_engine_ops(e)->to_device(zt_engine_param_part(e), h, plen * sizeof *h);
    free(h);
    zt_engine_sync_partitions(e);   /* the stage's full copies, from the partitions */
    if (rank == 0)
        zt_info("ckpt.init_from: %d tensors from %s (%s): weights only, fresh optimizer, step 0", m->n_tensors,
                s.path, s.st ? "safetensors" : "checkpoint");
    for (int i = 0; i < s.ndiff; i++) free(s.diff[i]);
    free(s.diff); free(tens);
    if (s.f) fclose(s.f);
    json_decref(s.hdr);
    zt_ck_close(s.r);
}
