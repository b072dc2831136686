/* ops_dnnl.c — the "cpu-bf16" op table: the CPU table (ops_cpu.c) with every
 * matrix product — linear forward and both backward products, and attention's
 * six — done by oneDNN matmul primitives on bf16 operands with fp32
 * accumulation and fp32 outputs. Everything else (elementwise, layernorm,
 * softmax, cross-entropy, embedding, optimizer) is the CPU table's fp32 code,
 * and so are parameters, gradients and optimizer state: the precision policy
 * of the "cuda-bf16" table (ops_cuda.cu), op for op (docs/ARCHITECTURE.md,
 * "Precision").
 *
 * Weights: weights_ready(p, n) (called by the engine once per step per unit,
 * after the unit's parameters are final or gathered) converts [p, p+n) to a
 * bf16 shadow; a matmul whose fp32 weight lies inside a shadowed range uses
 * the shadow, any other weight is converted on the call (correct, slower).
 * weights_ready(NULL, 0) forgets every shadow (the engine calls it after the
 * optimizer has changed the parameters), so a shadow is never stale.
 * Activations and gradients are converted on each call (they change each call).
 *
 * Primitives: one oneDNN matmul primitive per distinct (shape, transposes,
 * leading dimensions, bias, accumulate, scale), created on first use and kept
 * for the life of the process, with its memory objects; a call only sets data
 * handles and executes. Not thread-safe: one host thread (the engine's) calls
 * the table, as for the other tables.
 *
 * Conversion rounds to nearest even (zt_f32_to_bf16, the MPI backend's bf16
 * rounding). Threads: oneDNN here uses OpenMP; zt_ops_dnnl_set_threads sets
 * its count to the trainer's BLAS thread count. */
#include "ops.h"
#include "comm.h"        /* zt_f32_to_bf16: round-to-nearest-even bf16 */
#include "zt_log.h"      /* zt_fatal, mallocCheck */
#include <math.h>        /* sqrtf */
#include <pthread.h>     /* pthread_once */
#include <stdio.h>       /* snprintf */
#include <stdlib.h>      /* realloc, free, posix_memalign */
#include <string.h>      /* memset */
#include <oneapi/dnnl/dnnl.h>   /* oneDNN C API: engine, stream, matmul primitive, ISA query */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(ZT_NO_CLONES)
#define ZT_VEC __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("O3")))
#else
#define ZT_VEC
#endif

void omp_set_num_threads(int n);   /* libgomp, which oneDNN's OpenMP runtime loads */

/* ---- engine, stream, errors --------------------------------------------- */
static dnnl_engine_t g_eng;
static dnnl_stream_t g_strm;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#define dnnlCheck(call) do { dnnl_status_t s_ = (call); \
    if (s_ != dnnl_success) zt_fatal(1, "oneDNN: %s failed (status %d)", #call, (int)s_); } while (0)

static void init_once(void) {
    dnnlCheck(dnnl_engine_create(&g_eng, dnnl_cpu, 0));
    dnnlCheck(dnnl_stream_create(&g_strm, g_eng, dnnl_stream_default_flags));
}

void zt_ops_dnnl_set_threads(int n) { omp_set_num_threads(n > 0 ? n : 1); }

/* ---- bf16 conversion ---------------------------------------------------- */
ZT_VEC static void to_bf16(uint16_t *restrict dst, const float *restrict src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = zt_f32_to_bf16(src[i]);
}

/* growable scratch owned by the table; slot i never aliases slot j */
enum { S_A, S_B, S_C, S_D, S_N };
static uint16_t *g_scr[S_N];
static size_t g_scr_n[S_N];
static uint16_t *scratch(int i, size_t n) {
    if (n > g_scr_n[i]) {
        free(g_scr[i]);
        size_t nn = n + n / 4 + 64;
        void *p = NULL;
        if (posix_memalign(&p, 64, nn * sizeof(uint16_t)) != 0) p = NULL;
        mallocCheck(p);
        g_scr[i] = p;
        g_scr_n[i] = nn;
    }
    return g_scr[i];
}
static uint16_t *bf16_of(int slot, const float *x, size_t n) {
    uint16_t *d = scratch(slot, n);
    to_bf16(d, x, n);
    return d;
}

/* ---- weight shadows ------------------------------------------------------ */
/* A shadow keeps its buffer (and the address it last covered) when it is
 * forgotten, so the next step's registration of the same unit reuses it:
 * no allocation, no page faults in the steady state. */
typedef struct { const float *p; size_t n; int valid; uint16_t *bf; size_t cap; } shadow;
static shadow *g_sh;
static int g_nsh, g_capsh;

static void cpu_bf16_weights_ready(const float *p, size_t n) {
    if (!p || !n) {   /* forget all */
        for (int i = 0; i < g_nsh; i++) g_sh[i].valid = 0;
        return;
    }
    shadow *s = NULL, *spare = NULL;
    for (int i = 0; i < g_nsh; i++) {
        shadow *t = &g_sh[i];
        if (t->valid && t->p < p + n && p < t->p + t->n) t->valid = 0;   /* overlapped: replaced */
        if (t->valid) continue;
        if (t->p == p && !s) s = t;                        /* this unit's own buffer */
        else if (!spare || (t->cap >= n && spare->cap < n)) spare = t;
    }
    if (!s) s = spare;
    if (!s) {
        if (g_nsh == g_capsh) {
            g_capsh = g_capsh ? 2 * g_capsh : 16;
            g_sh = realloc(g_sh, (size_t)g_capsh * sizeof *g_sh);
            mallocCheck(g_sh);
        }
        s = &g_sh[g_nsh++];
        memset(s, 0, sizeof *s);
    }
    if (n > s->cap) {
        free(s->bf);
        s->bf = malloc(n * sizeof(uint16_t));
        mallocCheck(s->bf);
        s->cap = n;
    }
    to_bf16(s->bf, p, n);
    s->p = p; s->n = n; s->valid = 1;
}

/* bf16 of w[0..n): the shadow if one covers it, else converted into `slot` */
static const uint16_t *weight_bf16(int slot, const float *w, size_t n) {
    for (int i = 0; i < g_nsh; i++) {
        const shadow *s = &g_sh[i];
        if (s->valid && w >= s->p && w + n <= s->p + s->n) return s->bf + (w - s->p);
    }
    return bf16_of(slot, w, n);
}

/* ---- cached matmul primitives ------------------------------------------- */
/* C[M,N] (ldc) = alpha · op(A)[M,K] · op(B)[K,N] (+ bias[N]) (+ C if acc),
 * row-major like cblas: ta/tb say A/B are stored transposed (A as [K,M] with
 * ld lda, B as [N,K] with ld ldb). A, B bf16; C, bias fp32. */
typedef struct {
    int M, N, K, ta, tb, lda, ldb, ldc, bias, acc;
    float alpha;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c, bm;
} mm_prim;
static mm_prim *g_mm;
static int g_nmm, g_capmm;

static void md_2d(dnnl_memory_desc_t *md, int rows, int cols, int ld, int trans, dnnl_data_type_t dt) {
    dnnl_dims_t dims = { rows, cols };
    dnnl_dims_t strides = { trans ? 1 : ld, trans ? ld : 1 };
    dnnlCheck(dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides));
}

static mm_prim *mm_get(int M, int N, int K, int ta, int tb, int lda, int ldb, int ldc, int bias,
                       int acc, float alpha) {
    for (int i = 0; i < g_nmm; i++) {
        mm_prim *p = &g_mm[i];
        if (p->M == M && p->N == N && p->K == K && p->ta == ta && p->tb == tb && p->lda == lda &&
            p->ldb == ldb && p->ldc == ldc && p->bias == bias && p->acc == acc && p->alpha == alpha)
            return p;
    }
    pthread_once(&g_once, init_once);
    if (g_nmm == g_capmm) {
        g_capmm = g_capmm ? 2 * g_capmm : 32;
        g_mm = realloc(g_mm, (size_t)g_capmm * sizeof *g_mm);
        mallocCheck(g_mm);
    }
    mm_prim *p = &g_mm[g_nmm];
    *p = (mm_prim){ .M = M, .N = N, .K = K, .ta = ta, .tb = tb, .lda = lda, .ldb = ldb,
                    .ldc = ldc, .bias = bias, .acc = acc, .alpha = alpha };
    dnnl_memory_desc_t amd, bmd, cmd, biasmd;
    md_2d(&amd, M, K, lda, ta, dnnl_bf16);
    md_2d(&bmd, K, N, ldb, tb, dnnl_bf16);
    md_2d(&cmd, M, N, ldc, 0, dnnl_f32);
    md_2d(&biasmd, 1, N, N, 0, dnnl_f32);
    dnnl_matmul_desc_t d;
    dnnlCheck(dnnl_matmul_desc_init(&d, &amd, &bmd, bias ? &biasmd : NULL, &cmd));
    dnnl_primitive_attr_t attr;
    dnnlCheck(dnnl_primitive_attr_create(&attr));
    if (alpha != 1.0f) dnnlCheck(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha));
    if (acc) {   /* C += product: the sum post-op reads the old C */
        dnnl_post_ops_t po;
        dnnlCheck(dnnl_post_ops_create(&po));
        dnnlCheck(dnnl_post_ops_append_sum(po, 1.0f));
        dnnlCheck(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, &d, attr, g_eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success)
        zt_fatal(1, "oneDNN: no bf16 matmul for M%d N%d K%d (ta %d tb %d) on this CPU (status %d)",
                 M, N, K, ta, tb, (int)st);
    dnnlCheck(dnnl_primitive_create(&p->prim, pd));
    dnnlCheck(dnnl_memory_create(&p->a, &amd, g_eng, DNNL_MEMORY_NONE));
    dnnlCheck(dnnl_memory_create(&p->b, &bmd, g_eng, DNNL_MEMORY_NONE));
    dnnlCheck(dnnl_memory_create(&p->c, &cmd, g_eng, DNNL_MEMORY_NONE));
    if (bias) dnnlCheck(dnnl_memory_create(&p->bm, &biasmd, g_eng, DNNL_MEMORY_NONE));
    dnnl_primitive_desc_destroy(pd);
    g_nmm++;
    return p;
}

static void gemm(int ta, int tb, int M, int N, int K, float alpha, const uint16_t *A, int lda,
                 const uint16_t *B, int ldb, int acc, float *C, int ldc, const float *bias) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {   /* empty sum: C = bias or unchanged */
        if (acc) return;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = bias ? bias[j] : 0.0f;
        return;
    }
    mm_prim *p = mm_get(M, N, K, ta, tb, lda, ldb, ldc, bias != NULL, acc, alpha);
    dnnlCheck(dnnl_memory_set_data_handle(p->a, (void *)A));
    dnnlCheck(dnnl_memory_set_data_handle(p->b, (void *)B));
    dnnlCheck(dnnl_memory_set_data_handle(p->c, C));
    dnnl_exec_arg_t args[4] = { { DNNL_ARG_SRC, p->a }, { DNNL_ARG_WEIGHTS, p->b },
                                { DNNL_ARG_DST, p->c }, { DNNL_ARG_BIAS, p->bm } };
    if (bias) dnnlCheck(dnnl_memory_set_data_handle(p->bm, (void *)bias));
    dnnlCheck(dnnl_primitive_execute(p->prim, g_strm, bias ? 4 : 3, args));
    dnnlCheck(dnnl_stream_wait(g_strm));
}

/* ---- linear ------------------------------------------------------------- */
ZT_VEC static void colsum_acc(float *restrict dbias, const float *restrict dout, int N, int OC) {
    for (int i = 0; i < N; i++) {
        const float *r = dout + (size_t)i * OC;
        for (int o = 0; o < OC; o++) dbias[o] += r[o];
    }
}

static void bf_matmul_fwd(float *out, const float *inp, const float *w, const float *bias,
                          int N, int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    const unsigned ftz = zt_ftz_enter();
    const uint16_t *A = bf16_of(S_A, inp, (size_t)N * C);
    const uint16_t *W = weight_bf16(S_B, w, (size_t)OC * C);
    gemm(0, 1, N, OC, C, 1.0f, A, C, W, C, 0, out, OC, bias);
    zt_ftz_leave(ftz);
}

static void bf_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout,
                          const float *inp, const float *w, int N, int C, int OC) {
    if (N <= 0) return;
    const unsigned ftz = zt_ftz_enter();
    const uint16_t *D = bf16_of(S_A, dout, (size_t)N * OC);
    if (dinp) {   /* dinp[N,C] += dout[N,OC] · w[OC,C] */
        const uint16_t *W = weight_bf16(S_B, w, (size_t)OC * C);
        gemm(0, 0, N, C, OC, 1.0f, D, OC, W, C, 1, dinp, C, NULL);
    }
    if (dw) {   /* dw[OC,C] += doutᵀ[OC,N] · inp[N,C]; NULL: the caller adds it (tied head) */
        const uint16_t *I = bf16_of(S_C, inp, (size_t)N * C);
        gemm(1, 0, OC, C, N, 1.0f, D, OC, I, C, 1, dw, C, NULL);
    }
    if (dbias) colsum_acc(dbias, dout, N, OC);   /* fp32, as the CUDA bf16 table */
    zt_ftz_leave(ftz);
}

/* ---- attention ---------------------------------------------------------- */
/* The CPU table's algorithm (ops_cpu.c) with its six products in bf16: per
 * (b, h) S = scale·Q Kᵀ, P = causal softmax (fp32, saved [B,NH,T,T]), O = P V;
 * backward dV = Pᵀ dO, dP = dO Vᵀ, dS = softmax backward (fp32), dQ = dS K,
 * dK = dSᵀ Q. Operands are converted into head-major bf16 copies ([parts][B]
 * [NH][T][hs], dense): oneDNN runs dense operands on its brgemm kernels but
 * strided ones (ld 3C) on a slower gemm path. Products write dense fp32
 * [T, hs] tiles that are then stored / added into the strided outputs. */

/* dst[p][b][h][t][0..hs) = bf16(src[(b·T + t)·ld + p·C + h·hs + 0..hs)) for p < parts */
ZT_VEC static void heads_bf16(uint16_t *restrict dst, const float *restrict src, int parts, int ld,
                              int B, int T, int C, int NH) {
    const int hs = C / NH;
    for (int p = 0; p < parts; p++)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++)
                for (int t = 0; t < T; t++) {
                    const float *x = src + ((size_t)b * T + t) * ld + (size_t)p * C + (size_t)h * hs;
                    uint16_t *y = dst + ((((size_t)p * B + b) * NH + h) * T + t) * hs;
                    for (int d = 0; d < hs; d++) y[d] = zt_f32_to_bf16(x[d]);
                }
}
/* y[t·ld + 0..hs) (+)= x[t·hs + 0..hs) */
ZT_VEC static void tile_out(float *restrict y, const float *restrict x, int T, int hs, int ld, int acc) {
    for (int t = 0; t < T; t++)
        for (int d = 0; d < hs; d++) {
            float v = x[(size_t)t * hs + d];
            y[(size_t)t * ld + d] = acc ? y[(size_t)t * ld + d] + v : v;
        }
}
static float *g_tile;
static size_t g_tile_n;
static float *tile(size_t n) {
    if (n > g_tile_n) {
        free(g_tile);
        g_tile = malloc(n * sizeof(float));
        mallocCheck(g_tile);
        g_tile_n = n;
    }
    return g_tile;
}

static void bf_attention_fwd(float *out, float *saved, float *scratch_f, const float *qkv,
                             int B, int T, int C, int NH) {
    (void)scratch_f;
    if (B <= 0 || T <= 0) return;
    const unsigned ftz = zt_ftz_enter();
    const int hs = C / NH;
    const size_t X = (size_t)B * T * C, TH = (size_t)T * hs;
    const float scale = 1.0f / sqrtf((float)hs);
    uint16_t *H = scratch(S_A, 3 * X);
    heads_bf16(H, qkv, 3, 3 * C, B, T, C, NH);
    uint16_t *P16 = scratch(S_B, (size_t)T * T);
    float *O = tile(TH);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const size_t bh = (size_t)b * NH + h;
            const uint16_t *q = H + bh * TH, *k = H + X + bh * TH, *v = H + 2 * X + bh * TH;
            float *P = saved + bh * T * T;
            gemm(0, 1, T, T, hs, scale, q, hs, k, hs, 0, P, T, NULL);
            zt_cpu_causal_softmax_rows(P, T);
            to_bf16(P16, P, (size_t)T * T);
            gemm(0, 0, T, hs, T, 1.0f, P16, T, v, hs, 0, O, hs, NULL);
            tile_out(out + (size_t)b * T * C + h * hs, O, T, hs, C, 0);
        }
    zt_ftz_leave(ftz);
}

static void bf_attention_bwd(float *dqkv, float *scratch_f, const float *dout, const float *qkv,
                             const float *saved, int B, int T, int C, int NH) {
    if (B <= 0 || T <= 0) return;
    const unsigned ftz = zt_ftz_enter();
    const int hs = C / NH, C3 = 3 * C;
    const size_t X = (size_t)B * T * C, TH = (size_t)T * hs;
    const float scale = 1.0f / sqrtf((float)hs);
    uint16_t *H = scratch(S_A, 3 * X), *DO = scratch(S_B, X);
    heads_bf16(H, qkv, 3, C3, B, T, C, NH);
    heads_bf16(DO, dout, 1, C, B, T, C, NH);
    uint16_t *P16 = scratch(S_C, (size_t)T * T), *DS16 = scratch(S_D, (size_t)T * T);
    float *dP = scratch_f;   /* [T,T] fp32 */
    float *G = tile(TH);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const size_t bh = (size_t)b * NH + h;
            const uint16_t *q = H + bh * TH, *k = H + X + bh * TH, *v = H + 2 * X + bh * TH;
            const uint16_t *dO = DO + bh * TH;
            float *dq = dqkv + (size_t)b * T * C3 + h * hs, *dk = dq + C, *dv = dq + 2 * C;
            const float *P = saved + bh * T * T;
            to_bf16(P16, P, (size_t)T * T);
            gemm(1, 0, T, hs, T, 1.0f, P16, T, dO, hs, 0, G, hs, NULL);     /* dV += Pᵀ dO */
            tile_out(dv, G, T, hs, C3, 1);
            gemm(0, 1, T, T, hs, 1.0f, dO, hs, v, hs, 0, dP, T, NULL);      /* dP = dO Vᵀ */
            zt_cpu_causal_softmax_bwd_rows(dP, P, T, scale);
            to_bf16(DS16, dP, (size_t)T * T);
            gemm(0, 0, T, hs, T, 1.0f, DS16, T, k, hs, 0, G, hs, NULL);     /* dQ += dS K */
            tile_out(dq, G, T, hs, C3, 1);
            gemm(1, 0, T, hs, T, 1.0f, DS16, T, q, hs, 0, G, hs, NULL);     /* dK += dSᵀ Q */
            tile_out(dk, G, T, hs, C3, 1);
        }
    zt_ftz_leave(ftz);
}

/* ---- the table: the CPU table with the products replaced ----------------- */
static zt_ops g_tab;
static pthread_once_t g_tab_once = PTHREAD_ONCE_INIT;
static void tab_init(void) {
    g_tab = zt_ops_cpu;
    g_tab.name = "cpu-bf16";
    g_tab.matmul_fwd = bf_matmul_fwd;
    g_tab.matmul_bwd = bf_matmul_bwd;
    g_tab.attention_fwd = bf_attention_fwd;
    g_tab.attention_bwd = bf_attention_bwd;
    g_tab.weights_ready = cpu_bf16_weights_ready;
}
const zt_ops *zt_ops_cpu_bf16(void) {
    pthread_once(&g_tab_once, tab_init);
    return &g_tab;
}

/* ---- what the CPU offers ------------------------------------------------- */
const char *zt_ops_dnnl_isa(int *native_bf16) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    const char *name;
    switch (isa) {
        case dnnl_cpu_isa_sse41: name = "sse41"; break;
        case dnnl_cpu_isa_avx: name = "avx"; break;
        case dnnl_cpu_isa_avx2: name = "avx2"; break;
        case dnnl_cpu_isa_avx2_vnni: name = "avx2_vnni"; break;
        case dnnl_cpu_isa_avx512_core: name = "avx512_core"; break;
        case dnnl_cpu_isa_avx512_core_vnni: name = "avx512_core_vnni"; break;
        case dnnl_cpu_isa_avx512_core_bf16: name = "avx512_core_bf16"; break;
        case dnnl_cpu_isa_avx512_core_amx: name = "avx512_core_amx"; break;
        default: name = "other"; break;
    }
    /* the ISA values are bit sets: each contains the bits of those below it */
    if (native_bf16)
        *native_bf16 = ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) ==
                       (unsigned)dnnl_cpu_isa_avx512_core_bf16;
    return name;
}
