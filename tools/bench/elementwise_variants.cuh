// Experimental memory-bound kernels for tools/bench/elementwise_bench.cu
// (-DELEMENTWISE_BENCH_VARIANTS='"elementwise_variants.cuh"'); never shipped. A variant is an EwKernel whose
// `replaces` names the shipped kernel whose output bits it must give.
//
// Open: the bulk-staged conv below. Tried (tools/bench/KERNEL_NOTES.md "Memory-bound kernels"; source in commit history):
//  - add_rmsnorm_warp with 2, 4 or 8 float4 a lane loaded before use: 8 shipped (1.3B 151 -> 122 us a launch);
//  - causal conv1d x4 with 4, 8 or 32 tokens a thread instead of 16 (and 2 to 12 CTAs an SM): none beat 16;
//    splitting the 16-byte and 4-byte bodies of the shipped kernel (no per-access choice) shipped instead;
//  - causal conv1d x4 with the window rows loaded with the block's inputs, before the first token's position is known
//    (session 7, commit 3127c3a): 161.5 against 153.0 us (130M), 188.0 against 178.1 (1.3B), same bits;
//  - causal conv1d x4 launched with 64 or 32 threads a CTA instead of 128 (no half-empty last column block on 130M and
//    1.3B): 151.3 / 153.9 against 153.0 us (130M), 178.0 / 178.1 against 178.4 (1.3B); not worth a change.
#pragma once
#include <vector>
#include "gemm_sm90_tiled.cuh"  // mbarrier and bulk-copy helpers

// Session 9 experiment: the conv's inputs staged by the copy engine. A CTA of 128 threads covers TT tokens x 512
// channels (4 a thread, as the shipped x4 kernel): one thread issues a 1-D bulk copy per input row (the TT tokens and
// the 3 before them, 2 KB each) completing on one mbarrier; then each thread walks its tokens out of shared memory, the
// window from the rows before (or the sequence's carried window before its first token), in the shipped kernel's
// arithmetic order (same bits). No per-thread loads in flight to hold in registers; STREAM: stores evict-first (the
// output, 235 MB a 130M layer, is read back only by the SSD kernels after it has left the L2). Needs C, ldIn and inOff
// multiples of 4 (the shipped kernel's 16-byte path). Grid (ceil(T / TT), ceil(C / 512)), dynamic smem (TT + 3) * 2 KB.
template <int TT, bool STREAM>
__global__ void __launch_bounds__(128) conv1d_bulk_k4(const float* __restrict__ in, int ldIn, int inOff, int C,
                                                      const float* __restrict__ w, const float* __restrict__ bias, int T,
                                                      const int* __restrict__ tokSeq, const int* __restrict__ tokPos,
                                                      const float* __restrict__ state, long long stateSeqStride,
                                                      int silu, float* __restrict__ out) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace ws_gemm;
    constexpr int K = 4, hist = K - 1, CC = 512, ROWS = TT + hist;
    extern __shared__ __align__(16) float rows[];  // [ROWS][CC]: tokens t0 - 3 .. t0 + TT - 1
    __shared__ __align__(8) unsigned long long bar;
    const int t0 = blockIdx.x * TT, c0 = blockIdx.y * CC, cols = min(CC, C - c0);
    const uint32_t b = (uint32_t)__cvta_generic_to_shared(&bar);
    const int r0 = max(0, hist - t0), r1 = min(ROWS, T - t0 + hist);  // rows of tokens in [0, T)
    if (threadIdx.x == 0) {
        mbar_init(b, 1);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        mbar_expect_tx(b, (uint32_t)((r1 - r0) * cols * 4));
        for (int r = r0; r < r1; r++)
            bulk_g2s((uint32_t)__cvta_generic_to_shared(rows + r * CC), in + (size_t)(t0 - hist + r) * ldIn + inOff + c0,
                     cols * 4, b);
    }
    const int cl = 4 * threadIdx.x, c = c0 + cl;
    float wr[4][K], bb[4];
    if (c < C)
#pragma unroll
        for (int k = 0; k < 4; k++) {
            bb[k] = bias ? bias[c + k] : 0.f;
#pragma unroll
            for (int j = 0; j < K; j++) wr[k][j] = w[(size_t)(c + k) * K + j];
        }
    mbar_wait(b, 0);
    if (c >= C) return;
    for (int i = 0; i < TT; i++) {
        const int t = t0 + i;
        if (t >= T) break;
        const int pos = tokPos[t];
        float4 win[hist];
#pragma unroll
        for (int j = 0; j < hist; j++) {
            const int tt = pos - hist + j;
            win[j] = tt >= 0 ? *reinterpret_cast<const float4*>(rows + (i + j) * CC + cl)
                             : *reinterpret_cast<const float4*>(state + (size_t)tokSeq[t] * stateSeqStride +
                                                                (size_t)(hist + tt) * C + c);
        }
        const float4 x = *reinterpret_cast<const float4*>(rows + (i + hist) * CC + cl);
        float a[4] = {bb[0], bb[1], bb[2], bb[3]};
        const float xi[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
        for (int j = 0; j < hist; j++) {
            const float wj[4] = {win[j].x, win[j].y, win[j].z, win[j].w};
#pragma unroll
            for (int k = 0; k < 4; k++) a[k] += wr[k][j] * wj[k];
        }
#pragma unroll
        for (int k = 0; k < 4; k++) {
            a[k] += wr[k][hist] * xi[k];
            if (silu) a[k] = silu_f(a[k]);
        }
        float4* o = reinterpret_cast<float4*>(out + (size_t)t * C + c);
        if (STREAM) __stcs(o, make_float4(a[0], a[1], a[2], a[3]));
        else *o = make_float4(a[0], a[1], a[2], a[3]);
    }
#else
    __trap();
#endif
}

// The same, persistent and pipelined: a CTA walks tiles blockIdx.x, + gridDim.x, ... (TT tokens x 512 channels
// each, channel block fastest) through STAGES buffers; thread 0 refills a buffer with the tile STAGES ahead as soon
// as every thread is done with it, so the copies of the next tiles fly while this one is computed and stored.
template <int TT, int STAGES>
__global__ void __launch_bounds__(128) conv1d_bulk_pipe_k4(const float* __restrict__ in, int ldIn, int inOff, int C,
                                                           const float* __restrict__ w, const float* __restrict__ bias,
                                                           int T, const int* __restrict__ tokSeq,
                                                           const int* __restrict__ tokPos,
                                                           const float* __restrict__ state, long long stateSeqStride,
                                                           int silu, float* __restrict__ out) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace ws_gemm;
    constexpr int K = 4, hist = K - 1, CC = 512, ROWS = TT + hist;
    extern __shared__ __align__(16) float rows[];  // [STAGES][ROWS][CC]
    __shared__ __align__(8) unsigned long long bars[STAGES];
    const int cblocks = (C + CC - 1) / CC, tiles = ((T + TT - 1) / TT) * cblocks;
    auto issue = [&](int tile, int stage) {  // thread 0: tile's rows into the stage's buffer
        const int t0 = (tile / cblocks) * TT, c0 = (tile % cblocks) * CC, cols = min(CC, C - c0);
        const int r0 = max(0, hist - t0), r1 = min(ROWS, T - t0 + hist);
        const uint32_t b = (uint32_t)__cvta_generic_to_shared(&bars[stage]);
        mbar_expect_tx(b, (uint32_t)((r1 - r0) * cols * 4));
        for (int r = r0; r < r1; r++)
            bulk_g2s((uint32_t)__cvta_generic_to_shared(rows + ((size_t)stage * ROWS + r) * CC),
                     in + (size_t)(t0 - hist + r) * ldIn + inOff + c0, cols * 4, b);
    };
    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) mbar_init((uint32_t)__cvta_generic_to_shared(&bars[s]), 1);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        for (int s = 0; s < STAGES; s++)
            if (blockIdx.x + s * gridDim.x < tiles) issue(blockIdx.x + s * gridDim.x, s);
    }
    __syncthreads();
    const int cl = 4 * threadIdx.x;
    int stage = 0;
    uint32_t phase = 0;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int t0 = (tile / cblocks) * TT, c0 = (tile % cblocks) * CC, c = c0 + cl;
        const float* buf = rows + (size_t)stage * ROWS * CC;
        float wr[4][K], bb[4];
        if (c < C)
#pragma unroll
            for (int k = 0; k < 4; k++) {
                bb[k] = bias ? bias[c + k] : 0.f;
#pragma unroll
                for (int j = 0; j < K; j++) wr[k][j] = w[(size_t)(c + k) * K + j];
            }
        mbar_wait((uint32_t)__cvta_generic_to_shared(&bars[stage]), phase);
        if (c < C)
            for (int i = 0; i < TT; i++) {
                const int t = t0 + i;
                if (t >= T) break;
                const int pos = tokPos[t];
                float4 win[hist];
#pragma unroll
                for (int j = 0; j < hist; j++) {
                    const int tt = pos - hist + j;
                    win[j] = tt >= 0 ? *reinterpret_cast<const float4*>(buf + (i + j) * CC + cl)
                                     : *reinterpret_cast<const float4*>(state + (size_t)tokSeq[t] * stateSeqStride +
                                                                        (size_t)(hist + tt) * C + c);
                }
                const float4 x = *reinterpret_cast<const float4*>(buf + (i + hist) * CC + cl);
                float a[4] = {bb[0], bb[1], bb[2], bb[3]};
                const float xi[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
                for (int j = 0; j < hist; j++) {
                    const float wj[4] = {win[j].x, win[j].y, win[j].z, win[j].w};
#pragma unroll
                    for (int k = 0; k < 4; k++) a[k] += wr[k][j] * wj[k];
                }
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    a[k] += wr[k][hist] * xi[k];
                    if (silu) a[k] = silu_f(a[k]);
                }
                *reinterpret_cast<float4*>(out + (size_t)t * C + c) = make_float4(a[0], a[1], a[2], a[3]);
            }
        __syncthreads();  // every thread is done with this buffer
        if (threadIdx.x == 0 && tile + STAGES * (int)gridDim.x < tiles) issue(tile + STAGES * gridDim.x, stage);
        if (++stage == STAGES) { stage = 0; phase ^= 1; }
    }
#else
    __trap();
#endif
}

template <int TT, int STAGES, int CTAS_PER_SM>
inline EwKernel conv_bulk_pipe(const char* name, const EwArgs& a) {
    constexpr int smem = STAGES * (TT + 3) * 512 * 4;
    CK(cudaFuncSetAttribute(conv1d_bulk_pipe_k4<TT, STAGES>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    return {name, "causal_conv1d_fwd_k4_x4", (double)a.T * a.convDim * 8, [](const EwArgs& a) {
                cudaDeviceProp p;
                CK(cudaGetDeviceProperties(&p, 0));
                const int tiles = ((a.T + TT - 1) / TT) * ((a.convDim + 511) / 512);
                conv1d_bulk_pipe_k4<TT, STAGES><<<std::min(tiles, CTAS_PER_SM * p.multiProcessorCount), 128, smem>>>(
                    a.proj, a.dIn, a.dSsm, a.convDim, a.convW, a.convB, a.T, a.tokSeq, a.tokPos, a.convState,
                    3LL * a.convDim, 1, a.xbc);
            }};
}

template <int TT, bool STREAM>
inline EwKernel conv_bulk(const char* name, const EwArgs& a) {
    constexpr int smem = (TT + 3) * 512 * 4;
    CK(cudaFuncSetAttribute(conv1d_bulk_k4<TT, STREAM>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    return {name, "causal_conv1d_fwd_k4_x4", (double)a.T * a.convDim * 8, [](const EwArgs& a) {
                conv1d_bulk_k4<TT, STREAM><<<dim3((a.T + TT - 1) / TT, (a.convDim + 511) / 512), 128, smem>>>(
                    a.proj, a.dIn, a.dSsm, a.convDim, a.convW, a.convB, a.T, a.tokSeq, a.tokPos, a.convState,
                    3LL * a.convDim, 1, a.xbc);
            }};
}

inline std::vector<EwKernel> elementwise_variants(const EwArgs& a) {
    // first run (elementwise_results/2026-11-30-conv-bulk.log): 16 / 32 / 32 with cs stores / 8 tokens a CTA, one tile
    // a CTA: 167.5 / 223.5 / 222.6 / 150.7 us against the shipped 152.4 (130M); 8 tokens 173.5 against 178.1 (1.3B)
    return {conv_bulk<8, false>("conv bulk-staged, 8 tokens", a), conv_bulk<4, false>("conv bulk-staged, 4 tokens", a),
            conv_bulk_pipe<8, 4, 2>("conv bulk pipe, 8 tokens, 4 stages, 2 CTAs/SM", a),
            conv_bulk_pipe<8, 3, 3>("conv bulk pipe, 8 tokens, 3 stages, 3 CTAs/SM", a),
            conv_bulk_pipe<8, 2, 4>("conv bulk pipe, 8 tokens, 2 stages, 4 CTAs/SM", a),
            conv_bulk_pipe<16, 2, 2>("conv bulk pipe, 16 tokens, 2 stages, 2 CTAs/SM", a),
            conv_bulk_pipe<4, 4, 4>("conv bulk pipe, 4 tokens, 4 stages, 4 CTAs/SM", a)};
}
