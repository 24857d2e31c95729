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

// No experiment is open. Tried and not shipped (KERNEL_NOTES.md "Latency, not tensor cores"; source in commit 14d00d8):
// C split into {hi, lo} bf16 pairs once per token by a small kernel, read by the scan instead of splitting C per head
// (477 us against the shipped scan's 401 us per 130M layer: more registers live, more spills at three CTAs per SM).
inline std::vector<BenchVariant> bench_variants() { return {}; }

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
