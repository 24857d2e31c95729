// Experimental memory-bound kernels for tools/bench/elementwise_bench.cu
// (-DELEMENTWISE_BENCH_VARIANTS='"elementwise_variants.cuh"'); never shipped. A variant is an EwKernel whose
// `replaces` names the shipped kernel whose output bits it must give.
//
// No experiment is open. Tried (tools/bench/KERNEL_NOTES.md "Memory-bound kernels"; source in commit history):
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
//  - session 11 (elementwise_results/2026-11-30-conv-columns-first.log, source in commit 3b567c1): the conv's grid with
//    its column blocks fastest, so that the resident CTAs read whole in_proj rows: same bits, 152.3 / 152.7 against
//    152.3 / 152.5 us (130M), 176.0 / 175.9 against 178.0 / 178.1 (1.3B). Not worth a change.
#pragma once
#include <vector>

inline std::vector<EwKernel> elementwise_variants(const EwArgs&) { return {}; }
