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

// No experiment is open. The last ones (2026-11-29), now shipped in ssd_tc.cuh: ldmatrix B fragments, prologue loads
// batched 16 per thread, the scan's decay on ex2 with masks only on the diagonal block, three scan CTAs per SM.
inline std::vector<BenchVariant> bench_variants() { return {}; }
