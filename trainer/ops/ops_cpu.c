/* ops_cpu.c — the CPU op table: matrix products through OpenBLAS cblas_sgemm
 * (threads set by the trainer), everything else plain C loops.
 * Contract and shapes: ops.h. */
#include "ops.h"
#include "optim.h"     /* zt_optim_step behind the table's optim_step */
#include <cblas.h>     /* cblas_sgemm */
#include <math.h>      /* sqrtf, logf */
#include <stdlib.h>    /* posix_memalign, free, getenv */
#include <string.h>    /* memset, memcpy */
#include <strings.h>   /* strcasecmp */

/* Hot loops are compiled three times (AVX-512, AVX2+FMA, baseline x86-64)
 * and picked once at load time (GCC target_clones / ifunc), so one binary
 * runs everywhere and vectorizes where it can. The choice is fixed per
 * machine, so results are reproducible run to run. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(ZT_NO_CLONES)
#define ZT_VEC __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("O3")))
#else
#define ZT_VEC
#endif

/* Denormals: every CPU op (and the optimizer, optim.c) runs with denormals
 * flushed to zero (MXCSR FTZ|DAZ, set on entry and restored on exit), as
 * TensorFlow's CPU kernels do: x86 takes a ~100-cycle assist per denormal
 * operand or result, and training produces them (tiny gradients, Adam's v):
 * measured 2.6x on the mlp bench. Values below 1.2e-38 become 0. */
#if defined(__x86_64__) || defined(__SSE__)
#include <xmmintrin.h>   /* _mm_getcsr, _mm_setcsr */
unsigned zt_ftz_enter(void) {
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u);   /* FTZ (bit 15) | DAZ (bit 6) */
    return old;
}
void zt_ftz_leave(unsigned old) { _mm_setcsr(old); }
#else
unsigned zt_ftz_enter(void) { return 0; }
void zt_ftz_leave(unsigned old) { (void)old; }
#endif

/* ---- vectorizable scalar helpers (inlined into the ZT_VEC loops) ------- */

/* Σ x[0..n) with 16 partial sums (vectorizes without -ffast-math) */
static inline float sum16(const float *x, int n) {
    float a[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) a[k] += x[i + k];
    float s = 0.0f;
    for (; i < n; i++) s += x[i];
    for (int k = 0; k < 16; k++) s += a[k];
    return s;
}
static inline float dot16(const float *x, const float *y, int n) {
    float a[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) a[k] += x[i + k] * y[i + k];
    float s = 0.0f;
    for (; i < n; i++) s += x[i] * y[i];
    for (int k = 0; k < 16; k++) s += a[k];
    return s;
}
static inline float max16(const float *x, int n) {
    float a[16];
    for (int k = 0; k < 16; k++) a[k] = x[0];
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) a[k] = x[i + k] > a[k] ? x[i + k] : a[k];
    float m = x[0];
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    for (int k = 0; k < 16; k++) m = a[k] > m ? a[k] : m;
    return m;
}

/* e^x, Cephes-style: x = n·ln2 + r, |r| <= ln2/2, degree-6 polynomial,
 * 2^n through the exponent bits. Relative error ~1e-7 for x in [-87, 88];
 * arithmetic only, so the loops around it vectorize. */
static inline float exp_fast(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float magic = 12582912.0f;                 /* 1.5·2^23: round to nearest */
    float n = (x * 1.44269504088896341f + magic) - magic;
    float r = x - n * 0.693359375f;                  /* ln2, split hi/lo */
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { uint32_t u; float f; } s = {.u = (uint32_t)((int32_t)n + 127) << 23};
    return p * s.f;
}

/* tanh as a [13/6] rational function on [-7.9, 7.9] (Eigen's float tanh),
 * max error a few ulp; arithmetic only. */
static inline float tanh_fast(float x) {
    const float c = 7.90531110763549805f;
    x = x < -c ? -c : x;
    x = x > c ? c : x;
    const float x2 = x * x;
    float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
    p = x2 * p + -8.60467152213735e-11f;
    p = x2 * p + 5.12229709037114e-08f;
    p = x2 * p + 1.48572235717979e-05f;
    p = x2 * p + 6.37261928875436e-04f;
    p = x2 * p + 4.89352455891786e-03f;
    p = x * p;
    float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
    q = x2 * q + 2.26843463243900e-03f;
    q = x2 * q + 4.89352518554385e-03f;
    return p / q;
}

/* ---- memory ------------------------------------------------------------ */

static void *cpu_alloc(size_t bytes) {
    void *p = NULL;
    size_t sz = (bytes + 63) & ~(size_t)63;
    if (sz == 0) sz = 64;
    if (posix_memalign(&p, 64, sz) != 0) return NULL;
    memset(p, 0, sz);
    return p;
}
static void cpu_free(void *p) { free(p); }
static void cpu_zero(void *p, size_t bytes) { if (bytes) memset(p, 0, bytes); }
static void cpu_copy(void *dst, const void *src, size_t bytes) {
    if (bytes && dst != src) memmove(dst, src, bytes);
}
static void cpu_sync(void) {}

/* ---- linear ------------------------------------------------------------ */

/* dbias[OC] += Σ_rows dout[N,OC] */
ZT_VEC static void colsum_acc(float *restrict dbias, const float *restrict dout, int N, int OC) {
    for (int i = 0; i < N; i++) {
        const float *r = dout + (size_t)i * OC;
        for (int o = 0; o < OC; o++) dbias[o] += r[o];
    }
}

/* out [N,OC] = inp [N,C] · w [OC,C]ᵀ (+ bias [OC], copied in first as beta = 1) */
static void cpu_matmul_fwd(float *out, const float *inp, const float *w, const float *bias,
                           int N, int C, int OC) {
    const unsigned ftz_ = zt_ftz_enter();
    float beta = 0.0f;
    if (bias) {
        for (int i = 0; i < N; i++) memcpy(out + (size_t)i * OC, bias, (size_t)OC * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C, beta,
                out, OC);
    zt_ftz_leave(ftz_);
}

/* dout [N,OC]; inp [N,C]; w [OC,C] */
static void cpu_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout,
                           const float *inp, const float *w, int N, int C, int OC) {
    const unsigned ftz_ = zt_ftz_enter();
    if (dinp)  /* dinp[N,C] += dout[N,OC] · w[OC,C] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, w, C,
                    1.0f, dinp, C);
    if (dw)    /* dw[OC,C] += doutᵀ[OC,N] · inp[N,C] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f,
                    dw, C);
    if (dbias) colsum_acc(dbias, dout, N, OC);
    zt_ftz_leave(ftz_);
}

/* ---- elementwise ------------------------------------------------------- */

/* elementwise: every array is [n] */
ZT_VEC static void k_relu_fwd(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}
ZT_VEC static void k_relu_bwd(float *restrict dinp, const float *restrict out,
                                const float *restrict dout, size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
ZT_VEC static void k_gelu_fwd(float *restrict out, const float *restrict inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanh_fast(u));
    }
}
ZT_VEC static void k_gelu_bwd(float *restrict dinp, const float *restrict inp,
                                const float *restrict dout, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        float th = tanh_fast(u);
        float sech2 = 1.0f - th * th;
        float d = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += d * dout[i];
    }
}

ZT_VEC static void k_residual_fwd(float *out, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
ZT_VEC static void k_add_acc(float *restrict y, const float *restrict x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

/* ---- layernorm --------------------------------------------------------- */

/* inp, out [N,C]; g, b [C]; mean, rstd [N] */
ZT_VEC static void k_layernorm_fwd(float *restrict out, float *restrict mean,
                                     float *restrict rstd, const float *restrict inp,
                                     const float *restrict g, const float *restrict b, int N,
                                     int C) {
    const float eps = 1e-5f;
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        const float m = sum16(x, C) / (float)C;
        /* variance from the centred values (two passes: no cancellation) */
        float a[16] = {0}, v = 0.0f;
        int c = 0;
        for (; c + 16 <= C; c += 16)
            for (int k = 0; k < 16; k++) { float d = x[c + k] - m; a[k] += d * d; }
        for (; c < C; c++) { float d = x[c] - m; v += d * d; }
        for (int k = 0; k < 16; k++) v += a[k];
        v /= (float)C;
        const float s = 1.0f / sqrtf(v + eps);
        for (c = 0; c < C; c++) o[c] = (x[c] - m) * s * g[c] + b[c];
        mean[i] = m;
        rstd[i] = s;
    }
}

/* dout, inp, dinp [N,C]; g, dg, db [C]; mean, rstd [N] */
ZT_VEC static void k_layernorm_bwd(float *restrict dinp, float *restrict dg, float *restrict db,
                                     const float *restrict dout, const float *restrict inp,
                                     const float *restrict g, const float *restrict mean,
                                     const float *restrict rstd, int N, int C) {
    for (int i = 0; i < N; i++) {
        const float *dy = dout + (size_t)i * C;
        const float *x = inp + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        const float m = mean[i], s = rstd[i];
        /* Σ g·dy and Σ g·dy·x̂, with x̂ = (x - m)·s */
        float a1[16] = {0}, a2[16] = {0}, s1 = 0.0f, s2 = 0.0f;
        int c = 0;
        for (; c + 16 <= C; c += 16)
            for (int k = 0; k < 16; k++) {
                float dn = g[c + k] * dy[c + k];
                a1[k] += dn;
                a2[k] += dn * ((x[c + k] - m) * s);
            }
        for (; c < C; c++) {
            float dn = g[c] * dy[c];
            s1 += dn;
            s2 += dn * ((x[c] - m) * s);
        }
        for (int k = 0; k < 16; k++) { s1 += a1[k]; s2 += a2[k]; }
        const float dnorm_mean = s1 / (float)C, dnorm_norm_mean = s2 / (float)C;
        for (c = 0; c < C; c++) {
            float xh = (x[c] - m) * s;
            float dn = g[c] * dy[c];
            db[c] += dy[c];
            dg[c] += xh * dy[c];
            dx[c] += (dn - dnorm_mean - xh * dnorm_norm_mean) * s;
        }
    }
}

/* ---- embedding --------------------------------------------------------- */

/* tok [B,T]; wte [V,C]; wpe [T,C]; out [B,T,C] */
ZT_VEC static void k_embed_fwd(float *out, const int32_t *tok, const float *wte, const float *wpe,
                          int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * C;
            const float *e = wte + (size_t)tok[b * T + t] * C;
            if (wpe) {
                const float *p = wpe + (size_t)t * C;
                for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
            } else {
                memcpy(o, e, (size_t)C * sizeof(float));
            }
        }
}

/* dout [B,T,C]; tok [B,T]; dwte [V,C]; dwpe [T,C] */
ZT_VEC static void k_embed_bwd(float *dwte, float *dwpe, const float *dout, const int32_t *tok,
                          int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            float *e = dwte + (size_t)tok[b * T + t] * C;
            for (int c = 0; c < C; c++) e[c] += d[c];
            if (dwpe) {
                float *p = dwpe + (size_t)t * C;
                for (int c = 0; c < C; c++) p[c] += d[c];
            }
        }
}

/* ---- attention --------------------------------------------------------- */
/* Per (b, h): S = Q Kᵀ·scale (causal), P = softmax(S) saved [T,T] with zeros
 * above the diagonal, O = P V. Q, K, V are strided views into qkv (ld 3C). */

/* rows t of S[T,T]: softmax over columns 0..t, zeros after */
ZT_VEC static void causal_softmax_rows(float *restrict S, int T) {
    for (int t = 0; t < T; t++) {
        float *r = S + (size_t)t * T;
        const int n = t + 1;
        const float mx = max16(r, n);
        float a[16] = {0}, sum = 0.0f;
        int j = 0;
        for (; j + 16 <= n; j += 16)
            for (int k = 0; k < 16; k++) { float e = exp_fast(r[j + k] - mx); r[j + k] = e; a[k] += e; }
        for (; j < n; j++) { float e = exp_fast(r[j] - mx); r[j] = e; sum += e; }
        for (int k = 0; k < 16; k++) sum += a[k];
        const float inv = 1.0f / sum;
        for (j = 0; j < n; j++) r[j] *= inv;
        for (j = n; j < T; j++) r[j] = 0.0f;
    }
}
/* dS = P ∘ (dP − rowsum(P ∘ dP))·scale over the causal part, in place in dP */
ZT_VEC static void causal_softmax_bwd_rows(float *restrict dP, const float *restrict P, int T,
                                           float scale) {
    for (int t = 0; t < T; t++) {
        const float *p = P + (size_t)t * T;
        float *d = dP + (size_t)t * T;
        const int n = t + 1;
        const float dot = dot16(p, d, n);
        for (int j = 0; j < n; j++) d[j] = p[j] * (d[j] - dot) * scale;
        for (int j = n; j < T; j++) d[j] = 0.0f;
    }
}

static size_t cpu_attn_saved_floats(int B, int T, int C, int NH) {
    return (size_t)B * NH * T * T;
}
static size_t cpu_attn_scratch_floats(int B, int T, int C, int NH) {
    return (size_t)T * T;
}

/* qkv [B,T,3C]; out [B,T,C]; saved: P [B,NH,T,T] */
static void cpu_attention_fwd(float *out, float *saved, float *scratch, const float *qkv,
                              int B, int T, int C, int NH) {
    const unsigned ftz_ = zt_ftz_enter();
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * C3 + h * hs;
            const float *k = q + C;
            const float *v = q + 2 * C;
            float *P = saved + ((size_t)b * NH + h) * T * T;
            /* P[T,T] = scale · Q[T,hs] Kᵀ  (upper triangle ignored) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, C3, k, C3,
                        0.0f, P, T);
            causal_softmax_rows(P, T);
            /* O[T,hs] = P[T,T] V[T,hs] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, P, T, v, C3,
                        0.0f, out + (size_t)b * T * C + h * hs, C);
        }
    zt_ftz_leave(ftz_);
}

/* dout [B,T,C]; qkv, dqkv [B,T,3C]; saved P [B,NH,T,T]; scratch dP [T,T] */
static void cpu_attention_bwd(float *dqkv, float *scratch, const float *dout, const float *qkv,
                              const float *saved, int B, int T, int C, int NH) {
    const unsigned ftz_ = zt_ftz_enter();
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    float *dP = scratch;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * C3 + h * hs;
            const float *k = q + C;
            const float *v = q + 2 * C;
            float *dq = dqkv + (size_t)b * T * C3 + h * hs;
            float *dk = dq + C;
            float *dv = dq + 2 * C;
            const float *P = saved + ((size_t)b * NH + h) * T * T;
            const float *dO = dout + (size_t)b * T * C + h * hs;
            /* dV[T,hs] += Pᵀ dO */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, P, T, dO, C,
                        1.0f, dv, C3);
            /* dP[T,T] = dO Vᵀ */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dO, C, v, C3,
                        0.0f, dP, T);
            /* dS = P ∘ (dP − rowsum(P ∘ dP)), times the scale; 0 above diagonal */
            causal_softmax_bwd_rows(dP, P, T, scale);
            /* dQ[T,hs] += dS K ;  dK[T,hs] += dSᵀ Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, dP, T, k, C3,
                        1.0f, dq, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, dP, T, q, C3,
                        1.0f, dk, C3);
        }
    zt_ftz_leave(ftz_);
}

/* for the bf16 table (ops_dnnl.c), which shares the fp32 softmax of attention */
void zt_cpu_causal_softmax_rows(float *S, int T) { causal_softmax_rows(S, T); }
void zt_cpu_causal_softmax_bwd_rows(float *dP, const float *P, int T, float scale) {
    causal_softmax_bwd_rows(dP, P, T, scale);
}

/* ---- softmax cross-entropy --------------------------------------------- */

/* logits, probs [N,V]; targets, losses [N] */
ZT_VEC static void k_softmax_ce_fwd(float *losses, float *probs, const float *logits,
                                      const int32_t *targets, int N, int V) {
    for (int i = 0; i < N; i++) {
        const float *x = logits + (size_t)i * V;
        float *p = probs + (size_t)i * V;
        const float mx = max16(x, V);
        const float xy = x[targets[i]] - mx;   /* read before an in-place overwrite */
        float a[16] = {0}, sum = 0.0f;
        int j = 0;
        for (; j + 16 <= V; j += 16)
            for (int k = 0; k < 16; k++) { float e = exp_fast(x[j + k] - mx); p[j + k] = e; a[k] += e; }
        for (; j < V; j++) { float e = exp_fast(x[j] - mx); p[j] = e; sum += e; }
        for (int k = 0; k < 16; k++) sum += a[k];
        const float inv = 1.0f / sum;
        for (j = 0; j < V; j++) p[j] *= inv;
        /* -log p[y] from the logits: exact also for tiny probabilities */
        losses[i] = logf(sum) - xy;
    }
}

/* probs, dlogits [N,V]; targets [N] */
ZT_VEC static void k_softmax_ce_bwd(float *restrict dlogits, const float *restrict probs,
                                      const int32_t *restrict targets, float scale, int N, int V) {
    for (int i = 0; i < N; i++) {
        const float *p = probs + (size_t)i * V;
        float *d = dlogits + (size_t)i * V;
        for (int j = 0; j < V; j++) d[j] += scale * p[j];
        d[targets[i]] -= scale;
    }
}

/* ---- flat ranges ------------------------------------------------------- */

/* x [n] */
ZT_VEC static void k_scale(float *x, float s, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

/* ---- the table's entry points: FTZ/DAZ around each kernel --------------- */
#define WRAP(name, params, args) \
    static void cpu_##name params { unsigned s_ = zt_ftz_enter(); k_##name args; zt_ftz_leave(s_); }
WRAP(relu_fwd, (float *out, const float *inp, size_t n), (out, inp, n))
WRAP(relu_bwd, (float *dinp, const float *out, const float *dout, size_t n), (dinp, out, dout, n))
WRAP(gelu_fwd, (float *out, const float *inp, size_t n), (out, inp, n))
WRAP(gelu_bwd, (float *dinp, const float *inp, const float *dout, size_t n), (dinp, inp, dout, n))
WRAP(residual_fwd, (float *out, const float *a, const float *b, size_t n), (out, a, b, n))
WRAP(add_acc, (float *y, const float *x, size_t n), (y, x, n))
WRAP(layernorm_fwd, (float *out, float *mean, float *rstd, const float *inp, const float *g,
                     const float *b, int N, int C), (out, mean, rstd, inp, g, b, N, C))
WRAP(layernorm_bwd, (float *dinp, float *dg, float *db, const float *dout, const float *inp,
                     const float *g, const float *mean, const float *rstd, int N, int C),
     (dinp, dg, db, dout, inp, g, mean, rstd, N, C))
WRAP(embed_fwd, (float *out, const int32_t *tok, const float *wte, const float *wpe, int B, int T,
                 int C), (out, tok, wte, wpe, B, T, C))
WRAP(embed_bwd, (float *dwte, float *dwpe, const float *dout, const int32_t *tok, int B, int T,
                 int C), (dwte, dwpe, dout, tok, B, T, C))
WRAP(softmax_ce_fwd, (float *losses, float *probs, const float *logits, const int32_t *targets,
                      int N, int V), (losses, probs, logits, targets, N, V))
WRAP(softmax_ce_bwd, (float *dlogits, const float *probs, const int32_t *targets, float scale,
                      int N, int V), (dlogits, probs, targets, scale, N, V))
WRAP(scale, (float *x, float s, size_t n), (x, s, n))
#undef WRAP

const zt_ops zt_ops_cpu = {
    .name = "cpu",
    .device = 0,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .zero = cpu_zero,
    .copy = cpu_copy,
    .to_device = cpu_copy,
    .to_host = cpu_copy,
    .sync = cpu_sync,
    .matmul_fwd = cpu_matmul_fwd,
    .matmul_bwd = cpu_matmul_bwd,
    .relu_fwd = cpu_relu_fwd,
    .relu_bwd = cpu_relu_bwd,
    .gelu_fwd = cpu_gelu_fwd,
    .gelu_bwd = cpu_gelu_bwd,
    .residual_fwd = cpu_residual_fwd,
    .add_acc = cpu_add_acc,
    .layernorm_fwd = cpu_layernorm_fwd,
    .layernorm_bwd = cpu_layernorm_bwd,
    .embed_fwd = cpu_embed_fwd,
    .embed_bwd = cpu_embed_bwd,
    .attn_saved_floats = cpu_attn_saved_floats,
    .attn_scratch_floats = cpu_attn_scratch_floats,
    .attention_fwd = cpu_attention_fwd,
    .attention_bwd = cpu_attention_bwd,
    .softmax_ce_fwd = cpu_softmax_ce_fwd,
    .softmax_ce_bwd = cpu_softmax_ce_bwd,
    .optim_step = zt_optim_step,
    .sumsq = zt_grad_sumsq,
    .scale = cpu_scale,
    .im2col3 = zt_cpu_im2col3,
    .col2im3 = zt_cpu_col2im3,
    .maxpool2_fwd = zt_cpu_maxpool2_fwd,
    .maxpool2_bwd = zt_cpu_maxpool2_bwd,
    .bn_stats = zt_cpu_bn_stats,
    .bn_fwd = zt_cpu_bn_fwd,
    .bn_bwd = zt_cpu_bn_bwd,
};

const zt_ops *zt_ops_by_name(const char *name) {
    if (!name || strcmp(name, "cpu") == 0) return &zt_ops_cpu;
    if (strcmp(name, "cpu-bf16") == 0) return zt_ops_cpu_bf16 ? zt_ops_cpu_bf16() : NULL;
    if (strcmp(name, "cuda") == 0) return &zt_ops_cuda ? &zt_ops_cuda : NULL;
    if (strcmp(name, "cuda-bf16") == 0) return &zt_ops_cuda_bf16 ? &zt_ops_cuda_bf16 : NULL;
    return NULL;
}

/* ---- BLAS kernel set ---------------------------------------------------- */

char *openblas_get_corename(void);   /* exported by OpenBLAS, not in every cblas.h */

const char *zt_ops_cpu_blas_corename(void) { return openblas_get_corename(); }

const char *zt_ops_cpu_blas_coretype_hint(void) {
    const char *env = getenv("OPENBLAS_CORETYPE");
    if (env && *env) return NULL;
    const char *core = openblas_get_corename();
    if (!core) return NULL;
    /* the generic fallbacks of OpenBLAS's x86-64 dynamic dispatch */
    static const char *fallback[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                     "Sandybridge", "Katmai", "Northwood", "Banias"};
    int is_fallback = 0;
    for (size_t i = 0; i < sizeof fallback / sizeof fallback[0]; i++)
        if (strcasecmp(core, fallback[i]) == 0) is_fallback = 1;
    if (!is_fallback) return NULL;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}
