// Embedding gather. Twin: the row copy at the start of CpuEngine.forward.
#pragma once
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void embed_gather_impl(const int* __restrict__ tokens, const T* __restrict__ table, int ldTable,
                                                  int d, float* __restrict__ out) {
    const int t = blockIdx.x;
    const T* row = table + (size_t)tokens[t] * ldTable;
    float* o = out + (size_t)t * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) o[i] = to_f(row[i]);
}

// grid (tokens), block 256: out[t][0:d] = table[tokens[t]][0:d]
extern "C" __global__ void embed_gather_f32(const int* tokens, const float* table, int ldTable, int d, float* out) {
    embed_gather_impl(tokens, table, ldTable, d, out);
}
extern "C" __global__ void embed_gather_bf16(const int* tokens, const bf16* table, int ldTable, int d, float* out) {
    embed_gather_impl(tokens, table, ldTable, d, out);
}
extern "C" __global__ void embed_gather_f16(const int* tokens, const f16* table, int ldTable, int d, float* out) {
    embed_gather_impl(tokens, table, ldTable, d, out);
}

// grid (rows), block 256: out[r][0:cols] = half(in[r][0:cols]) (round to nearest even), out[r][cols:ldOut] = 0
template <typename T>
__device__ __forceinline__ void convert_impl(const float* in, int ldIn, T* out, int ldOut, int cols) {
    const size_t r = blockIdx.x;
    for (int i = threadIdx.x; i < ldOut; i += blockDim.x) store_f(out + r * ldOut + i, i < cols ? in[r * ldIn + i] : 0.f);
}
extern "C" __global__ void convert_f32_bf16(const float* in, int ldIn, bf16* out, int ldOut, int cols) {
    convert_impl(in, ldIn, out, ldOut, cols);
}
extern "C" __global__ void convert_f32_f16(const float* in, int ldIn, f16* out, int ldOut, int cols) {
    convert_impl(in, ldIn, out, ldOut, cols);
}

// Ids that arrive in device memory (a cuDF column) are gathered, turned into next-token targets and checked here,
// so they never cross to the host. Twin: GpuEngine's host path (DocumentRunner's targets, its id checks).

// grid (ceil(n/256)), block 256: token t at position p of sequence s reads ids[t] = src[start[s] + p] and, when
// targets is not null, targets[t] = src[start[s] + p + 1] if p + 1 < seqLen[s] + more[s] (more: 1 when the
// sequence's document continues right after it in src), else -1.
extern "C" __global__ void ids_gather(const int* __restrict__ src, const int* __restrict__ start, const int* __restrict__ more,
                                      const int* __restrict__ tokSeq, const int* __restrict__ tokPos,
                                      const int* __restrict__ seqLen, int n, int* __restrict__ ids, int* __restrict__ targets) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= n) return;
    const int s = tokSeq[t], p = tokPos[t];
    const size_t at = (size_t)start[s] + p;
    ids[t] = src[at];
    if (targets) targets[t] = p + 1 < seqLen[s] + more[s] ? src[at + 1] : -1;
}

// grid (ceil(n/256)), block 256: *firstBad = the smallest i with ids[i] outside [lo, limit) (untouched if none)
extern "C" __global__ void ids_check(const int* __restrict__ ids, int n, int lo, int limit, int* firstBad) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n && (ids[i] < lo || ids[i] >= limit)) atomicMin(firstBad, i);
}
