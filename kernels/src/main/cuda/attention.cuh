// Causal multi-head attention with rotary embeddings, GQA and a KV cache over a packed varlen batch: the attention
// layers of mamba_ssm's hybrids (its MHA). Twins: ssdspark.kernels.Attention and Rotary.
//
// Sequence s keeps its keys in rows [kvStart[s], kvStart[s] + prefix[s] + len[s]) of k (Hkv*D floats a row), its
// values in the same rows of v: the first prefix[s] rows are the document's cache carried from earlier chunks, the
// rest are written by attn_rotary_kv from this chunk's tokens. Query row t at position p attends to rows [0, prefix + p].
#pragma once
#include "common.cuh"

// grid (T), block 128. qkv[t][ldQkv] from column qkvOff: q [H*D] | k [Hkv*D] | v [Hkv*D] (mamba_ssm's
// "(h d)" and "(two hkv d)" layouts). qOut[t][H*D] = rotary(q); row kvStart[s] + prefix[s] + pos of k gets
// rotary(k), of v gets v. Rotary turns the first rd dims of each head by the float32 angle
// (prefix[s] + pos) * invFreq[f] (flash_attn's cos/sin cache is built so; cos and sin of it in double);
// interleaved pairs (2f, 2f+1), else (f, f + rd/2).
extern "C" __global__ void attn_rotary_kv(const float* __restrict__ qkv, int ldQkv, int qkvOff, int H, int Hkv, int D,
                                          int rd, int interleaved, const float* __restrict__ invFreq,
                                          const int* __restrict__ tokSeq, const int* __restrict__ tokPos,
                                          const int* __restrict__ kvStart, const int* __restrict__ prefix,
                                          float* __restrict__ qOut, float* __restrict__ k, float* __restrict__ v) {
    const size_t t = blockIdx.x;
    const int s = tokSeq[t], pos = prefix[s] + tokPos[t], half = rd / 2;
    const float* row = qkv + t * ldQkv + qkvOff;
    const size_t kvRow = ((size_t)kvStart[s] + pos) * ((size_t)Hkv * D);
    for (int e = threadIdx.x; e < (H + Hkv) * D; e += blockDim.x) {
        const int head = e / D, i = e - head * D;
        float o = row[e];
        if (i < rd) {
            int f, j;
            if (interleaved) { f = i >> 1; j = i ^ 1; }
            else { f = i < half ? i : i - half; j = i < half ? i + half : i - half; }
            const float angle = __fmul_rn((float)pos, invFreq[f]);
            double sn, cs;
            sincos((double)angle, &sn, &cs);
            const float c = (float)cs, sv = (float)sn, x = row[e], xp = row[head * D + j];
            const bool first = interleaved ? (i & 1) == 0 : i < half;  // x0 * cos - x1 * sin | x1 * cos + x0 * sin
            o = first ? __fsub_rn(__fmul_rn(x, c), __fmul_rn(xp, sv)) : __fadd_rn(__fmul_rn(x, c), __fmul_rn(xp, sv));
        }
        if (head < H) qOut[t * H * D + e] = o;
        else k[kvRow + e - H * D] = o;
    }
    for (int e = threadIdx.x; e < Hkv * D; e += blockDim.x) v[kvRow + e] = row[(H + Hkv) * D + e];
}

// Flash-style attention: one block per (64-query tile, head), 256 threads as 16 x 16; thread (ty, tx) owns query
// rows ty*4..ty*4+3, score columns tx + 16j and output columns tx + 16j (j < NJ, NJ*16 >= D). Keys stream through
// shared memory 64 at a time with an online softmax in fp32. Tile i is query rows [q0, q0+64) of sequence
// tileSeq[i] (q0 = tileQ0[i]). out[t][h*D + d] in the GEMM input type, row stride ldOut.
#define ATT_TILE 64

__device__ __forceinline__ float max16(float v) {
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ float sum16(float v) {
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <int NJ, typename OutT>
__device__ __forceinline__ void attn_fwd_impl(const float* __restrict__ q, const float* __restrict__ kc,
                                              const float* __restrict__ vc, int H, int Hkv,
                                              int D, float scale, const int* __restrict__ tileSeq,
                                              const int* __restrict__ tileQ0, const int* __restrict__ seqStart,
                                              const int* __restrict__ seqLen, const int* __restrict__ kvStart,
                                              const int* __restrict__ prefix, OutT* __restrict__ out, int ldOut) {
    extern __shared__ float att_sm[];
    const int ldk = D + 1;                          // padded: the 16 tx threads read 16 different key rows
    float* Qs = att_sm;                             // [64][D], pre-scaled
    float* Ks = Qs + ATT_TILE * D;                  // [64][D+1]
    float* Vs = Ks + ATT_TILE * ldk;                // [64][D]
    float* Ps = Vs + ATT_TILE * D;                  // [64][65]
    const int tile = blockIdx.x, h = blockIdx.y, hk = h / (H / Hkv);
    const int s = tileSeq[tile], q0 = tileQ0[tile], pre = prefix[s];
    const int nq = min(ATT_TILE, seqLen[s] - q0);
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    const size_t ldq = (size_t)H * D, ldkv = (size_t)Hkv * D;
    const size_t t0 = (size_t)seqStart[s] + q0;
    const float* kBase = kc + (size_t)kvStart[s] * ldkv + (size_t)hk * D;
    const float* vBase = vc + (size_t)kvStart[s] * ldkv + (size_t)hk * D;

    for (int e = threadIdx.x; e < ATT_TILE * D; e += blockDim.x) {
        const int r = e / D, i = e - r * D;
        Qs[e] = r < nq ? q[(t0 + r) * ldq + (size_t)h * D + i] * scale : 0.f;
    }
    float m[4], l[4], o[4][NJ];
    int qa[4];  // absolute position of each row (rows past the sequence repeat its last one; never written)
#pragma unroll
    for (int i = 0; i < 4; i++) {
        m[i] = SSD_NEG_INF;
        l[i] = 0.f;
        qa[i] = pre + q0 + min(ty * 4 + i, nq - 1);
#pragma unroll
        for (int j = 0; j < NJ; j++) o[i][j] = 0.f;
    }
    const int kEnd = pre + q0 + nq;  // keys [0, kEnd) are visible to some row of the tile
    for (int k0 = 0; k0 < kEnd; k0 += ATT_TILE) {
        const int nk = min(ATT_TILE, kEnd - k0);
        __syncthreads();  // the previous tile's readers are done
        for (int e = threadIdx.x; e < ATT_TILE * D; e += blockDim.x) {
            const int r = e / D, i = e - r * D;
            float kx = 0.f, vx = 0.f;
            if (r < nk) {
                kx = kBase[(size_t)(k0 + r) * ldkv + i];
                vx = vBase[(size_t)(k0 + r) * ldkv + i];
            }
            Ks[r * ldk + i] = kx;
            Vs[r * D + i] = vx;
        }
        __syncthreads();
        float sc[4][4];
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) sc[i][j] = 0.f;
        for (int d = 0; d < D; d++) {
            float qv[4], kx[4];
#pragma unroll
            for (int i = 0; i < 4; i++) qv[i] = Qs[(ty * 4 + i) * D + d];
#pragma unroll
            for (int j = 0; j < 4; j++) kx[j] = Ks[(tx + 16 * j) * ldk + d];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) sc[i][j] = fmaf(qv[i], kx[j], sc[i][j]);
        }
#pragma unroll
        for (int i = 0; i < 4; i++) {
            float mx = SSD_NEG_INF;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int c = tx + 16 * j;
                if (c >= nk || k0 + c > qa[i]) sc[i][j] = SSD_NEG_INF;
                mx = fmaxf(mx, sc[i][j]);
            }
            // finite: key 0 is visible to every row, so m is finite from the first tile on
            const float mn = fmaxf(m[i], max16(mx));
            const float alpha = expf(m[i] - mn);
            float rs = 0.f;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const float p = expf(sc[i][j] - mn);
                Ps[(ty * 4 + i) * (ATT_TILE + 1) + tx + 16 * j] = p;
                rs += p;
            }
            l[i] = l[i] * alpha + sum16(rs);
            m[i] = mn;
#pragma unroll
            for (int j = 0; j < NJ; j++) o[i][j] *= alpha;
        }
        __syncwarp();  // a row's probabilities are written and read by the 16 threads of one half-warp
        for (int c = 0; c < nk; c++) {
            float pv[4];
#pragma unroll
            for (int i = 0; i < 4; i++) pv[i] = Ps[(ty * 4 + i) * (ATT_TILE + 1) + c];
#pragma unroll
            for (int j = 0; j < NJ; j++) {
                const int dc = tx + 16 * j;
                const float vx = dc < D ? Vs[c * D + dc] : 0.f;
#pragma unroll
                for (int i = 0; i < 4; i++) o[i][j] = fmaf(pv[i], vx, o[i][j]);
            }
        }
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int r = ty * 4 + i;
        if (r >= nq) continue;
        const float inv = 1.f / l[i];
#pragma unroll
        for (int j = 0; j < NJ; j++) {
            const int dc = tx + 16 * j;
            if (dc < D) store_f(out + (t0 + r) * ldOut + (size_t)h * D + dc, o[i][j] * inv);
        }
    }
}

#define SSD_ATTN(NJ, SUF, T)                                                                                            \
    extern "C" __global__ void __launch_bounds__(256) attn_fwd_nj##NJ##_##SUF(                                          \
        const float* q, const float* k, const float* v, int H, int Hkv, int D, float scale, const int* tileSeq,       \
        const int* tileQ0, const int* seqStart, const int* seqLen, const int* kvStart, const int* prefix, T* out,      \
        int ldOut) {                                                                                                    \
        attn_fwd_impl<NJ, T>(q, k, v, H, Hkv, D, scale, tileSeq, tileQ0, seqStart, seqLen, kvStart, prefix, out,       \
                             ldOut);                                                                                    \
    }
SSD_ATTN(4, f32, float)
SSD_ATTN(4, bf16, bf16)
SSD_ATTN(4, f16, f16)
SSD_ATTN(8, f32, float)
SSD_ATTN(8, bf16, bf16)
SSD_ATTN(8, f16, f16)
SSD_ATTN(16, f32, float)
SSD_ATTN(16, bf16, bf16)
SSD_ATTN(16, f16, f16)

// grid (rows), block 256: the gated-MLP product of mamba_ssm's GatedMLP and MHA's MLP part:
// out[r][outOff + i] = in[r][inOff + i] * silu(in[r][inOff + n + i]) for i < n (value half, then gate half);
// out[r][padFrom, ldOut) = 0 (the GEMM reads rows padded to a multiple of 8).
template <typename T>
__device__ __forceinline__ void silu_gate_impl(const float* __restrict__ in, int ldIn, int inOff, int n,
                                               T* __restrict__ out, int ldOut, int outOff, int padFrom) {
    const size_t r = blockIdx.x;
    const float* x = in + r * ldIn + inOff;
    T* y = out + r * ldOut;
    for (int i = threadIdx.x; i < n; i += blockDim.x) store_f(y + outOff + i, x[i] * silu_f(x[n + i]));
    for (int i = padFrom + threadIdx.x; i < ldOut; i += blockDim.x) store_f(y + i, 0.f);
}
extern "C" __global__ void silu_gate_f32(const float* in, int ldIn, int inOff, int n, float* out, int ldOut, int outOff, int padFrom) {
    silu_gate_impl(in, ldIn, inOff, n, out, ldOut, outOff, padFrom);
}
extern "C" __global__ void silu_gate_bf16(const float* in, int ldIn, int inOff, int n, bf16* out, int ldOut, int outOff, int padFrom) {
    silu_gate_impl(in, ldIn, inOff, n, out, ldOut, outOff, padFrom);
}
extern "C" __global__ void silu_gate_f16(const float* in, int ldIn, int inOff, int n, f16* out, int ldOut, int outOff, int padFrom) {
    silu_gate_impl(in, ldIn, inOff, n, out, ldOut, outOff, padFrom);
}
