/* ops.h — the device op set behind both models, as one table of function
 * pointers (llm.c-style kernels with explicit sizes). Models call ops ONLY
 * through a `const zt_ops *` and allocate every activation through it, so the
 * CPU table (ops_cpu.c: OpenBLAS sgemm + plain C loops) and a CUDA table
 * (ops_cuda.cu: cuBLAS + kernels, `zt_ops_cuda`) are interchangeable.
 *
 * Conventions (every implementation keeps them; tests/unit/model_ops.c checks
 * the CPU table and is the reference for a device table):
 *  - All tensors are contiguous, row-major fp32 in the table's memory space
 *    (host for "cpu", device for "cuda"); token ids / targets are int32 in the
 *    same space. Shapes are given in the comments as [dims].
 *  - Linear weights are stored [OC, C] (PyTorch nn.Linear): out = inp·wᵀ + b.
 *  - Forward ops OVERWRITE their outputs.
 *  - Backward ops ACCUMULATE (+=) into every gradient output (d* pointers),
 *    parameter gradients and input gradients alike (cuBLAS/BLAS beta = 1).
 *    A caller that wants plain values zeroes the buffer first. A NULL d*
 *    pointer means "not needed" where the comment says so.
 *  - Outputs never alias inputs unless the comment allows it.
 *  - Ops are asynchronous with respect to the host on a device table (one
 *    stream, in order); `sync` waits. The CPU table is synchronous.
 *  - Sizes: N = rows (B*T for gpt), C = channels, OC = output channels,
 *    V = classes / vocabulary, NH = heads (C % NH == 0), n = flat count.
 *  - No op sets the BLAS thread count: the trainer does (openblas_set_num_threads).
 *  - Precision: parameters, gradients and optimizer state are always fp32
 *    (master copies). A reduced-precision device table (e.g. "cuda-bf16") keeps
 *    these signatures and converts inside matmul/attention (bf16 inputs, fp32
 *    accumulate and fp32 outputs), so models and engines do not change.
 */
#ifndef ZT_OPS_H
#define ZT_OPS_H
#include <stddef.h>   /* size_t */
#include <stdint.h>   /* int32_t, uint64_t */

#ifdef __cplusplus
extern "C" {
#endif

struct zt_optim_cfg;

typedef struct zt_ops {
    const char *name;   /* "cpu", "cuda", "cuda-bf16" */
    int device;         /* 0: pointers are host memory; 1: device memory */

    /* ---- memory (bytes) ------------------------------------------------ */
    void *(*alloc)(size_t bytes);             /* zero-filled, 64-byte aligned; NULL on failure */
    void  (*free)(void *p);                   /* NULL is fine */
    void  (*zero)(void *p, size_t bytes);
    void  (*copy)(void *dst, const void *src, size_t bytes);        /* within the table's space */
    void  (*to_device)(void *dst, const void *host_src, size_t bytes); /* host -> table space */
    void  (*to_host)(void *host_dst, const void *src, size_t bytes);   /* table space -> host */
    void  (*sync)(void);                      /* wait for all queued ops */

    /* ---- linear ------------------------------------------------------- */
    /* out[N,OC] = inp[N,C] · w[OC,C]ᵀ + bias[OC]   (bias may be NULL) */
    void (*matmul_fwd)(float *out, const float *inp, const float *w, const float *bias,
                       int N, int C, int OC);
    /* dinp[N,C] += dout[N,OC]·w[OC,C];  dw[OC,C] += dout[N,OC]ᵀ·inp[N,C];
     * dbias[OC] += Σ_rows dout.  dinp, dw and dbias may be NULL. */
    void (*matmul_bwd)(float *dinp, float *dw, float *dbias, const float *dout,
                       const float *inp, const float *w, int N, int C, int OC);

    /* ---- elementwise (n values) --------------------------------------- */
    void (*relu_fwd)(float *out, const float *inp, size_t n);        /* out may alias inp */
    /* dinp += dout * (out > 0); `out` is relu_fwd's output */
    void (*relu_bwd)(float *dinp, const float *out, const float *dout, size_t n);
    /* out = 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³)))  (GPT-2 tanh approximation) */
    void (*gelu_fwd)(float *out, const float *inp, size_t n);
    void (*gelu_bwd)(float *dinp, const float *inp, const float *dout, size_t n);
    void (*residual_fwd)(float *out, const float *a, const float *b, size_t n); /* out = a + b; out may alias a */
    void (*add_acc)(float *y, const float *x, size_t n);             /* y += x */

    /* ---- layernorm (eps 1e-5, biased variance, like PyTorch) ---------- */
    /* out[N,C] = (inp - mean)·rstd·g[C] + b[C]; saves mean[N], rstd[N] for the backward */
    void (*layernorm_fwd)(float *out, float *mean, float *rstd, const float *inp,
                          const float *g, const float *b, int N, int C);
    /* dinp[N,C] +=, dg[C] +=, db[C] += */
    void (*layernorm_bwd)(float *dinp, float *dg, float *db, const float *dout,
                          const float *inp, const float *g, const float *mean,
                          const float *rstd, int N, int C);

    /* ---- embedding ---------------------------------------------------- */
    /* out[B,T,C] = wte[tok[b,t], :] + wpe[t, :]   (wpe may be NULL: token only);
     * tok[B,T] int32 in [0, V) */
    void (*embed_fwd)(float *out, const int32_t *tok, const float *wte, const float *wpe,
                      int B, int T, int C);
    /* dwte[V,C] += scatter of dout rows; dwpe[T,C] += Σ_b dout[b]  (dwpe may be NULL) */
    void (*embed_bwd)(float *dwte, float *dwpe, const float *dout, const int32_t *tok,
                      int B, int T, int C);

    /* ---- causal multi-head self-attention ----------------------------- */
    /* qkv[B,T,3C] holds q | k | v along the last dim, head h at columns
     * [h·hs, (h+1)·hs) of each, hs = C/NH; out[B,T,C] = heads concatenated;
     * scale 1/√hs, position t attends to 0..t.
     * `saved` (attn_saved_floats(B,T,C,NH) floats, one per layer) is written by
     * the forward and read by the backward of the same layer; `scratch`
     * (attn_scratch_floats floats) is temporary and may be shared by all layers.
     * The sizes belong to the table (CPU: saved = softmax probs [B,NH,T,T]). */
    size_t (*attn_saved_floats)(int B, int T, int C, int NH);
    size_t (*attn_scratch_floats)(int B, int T, int C, int NH);
    void (*attention_fwd)(float *out, float *saved, float *scratch, const float *qkv,
                          int B, int T, int C, int NH);
    /* dqkv[B,T,3C] += */
    void (*attention_bwd)(float *dqkv, float *scratch, const float *dout, const float *qkv,
                          const float *saved, int B, int T, int C, int NH);

    /* ---- softmax cross-entropy ---------------------------------------- */
    /* probs[N,V] = softmax(logits[N,V]); losses[N] = -log probs[i, targets[i]].
     * probs may alias logits (in place). targets int32 in [0, V). */
    void (*softmax_ce_fwd)(float *losses, float *probs, const float *logits,
                           const int32_t *targets, int N, int V);
    /* dlogits[N,V] += scale · (probs - onehot(targets)) — the gradient of
     * scale · Σ losses. */
    void (*softmax_ce_bwd)(float *dlogits, const float *probs, const int32_t *targets,
                           float scale, int N, int V);

    /* ---- convolution pieces, NHWC (ops_conv.c; CUDA: ops_cuda_conv.cu) */
    /* A 3x3, stride 1, padding 1 convolution is im2col + matmul_fwd:
     * col[n·H·W, 9C] (column (ky·3 + kx)·C + c, zero outside the image) ·
     * w[OC, 9C]ᵀ = out[n·H·W, OC], which is NHWC. Backward: matmul_bwd gives
     * dcol, col2im folds it back. */
    void (*im2col3)(float *col, const float *inp, int n, int H, int W, int C);
    /* dinp[n,H,W,C] += the fold of dcol[n·H·W, 9C] */
    void (*col2im3)(float *dinp, const float *dcol, int n, int H, int W, int C);
    /* 2x2 max-pool, stride 2 (odd H/W: last row/column dropped, as PyTorch):
     * out[n,H/2,W/2,C]; arg[same] int32 = flat index into inp of the max */
    void (*maxpool2_fwd)(float *out, int32_t *arg, const float *inp, int n, int H, int W, int C);
    /* dinp[n,H,W,C] += dout scattered to arg (nout = n·(H/2)·(W/2)·C values) */
    void (*maxpool2_bwd)(float *dinp, const float *dout, const int32_t *arg, size_t nout);
    /* BatchNorm over M rows of C channels (NHWC: M = n·H·W), eps 1e-5.
     * Statistics of the rows: mean[C], biased var[C], accumulated in double. */
    void (*bn_stats)(float *mean, float *var, const float *inp, int M, int C);
    /* out[M,C] = (inp - mean)/√(var + eps)·g + b: batch statistics when
     * training, running statistics when evaluating */
    void (*bn_fwd)(float *out, const float *inp, const float *mean, const float *var,
                   const float *g, const float *b, int M, int C);
    /* Backward of bn_fwd with batch statistics (mean, var from bn_stats of
     * the same inp): dinp[M,C] += (dinp may be NULL), dg[C] +=, db[C] += */
    void (*bn_bwd)(float *dinp, float *dg, float *db, const float *dout, const float *inp,
                   const float *mean, const float *var, const float *g, int M, int C);

    /* ---- flat ranges, for engines (optimizer, clipping) --------------- */
    /* Same contract as zt_optim_step() in optim.h (elementwise, so any
     * partition of the range gives identical values). */
    void (*optim_step)(const struct zt_optim_cfg *c, uint64_t t, float lr, float gscale,
                       float *p, const float *g, float *const *slots, size_t n, float wd);
    double (*sumsq)(const float *x, size_t n);     /* Σ x², accumulated in double */
    void (*scale)(float *x, float s, size_t n);    /* x *= s */

    /* ---- reduced-precision weight copies (NULL in fp32 tables) --------- */
    /* The engine calls weights_ready(p, n) once per step per unit, after the
     * unit's parameters [p, p+n) are final (or gathered, ZeRO-3), before its
     * forward: a bf16 table converts them once and its matmuls use that copy
     * for any weight inside the range. weights_ready(NULL, 0): the parameters
     * changed (after the optimizer), forget every copy. */
    void (*weights_ready)(const float *p, size_t n);
} zt_ops;

extern const zt_ops zt_ops_cpu;
/* ops_conv.c: the CPU convolution pieces the table above points at */
void zt_cpu_im2col3(float *col, const float *inp, int n, int H, int W, int C);
void zt_cpu_col2im3(float *dinp, const float *dcol, int n, int H, int W, int C);
void zt_cpu_maxpool2_fwd(float *out, int32_t *arg, const float *inp, int n, int H, int W, int C);
void zt_cpu_maxpool2_bwd(float *dinp, const float *dout, const int32_t *arg, size_t nout);
void zt_cpu_bn_stats(float *mean, float *var, const float *inp, int M, int C);
void zt_cpu_bn_fwd(float *out, const float *inp, const float *mean, const float *var,
                   const float *g, const float *b, int M, int C);
void zt_cpu_bn_bwd(float *dinp, float *dg, float *db, const float *dout, const float *inp,
                   const float *mean, const float *var, const float *g, int M, int C);
/* Defined by ops_cuda.cu when the GPU path is built (weak here, so the CPU
 * build links without it). */
extern const zt_ops zt_ops_cuda __attribute__((weak));
extern const zt_ops zt_ops_cuda_bf16 __attribute__((weak));
/* The CUDA tables' compute stream (a cudaStream_t as void *), created on first
 * call; the trainer hands it to the NCCL communicator so collectives are
 * ordered after the kernels that produce their inputs. Only in CUDA builds. */
void *zt_ops_cuda_stream(void);

/* The CPU bf16 table (ops_dnnl.c): the CPU table with matmul and attention
 * products in bf16 through oneDNN (fp32 accumulation and outputs). Weak, like
 * the CUDA tables: the standalone GPU check (tests/gpu/run.sh) builds
 * ops_cpu.c without oneDNN; the trainer's strong references to the two
 * functions below pull ops_dnnl.o in. */
const zt_ops *zt_ops_cpu_bf16(void) __attribute__((weak));
/* oneDNN's effective CPU ISA ("avx512_core_bf16", "avx512_core_amx", ...;
 * DNNL_MAX_CPU_ISA caps it) and whether it has bf16 instructions. */
const char *zt_ops_dnnl_isa(int *native_bf16);
/* oneDNN's thread count (OpenMP), set by the trainer with the BLAS threads */
void zt_ops_dnnl_set_threads(int n);
/* The CPU table's causal softmax rows (forward, in place) and backward
 * (dS in place in dP, times scale), shared with the bf16 table. */
void zt_cpu_causal_softmax_rows(float *S, int T);
void zt_cpu_causal_softmax_bwd_rows(float *dP, const float *P, int T, float scale);

/* "cpu" | "cpu-bf16" | "cuda" | "cuda-bf16" -> table, or NULL if not built in. */
const zt_ops *zt_ops_by_name(const char *name);

/* CPU BLAS kernels. OpenBLAS (Debian's 0.3.21, DYNAMIC_ARCH) picks its kernel
 * set when the library loads; on CPUs it does not recognise (e.g. the Xeons
 * these machines run on, under KVM) it falls back to "Prescott" (SSE3), about
 * 2x slower for our matmuls. It honours OPENBLAS_CORETYPE, read at load time.
 * zt_ops_cpu_blas_corename(): the kernel set in use ("SkylakeX", "Prescott"...).
 * zt_ops_cpu_blas_coretype_hint(): "SkylakeX" or "Haswell" when the loaded set
 * is such a fallback on a CPU with AVX-512 / AVX2 and OPENBLAS_CORETYPE is
 * unset, else NULL. A program that gets a hint sets OPENBLAS_CORETYPE to it
 * and re-execs itself at start-up (before any thread or PMIx_Init). */
const char *zt_ops_cpu_blas_corename(void);
/* Denormals flushed to zero (x86 MXCSR FTZ|DAZ) for the CPU kernels and the
 * optimizer loops: zt_ftz_enter() sets the mode and returns the old one for
 * zt_ftz_leave(). No-ops off x86. Why: ops_cpu.c. */
unsigned zt_ftz_enter(void);
void zt_ftz_leave(unsigned old);
const char *zt_ops_cpu_blas_coretype_hint(void);

#ifdef __cplusplus
}
#endif
#endif
