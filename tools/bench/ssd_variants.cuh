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
    bf16* sin;   // the entering states in bf16, as the passing leaves them for the tensor-core scan
    bf16* local; // the chunks' own states in bf16, as ssd_chunk_state_tc writes them (what STATE variants write)
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
//  - session 11 (ssd_results/2026-11-30-scan-walk.log, source in commit 153ef00): the state passing folded into the
//    scan, one CTA per (sequence, head) walking its chunks, S_in(c) = a S_in(c-1) + local(c-1) made while packing (fp32
//    running state through the thread's own writes to a scratch): the same bits, but 487 against 360 + 108 us (130M,
//    384 CTAs in one wave of three an SM), 772 against 448 + 143 (1.3B): a CTA's chunks in a row, its prologue no
//    longer overlapped by other CTAs' products, cost more than the passing's traffic.

//  - session 9 (ssd_results/2026-11-30-walk2-lognormal.log): the walk with each (sequence, head) over two CTAs of 64
//    state columns (70 KB, three CTAs an SM, twice the CTAs; commit b8f9e38): bit-identical, but 323.9 against 291.0 us
//    (130M 16 x 2048), 424.8 against 334.9 (1.3B 8 x 2048), 222.9 / 473.1 against 196.7 / 412.4 on log-normal batches:
//    a walk step's time is its staging and barriers, not its products, so half the products a CTA do not halve it.
//  - session 14 (ssd_results/2026-11-30-state-conv-fold.log, source in commit 1c0ee23): the conv (K = 4) + SiLU of x
//    folded into the chunk-state kernel (each head's raw rows from in_proj or the carried window, the conv's output to
//    Xs and to x for the scan; the conv kernel left with B and C): the same bits, but the conv's work adds to each
//    head's serial stage: 293.8 against 292.9 us a 130M layer for conv + chunk states, 339.1 against 361.2 (1.3B),
//    174.6 / 404.3 against 152.8 / 364.5 on log-normal batches.
//  - session 14 (ssd_results/2026-11-30-state-head-ahead.log, source in commit 354580e): the chunk states with each head's
//    x staged by cp.async one head ahead (512 threads in two halves taking every other head, two Xs buffers a half,
//    211 KB, one CTA an SM): the same bits, 185.9 against 164.7 us a 130M layer (carry 3), 241.4 against 211.8 (1.3B):
//    the staging's latency is not what holds the chunk states; their products are.
//  - session 15 (ssd_results/2026-11-30-state-3cta-walk-wg.log, source in commit 2436442): the walk's product on wgmma
//    with B and x w in bf16 (one product a k-step): 1.3B 259.8 -> 265.4 us, log-normal shapes 141.1 -> 150.7 and
//    300.9 -> 323.7 (130M 16 x 2048, where the two kernels run, 246.1 -> 222.0).
//  - session 9 (ssd_results/2026-11-30-walk-heads.log, source in commit 1a70d85's ssd_variants.cuh): the walk over
//    several heads a CTA (ssd_state_walk_heads_tc), B packed once a chunk for all of them, the running state through
//    the thread's own writes and reads: 1 / 2 / 4 / 8 heads 130M 308 / 305 / 395 / 692 us against the walk's 291.
//  - session 16 (ssd_results/2026-11-30-state-next-head.log, source in commit 4f294ab): the shipped chunk-state kernel
//    with the next head's x staged by cp.async during a head's product (two x | w buffers, 105 KB, two CTAs an SM):
//    the same bits, 139.9 against 137.8 us a 130M layer (in two calls), 175.7 against 174.1 (1.3B).

// Shipped from here (session 9): the chunk states and their passing in one kernel walking each sequence's chunks
// (ssd_state_walk_tc in ssd_tc.cuh, measured here first as ssd_state_seq_tc; ssd_results/2026-11-30-state-seq.log).

// Shipped from here (session 11): S_in read by the scan with evict-first loads (ssd_results/2026-11-30-scan-stream-s.log).

// Shipped from here (session 14): the chunk-state product on wgmma for sm_90a (the chunk-state kernel; the walk keeps
// mma.sync), measured here first as ssd_chunk_state_wg_tc (commit 7f8aef7; ssd_results/2026-11-30-state-wgmma.log),
// and the scan's inter-chunk product on wgmma, measured here first as ssd_chunk_scan_wgi_tc (commit 44ccbeb;
// ssd_results/2026-11-30-scan-wgmma-inter.log).


inline std::vector<BenchVariant> bench_variants() { return {}; }

// State passing variants: same signature and in-place contract as ssd_state_passing_v4 (checked against the fp32
// path's passed states, then timed on a copy of the local states like the shipped kernel).
struct PassingVariant {
    const char* name;
    void (*kernel)(float*, const float*, int, const int*, const int*, const int*, const int*, int, int, float*, long long, int);
    int vec = 4;  // state elements per thread: grid (ceil(PN / (256 vec)), H, seqs)
};

inline std::vector<PassingVariant> passing_variants() { return {}; }
