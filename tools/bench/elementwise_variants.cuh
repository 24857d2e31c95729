// Experimental memory-bound kernels for tools/bench/elementwise_bench.cu
// (-DELEMENTWISE_BENCH_VARIANTS='"elementwise_variants.cuh"'); never shipped. A variant is an EwKernel whose
// `replaces` names the shipped kernel whose output bits it must give.
//
// Tried (tools/bench/KERNEL_NOTES.md "Memory-bound kernels"; source in commit history):
//  - add_rmsnorm_warp with 2, 4 or 8 float4 a lane loaded before use: 8 shipped (1.3B 151 -> 122 us a launch);
//  - causal conv1d x4 with 4, 8 or 32 tokens a thread instead of 16 (and 2 to 12 CTAs an SM): none beat 16;
//    splitting the 16-byte and 4-byte bodies of the shipped kernel (no per-access choice) shipped instead;
//  - causal conv1d x4 with the window rows loaded with the block's inputs, before the first token's position is known
//    (session 7, commit 3127c3a): 161.5 against 153.0 us (130M), 188.0 against 178.1 (1.3B), same bits;
//  - causal conv1d x4 launched with 64 or 32 threads a CTA instead of 128 (no half-empty last column block on 130M and
//    1.3B): 151.3 / 153.9 against 153.0 us (130M), 178.0 / 178.1 against 178.4 (1.3B); not worth a change.
//  - session 9 (elementwise_results/2026-11-30-conv-bulk*.log, source in commit cb826c5): the conv's inputs staged in
//    shared memory by 1-D bulk copies (one thread, a 2 KB row segment each, one mbarrier), then computed from shared
//    memory, same bits: one tile a CTA of 8 tokens x 512 channels 150.7-152.1 against 152.4-153.2 us (130M),
//    173.5-174.6 against 178.0 (1.3B); 4, 16 and 32 tokens slower (196.6, 167.5, 223.5); evict-first stores no
//    change; persistent CTAs with 2-4 buffers in flight 197-387 us: the many short CTAs that are resident at once
//    beat any pipeline inside fewer of them. 1-2 %, not worth a second conv kernel.
#pragma once
#include <vector>

// Session 11: the conv's grid with the column blocks fastest (grid (ceil(C/512), ceil(T/16))), so that the CTAs
// resident at once read whole in_proj rows (7 KB of xBC in a 13 KB row) rather than one 2 KB column segment of ~500
// rows each; the same threads and arithmetic, so the same bits.
extern "C" __global__ void __launch_bounds__(128, 4) conv_k4_x4_rows_first(const float* in, int ldIn, int inOff, int C,
                                                                           const float* w, const float* bias, int T,
                                                                           const int* tokSeq, const int* tokPos,
                                                                           const float* state, long long stateSeqStride,
                                                                           int silu, float* out) {
    conv1d_slide4<4>(in, ldIn, inOff, C, w, bias, T, tokSeq, tokPos, state, stateSeqStride, silu, out, blockIdx.x, blockIdx.y);
}

inline std::vector<EwKernel> elementwise_variants(const EwArgs& a0) {
    const size_t T = a0.T;
    return {{"conv x4, column blocks fastest", "causal_conv1d_fwd_k4_x4", (double)T * a0.convDim * 8,
             [](const EwArgs& a) {
                 conv_k4_x4_rows_first<<<dim3((a.convDim / 4 + 127) / 128, (a.T + 15) / 16), 128>>>(
                     a.proj, a.dIn, a.dSsm, a.convDim, a.convW, a.convB, a.T, a.tokSeq, a.tokPos, a.convState,
                     3LL * a.convDim, 1, a.xbc);
             }}};
}
