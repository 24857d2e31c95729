// Experimental SSD kernels for tools/bench/ssd_bench.cu (-DSSD_BENCH_VARIANTS='"ssd_variants.cuh"'); never shipped.
#pragma once
#include <functional>
#include <vector>

struct BenchArgs {
    const float* x;
    int ldX, xOff, bOff, cOff;
    const float *dt, *cum;
    int T;
    const int *chunkStart, *chunkLen;
    int H, P, N, G;
    float* states;
    const float *passed, *cb, *D;
    float* y;
    int ldY;
};
struct BenchVariant {
    const char* name;
    bool replacesScan;
    std::function<void()> prepare;
    std::function<void(const BenchArgs&)> launch;
};

// Tried and not shipped (KERNEL_NOTES.md "Latency, not tensor cores"; source in commit 14d00d8):
// C split into {hi, lo} bf16 pairs once per token by a small kernel, read by the scan instead of splitting C per head
// (477 us against the shipped scan's 401 us per 130M layer: more registers live, more spills at three CTAs per SM).
// ssd_chunk_scan_tc with the causal work balanced over the warps. Shipped: warp w owns row block w (16 steps) and all
// 64 channels, so its intra-chunk part is w + 1 k-steps: warp 7 does 16 k-steps, warp 0 9, and a CTA holds its
// registers and shared memory until warp 7 is done. Here warp w owns channels [32 (w%2), +32) of row blocks w/2 and
// 7 - w/2, one after the other: 25 k-steps of half the width for every warp. The same products in the same order
// per output, so the same bits as the shipped kernel.
namespace ssd_var {
using namespace ssd_tc;
template <int J>
__device__ __forceinline__ void mma3(float (&acc)[J][4], const Split2 (&a)[4], const uint32_t (&bh0)[J],
                                     const uint32_t (&bh1)[J], const uint32_t (&bl0)[J], const uint32_t (&bl1)[J]) {
#pragma unroll
    for (int j = 0; j < J; j++) mma_bf16(acc[j], a[0].lo, a[1].lo, a[2].lo, a[3].lo, bh0[j], bh1[j]);
#pragma unroll
    for (int j = 0; j < J; j++) mma_bf16(acc[j], a[0].hi, a[1].hi, a[2].hi, a[3].hi, bl0[j], bl1[j]);
#pragma unroll
    for (int j = 0; j < J; j++) mma_bf16(acc[j], a[0].hi, a[1].hi, a[2].hi, a[3].hi, bh0[j], bh1[j]);
}
template <int J>
__device__ __forceinline__ void load_bj(const uint32_t* hi, const uint32_t* lo, int col0, int k, int lane,
                                        uint32_t (&bh0)[J], uint32_t (&bh1)[J], uint32_t (&bl0)[J], uint32_t (&bl1)[J]) {
    const int mat = lane >> 3, r = lane & 7;
    const int o = (col0 + 8 * (mat >> 1) + r) * LD_W + (k >> 1) + 4 * (mat & 1);
#pragma unroll
    for (int j = 0; j < J; j += 2) {
        uint32_t t[4];
        ldsm_x4(t, hi + o + 8 * j * LD_W);
        bh0[j] = t[0], bh1[j] = t[1], bh0[j + 1] = t[2], bh1[j + 1] = t[3];
        ldsm_x4(t, lo + o + 8 * j * LD_W);
        bl0[j] = t[0], bl1[j] = t[1], bl0[j + 1] = t[2], bl1[j + 1] = t[3];
    }
}

__global__ void __launch_bounds__(256, 3) ssd_chunk_scan_tc_bal(
    const float* __restrict__ x, int ldX, int xOff, int cOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, int H, int P, int N, int G,
    const float* __restrict__ states, const float* __restrict__ cb, const float* __restrict__ D, int dPerChannel,
    float* y, int ldY) {
    extern __shared__ __align__(16) float sm[];
    uint32_t* Shi = reinterpret_cast<uint32_t*>(sm);
    uint32_t* Slo = Shi + 64 * LD_W;
    uint32_t* Xhi = Slo + 64 * LD_W;
    uint32_t* Xlo = Xhi + 64 * LD_W;
    float* cumU = reinterpret_cast<float*>(Xlo + 64 * LD_W);
    float* dtU = cumU + SSD_QMAX;
    const int h = blockIdx.x % H, c = blockIdx.x / H, g = h / (H / G);
    const int st = chunkStart[c], len = chunkLen[c];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, tq = lane & 3;
    {
        const float* S = states + ((size_t)c * H + h) * P * N;
        float2 sv[16];
#pragma unroll
        for (int i = 0; i < 16; i++) {
            const int id = tid + i * THREADS, p = id >> 6, n = 2 * (id & 63);
            sv[i] = (p < P && n < N) ? *reinterpret_cast<const float2*>(S + (size_t)p * N + n) : make_float2(0.f, 0.f);
        }
#pragma unroll
        for (int i = 0; i < 16; i++) {
            const int id = tid + i * THREADS, p = id >> 6, w = id & 63;
            const Split2 sp(sv[i].x, sv[i].y);
            Shi[p * LD_W + w] = sp.hi;
            Slo[p * LD_W + w] = sp.lo;
        }
    }
    pack_k_pairs<64>(Xhi, Xlo, x + (size_t)st * ldX + xOff + h * P, ldX, len, P);
    for (int u = tid; u < SSD_QMAX; u += THREADS) {
        cumU[u] = u < len ? cum[(size_t)h * T + st + u] : 0.f;
        dtU[u] = u < len ? dt[(size_t)h * T + st + u] : 0.f;
    }
    __syncthreads();
    const int ch0 = 32 * (warp & 1), pair = warp >> 1;
    const float* cbc = cb + ((size_t)c * G + g) * SSD_QMAX * SSD_QMAX;
#pragma unroll 1
    for (int r = 0; r < 2; r++) {
        const int tb = 16 * (r == 0 ? pair : 7 - pair), t0 = tb + gr, t1 = t0 + 8;
        float acc[4][4] = {};
        if (tb < len) {
            const float* C0 = x + (size_t)(st + t0) * ldX + cOff + g * N;
            const float* C1 = C0 + 8 * (size_t)ldX;
            const bool r0 = t0 < len, r1 = t1 < len;
            auto loadC = [&](int k, float2 (&v)[4]) {
                const int n0 = k + 2 * tq, n1 = n0 + 8;
                const float2 z = make_float2(0.f, 0.f);
                v[0] = r0 && n0 < N ? *reinterpret_cast<const float2*>(C0 + n0) : z;
                v[1] = r1 && n0 < N ? *reinterpret_cast<const float2*>(C1 + n0) : z;
                v[2] = r0 && n1 < N ? *reinterpret_cast<const float2*>(C0 + n1) : z;
                v[3] = r1 && n1 < N ? *reinterpret_cast<const float2*>(C1 + n1) : z;
            };
            const int kInter = (N + 15) & ~15;
            float2 nxt[4];
            loadC(0, nxt);
            for (int k = 0; k < kInter; k += 16) {
                const Split2 a[4] = {Split2(nxt[0].x, nxt[0].y), Split2(nxt[1].x, nxt[1].y), Split2(nxt[2].x, nxt[2].y),
                                     Split2(nxt[3].x, nxt[3].y)};
                if (k + 16 < kInter) loadC(k + 16, nxt);
                uint32_t bh0[4], bh1[4], bl0[4], bl1[4];
                load_bj<4>(Shi, Slo, ch0, k, lane, bh0, bh1, bl0, bl1);
                mma3<4>(acc, a, bh0, bh1, bl0, bl1);
            }
            const float c0 = cumU[t0], c1 = cumU[t1], e0 = expf(c0), e1 = expf(c1);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                acc[j][0] *= e0;
                acc[j][1] *= e0;
                acc[j][2] *= e1;
                acc[j][3] *= e1;
            }
            auto loadCB = [&](int k, float2 (&v)[4]) {
                const int u0 = k + 2 * tq, u1 = u0 + 8;
                v[0] = *reinterpret_cast<const float2*>(cbc + t0 * SSD_QMAX + u0);
                v[1] = *reinterpret_cast<const float2*>(cbc + t1 * SSD_QMAX + u0);
                v[2] = *reinterpret_cast<const float2*>(cbc + t0 * SSD_QMAX + u1);
                v[3] = *reinterpret_cast<const float2*>(cbc + t1 * SSD_QMAX + u1);
            };
            auto step = [&](int k, bool diagonal) {
                const int u0 = k + 2 * tq, u1 = u0 + 8;
                const float2 cu0 = *reinterpret_cast<const float2*>(cumU + u0), cu1 = *reinterpret_cast<const float2*>(cumU + u1);
                const float2 du0 = *reinterpret_cast<const float2*>(dtU + u0), du1 = *reinterpret_cast<const float2*>(dtU + u1);
                auto m = [&](float v, int t, float ct, int u, float cu, float du) {
                    const float rr = v * ex2_approx((ct - cu) * SSD_LOG2E) * du;
                    return (!diagonal || u <= t) ? rr : 0.f;
                };
                const Split2 a[4] = {Split2(m(nxt[0].x, t0, c0, u0, cu0.x, du0.x), m(nxt[0].y, t0, c0, u0 + 1, cu0.y, du0.y)),
                                     Split2(m(nxt[1].x, t1, c1, u0, cu0.x, du0.x), m(nxt[1].y, t1, c1, u0 + 1, cu0.y, du0.y)),
                                     Split2(m(nxt[2].x, t0, c0, u1, cu1.x, du1.x), m(nxt[2].y, t0, c0, u1 + 1, cu1.y, du1.y)),
                                     Split2(m(nxt[3].x, t1, c1, u1, cu1.x, du1.x), m(nxt[3].y, t1, c1, u1 + 1, cu1.y, du1.y))};
                if (!diagonal) loadCB(k + 16, nxt);
                uint32_t bh0[4], bh1[4], bl0[4], bl1[4];
                load_bj<4>(Xhi, Xlo, ch0, k, lane, bh0, bh1, bl0, bl1);
                mma3<4>(acc, a, bh0, bh1, bl0, bl1);
            };
            loadCB(0, nxt);
            for (int k = 0; k < tb; k += 16) step(k, false);
            step(tb, true);
        }
#pragma unroll
        for (int e = 0; e < 4; e += 2) {
            const int t = tb + gr + (e >> 1) * 8;
            if (t >= len) continue;
            const float* xr = x + (size_t)(st + t) * ldX + xOff + h * P;
            float* yr = y + (size_t)(st + t) * ldY + h * P;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int p = ch0 + 8 * j + 2 * tq;
                if (p >= P) continue;
                const float2 xv = *reinterpret_cast<const float2*>(xr + p);
                const float d0 = dPerChannel ? D[h * P + p] : D[h], d1 = dPerChannel ? D[h * P + p + 1] : D[h];
                *reinterpret_cast<float2*>(yr + p) = make_float2(acc[j][e] + d0 * xv.x, acc[j][e + 1] + d1 * xv.y);
            }
        }
    }
}
}  // namespace ssd_var

inline std::vector<BenchVariant> bench_variants() {
    static bool attr = false;
    return {{"ssd_chunk_scan_tc balanced", true,
             [] {
                 if (!attr) attr = cudaFuncSetAttribute(ssd_var::ssd_chunk_scan_tc_bal, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                        ssd_tc::SCAN_SMEM) == cudaSuccess;
             },
             [](const BenchArgs& a) {
                 const int C = a.T / SSD_QMAX;  // the bench's fixed-length chunks
                 ssd_var::ssd_chunk_scan_tc_bal<<<C * a.H, 256, ssd_tc::SCAN_SMEM>>>(
                     a.x, a.ldX, a.xOff, a.cOff, a.dt, a.cum, a.T, a.chunkStart, a.chunkLen, a.H, a.P, a.N, a.G, a.passed,
                     a.cb, a.D, 0, a.y, a.ldY);
             }}};
}

// State passing variants: same signature and in-place contract as ssd_state_passing_v4 (checked against the fp32
// path's passed states, then timed on a copy of the local states like the shipped kernel).
struct PassingVariant {
    const char* name;
    void (*kernel)(float*, const float*, int, const int*, const int*, const int*, const int*, int, int, float*, long long);
};
template <int AHEAD>
__global__ void __launch_bounds__(256) ssd_state_passing_v4_ahead(float* states, const float* cum, int T,
                                                                  const int* chunkStart, const int* chunkLen,
                                                                  const int* seqChunk0, const int* seqChunks, int H,
                                                                  int PN, float* ssm, long long seqStride) {
    state_passing_impl<4, AHEAD>(states, cum, T, chunkStart, chunkLen, seqChunk0, seqChunks, H, PN, ssm, seqStride);
}
inline std::vector<PassingVariant> passing_variants() {
    return {{"ssd_state_passing_v4 ahead 8", ssd_state_passing_v4_ahead<8>}};  // the previous depth, for comparison
}
