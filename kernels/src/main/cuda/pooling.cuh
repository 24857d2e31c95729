// Mean and last pooling per sequence of a packed batch. Twin: ssdspark.kernels.Pooling.
#pragma once
#include "common.cuh"

// grid (ceil(d/32), S), block 32 * POOL_ROW_LANES: sums[s][c] = sum over the sequence's rows of hidden[t][c] (in
// double), last[s][c] = hidden[last row of s][c]. Warp y sums rows y, y + 8, ... of a 32-column strip (4 loads in
// flight, each one 128-byte line), then the warps' sums add in a fixed order: the result does not depend on the
// schedule. A thread walking all the rows of its column alone kept one load in flight: 195 us for 32768 x 768, ~7x DRAM.
constexpr int POOL_ROW_LANES = 8;
extern "C" __global__ void pool_sum_last(const float* __restrict__ hidden, int d, const int* __restrict__ seqStart,
                                         const int* __restrict__ seqLen, double* sums, float* last) {
    __shared__ double part[POOL_ROW_LANES][32];
    const int x = threadIdx.x & 31, y = threadIdx.x >> 5, c = blockIdx.x * 32 + x, s = blockIdx.y;
    const size_t t0 = seqStart[s], len = seqLen[s];
    double acc = 0;
    if (c < d) {
        const float* h = hidden + t0 * d + c;
        size_t t = y;
        for (; t + 3 * POOL_ROW_LANES < len; t += 4 * POOL_ROW_LANES) {
            const float a0 = h[t * d], a1 = h[(t + POOL_ROW_LANES) * d], a2 = h[(t + 2 * POOL_ROW_LANES) * d],
                        a3 = h[(t + 3 * POOL_ROW_LANES) * d];
            acc += a0; acc += a1; acc += a2; acc += a3;
        }
        for (; t < len; t += POOL_ROW_LANES) acc += h[t * d];
    }
    part[y][x] = acc;
    __syncthreads();
    if (y == 0 && c < d) {
        double sum = 0;
#pragma unroll
        for (int i = 0; i < POOL_ROW_LANES; i++) sum += part[i][x];
        sums[(size_t)s * d + c] = sum;
        last[(size_t)s * d + c] = hidden[(t0 + len - 1) * d + c];
    }
}
