// LM head fused with log-softmax and target gather. Twin: ssdspark.kernels.LmHead.logProbsCpu.
// Logits for a tile of rows x a tile of vocabulary live only in registers: each CTA walks its share of the
// vocabulary (a split) keeping an online logsumexp (m, s) per row, the thread that meets a row's target column
// writes that logit, and lm_head_finish merges the splits: out = logit[target] - logsumexp.
#pragma once
#include "gemm_sm90.cuh"
#include "gemm_sm90_tiled.cuh"

// grid (splits, ceil(M/128)), block 256, dynamic smem mma_gemm::smem_bytes<3>().
// H[M][ldh] hidden rows, E[V][lde] head rows (K = d_model), both bf16 or both fp16. Split sp covers vocab tiles
// [sp*tilesPerSplit, (sp+1)*tilesPerSplit) of 128; writes partM/partS[sp][M].
template <typename T>
__device__ __forceinline__ void lm_head_half(const T* __restrict__ H, int ldh, const T* __restrict__ E, int lde, int M,
                                             int V, int K, const int* __restrict__ targets, int tilesPerSplit,
                                             float* partM, float* partS, float* targetLogit) {
    using namespace mma_gemm;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const int split = blockIdx.x, bm = blockIdx.y * BM;
    const int vtiles = (V + BN - 1) / BN;
    const int vt0 = split * tilesPerSplit, vt1 = min(vt0 + tilesPerSplit, vtiles);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, wm = warp >> 2, wn = warp & 3;
    int tg[8];
    float m[8], s[8];
#pragma unroll
    for (int rr = 0; rr < 8; rr++) {
        const int row = bm + wm * 64 + (rr >> 1) * 16 + (lane >> 2) + (rr & 1) * 8;
        tg[rr] = row < M ? targets[row] : -1;
        m[rr] = SSD_NEG_INF;
        s[rr] = 0.f;
    }
    float acc[4][4][4];
    for (int vt = vt0; vt < vt1; vt++) {
        const int bn = vt * BN;
        mainloop<T>(acc, H, ldh, E, lde, M, V, K, bm, bn, reinterpret_cast<T*>(smem_raw));
#pragma unroll
        for (int mi = 0; mi < 4; mi++)
#pragma unroll
            for (int half = 0; half < 2; half++) {
                const int rr = mi * 2 + half;
                float vmax = SSD_NEG_INF;
#pragma unroll
                for (int ni = 0; ni < 4; ni++)
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        const int col = bn + wn * 32 + ni * 8 + (lane & 3) * 2 + e;
                        if (col < V) vmax = fmaxf(vmax, acc[mi][ni][half * 2 + e]);
                    }
                const float nm = fmaxf(m[rr], vmax);
                if (nm == SSD_NEG_INF) continue;
                float sum = s[rr] * expf(m[rr] - nm);
#pragma unroll
                for (int ni = 0; ni < 4; ni++)
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        const int col = bn + wn * 32 + ni * 8 + (lane & 3) * 2 + e;
                        const float v = acc[mi][ni][half * 2 + e];
                        if (col < V) sum += expf(v - nm);
                        if (col == tg[rr]) targetLogit[bm + wm * 64 + mi * 16 + (lane >> 2) + half * 8] = v;
                    }
                s[rr] = sum;
                m[rr] = nm;
            }
    }
    // reduce over the 4 lanes of a quad (same rows, other columns), then over the 4 warps along N
#pragma unroll
    for (int rr = 0; rr < 8; rr++)
#pragma unroll
        for (int o = 1; o <= 2; o <<= 1) {
            const float m2 = __shfl_xor_sync(0xffffffffu, m[rr], o), s2 = __shfl_xor_sync(0xffffffffu, s[rr], o);
            lse_merge(m[rr], s[rr], m2, s2);
        }
    __syncthreads();  // the last mainloop is done with smem
    float* redM = reinterpret_cast<float*>(smem_raw);  // [4][128]
    float* redS = redM + 4 * BM;
    if ((lane & 3) == 0)
#pragma unroll
        for (int rr = 0; rr < 8; rr++) {
            const int lr = wm * 64 + (rr >> 1) * 16 + (lane >> 2) + (rr & 1) * 8;
            redM[wn * BM + lr] = m[rr];
            redS[wn * BM + lr] = s[rr];
        }
    __syncthreads();
    if (threadIdx.x < BM && bm + threadIdx.x < M) {
        float mm = redM[threadIdx.x], ss = redS[threadIdx.x];
        for (int w = 1; w < 4; w++) lse_merge(mm, ss, redM[w * BM + threadIdx.x], redS[w * BM + threadIdx.x]);
        partM[(size_t)split * M + bm + threadIdx.x] = mm;
        partS[(size_t)split * M + bm + threadIdx.x] = ss;
    }
}

extern "C" __global__ void __launch_bounds__(256) lm_head_bf16(const bf16* H, int ldh, const bf16* E, int lde, int M,
                                                               int V, int K, const int* targets, int tilesPerSplit,
                                                               float* partM, float* partS, float* targetLogit) {
    lm_head_half<bf16>(H, ldh, E, lde, M, V, K, targets, tilesPerSplit, partM, partS, targetLogit);
}
extern "C" __global__ void __launch_bounds__(256) lm_head_f16(const f16* H, int ldh, const f16* E, int lde, int M,
                                                              int V, int K, const int* targets, int tilesPerSplit,
                                                              float* partM, float* partS, float* targetLogit) {
    lm_head_half<f16>(H, ldh, E, lde, M, V, K, targets, tilesPerSplit, partM, partS, targetLogit);
}

// grid (splits, ceil(M/64)), block 256: the fp32 twin of lm_head_bf16 on the SIMT tile (64 rows x 64 vocab).
extern "C" __global__ void __launch_bounds__(256) lm_head_f32(const float* __restrict__ H, int ldh,
                                                              const float* __restrict__ E, int lde, int M, int V,
                                                              int K, const int* __restrict__ targets,
                                                              int tilesPerSplit, float* partM, float* partS,
                                                              float* targetLogit) {
    using namespace simt_gemm;
    __shared__ __align__(16) float As[BK][LDS];
    __shared__ __align__(16) float Bs[BK][LDS];
    const int split = blockIdx.x, bm = blockIdx.y * BM, tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    const int vtiles = (V + BN - 1) / BN;
    const int vt0 = split * tilesPerSplit, vt1 = min(vt0 + tilesPerSplit, vtiles);
    int tg[4];
    float m[4], s[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int row = bm + ty * 4 + i;
        tg[i] = row < M ? targets[row] : -1;
        m[i] = SSD_NEG_INF;
        s[i] = 0.f;
    }
    float acc[4][4];
    for (int vt = vt0; vt < vt1; vt++) {
        const int bn = vt * BN;
        mainloop(acc, H, ldh, E, lde, M, V, K, bm, bn, As, Bs);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            float vmax = SSD_NEG_INF;
#pragma unroll
            for (int j = 0; j < 4; j++)
                if (bn + tx * 4 + j < V) vmax = fmaxf(vmax, acc[i][j]);
            const float nm = fmaxf(m[i], vmax);
            if (nm == SSD_NEG_INF) continue;
            float sum = s[i] * expf(m[i] - nm);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int col = bn + tx * 4 + j;
                if (col < V) sum += expf(acc[i][j] - nm);
                if (col == tg[i]) targetLogit[bm + ty * 4 + i] = acc[i][j];
            }
            s[i] = sum;
            m[i] = nm;
        }
    }
    // the 16 threads of one ty (a half warp) share rows
#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int o = 1; o <= 8; o <<= 1) {
            const float m2 = __shfl_xor_sync(0xffffffffu, m[i], o), s2 = __shfl_xor_sync(0xffffffffu, s[i], o);
            lse_merge(m[i], s[i], m2, s2);
        }
        const int row = bm + ty * 4 + i;
        if (tx == 0 && row < M) {
            partM[(size_t)split * M + row] = m[i];
            partS[(size_t)split * M + row] = s[i];
        }
    }
}

// grid (ceil(M/256)), block 256: out[r] = targetLogit[r] - logsumexp over splits; NaN where targets[r] < 0.
extern "C" __global__ void lm_head_finish(const float* partM, const float* partS, int splits, int M,
                                          const float* targetLogit, const int* targets, float* out) {
    const int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= M) return;
    float m = SSD_NEG_INF, s = 0.f;
    for (int sp = 0; sp < splits; sp++) lse_merge(m, s, partM[(size_t)sp * M + r], partS[(size_t)sp * M + r]);
    out[r] = targets[r] >= 0 ? targetLogit[r] - (m + logf(s)) : __int_as_float(0x7fc00000);
}

// The same on Hopper's warpgroup tensor cores (sm_90a; gemm_sm90.cuh's shipped tile shape): grid (splits, ceil(M/128)),
// block 256, dynamic smem wg_gemm::smem_bytes<SSD_WG_BN, SSD_WG_STAGES>(), vocabulary tiles of SSD_WG_BN. Each thread
// holds two rows (r0, r0 + 8) of the tile.
template <typename T>
__device__ __forceinline__ void lm_head_wg(const T* __restrict__ H, int ldh, const T* __restrict__ E, int lde, int M,
                                           int V, int K, const int* __restrict__ targets, int tilesPerSplit,
                                           float* partM, float* partS, float* targetLogit) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace wg_gemm;
    constexpr int BN = SSD_WG_BN;
    const uint32_t smem = aligned_smem();
    const int split = blockIdx.x, bm = blockIdx.y * BM;
    const int vtiles = (V + BN - 1) / BN;
    const int vt0 = split * tilesPerSplit, vt1 = min(vt0 + tilesPerSplit, vtiles);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int r0 = bm + (warp >> 2) * 64 + (warp & 3) * 16 + (lane >> 2);
    int tg[2];
    float m[2], s[2];
#pragma unroll
    for (int h = 0; h < 2; h++) {
        tg[h] = r0 + 8 * h < M ? targets[r0 + 8 * h] : -1;
        m[h] = SSD_NEG_INF;
        s[h] = 0.f;
    }
    float acc[BN / 2];
    for (int vt = vt0; vt < vt1; vt++) {
        const int bn = vt * BN;
        mainloop<T, BN, SSD_WG_STAGES, SSD_WG_INFLIGHT>(acc, H, ldh, E, lde, M, V, K, bm, bn, smem);
#pragma unroll
        for (int h = 0; h < 2; h++) {
            float vmax = SSD_NEG_INF;
#pragma unroll
            for (int j = 0; j < BN / 8; j++)
#pragma unroll
                for (int e = 0; e < 2; e++)
                    if (bn + 8 * j + 2 * (lane & 3) + e < V) vmax = fmaxf(vmax, acc[4 * j + 2 * h + e]);
            const float nm = fmaxf(m[h], vmax);
            if (nm == SSD_NEG_INF) continue;
            float sum = s[h] * expf(m[h] - nm);
#pragma unroll
            for (int j = 0; j < BN / 8; j++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int col = bn + 8 * j + 2 * (lane & 3) + e;
                    const float v = acc[4 * j + 2 * h + e];
                    if (col < V) sum += expf(v - nm);
                    if (col == tg[h]) targetLogit[r0 + 8 * h] = v;
                }
            s[h] = sum;
            m[h] = nm;
        }
    }
    // the four lanes of a quad hold the other columns of the same rows
#pragma unroll
    for (int h = 0; h < 2; h++) {
#pragma unroll
        for (int o = 1; o <= 2; o <<= 1) {
            const float m2 = __shfl_xor_sync(0xffffffffu, m[h], o), s2 = __shfl_xor_sync(0xffffffffu, s[h], o);
            lse_merge(m[h], s[h], m2, s2);
        }
        const int row = r0 + 8 * h;
        if ((lane & 3) == 0 && row < M) {
            partM[(size_t)split * M + row] = m[h];
            partS[(size_t)split * M + row] = s[h];
        }
    }
#else
    __trap();  // the host launches this only where the sm_90a code is loaded
#endif
}

extern "C" __global__ void __launch_bounds__(256, 2) lm_head_bf16_wg(const bf16* H, int ldh, const bf16* E, int lde,
                                                                     int M, int V, int K, const int* targets,
                                                                     int tilesPerSplit, float* partM, float* partS,
                                                                     float* targetLogit) {
    lm_head_wg<bf16>(H, ldh, E, lde, M, V, K, targets, tilesPerSplit, partM, partS, targetLogit);
}
extern "C" __global__ void __launch_bounds__(256, 2) lm_head_f16_wg(const f16* H, int ldh, const f16* E, int lde,
                                                                    int M, int V, int K, const int* targets,
                                                                    int tilesPerSplit, float* partM, float* partS,
                                                                    float* targetLogit) {
    lm_head_wg<f16>(H, ldh, E, lde, M, V, K, targets, tilesPerSplit, partM, partS, targetLogit);
}

// The same on the pre-tiled warp-specialised GEMM (gemm_sm90_tiled.cuh, sm_90a, bf16) with gemm_bf16_tn_tiled's
// schedule (ping-pong 128 x 128, 6 stages: one consumer's log-sum-exp epilogue runs under the other's main loop): H and E
// pre-tiled (ldh / lde = their padded row counts), one split per vocabulary tile of 128, so the persistent CTAs need no
// per-row state across tiles: each finished 128 x 128 tile leaves partM/partS[tile][row] (and the target logits it
// holds), and lm_head_finish merges the ceil(V / 128) splits. Grid (min(tiles, SMs)), block 384, dynamic smem
// ws_gemm::smem_bytes<128, SSD_TILED_STAGES>().
struct RowLogSumExp {
    const int* targets;
    float *partM, *partS, *targetLogit;
    template <int BN>
    __device__ __forceinline__ void operator()(const float (&acc)[BN / 2], int r0, int bn, int M, int V, int lane) const {
        const int split = bn / BN;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int row = r0 + 8 * h, tg = row < M ? targets[row] : -1;
            float m = SSD_NEG_INF, s = 0.f;
#pragma unroll
            for (int j = 0; j < BN / 8; j++)
#pragma unroll
                for (int e = 0; e < 2; e++)
                    if (bn + 8 * j + 2 * (lane & 3) + e < V) m = fmaxf(m, acc[4 * j + 2 * h + e]);
            if (m != SSD_NEG_INF)
#pragma unroll
                for (int j = 0; j < BN / 8; j++)
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        const int col = bn + 8 * j + 2 * (lane & 3) + e;
                        const float v = acc[4 * j + 2 * h + e];
                        if (col < V) s += ex2_approx((v - m) * SSD_LOG2E);  // the epilogue runs exposed: one SFU op
                        if (col == tg) targetLogit[row] = v;
                    }
            // the four lanes of a quad hold the other columns of the same rows
#pragma unroll
            for (int o = 1; o <= 2; o <<= 1) {
                const float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
                lse_merge(m, s, m2, s2);
            }
            if ((lane & 3) == 0 && row < M) {
                partM[(size_t)split * M + row] = m;
                partS[(size_t)split * M + row] = s;
            }
        }
    }
};
extern "C" __global__ void __launch_bounds__(384, 1) lm_head_bf16_tiled(const bf16* H, int ldh, const bf16* E, int lde,
                                                                       int M, int V, int K, const int* targets,
                                                                       float* partM, float* partS, float* targetLogit) {
    ws_gemm::gemm_ws<128, SSD_TILED_STAGES, true, true, 8, 40, 232, true>(H, ldh, E, lde, M, V, K,
                                                                         RowLogSumExp{targets, partM, partS, targetLogit});
}
