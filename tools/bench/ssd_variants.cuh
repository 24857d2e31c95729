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

// scan_csplit: the scan with C split into {hi, lo} bf16 pairs once per token (split_c) instead of once per head.
extern "C" __global__ void split_c(const float* __restrict__ x, int ldX, int cOff, int T, int G, int N, uint2* cp) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, per = (long long)G * (N / 2);
    if (i >= (long long)T * per) return;
    const long long t = i / per, r = i % per;
    const float2 v = *reinterpret_cast<const float2*>(x + t * ldX + cOff + 2 * r);
    const ssd_tc::Split2 sp(v.x, v.y);
    cp[i] = make_uint2(sp.hi, sp.lo);
}

extern "C" __global__ void __launch_bounds__(256, 3) scan_csplit(
    const float* __restrict__ x, int ldX, int xOff, int cOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, int H, int P, int N, int G,
    const float* __restrict__ states, const float* __restrict__ cb, const float* __restrict__ D, int dPerChannel,
    float* y, int ldY, const uint2* __restrict__ cp) {
    using namespace ssd_tc;
    extern __shared__ __align__(16) float sm[];
    uint32_t* Shi = reinterpret_cast<uint32_t*>(sm);   // [p][n/2]
    uint32_t* Slo = Shi + 64 * LD_W;
    uint32_t* Xhi = Slo + 64 * LD_W;                    // [p][u/2]
    uint32_t* Xlo = Xhi + 64 * LD_W;
    float* cumU = reinterpret_cast<float*>(Xlo + 64 * LD_W);  // [u]
    float* dtU = cumU + SSD_QMAX;                             // [u]
    const int h = blockIdx.x % H, c = blockIdx.x / H, g = h / (H / G);
    const int st = chunkStart[c], len = chunkLen[c];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, tq = lane & 3, tb = warp * 16;
    const int t0 = tb + gr, t1 = t0 + 8;
    // S_in [p][n] packed over n (all 16 loads in flight first); x [u][p] packed over u
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
    if (tb < len) {
        // inter chunk: C [t x n] . S_in^T [n x p]
        const uint2* C0 = cp + ((size_t)(st + t0) * G + g) * (N / 2);  // {hi, lo} of C pairs, split once per token
        const uint2* C1 = C0 + 8 * (size_t)G * (N / 2);
        const bool r0 = t0 < len, r1 = t1 < len;
        auto loadC = [&](int k, uint2 (&v)[4]) {
            const int w0 = (k >> 1) + tq, w1 = w0 + 4;
            const uint2 z = make_uint2(0, 0);
            v[0] = r0 && 2 * w0 < N ? C0[w0] : z;
            v[1] = r1 && 2 * w0 < N ? C1[w0] : z;
            v[2] = r0 && 2 * w1 < N ? C0[w1] : z;
            v[3] = r1 && 2 * w1 < N ? C1[w1] : z;
        };
        const int kInter = (N + 15) & ~15;
        uint2 nc[4];
        loadC(0, nc);
        for (int k = 0; k < kInter; k += 16) {
            Split2 a[4];
#pragma unroll
            for (int i = 0; i < 4; i++) a[i].hi = nc[i].x, a[i].lo = nc[i].y;
            if (k + 16 < kInter) loadC(k + 16, nc);
            uint32_t bh0[8], bh1[8], bl0[8], bl1[8];
            load_b(Shi, Slo, 0, k, lane, bh0, bh1, bl0, bl1);
            mma3x8(acc, a, bh0, bh1, bl0, bl1);
        }
        float2 nxt[4];
        const float c0 = cumU[t0], c1 = cumU[t1], e0 = expf(c0), e1 = expf(c1);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            acc[j][0] *= e0;
            acc[j][1] *= e0;
            acc[j][2] *= e1;
            acc[j][3] *= e1;
        }
        // intra chunk: (CB o decay o causal mask) [t x u] . x [u x p]
        const float* cbc = cb + ((size_t)c * G + g) * SSD_QMAX * SSD_QMAX;
        auto loadCB = [&](int k, float2 (&v)[4]) {
            const int u0 = k + 2 * tq, u1 = u0 + 8;  // rows t0, t1 are < 128
            v[0] = *reinterpret_cast<const float2*>(cbc + t0 * SSD_QMAX + u0);
            v[1] = *reinterpret_cast<const float2*>(cbc + t1 * SSD_QMAX + u0);
            v[2] = *reinterpret_cast<const float2*>(cbc + t0 * SSD_QMAX + u1);
            v[3] = *reinterpret_cast<const float2*>(cbc + t1 * SSD_QMAX + u1);
        };
        // M[t][u] = CB[t][u] exp(cum_t - cum_u) dt_u. Left of the warp's diagonal block every u < t (< len when t
        // < len): no mask. On it, u > t is masked (CB there may be unwritten). Rows t >= len are never stored.
        auto step = [&](int k, bool diagonal) {
            constexpr float LOG2E = 1.4426950408889634f;
            const int u0 = k + 2 * tq, u1 = u0 + 8;
            const float2 cu0 = *reinterpret_cast<const float2*>(cumU + u0), cu1 = *reinterpret_cast<const float2*>(cumU + u1);
            const float2 du0 = *reinterpret_cast<const float2*>(dtU + u0), du1 = *reinterpret_cast<const float2*>(dtU + u1);
            auto m = [&](float v, int t, float ct, int u, float cu, float du) {
                const float r = v * ex2((ct - cu) * LOG2E) * du;
                return (!diagonal || u <= t) ? r : 0.f;
            };
            const Split2 a[4] = {Split2(m(nxt[0].x, t0, c0, u0, cu0.x, du0.x), m(nxt[0].y, t0, c0, u0 + 1, cu0.y, du0.y)),
                                 Split2(m(nxt[1].x, t1, c1, u0, cu0.x, du0.x), m(nxt[1].y, t1, c1, u0 + 1, cu0.y, du0.y)),
                                 Split2(m(nxt[2].x, t0, c0, u1, cu1.x, du1.x), m(nxt[2].y, t0, c0, u1 + 1, cu1.y, du1.y)),
                                 Split2(m(nxt[3].x, t1, c1, u1, cu1.x, du1.x), m(nxt[3].y, t1, c1, u1 + 1, cu1.y, du1.y))};
            if (!diagonal) loadCB(k + 16, nxt);
            uint32_t bh0[8], bh1[8], bl0[8], bl1[8];
            load_b(Xhi, Xlo, 0, k, lane, bh0, bh1, bl0, bl1);
            mma3x8(acc, a, bh0, bh1, bl0, bl1);
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
        for (int j = 0; j < 8; j++) {
            const int p = 8 * j + 2 * tq;
            if (p >= P) continue;
            const float2 xv = *reinterpret_cast<const float2*>(xr + p);
            const float d0 = dPerChannel ? D[h * P + p] : D[h], d1 = dPerChannel ? D[h * P + p + 1] : D[h];
            *reinterpret_cast<float2*>(yr + p) = make_float2(acc[j][e] + d0 * xv.x, acc[j][e + 1] + d1 * xv.y);
        }
    }
}

inline std::vector<BenchVariant> bench_variants() {
    static uint2* cp = nullptr;
    return {BenchVariant{"split_c+scan_csplit", true,
                         [] { cudaFuncSetAttribute(scan_csplit, cudaFuncAttributeMaxDynamicSharedMemorySize, ssd_tc::SCAN_SMEM); },
                         [](const BenchArgs& a) {
                             const long long n = (long long)a.T * a.G * (a.N / 2);
                             if (!cp) cudaMalloc(&cp, n * sizeof(uint2));
                             split_c<<<(unsigned)((n + 255) / 256), 256>>>(a.x, a.ldX, a.cOff, a.T, a.G, a.N, cp);
                             const int C = a.T / SSD_QMAX;
                             scan_csplit<<<C * a.H, 256, ssd_tc::SCAN_SMEM>>>(a.x, a.ldX, a.xOff, a.cOff, a.dt, a.cum, a.T,
                                                                             a.chunkStart, a.chunkLen, a.H, a.P, a.N, a.G,
                                                                             a.passed, a.cb, a.D, 0, a.y, a.ldY, cp);
                         }}};
}
