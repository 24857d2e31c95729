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
    int C, slabs, headsPerCta;
};
struct BenchVariant {
    const char* name;
    bool replacesScan;
    std::function<void()> prepare;
    std::function<void(const BenchArgs&)> launch;
};

// No experiment is open. Tried and not shipped (KERNEL_NOTES.md), source in the history:
//  - C split into {hi, lo} bf16 pairs once per token by a small kernel, read by the scan instead of splitting C per
//    head (commit 14d00d8; 477 us against the shipped scan's 401 us per 130M layer: more spills at three CTAs per SM);
//  - the scan with its causal work balanced over the warps, each warp half the channels of two row blocks (commit
//    898c588; 490 against 404 us: more dependent L2 loads on each warp's path);
//  - the scan reading C.B from a shared-memory copy of the chunk's triangle, staged by cp.async once the inter-chunk
//    part is done (commit 720f121; 393 against 399 us: the C.B loads' latency is not what holds the scan);
//  - state passing with the local states loaded 4 or 8 chunks ahead (16 shipped then; commit 9408b1c);
//  - state passing with each thread reading the chunk decays itself after its loads (no barrier), 1, 2 or 4 states
//    a thread, 2 to 6 CTAs an SM: 113-239 us against 108 for the shipped loads-then-shared-decays (session 6);
//  - the chunk scan on wgmma: row operand (C, decayed C.B) split in registers, S_in / x split into bf16 planes in the
//    128-byte-swizzle layout, three m64n64k16 a k-step per warpgroup (commit ea7d458, with a 2-CTA launch; 410 against
//    391 us, same bits: the scan's time is its per-element work and loads, not mma.sync issue);
//  - C split into hi / lo words once per token (split_c_pairs) and read by a copy of the scan (commit ea7d458; 452.9
//    against 367.8 us with the split kernel: 68 bytes of spills at 80 registers, as in 14d00d8).

// Open experiment (session 7). Chunk state with the row operand (x w)^T packed once a head into bf16 pairs over u
// ([p][u/2], the layout of the scan's x) and read by ldmatrix, instead of staged fp32 x read by 8 scalar loads, 8
// products and 4 splits a k-step in each of the two warps that share its p rows. Same products; smem as STATE_SMEM.
extern "C" __global__ void __launch_bounds__(256, 2) state_packed_a(const float* __restrict__ x, int ldX, int xOff,
                                                                    int bOff, const float* __restrict__ dt,
                                                                    const float* __restrict__ cum, int T,
                                                                    const int* __restrict__ chunkStart,
                                                                    const int* __restrict__ chunkLen, int H, int P,
                                                                    int N, int G, int headsPerCta, float* states) {
    using namespace ssd_tc;
    extern __shared__ __align__(16) float sm[];
    uint32_t* Bhi = reinterpret_cast<uint32_t*>(sm);  // [n][u/2]
    uint32_t* Blo = Bhi + 128 * LD_W;
    uint32_t* Ahi = Blo + 128 * LD_W;                  // [p][u/2]
    uint32_t* Alo = Ahi + 64 * LD_W;
    float* wU = reinterpret_cast<float*>(Alo + 64 * LD_W);  // [u]
    const int c = blockIdx.x, g = blockIdx.y, hpg = H / G;
    const int st = chunkStart[c], len = chunkLen[c];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, tq = lane & 3;
    const int pb = (warp & 3) * 16, nb = (warp >> 2) * 64, kEnd = (len + 15) & ~15;
    pack_k_pairs<128>(Bhi, Blo, x + (size_t)st * ldX + bOff + g * N, ldX, len, N);
    const int col = tid & 63, w0 = tid >> 6;  // packing: channel col, pairs w0 + 4 i
    const int mat = lane >> 3, mr = lane & 7;
    const int aOff = (pb + mr + 8 * (mat & 1)) * LD_W + 4 * (mat >> 1);
    for (int i = 0; i < headsPerCta; i++) {
        const int hl = blockIdx.z * headsPerCta + i;
        if (hl >= hpg) break;
        const int h = g * hpg + hl;
        __syncthreads();  // the previous head's readers are done with A and w
        float v0[16], v1[16];
        {
            const float* p = x + (size_t)(st + 2 * w0) * ldX + xOff + h * P + col;
            const size_t step = (size_t)8 * ldX;
#pragma unroll
            for (int j = 0; j < 16; j++, p += step) {
                const int u = 2 * (w0 + 4 * j);
                v0[j] = col < P && u < len ? p[0] : 0.f;
                v1[j] = col < P && u + 1 < len ? p[ldX] : 0.f;
            }
        }
        const float* cumh = cum + (size_t)h * T + st;
        if (tid < SSD_QMAX) {
            const float last = cumh[len - 1];
            wU[tid] = tid < len ? expf(last - cumh[tid]) * dt[(size_t)h * T + st + tid] : 0.f;
        }
        __syncthreads();
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const int w = w0 + 4 * j;
            const Split2 sp(v0[j] * wU[2 * w], v1[j] * wU[2 * w + 1]);
            Ahi[col * LD_W + w] = sp.hi;
            Alo[col * LD_W + w] = sp.lo;
        }
        __syncthreads();
        float acc[8][4] = {};
        for (int k = 0; k < kEnd; k += 16) {
            uint32_t ah[4], al[4];
            ldsm_x4(ah, Ahi + aOff + (k >> 1));
            ldsm_x4(al, Alo + aOff + (k >> 1));
            Split2 a[4];
#pragma unroll
            for (int q = 0; q < 4; q++) a[q].hi = ah[q], a[q].lo = al[q];
            uint32_t bh0[8], bh1[8], bl0[8], bl1[8];
            load_b(Bhi, Blo, nb, k, lane, bh0, bh1, bl0, bl1);
            mma3x8(acc, a, bh0, bh1, bl0, bl1);
        }
        float* out = states + ((size_t)c * H + h) * P * N;
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e += 2) {
                const int p = pb + gr + (e >> 1) * 8, n = nb + 8 * j + 2 * tq;
                if (p < P && n < N) *reinterpret_cast<float2*>(out + (size_t)p * N + n) = make_float2(acc[j][e], acc[j][e + 1]);
            }
    }
}

inline std::vector<BenchVariant> bench_variants() {
    auto state = [](const char* name, auto kernel) {
        return BenchVariant{name, false,
                            [kernel] { CK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, ssd_tc::STATE_SMEM)); },
                            [kernel](const BenchArgs& a) {
                                kernel<<<dim3(a.C, a.G, a.slabs), 256, ssd_tc::STATE_SMEM>>>(
                                    a.x, a.ldX, a.xOff, a.bOff, a.dt, a.cum, a.T, a.chunkStart, a.chunkLen, a.H, a.P,
                                    a.N, a.G, a.headsPerCta, a.states);
                            }};
    };
    return {state("state, (x w)^T packed once", state_packed_a), state("state shipped again", ssd_chunk_state_tc),
            state("state packed again", state_packed_a)};
}

// State passing variants: same signature and in-place contract as ssd_state_passing_v4 (checked against the fp32
// path's passed states, then timed on a copy of the local states like the shipped kernel).
struct PassingVariant {
    const char* name;
    void (*kernel)(float*, const float*, int, const int*, const int*, const int*, const int*, int, int, float*, long long);
    int vec = 4;  // state elements per thread: grid (ceil(PN / (256 vec)), H, seqs)
};

inline std::vector<PassingVariant> passing_variants() { return {}; }
