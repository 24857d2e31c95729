// Causal multi-head attention with rotary embeddings, GQA and a KV cache over a packed varlen batch: the attention
// layers of mamba_ssm's hybrids (its MHA). Twins: ssdspark.kernels.Attention and Rotary.
//
// Sequence s keeps its keys in rows [kvStart[s], kvStart[s] + prefix[s] + len[s]) of k (Hkv*D floats a row), its
// values in the same rows of v: the first prefix[s] rows are the document's cache carried from earlier chunks, the
// rest are written by attn_rotary_kv from this chunk's tokens. Query row t at position p attends to rows [0, prefix + p].
#pragma once
#include "common.cuh"
#include "gemm.cuh"  // mma_gemm::mma16816

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

// The 16-bit engines' attention on tensor cores (flash-attention's scheme): q, k, v rounded to bf16 / fp16 as they
// enter shared memory, q.k and p.v on mma.sync m16n8k16 with fp32 accumulation, the online softmax in fp32 registers
// (p rounded to 16 bits for p.v, as flash-attn does). One block per (64-query tile, head), 4 warps of 16 query rows;
// keys stream 64 at a time. Same tables and layouts as attn_fwd_nj*; D a multiple of 16, at most 128.
namespace attn_tc {
template <typename T> __device__ __forceinline__ uint32_t pack2(float a, float b);
template <> __device__ __forceinline__ uint32_t pack2<bf16>(float a, float b) { return pack_bf16(a, b); }
template <> __device__ __forceinline__ uint32_t pack2<f16>(float a, float b) {
    const __half2 v = __floats2half2_rn(a, b);
    return *reinterpret_cast<const uint32_t*>(&v);
}
template <typename T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ bf16 from_f<bf16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ f16 from_f<f16>(float v) { return __float2half_rn(v); }
}  // namespace attn_tc

template <int D, typename T>
__device__ __forceinline__ void attn_fwd_tc_impl(const float* __restrict__ q, const float* __restrict__ kc,
                                                 const float* __restrict__ vc, int H, int Hkv, float scale,
                                                 const int* __restrict__ tileSeq, const int* __restrict__ tileQ0,
                                                 const int* __restrict__ seqStart, const int* __restrict__ seqLen,
                                                 const int* __restrict__ kvStart, const int* __restrict__ prefix,
                                                 T* __restrict__ out, int ldOut) {
    using namespace attn_tc;
    constexpr int LD = D + 8;          // 16-bit elements a staged row (the pad spreads a warp's rows over banks)
    constexpr int LDV = ATT_TILE + 8;  // values are staged transposed: [d][key]
    extern __shared__ __align__(16) unsigned char att_tc_sm[];  // GpuAttention: 2 * (2 * 64 * LD + D * LDV) bytes
    T* Qs = reinterpret_cast<T*>(att_tc_sm);                    // [64 queries][LD], pre-scaled
    T* Ks = Qs + ATT_TILE * LD;                                 // [64 keys][LD]
    T* Vt = Ks + ATT_TILE * LD;                                 // [D][LDV]
    const int tile = blockIdx.x, h = blockIdx.y, hk = h / (H / Hkv);
    const int s = tileSeq[tile], q0 = tileQ0[tile], pre = prefix[s];
    const int nq = min(ATT_TILE, seqLen[s] - q0);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, tq = lane & 3;
    const size_t ldq = (size_t)H * D, ldkv = (size_t)Hkv * D;
    const size_t t0 = (size_t)seqStart[s] + q0;
    const float* kBase = kc + (size_t)kvStart[s] * ldkv + (size_t)hk * D;
    const float* vBase = vc + (size_t)kvStart[s] * ldkv + (size_t)hk * D;
    for (int e = threadIdx.x; e < ATT_TILE * D; e += blockDim.x) {
        const int r = e / D, i = e - r * D;
        Qs[r * LD + i] = from_f<T>(r < nq ? q[(t0 + r) * ldq + (size_t)h * D + i] * scale : 0.f);
    }
    const int r0 = warp * 16 + g;  // this thread's rows r0 and r0 + 8
    const int qa0 = pre + q0 + min(r0, nq - 1), qa1 = pre + q0 + min(r0 + 8, nq - 1);
    float m0 = SSD_NEG_INF, m1 = SSD_NEG_INF, l0 = 0.f, l1 = 0.f;
    float o[D / 8][4];
#pragma unroll
    for (int j = 0; j < D / 8; j++) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
    const int kEnd = pre + q0 + nq;
    for (int k0 = 0; k0 < kEnd; k0 += ATT_TILE) {
        const int nk = min(ATT_TILE, kEnd - k0);
        __syncthreads();  // the previous tile's readers are done (and Qs is written before the first)
        for (int e = threadIdx.x; e < ATT_TILE * D; e += blockDim.x) {
            const int r = e / D, i = e - r * D;
            const bool in = r < nk;
            Ks[r * LD + i] = from_f<T>(in ? kBase[(size_t)(k0 + r) * ldkv + i] : 0.f);
            Vt[i * LDV + r] = from_f<T>(in ? vBase[(size_t)(k0 + r) * ldkv + i] : 0.f);
        }
        __syncthreads();
        // S[16 rows][64 keys] = q . k^T
        float sc[8][4];
#pragma unroll
        for (int j = 0; j < 8; j++) sc[j][0] = sc[j][1] = sc[j][2] = sc[j][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < D; kk += 16) {
            uint32_t a[4];
            a[0] = *reinterpret_cast<const uint32_t*>(&Qs[r0 * LD + kk + 2 * tq]);
            a[1] = *reinterpret_cast<const uint32_t*>(&Qs[(r0 + 8) * LD + kk + 2 * tq]);
            a[2] = *reinterpret_cast<const uint32_t*>(&Qs[r0 * LD + kk + 8 + 2 * tq]);
            a[3] = *reinterpret_cast<const uint32_t*>(&Qs[(r0 + 8) * LD + kk + 8 + 2 * tq]);
#pragma unroll
            for (int j = 0; j < 8; j++) {
                uint32_t b[2];
                b[0] = *reinterpret_cast<const uint32_t*>(&Ks[(j * 8 + g) * LD + kk + 2 * tq]);
                b[1] = *reinterpret_cast<const uint32_t*>(&Ks[(j * 8 + g) * LD + kk + 8 + 2 * tq]);
                mma_gemm::mma16816<T>(sc[j], a, b);
            }
        }
        // mask, online softmax over each row (the 4 threads of a row hold its 64 scores)
        float mx0 = SSD_NEG_INF, mx1 = SSD_NEG_INF;
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int c = j * 8 + 2 * tq + e;
                if (c >= nk || k0 + c > qa0) sc[j][e] = SSD_NEG_INF;
                if (c >= nk || k0 + c > qa1) sc[j][2 + e] = SSD_NEG_INF;
                mx0 = fmaxf(mx0, sc[j][e]);
                mx1 = fmaxf(mx1, sc[j][2 + e]);
            }
#pragma unroll
        for (int off = 1; off < 4; off <<= 1) {
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, off));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, off));
        }
        const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);  // finite: key 0 is visible to every row
        const float al0 = expf(m0 - mn0), al1 = expf(m1 - mn1);
        float rs0 = 0.f, rs1 = 0.f;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            sc[j][0] = expf(sc[j][0] - mn0);
            sc[j][1] = expf(sc[j][1] - mn0);
            sc[j][2] = expf(sc[j][2] - mn1);
            sc[j][3] = expf(sc[j][3] - mn1);
            rs0 += sc[j][0] + sc[j][1];
            rs1 += sc[j][2] + sc[j][3];
        }
#pragma unroll
        for (int off = 1; off < 4; off <<= 1) {
            rs0 += __shfl_xor_sync(0xffffffffu, rs0, off);
            rs1 += __shfl_xor_sync(0xffffffffu, rs1, off);
        }
        l0 = l0 * al0 + rs0;
        l1 = l1 * al1 + rs1;
        m0 = mn0;
        m1 = mn1;
#pragma unroll
        for (int j = 0; j < D / 8; j++) {
            o[j][0] *= al0;
            o[j][1] *= al0;
            o[j][2] *= al1;
            o[j][3] *= al1;
        }
        // O += P . V: the score accumulators of key blocks 2kk, 2kk+1 are the A fragment of keys [16kk, 16kk+16)
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            uint32_t a[4];
            a[0] = pack2<T>(sc[2 * kk][0], sc[2 * kk][1]);
            a[1] = pack2<T>(sc[2 * kk][2], sc[2 * kk][3]);
            a[2] = pack2<T>(sc[2 * kk + 1][0], sc[2 * kk + 1][1]);
            a[3] = pack2<T>(sc[2 * kk + 1][2], sc[2 * kk + 1][3]);
#pragma unroll
            for (int j = 0; j < D / 8; j++) {
                uint32_t b[2];
                b[0] = *reinterpret_cast<const uint32_t*>(&Vt[(j * 8 + g) * LDV + 16 * kk + 2 * tq]);
                b[1] = *reinterpret_cast<const uint32_t*>(&Vt[(j * 8 + g) * LDV + 16 * kk + 8 + 2 * tq]);
                mma_gemm::mma16816<T>(o[j], a, b);
            }
        }
    }
    const float inv0 = 1.f / l0, inv1 = 1.f / l1;
#pragma unroll
    for (int j = 0; j < D / 8; j++) {
        const int d = j * 8 + 2 * tq;
        if (r0 < nq) {
            T* p = out + (t0 + r0) * ldOut + (size_t)h * D + d;
            store_f(p, o[j][0] * inv0);
            store_f(p + 1, o[j][1] * inv0);
        }
        if (r0 + 8 < nq) {
            T* p = out + (t0 + r0 + 8) * ldOut + (size_t)h * D + d;
            store_f(p, o[j][2] * inv1);
            store_f(p + 1, o[j][3] * inv1);
        }
    }
}

#define SSD_ATTN_TC(DD, SUF, T)                                                                                        \
    extern "C" __global__ void __launch_bounds__(128) attn_fwd_tc_d##DD##_##SUF(                                       \
        const float* q, const float* k, const float* v, int H, int Hkv, int D, float scale, const int* tileSeq,       \
        const int* tileQ0, const int* seqStart, const int* seqLen, const int* kvStart, const int* prefix, T* out,      \
        int ldOut) {                                                                                                    \
        attn_fwd_tc_impl<DD, T>(q, k, v, H, Hkv, scale, tileSeq, tileQ0, seqStart, seqLen, kvStart, prefix, out,       \
                                ldOut);                                                                                 \
    }
SSD_ATTN_TC(32, bf16, bf16)
SSD_ATTN_TC(64, bf16, bf16)
SSD_ATTN_TC(96, bf16, bf16)
SSD_ATTN_TC(128, bf16, bf16)
SSD_ATTN_TC(32, f16, f16)
SSD_ATTN_TC(64, f16, f16)
SSD_ATTN_TC(96, f16, f16)
SSD_ATTN_TC(128, f16, f16)

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
