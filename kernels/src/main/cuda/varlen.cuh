// Per-token tables of a packed varlen batch. Launcher and twin: ssdspark.kernels.gpu.Varlen (its host tables).
#pragma once
#include "common.cuh"

// grid (S), block 256: tokSeq/tokPos of a packed batch from its sequence table (built on the device: only the
// per-sequence and per-chunk tables cross from the host)
extern "C" __global__ void varlen_token_tables(const int* __restrict__ seqStart, const int* __restrict__ seqLen,
                                               int* __restrict__ tokSeq, int* __restrict__ tokPos) {
    const int s = blockIdx.x, t0 = seqStart[s], len = seqLen[s];
    for (int i = threadIdx.x; i < len; i += blockDim.x) { tokSeq[t0 + i] = s; tokPos[t0 + i] = i; }
}
