/* model_common.c — what both models share: the tensor table, the
 * counter-based parameter init, and the all-units loss-and-gradient call. */
#include "model.h"
#include "zt_log.h"   /* zt_error */
#include "ops.h"     /* zt_ops: to_host for the loss and argmax helpers */
#include <math.h>     /* sqrt, log, cos */
#include <stdio.h>    /* snprintf */
#include <stdlib.h>   /* realloc, free */
#include <string.h>   /* memset, strcmp, strlen */

/* The next capacity >= need, doubling from 16 so that appending n entries
 * costs O(n) copies; -1 past what an int index can address. */
static int next_cap(int cap, int need) {
    int nc = cap ? cap : 16;
    while (nc < need) {
        if (nc > (1 << 29)) return -1;
        nc *= 2;
    }
    return nc;
}

/* Room for `need` tensors and `need_units` units. A failed realloc leaves the
 * old arrays valid (a bigger one that did succeed is kept, the capacity is
 * only raised once all have), so m stays consistent. 0 on success. */
static int reserve(zt_model *m, int need, int need_units) {
    if (need > m->cap_tensors) {
        int nc = next_cap(m->cap_tensors, need);
        zt_tensor *t = nc < 0 ? NULL : realloc(m->tensors, (size_t)nc * sizeof *t);
        if (!t) return -1;
        m->tensors = t;
        m->cap_tensors = nc;
    }
    if (need_units > m->cap_units) {
        int nc = next_cap(m->cap_units, need_units);
        if (nc < 0) return -1;
        size_t *off = realloc(m->unit_off, (size_t)nc * sizeof *off);
        if (!off) return -1;
        m->unit_off = off;
        size_t *len = realloc(m->unit_len, (size_t)nc * sizeof *len);
        if (!len) return -1;
        m->unit_len = len;
        m->cap_units = nc;
    }
    return 0;
}

int zt_model_add_tensor(zt_model *m, int unit, const char *name, size_t d0, size_t d1,
                        zt_init_kind init, float scale) {
    if (unit < 0 || unit < m->n_units - 1) {
        zt_error("%s: tensor %s added to unit %d after unit %d was opened (units are filled in order)",
                 m->kind, name, unit, m->n_units - 1);
        return -1;
    }
    if (strlen(name) >= sizeof m->tensors[0].name) {
        zt_error("%s: tensor name %s is longer than %zu characters", m->kind, name,
                 sizeof m->tensors[0].name - 1);
        return -1;
    }
    if (reserve(m, m->n_tensors + 1, unit + 1)) {
        zt_error("%s: out of memory for the table entry of tensor %s (%d tensors, unit %d)",
                 m->kind, name, m->n_tensors, unit);
        return -1;
    }
    if (unit >= m->n_units) {            /* opening a new unit at the current end */
        for (int u = m->n_units; u <= unit; u++) {
            m->unit_off[u] = m->n_params;
            m->unit_len[u] = 0;
        }
        m->n_units = unit + 1;
    }
    zt_tensor *t = &m->tensors[m->n_tensors];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->numel = d1 ? d0 * d1 : d0;
    t->off = m->n_params;
    t->unit = unit;
    t->init = init;
    t->init_scale = scale;
    m->n_params += t->numel;
    m->unit_len[unit] += t->numel;
    return m->n_tensors++;
}

void zt_model_free(zt_model *m) {
    if (!m) return;
    free(m->tensors);
    free(m->unit_off);
    free(m->unit_len);
    free(m);
}

const zt_tensor *zt_model_tensor(const zt_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

/* splitmix64's output function. The stream for (seed, i) is
 * mix(mix(seed) + (i+1)·φ): a pure function of the global index. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
#define PHI64 0x9E3779B97F4A7C15ULL
static inline uint64_t rng_at(uint64_t key, uint64_t i) { return mix64(key + (i + 1) * PHI64); }
static inline double u53(uint64_t h) { return (double)(h >> 11) * 0x1.0p-53; } /* [0,1) */

/* Element e (global index): two draws 2e and 2e+1 -> one Box-Muller normal. */
static inline float normal_at(uint64_t key, uint64_t e) {
    double u1 = 1.0 - u53(rng_at(key, 2 * e));      /* (0, 1] */
    double u2 = u53(rng_at(key, 2 * e + 1));
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}
static inline float uniform_at(uint64_t key, uint64_t e) {   /* [-1, 1) */
    return (float)(2.0 * u53(rng_at(key, 2 * e)) - 1.0);
}

void zt_model_init_range(const zt_model *m, uint64_t seed, size_t lo, size_t hi, float *out) {
    if (hi > m->n_params) hi = m->n_params;
    if (lo >= hi) return;
    const uint64_t key = mix64(seed ^ 0x7A7472616E6E3031ULL); /* "ztrann01" */
    /* tensors are sorted by offset and tile [0, n_params) */
    for (int ti = 0; ti < m->n_tensors; ti++) {
        const zt_tensor *t = &m->tensors[ti];
        size_t a = t->off > lo ? t->off : lo;
        size_t b = t->off + t->numel < hi ? t->off + t->numel : hi;
        if (a >= b) continue;
        float *o = out + (a - lo);
        size_t n = b - a;
        switch (t->init) {
        case ZT_INIT_ZEROS:
            memset(o, 0, n * sizeof(float));
            break;
        case ZT_INIT_ONES:
            for (size_t i = 0; i < n; i++) o[i] = 1.0f;
            break;
        case ZT_INIT_NORMAL:
            for (size_t i = 0; i < n; i++) o[i] = t->init_scale * normal_at(key, a + i);
            break;
        case ZT_INIT_UNIFORM:
            for (size_t i = 0; i < n; i++) o[i] = t->init_scale * uniform_at(key, a + i);
            break;
        default:
            memset(o, 0, n * sizeof(float));
        }
    }
}

double zt_model_loss_and_grad(zt_model *m, const zt_batch *b, const float *p, float *g) {
    m->set_batch(m, b);
    for (int u = 0; u < m->n_units; u++) m->forward(m, u, p + m->unit_off[u]);
    for (int u = m->n_units - 1; u >= 0; u--)
        m->backward(m, u, p + m->unit_off[u], g + m->unit_off[u]);
    return m->loss_sum(m);
}

double zt_model_row_loss_sum(const zt_ops *o, float *hbuf, const float *dev, int n) {
    o->to_host(hbuf, dev, (size_t)n * sizeof(float));
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += hbuf[i];
    return sum;
}

int zt_model_argmax_hits(const zt_ops *o, float *hbuf, const float *dev, const int32_t *y, int n, int V) {
    o->to_host(hbuf, dev, (size_t)n * V * sizeof(float));
    int hits = 0;
    for (int i = 0; i < n; i++) {
        const float *p = hbuf + (size_t)i * V;
        int best = 0;
        for (int j = 1; j < V; j++)
            if (p[j] > p[best]) best = j;
        hits += best == y[i];
    }
    return hits;
}

static int check_ids(const int32_t *v, size_t n, size_t per_row, int n_ids, const char *what,
                     char *err, size_t errlen) {
    for (size_t i = 0; v && i < n; i++)
        if ((uint32_t)v[i] >= (uint32_t)n_ids) {
            snprintf(err, errlen, "row %zu, position %zu: %s %d outside [0, %d)", i / per_row,
                     i % per_row, what, v[i], n_ids);
            return -1;
        }
    return 0;
}

int zt_model_check_batch(const zt_model *m, const zt_batch *b, char *err, size_t errlen) {
    size_t per = m->tokens_per_row ? m->tokens_per_row : 1, n = (size_t)b->n * per;
    int gpt = !strcmp(m->kind, "gpt");
    if (gpt && check_ids(b->xi, n, per, m->n_ids, "token id", err, errlen)) return -1;
    return check_ids(b->y, n, per, m->n_ids, gpt ? "target" : "label", err, errlen);
}

const void *zt_model_batch_in(const zt_ops *o, void *dev, const void *host, size_t bytes) {
    if (!o->device) return host;
    o->to_device(dev, host, bytes);
    return dev;
}
