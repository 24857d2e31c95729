// Mean and last pooling per sequence of a packed batch. Twin: ssdspark.kernels.Pooling.
#pragma once
#include "common.cuh"

// grid (ceil(d/128), S), block 128: sums[s][c] = sum over the sequence's rows of hidden[t][c] (in double),
// last[s][c] = hidden[last row of s][c].
extern "C" __global__ void pool_sum_last(const float* __restrict__ hidden, int d, const int* __restrict__ seqStart,
                                         const int* __restrict__ seqLen, double* sums, float* last) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= d) return;
    const int s = blockIdx.y;
    const size_t t0 = seqStart[s], len = seqLen[s];
    double acc = 0;
    for (size_t t = t0; t < t0 + len; t++) acc += hidden[t * d + c];
    sums[(size_t)s * d + c] = acc;
    last[(size_t)s * d + c] = hidden[(t0 + len - 1) * d + c];
}
