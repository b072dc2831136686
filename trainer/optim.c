/* optim.c — SGD (momentum, Nesterov), AdamW, LR schedule, clipping helpers.
 * See optim.h for the exact update rules (PyTorch 1.13 semantics). Every loop
 * is elementwise, so any partition of a range gives bit-identical results. */
#include "optim.h"
#include "ops.h"      /* zt_ftz_enter/leave: denormals flushed around the loops */
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The update loops are compiled per ISA (AVX-512, AVX2, baseline; picked at
 * load time) and vectorized, but WITHOUT floating-point contraction and with
 * IEEE sqrt/div only, so the vector body and the scalar tail compute every
 * element identically: any partition of a range gives the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(ZT_NO_CLONES)
#define ZT_OPT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), \
                              optimize("O3", "fp-contract=off", "no-math-errno")))
#else
#define ZT_OPT
#endif

void zt_optim_defaults(zt_optim_cfg *c, zt_optim_kind kind) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->beta1 = 0.9f;
    c->beta2 = 0.95f;
    c->eps = 1e-8f;
    c->sched = ZT_LR_COSINE;
    c->min_lr_frac = 0.1f;
    c->grad_clip = 1.0f;
    c->decay_frac = 0.2f;
    if (kind == ZT_OPTIM_SGD) {
        c->lr = 0.1f;
        c->momentum = 0.9f;
        c->weight_decay = 0.0f;
    } else {
        c->lr = 1e-3f;
        c->weight_decay = 0.1f;
    }
}

int zt_optim_kind_parse(const char *name, zt_optim_kind *kind) {
    if (!name) return -1;
    if (strcmp(name, "sgd") == 0) { *kind = ZT_OPTIM_SGD; return 0; }
    if (strcmp(name, "adamw") == 0) { *kind = ZT_OPTIM_ADAMW; return 0; }
    return -1;
}

const char *zt_optim_kind_name(zt_optim_kind kind) {
    return kind == ZT_OPTIM_SGD ? "sgd" : kind == ZT_OPTIM_ADAMW ? "adamw" : "?";
}

int zt_lr_sched_parse(const char *name, zt_lr_sched *s) {
    if (!name) return -1;
    if (strcmp(name, "cosine") == 0) { *s = ZT_LR_COSINE; return 0; }
    if (strcmp(name, "const") == 0 || strcmp(name, "constant") == 0) { *s = ZT_LR_CONST; return 0; }
    if (strcmp(name, "linear") == 0) { *s = ZT_LR_LINEAR; return 0; }
    if (strcmp(name, "wsd") == 0) { *s = ZT_LR_WSD; return 0; }
    return -1;
}

const char *zt_lr_sched_name(zt_lr_sched s) {
    switch (s) {
    case ZT_LR_COSINE: return "cosine";
    case ZT_LR_CONST:  return "constant";
    case ZT_LR_LINEAR: return "linear";
    case ZT_LR_WSD:    return "wsd";
    }
    return "?";
}

const char *zt_optim_validate(const zt_optim_cfg *c) {
    if (c->kind != ZT_OPTIM_SGD && c->kind != ZT_OPTIM_ADAMW) return "optim.name: must be sgd or adamw";
    if (!(c->lr >= 0.0f) || !isfinite(c->lr)) return "optim.lr: must be a finite number >= 0";
    if (!(c->weight_decay >= 0.0f)) return "optim.weight_decay: must be >= 0";
    if (c->kind == ZT_OPTIM_SGD) {
        if (!(c->momentum >= 0.0f && c->momentum < 1.0f)) return "optim.momentum: must be in [0, 1)";
        if (c->nesterov && c->momentum == 0.0f) return "optim.nesterov: needs optim.momentum > 0";
    } else {
        if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f)) return "optim.beta1: must be in [0, 1)";
        if (!(c->beta2 >= 0.0f && c->beta2 < 1.0f)) return "optim.beta2: must be in [0, 1)";
        if (!(c->eps > 0.0f)) return "optim.eps: must be > 0";
    }
    if (!(c->min_lr_frac >= 0.0f && c->min_lr_frac <= 1.0f)) return "optim.min_lr_frac: must be in [0, 1]";
    if (!(c->grad_clip >= 0.0f)) return "optim.grad_clip: must be >= 0 (0 = off)";
    if (!(c->decay_frac >= 0.0f && c->decay_frac <= 1.0f)) return "optim.decay_frac: must be in [0, 1]";
    return NULL;
}

int zt_optim_n_slots(const zt_optim_cfg *c) {
    if (c->kind == ZT_OPTIM_ADAMW) return 2;
    return c->momentum > 0.0f ? 1 : 0;
}

const char *zt_optim_slot_name(const zt_optim_cfg *c, int i) {
    if (c->kind == ZT_OPTIM_ADAMW) return i == 0 ? "m" : i == 1 ? "v" : NULL;
    return (i == 0 && c->momentum > 0.0f) ? "momentum" : NULL;
}

float zt_lr_at(const zt_optim_cfg *c, uint64_t step) {
    double lr = c->lr;
    if (step < c->warmup_steps) return (float)(lr * (double)(step + 1) / (double)c->warmup_steps);
    if (c->sched == ZT_LR_CONST || c->total_steps <= c->warmup_steps) return (float)lr;
    double f = c->min_lr_frac;
    if (step >= c->total_steps) return (float)(lr * f);
    double T = (double)c->total_steps, s = (double)step;
    double d = (double)c->warmup_steps;      /* where the decay starts */
    if (c->sched == ZT_LR_WSD) {
        d = T - (double)c->decay_frac * (T - d);
        if (s < d) return (float)lr;
    }
    double x = (s - d) / (T - d);            /* fraction of the decay done, in [0, 1) */
    if (c->sched == ZT_LR_COSINE) return (float)(lr * (f + (1.0 - f) * 0.5 * (1.0 + cos(M_PI * x))));
    return (float)(lr * (f + (1.0 - f) * (1.0 - x)));   /* linear, and wsd's decay */
}

ZT_OPT static void sgd_step(const zt_optim_cfg *c, float lr, float gs, float *restrict p,
                     const float *restrict g, float *restrict buf, size_t n, float wd) {
    const float mu = c->momentum;
    if (mu == 0.0f || !buf) {
        for (size_t i = 0; i < n; i++) {
            float gi = gs * g[i] + wd * p[i];
            p[i] -= lr * gi;
        }
    } else if (c->nesterov) {
        for (size_t i = 0; i < n; i++) {
            float gi = gs * g[i] + wd * p[i];
            float b = mu * buf[i] + gi;
            buf[i] = b;
            p[i] -= lr * (gi + mu * b);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            float gi = gs * g[i] + wd * p[i];
            float b = mu * buf[i] + gi;
            buf[i] = b;
            p[i] -= lr * b;
        }
    }
}

/* AdamW's inner loop. GCC will not vectorize sqrtf without -fno-math-errno
 * (a global flag), so the SIMD versions are written with intrinsics; they
 * apply exactly the scalar operations in the same order (IEEE mul/add/sub/
 * div/sqrt, no FMA), and handle the tail with masks, so every element gets
 * the same bits whatever the ISA path and wherever the range is cut. */
typedef struct { float b1, b2, ob1, ob2, eps, gs, step_size, rbc2, decay; } adamw_k;

static void adamw_scalar(const adamw_k *k, float *restrict p, const float *restrict g,
                         float *restrict m, float *restrict v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float gi = k->gs * g[i];
        float mi = k->b1 * m[i] + k->ob1 * gi;
        float vi = k->b2 * v[i] + k->ob2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) * k->rbc2 + k->eps;
        p[i] = p[i] * k->decay - k->step_size * (mi / denom);
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(ZT_NO_CLONES)
#include <immintrin.h>
#define ZT_ADAMW_SIMD 1
__attribute__((target("avx512f"), optimize("fp-contract=off"))) static void adamw_avx512(const adamw_k *k, float *restrict p,
                                                            const float *restrict g,
                                                            float *restrict m, float *restrict v,
                                                            size_t n) {
    const __m512 b1 = _mm512_set1_ps(k->b1), b2 = _mm512_set1_ps(k->b2);
    const __m512 ob1 = _mm512_set1_ps(k->ob1), ob2 = _mm512_set1_ps(k->ob2);
    const __m512 eps = _mm512_set1_ps(k->eps), gs = _mm512_set1_ps(k->gs);
    const __m512 ss = _mm512_set1_ps(k->step_size), rbc2 = _mm512_set1_ps(k->rbc2);
    const __m512 decay = _mm512_set1_ps(k->decay);
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 mk = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
        __m512 gi = _mm512_mul_ps(gs, _mm512_maskz_loadu_ps(mk, g + i));
        __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_maskz_loadu_ps(mk, m + i)), _mm512_mul_ps(ob1, gi));
        __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_maskz_loadu_ps(mk, v + i)),
                                  _mm512_mul_ps(ob2, _mm512_mul_ps(gi, gi)));
        _mm512_mask_storeu_ps(m + i, mk, mi);
        _mm512_mask_storeu_ps(v + i, mk, vi);
        __m512 denom = _mm512_add_ps(_mm512_mul_ps(_mm512_sqrt_ps(vi), rbc2), eps);
        __m512 pi = _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, p + i), decay),
                                  _mm512_mul_ps(ss, _mm512_div_ps(mi, denom)));
        _mm512_mask_storeu_ps(p + i, mk, pi);
    }
}
__attribute__((target("avx2"), optimize("fp-contract=off"))) static void adamw_avx2(const adamw_k *k, float *restrict p,
                                                       const float *restrict g, float *restrict m,
                                                       float *restrict v, size_t n) {
    const __m256 b1 = _mm256_set1_ps(k->b1), b2 = _mm256_set1_ps(k->b2);
    const __m256 ob1 = _mm256_set1_ps(k->ob1), ob2 = _mm256_set1_ps(k->ob2);
    const __m256 eps = _mm256_set1_ps(k->eps), gs = _mm256_set1_ps(k->gs);
    const __m256 ss = _mm256_set1_ps(k->step_size), rbc2 = _mm256_set1_ps(k->rbc2);
    const __m256 decay = _mm256_set1_ps(k->decay);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (size_t i = 0; i < n; i += 8) {
        const int left = n - i >= 8 ? 8 : (int)(n - i);
        const __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lane);
        __m256 gi = _mm256_mul_ps(gs, _mm256_maskload_ps(g + i, mk));
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_maskload_ps(m + i, mk)), _mm256_mul_ps(ob1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_maskload_ps(v + i, mk)),
                                  _mm256_mul_ps(ob2, _mm256_mul_ps(gi, gi)));
        _mm256_maskstore_ps(m + i, mk, mi);
        _mm256_maskstore_ps(v + i, mk, vi);
        __m256 denom = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vi), rbc2), eps);
        __m256 pi = _mm256_sub_ps(_mm256_mul_ps(_mm256_maskload_ps(p + i, mk), decay),
                                  _mm256_mul_ps(ss, _mm256_div_ps(mi, denom)));
        _mm256_maskstore_ps(p + i, mk, pi);
    }
}
#endif

static void adamw_step(const zt_optim_cfg *c, uint64_t t, float lr, float gs, float *restrict p,
                       const float *restrict g, float *restrict m, float *restrict v, size_t n,
                       float wd) {
    /* bias corrections in double, rounded once: identical on every rank */
    const double bc1 = 1.0 - pow((double)c->beta1, (double)t);
    const double bc2 = 1.0 - pow((double)c->beta2, (double)t);
    const adamw_k k = {
        .b1 = c->beta1, .b2 = c->beta2, .ob1 = 1.0f - c->beta1, .ob2 = 1.0f - c->beta2,
        .eps = c->eps, .gs = gs, .step_size = (float)((double)lr / bc1),
        .rbc2 = (float)(1.0 / sqrt(bc2)), .decay = 1.0f - lr * wd,
    };
#ifdef ZT_ADAMW_SIMD
    static int isa = -1;   /* 2: AVX-512, 1: AVX2, 0: scalar; fixed per machine */
    if (isa < 0) {
        __builtin_cpu_init();
        isa = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
        const char *e = getenv("ZT_SIMD");   /* tests: force a path */
        if (e && *e >= '0' && *e <= '2' && *e - '0' < isa) isa = *e - '0';
    }
    if (isa == 2) { adamw_avx512(&k, p, g, m, v, n); return; }
    if (isa == 1) { adamw_avx2(&k, p, g, m, v, n); return; }
#endif
    adamw_scalar(&k, p, g, m, v, n);
}

void zt_optim_step(const zt_optim_cfg *c, uint64_t t, float lr, float gscale, float *p,
                   const float *g, float *const *slots, size_t n, float wd) {
    if (n == 0) return;
    const unsigned s = zt_ftz_enter();
    if (c->kind == ZT_OPTIM_ADAMW)
        adamw_step(c, t ? t : 1, lr, gscale, p, g, slots[0], slots[1], n, wd);
    else
        sgd_step(c, lr, gscale, p, g, zt_optim_n_slots(c) ? slots[0] : NULL, n, wd);
    zt_ftz_leave(s);
}

ZT_OPT static double sumsq_k(const float *g, size_t n) {
    /* 16 independent double accumulators (vectorizes); each square of a
     * float is exact in double, only the additions round. */
    double a[16] = {0}, s = 0.0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) a[k] += (double)g[i + k] * (double)g[i + k];
    for (; i < n; i++) s += (double)g[i] * (double)g[i];
    for (int k = 0; k < 16; k++) s += a[k];
    return s;
}

double zt_grad_sumsq(const float *g, size_t n) {
    const unsigned s = zt_ftz_enter();
    double r = sumsq_k(g, n);
    zt_ftz_leave(s);
    return r;
}

double zt_grad_norm(double sumsq) { return sqrt(sumsq); }

float zt_clip_scale(const zt_optim_cfg *c, double sumsq) {
    if (!(c->grad_clip > 0.0f)) return 1.0f;
    double norm = sqrt(sumsq);
    double coef = (double)c->grad_clip / (norm + 1e-6);
    return coef < 1.0 ? (float)coef : 1.0f;
}

float zt_optim_tensor_wd(const zt_optim_cfg *c, const zt_tensor *t) {
    return t->ndim >= 2 ? c->weight_decay : 0.0f;
}
