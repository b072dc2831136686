/* ops_cuda_attn.cu — causal multi-head self-attention for the CUDA op tables
 * (fp32 and bf16-operand variants); see ops.h for the contract and
 * ops_cuda.cu for the execution model. */
#include "ops_cuda_impl.cuh"   /* stream, scratch, gemm_rm, warp helpers */

/* ---- causal multi-head self-attention ------------------------------------
 * Per (b, h), with Q, K, V [T, hs] gathered into contiguous [B·NH, T, hs]
 * copies so cuBLAS strided-batched GEMMs cover all heads at once:
 *   S = scale·Q Kᵀ  -> causal softmax P (saved [B, NH, T, T], zeros above the
 *   diagonal, exactly the CPU table's `saved`);  O = P V -> out [B, T, C].
 * Backward: dV = Pᵀ dO;  dP = dO Vᵀ;  dS = P∘(dP − rowsum(P∘dP))·scale;
 *   dQ = dS K;  dK = dSᵀ Q;  accumulated into dqkv.
 * scratch (floats, X = B·T·C, Y = B·NH·T·T): forward q|k|v|O = 4X;
 * backward q|k|v|dO|dq|dk|dv = 7X plus dP = Y. The bf16 table keeps these fp32
 * buffers and converts GEMM operands into its own scratch. */

size_t cu_attn_saved_floats(int B, int T, int /*C*/, int NH) {
    return (size_t)B * NH * T * T;
}
size_t cu_attn_scratch_floats(int B, int T, int C, int NH) {
    return 7 * (size_t)B * T * C + (size_t)B * NH * T * T;
}

/* Element i of a head-major [B, NH, T, hs] tensor: returns its row b·T + t of
 * the token-major layout and sets *col = h·hs + d, its column within C. */
__device__ __forceinline__ size_t head_pos(size_t i, int T, int NH, int hs, int *col) {
    int d = (int)(i % hs);
    size_t r = i / hs;
    int t = (int)(r % T);
    r /= T;
    int h = (int)(r % NH);
    *col = h * hs + d;
    return (r / NH) * T + t;
}

/* qkv [B,T,3C] -> q, k, v [B,NH,T,hs] */
__global__ void k_qkv_permute(float *q, float *k, float *v, const float *qkv, int B, int T, int C,
                              int NH) {
    const int hs = C / NH;
    GRID_STRIDE(i, (size_t)B * T * C) {
        int col;   /* i indexes the destination [B, NH, T, hs] */
        size_t src = head_pos(i, T, NH, hs, &col) * 3 * (size_t)C + col;
        q[i] = qkv[src];
        k[i] = qkv[src + C];
        v[i] = qkv[src + 2 * (size_t)C];
    }
}
/* x [B,T,C] -> out [B,NH,T,hs] */
__global__ void k_head_split(float *out, const float *x, int B, int T, int C, int NH) {
    const int hs = C / NH;
    GRID_STRIDE(i, (size_t)B * T * C) {
        int col;
        out[i] = x[head_pos(i, T, NH, hs, &col) * (size_t)C + col];
    }
}
/* x [B,NH,T,hs] -> out [B,T,C] (overwrite) */
__global__ void k_unpermute(float *out, const float *x, int B, int T, int C, int NH) {
    const int hs = C / NH;
    GRID_STRIDE(i, (size_t)B * T * C) {
        int col;
        size_t row = head_pos(i, T, NH, hs, &col);
        out[row * (size_t)C + col] = x[i];
    }
}
/* dq, dk, dv [B,NH,T,hs] -> dqkv [B,T,3C] += */
__global__ void k_unpermute_qkv_acc(float *dqkv, const float *dq, const float *dk,
                                    const float *dv, int B, int T, int C, int NH) {
    const int hs = C / NH;
    GRID_STRIDE(i, (size_t)B * T * C) {
        int col;
        size_t dst = head_pos(i, T, NH, hs, &col) * 3 * (size_t)C + col;
        dqkv[dst] += dq[i];
        dqkv[dst + C] += dk[i];
        dqkv[dst + 2 * (size_t)C] += dv[i];
    }
}
/* rows of P [B·NH·T, T]: row (bh, t) keeps j <= t */
__global__ void k_causal_softmax(float *P, size_t rows, int T) {
    WARP_ROW(row, rows);
    const int t = (int)(row % T);
    float *r = P + row * T;
    float mx = -INFINITY;
    for (int j = lane; j <= t; j += 32) mx = fmaxf(mx, r[j]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j <= t; j += 32) { float e = expf(r[j] - mx); r[j] = e; sum += e; }
    sum = warp_sum(sum);
    const float inv = 1.0f / sum;
    for (int j = lane; j < T; j += 32) r[j] = j <= t ? r[j] * inv : 0.0f;
}
/* dS = P∘(dP − Σ_j P∘dP)·scale in place over dP; 0 above the diagonal */
__global__ void k_causal_softmax_bwd(float *dP, const float *P, size_t rows, int T, float scale) {
    WARP_ROW(row, rows);
    const int t = (int)(row % T);
    const float *p = P + row * T;
    float *d = dP + row * T;
    float dot = 0.0f;
    for (int j = lane; j <= t; j += 32) dot += p[j] * d[j];
    dot = warp_sum(dot);
    for (int j = lane; j < T; j += 32) d[j] = j <= t ? p[j] * (d[j] - dot) * scale : 0.0f;
}

static void attention_fwd_impl(float *out, float *saved, float *scratch_f, const float *qkv, int B,
                               int T, int C, int NH, bool bf16) {
    if (B <= 0 || T <= 0 || C <= 0) return;
    const int hs = C / NH, BNH = B * NH;
    const size_t X = (size_t)B * T * C, Y = (size_t)BNH * T * T;
    const float scale = 1.0f / sqrtf((float)hs);
    float *q = scratch_f, *k = q + X, *v = k + X, *o = v + X;
    k_qkv_permute<<<grid_for(X, 256), 256, 0, S()>>>(q, k, v, qkv, B, T, C, NH);
    LAUNCH_CHECK();
    const void *Q = q, *K = k, *V = v;
    char *lp = NULL;
    if (bf16) {
        lp = (char *)scratch(SCR_LP, 3 * align256(X * 2) + align256(Y * 2));
        Q = to_bf16(lp, q, X);
        K = to_bf16(lp + align256(X * 2), k, X);
        V = to_bf16(lp + 2 * align256(X * 2), v, X);
    }
    const long long sT = (long long)T * hs, sTT = (long long)T * T;
    /* S[T,T] = scale · Q[T,hs] · K[T,hs]ᵀ, into saved */
    gemm_rm(false, true, T, T, hs, scale, Q, hs, sT, K, hs, sT, 0.0f, saved, T, sTT, BNH, bf16);
    k_causal_softmax<<<row_blocks((size_t)BNH * T), 32 * ROWS_PER_BLOCK, 0, S()>>>(
        saved, (size_t)BNH * T, T);
    LAUNCH_CHECK();
    const void *P = saved;
    if (bf16) P = to_bf16(lp + 3 * align256(X * 2), saved, Y);
    /* O[T,hs] = P[T,T] · V[T,hs] */
    gemm_rm(false, false, T, hs, T, 1.0f, P, T, sTT, V, hs, sT, 0.0f, o, hs, sT, BNH, bf16);
    k_unpermute<<<grid_for(X, 256), 256, 0, S()>>>(out, o, B, T, C, NH);
    LAUNCH_CHECK();
}

static void attention_bwd_impl(float *dqkv, float *scratch_f, const float *dout,
                               const float *qkv, const float *saved, int B, int T, int C, int NH,
                               bool bf16) {
    if (B <= 0 || T <= 0 || C <= 0) return;
    const int hs = C / NH, BNH = B * NH;
    const size_t X = (size_t)B * T * C, Y = (size_t)BNH * T * T;
    const float scale = 1.0f / sqrtf((float)hs);
    float *q = scratch_f, *k = q + X, *v = k + X, *dO = v + X;
    float *dq = dO + X, *dk = dq + X, *dv = dk + X, *dP = dv + X;
    k_qkv_permute<<<grid_for(X, 256), 256, 0, S()>>>(q, k, v, qkv, B, T, C, NH);
    LAUNCH_CHECK();
    k_head_split<<<grid_for(X, 256), 256, 0, S()>>>(dO, dout, B, T, C, NH);
    LAUNCH_CHECK();
    const void *Q = q, *K = k, *V = v, *DO = dO, *P = saved;
    char *lp = NULL;
    if (bf16) {
        lp = (char *)scratch(SCR_LP, 4 * align256(X * 2) + 2 * align256(Y * 2));
        Q = to_bf16(lp, q, X);
        K = to_bf16(lp + align256(X * 2), k, X);
        V = to_bf16(lp + 2 * align256(X * 2), v, X);
        DO = to_bf16(lp + 3 * align256(X * 2), dO, X);
        P = to_bf16(lp + 4 * align256(X * 2), saved, Y);
    }
    const long long sT = (long long)T * hs, sTT = (long long)T * T;
    /* dV[T,hs] = P[T,T]ᵀ · dO[T,hs] */
    gemm_rm(true, false, T, hs, T, 1.0f, P, T, sTT, DO, hs, sT, 0.0f, dv, hs, sT, BNH, bf16);
    /* dP[T,T] = dO[T,hs] · V[T,hs]ᵀ */
    gemm_rm(false, true, T, T, hs, 1.0f, DO, hs, sT, V, hs, sT, 0.0f, dP, T, sTT, BNH, bf16);
    k_causal_softmax_bwd<<<row_blocks((size_t)BNH * T), 32 * ROWS_PER_BLOCK, 0, S()>>>(
        dP, saved, (size_t)BNH * T, T, scale);
    LAUNCH_CHECK();
    const void *DS = dP;
    if (bf16) DS = to_bf16(lp + 4 * align256(X * 2) + align256(Y * 2), dP, Y);
    /* dQ[T,hs] = dS[T,T] · K[T,hs];  dK[T,hs] = dS[T,T]ᵀ · Q[T,hs] */
    gemm_rm(false, false, T, hs, T, 1.0f, DS, T, sTT, K, hs, sT, 0.0f, dq, hs, sT, BNH, bf16);
    gemm_rm(true, false, T, hs, T, 1.0f, DS, T, sTT, Q, hs, sT, 0.0f, dk, hs, sT, BNH, bf16);
    k_unpermute_qkv_acc<<<grid_for(X, 256), 256, 0, S()>>>(dqkv, dq, dk, dv, B, T, C, NH);
    LAUNCH_CHECK();
}

void cu_attention_fwd(float *out, float *saved, float *scratch_f, const float *qkv, int B,
                             int T, int C, int NH) {
    attention_fwd_impl(out, saved, scratch_f, qkv, B, T, C, NH, false);
}
void cu_attention_fwd_bf16(float *out, float *saved, float *scratch_f, const float *qkv,
                                  int B, int T, int C, int NH) {
    attention_fwd_impl(out, saved, scratch_f, qkv, B, T, C, NH, true);
}
void cu_attention_bwd(float *dqkv, float *scratch_f, const float *dout, const float *qkv,
                             const float *saved, int B, int T, int C, int NH) {
    attention_bwd_impl(dqkv, scratch_f, dout, qkv, saved, B, T, C, NH, false);
}
void cu_attention_bwd_bf16(float *dqkv, float *scratch_f, const float *dout,
                                  const float *qkv, const float *saved, int B, int T, int C,
                                  int NH) {
    attention_bwd_impl(dqkv, scratch_f, dout, qkv, saved, B, T, C, NH, true);
}

