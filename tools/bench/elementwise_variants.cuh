// Experimental memory-bound kernels for tools/bench/elementwise_bench.cu
// (-DELEMENTWISE_BENCH_VARIANTS='"elementwise_variants.cuh"'); never shipped. A variant is an EwKernel whose
// `replaces` names the shipped kernel whose output bits it must give.
//
// No experiment is open. Tried (tools/bench/KERNEL_NOTES.md "Memory-bound kernels"; source in commit history):
//  - add_rmsnorm_warp with 2, 4 or 8 float4 a lane loaded before use: 8 shipped (1.3B 151 -> 122 us a launch);
//  - causal conv1d x4 with 4, 8 or 32 tokens a thread instead of 16 (and 2 to 12 CTAs an SM): none beat 16;
//    splitting the 16-byte and 4-byte bodies of the shipped kernel (no per-access choice) shipped instead.
#pragma once
#include <vector>

inline std::vector<EwKernel> elementwise_variants(const EwArgs&) { return {}; }
