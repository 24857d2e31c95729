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
    const int *seqChunk0, *seqChunks;
    int seqs;
    float* ssm;  // [seqs][H][P][N], zero on entry (no carried state)
};
// What a variant's launch writes, checked against the shipped path and timed beside what it replaces.
enum class Replaces { STATE, SCAN, STATE_AND_PASSING };
struct BenchVariant {
    const char* name;
    Replaces replaces;
    std::function<void()> prepare;
    std::function<void(const BenchArgs&)> launch;
};

// Tried and not shipped (KERNEL_NOTES.md), source in the history:
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
//  - session 7 (ssd_results/2026-11-30-scan-d-once-factored-state-packed.log, -scan-half-head.log): the scan's decay
//    left of the diagonal factored around the warp's first row, exp(cum_t - b) exp(b - cum_u), one product an element
//    (360.1 against 354.3 us); the scan over half a head's channels a CTA, 4 or 5 CTAs an SM (375-378 against 362);
//    the chunk state with (x w)^T packed once a head and read by ldmatrix (commit 3127c3a; 180.8 against 161.4);
//    S_in split and packed by the state passing, copied by the scan (commit 8a48cfb; the scan 7-11 us faster, the
//    passing 28-39 us slower).

// Open experiment (session 8): the chunk states and their passing in one kernel that walks a sequence's chunks in
// order, so the local states never go to memory and the passing's second read and write of every state disappear
// (the passing moves 0.4 GB a 130M layer, ~108 us). One CTA per (sequence, group, head): the running state stays in
// the registers of the warps' accumulator layout (32 floats a thread) and is written as the state entering each chunk
// before the chunk's local state is added; B is packed once a chunk for the one head (the shipped chunk-state kernel
// packs it once for 16 heads), which is the price. Session 5's fold handed states between CTAs and lost on the
// hand-over latency; here nothing is handed over, but a sequence's chunks run one after another in one CTA.
// Writes `states` as ssd_state_passing leaves it (states entering each chunk) and the final states to ssm. Measured
// as committed in 9791748 (ssd_results/2026-11-30-state-seq.log); since then it shares ssd_tc's product and store.
extern "C" __global__ void __launch_bounds__(256, 2) ssd_state_seq_tc(
    const float* __restrict__ x, int ldX, int xOff, int bOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, const int* __restrict__ seqChunk0,
    const int* __restrict__ seqChunks, int H, int P, int N, int G, float* passed, float* ssm) {
    using namespace ssd_tc;
    extern __shared__ __align__(16) float sm[];
    uint32_t* Bhi = reinterpret_cast<uint32_t*>(sm);   // [n][u/2]
    uint32_t* Blo = Bhi + 128 * LD_W;
    float* Xs = sm + 2 * 128 * LD_W;                    // [u][p]
    float* wU = Xs + SSD_QMAX * LD_X;                   // [u]
    const int s = blockIdx.x, g = blockIdx.y, hpg = H / G, h = g * hpg + blockIdx.z;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, tq = lane & 3;
    const int pb = (warp & 3) * 16, nb = (warp >> 2) * 64;
    const int c0 = seqChunk0[s], nc = seqChunks[s];
    float S[8][4] = {};  // the state entering the next chunk, in the accumulator layout
    for (int k = 0; k < nc; k++) {
        const int c = c0 + k, st = chunkStart[c], len = chunkLen[c], kEnd = (len + 15) & ~15;
        __syncthreads();  // the previous chunk's readers are done with B, x and w
        stage<SSD_QMAX, 64>(Xs, LD_X, x + (size_t)st * ldX + xOff + h * P, ldX, len, P);
        mma_gemm::cp_async_commit();
        pack_k_pairs<128>(Bhi, Blo, x + (size_t)st * ldX + bOff + g * N, ldX, len, N);
        const float* cumh = cum + (size_t)h * T + st;
        const float last = cumh[len - 1];
        for (int u = tid; u < SSD_QMAX; u += THREADS) wU[u] = u < len ? expf(last - cumh[u]) * dt[(size_t)h * T + st + u] : 0.f;
        mma_gemm::cp_async_wait<0>();
        __syncthreads();
        float acc[8][4] = {};
        chunk_state_product(acc, Xs, wU, Bhi, Blo, kEnd, pb, nb, gr, tq, lane);
        store_state(passed + ((size_t)c * H + h) * P * N, S, P, N, pb, nb, gr, tq);  // the state entering chunk c
        const float decay = expf(last);
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) S[j][e] = decay * S[j][e] + acc[j][e];
    }
    store_state(ssm + ((size_t)s * H + h) * P * N, S, P, N, pb, nb, gr, tq);
}

inline std::vector<BenchVariant> bench_variants() {
    return {{"ssd_state_seq_tc (state + passing)", Replaces::STATE_AND_PASSING,
             [] { CK(cudaFuncSetAttribute(ssd_state_seq_tc, cudaFuncAttributeMaxDynamicSharedMemorySize, ssd_tc::STATE_SMEM)); },
             [](const BenchArgs& a) {
                 ssd_state_seq_tc<<<dim3(a.seqs, a.G, a.H / a.G), 256, ssd_tc::STATE_SMEM>>>(
                     a.x, a.ldX, a.xOff, a.bOff, a.dt, a.cum, a.T, a.chunkStart, a.chunkLen, a.seqChunk0, a.seqChunks,
                     a.H, a.P, a.N, a.G, a.states, a.ssm);
             }}};
}

// State passing variants: same signature and in-place contract as ssd_state_passing_v4 (checked against the fp32
// path's passed states, then timed on a copy of the local states like the shipped kernel).
struct PassingVariant {
    const char* name;
    void (*kernel)(float*, const float*, int, const int*, const int*, const int*, const int*, int, int, float*, long long, int);
    int vec = 4;  // state elements per thread: grid (ceil(PN / (256 vec)), H, seqs)
};

inline std::vector<PassingVariant> passing_variants() { return {}; }
