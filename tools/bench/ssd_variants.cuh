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

// Tried and not shipped (KERNEL_NOTES.md), source in the history:
//  - C split into {hi, lo} bf16 pairs once per token by a small kernel, read by the scan instead of splitting C per
//    head (commit 14d00d8; 477 us against the shipped scan's 401 us per 130M layer: more spills at three CTAs per SM);
//  - the scan with its causal work balanced over the warps, each warp half the channels of two row blocks (commit
//    898c588; 490 against 404 us: more dependent L2 loads on each warp's path);
//  - state passing with the local states loaded 4 or 8 chunks ahead (16 shipped; commit 9408b1c).
// ssd_chunk_scan_tc with C.B staged in shared memory for the causal part. The shipped scan reads each warp's C.B
// fragments from L2 one k-step ahead: up to 16 dependent L2 round trips on warp 7's path. Here, once every warp is
// done with S_in (the inter-chunk part), the CTA copies the lower-triangular 16x16 blocks of the chunk's C.B (36
// blocks, 36 KB, where S_in was) with cp.async, all in flight at once, and the causal part reads them from shared
// memory (float2 pairs swizzled by row so a half-warp's rows hit different banks). Same products in the same order.
namespace ssd_var {
using namespace ssd_tc;
constexpr int CB_BLOCKS = 36, REGION0 = CB_BLOCKS * 256;  // floats: >= S head + tail (2 * 64 * LD_W)
constexpr int SCAN_CBS_SMEM = 4 * (REGION0 + 2 * 64 * LD_W + 2 * SSD_QMAX);
static_assert(REGION0 >= 2 * 64 * LD_W, "the C.B blocks reuse S_in's space");
// float offset of C.B element (t, u), u <= t rounded to its 16-block, in the staged triangle
__device__ __forceinline__ int cb_at(int t, int u) {
    const int rb = t >> 4, kb = u >> 4, r = t & 15, c = u & 15;
    return (rb * (rb + 1) / 2 + kb) * 256 + r * 16 + 2 * ((c >> 1) ^ (((r >> 1) & 1) << 2)) + (c & 1);
}

__global__ void __launch_bounds__(256, 3) ssd_chunk_scan_tc_cbs(
    const float* __restrict__ x, int ldX, int xOff, int cOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, int H, int P, int N, int G,
    const float* __restrict__ states, const float* __restrict__ cb, const float* __restrict__ D, int dPerChannel,
    float* y, int ldY) {
    extern __shared__ __align__(16) float sm[];
    uint32_t* Shi = reinterpret_cast<uint32_t*>(sm);   // [p][n/2], then the C.B triangle
    uint32_t* Slo = Shi + 64 * LD_W;
    float* CBs = sm;
    uint32_t* Xhi = reinterpret_cast<uint32_t*>(sm + REGION0);  // [p][u/2]
    uint32_t* Xlo = Xhi + 64 * LD_W;
    float* cumU = reinterpret_cast<float*>(Xlo + 64 * LD_W);
    float* dtU = cumU + SSD_QMAX;
    const int h = blockIdx.x % H, c = blockIdx.x / H, g = h / (H / G);
    const int st = chunkStart[c], len = chunkLen[c];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, tq = lane & 3, tb = warp * 16;
    const int t0 = tb + gr, t1 = t0 + 8;
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
    float acc[8][4] = {};
    const bool active = tb < len;
    const float c0 = cumU[t0], c1 = cumU[t1];
    if (active) {
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
            uint32_t bh0[8], bh1[8], bl0[8], bl1[8];
            load_b(Shi, Slo, 0, k, lane, bh0, bh1, bl0, bl1);
            mma3x8(acc, a, bh0, bh1, bl0, bl1);
        }
        const float e0 = expf(c0), e1 = expf(c1);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            acc[j][0] *= e0;
            acc[j][1] *= e0;
            acc[j][2] *= e1;
            acc[j][3] *= e1;
        }
    }
    __syncthreads();  // S_in's space is free: stage the C.B triangle (rows >= len read 0)
    {
        const float* cbc = cb + ((size_t)c * G + g) * SSD_QMAX * SSD_QMAX;
        for (int id = tid; id < CB_BLOCKS * 64; id += THREADS) {
            const int blk = id >> 6, r = (id >> 2) & 15, q = id & 3;
            int rb = 0;
            while ((rb + 1) * (rb + 2) / 2 <= blk) rb++;
            const int kb = blk - rb * (rb + 1) / 2, t = 16 * rb + r, u = 16 * kb + 4 * q;
            const bool ok = t < len;
            const unsigned d = (unsigned)__cvta_generic_to_shared(CBs + blk * 256 + r * 16 + 4 * (q ^ (((r >> 1) & 1) << 1)));
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(ok ? cbc + t * SSD_QMAX + u : cbc),
                         "r"(ok ? 16 : 0));
        }
        mma_gemm::cp_async_commit();
        mma_gemm::cp_async_wait<0>();
    }
    __syncthreads();
    if (active) {
        auto step = [&](int k, bool diagonal) {
            const int u0 = k + 2 * tq, u1 = u0 + 8;
            const float2 v0 = *reinterpret_cast<const float2*>(CBs + cb_at(t0, u0)), v1 = *reinterpret_cast<const float2*>(CBs + cb_at(t1, u0)),
                         v2 = *reinterpret_cast<const float2*>(CBs + cb_at(t0, u1)), v3 = *reinterpret_cast<const float2*>(CBs + cb_at(t1, u1));
            const float2 cu0 = *reinterpret_cast<const float2*>(cumU + u0), cu1 = *reinterpret_cast<const float2*>(cumU + u1);
            const float2 du0 = *reinterpret_cast<const float2*>(dtU + u0), du1 = *reinterpret_cast<const float2*>(dtU + u1);
            auto m = [&](float v, int t, float ct, int u, float cu, float du) {
                const float rr = v * ex2_approx((ct - cu) * SSD_LOG2E) * du;
                return (!diagonal || u <= t) ? rr : 0.f;
            };
            const Split2 a[4] = {Split2(m(v0.x, t0, c0, u0, cu0.x, du0.x), m(v0.y, t0, c0, u0 + 1, cu0.y, du0.y)),
                                 Split2(m(v1.x, t1, c1, u0, cu0.x, du0.x), m(v1.y, t1, c1, u0 + 1, cu0.y, du0.y)),
                                 Split2(m(v2.x, t0, c0, u1, cu1.x, du1.x), m(v2.y, t0, c0, u1 + 1, cu1.y, du1.y)),
                                 Split2(m(v3.x, t1, c1, u1, cu1.x, du1.x), m(v3.y, t1, c1, u1 + 1, cu1.y, du1.y))};
            uint32_t bh0[8], bh1[8], bl0[8], bl1[8];
            load_b(Xhi, Xlo, 0, k, lane, bh0, bh1, bl0, bl1);
            mma3x8(acc, a, bh0, bh1, bl0, bl1);
        };
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
        for (int j = 0; j < 8; j++) {
            const int p = 8 * j + 2 * tq;
            if (p >= P) continue;
            const float2 xv = *reinterpret_cast<const float2*>(xr + p);
            const float d0 = dPerChannel ? D[h * P + p] : D[h], d1 = dPerChannel ? D[h * P + p + 1] : D[h];
            *reinterpret_cast<float2*>(yr + p) = make_float2(acc[j][e] + d0 * xv.x, acc[j][e + 1] + d1 * xv.y);
        }
    }
}
}  // namespace ssd_var

inline std::vector<BenchVariant> bench_variants() {
    static bool attr = false;
    return {{"ssd_chunk_scan_tc C.B staged", true,
             [] {
                 if (!attr) attr = cudaFuncSetAttribute(ssd_var::ssd_chunk_scan_tc_cbs, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                        ssd_var::SCAN_CBS_SMEM) == cudaSuccess;
             },
             [](const BenchArgs& a) {
                 const int C = a.T / SSD_QMAX;  // the bench's fixed-length chunks
                 ssd_var::ssd_chunk_scan_tc_cbs<<<C * a.H, 256, ssd_var::SCAN_CBS_SMEM>>>(
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
inline std::vector<PassingVariant> passing_variants() { return {}; }
