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
