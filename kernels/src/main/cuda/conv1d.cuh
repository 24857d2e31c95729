// Causal depthwise conv1d (+ bias, SiLU) over a packed varlen batch. Twin: ssdspark.kernels.CausalConv1d.
// Token t belongs to sequence tokSeq[t] at position tokPos[t]; taps before a sequence's first token read that
// sequence's carried window state[s][0:K-1][C] (oldest first), never another sequence's tokens.
#pragma once
#include "common.cuh"

// grid (T, ceil(C/128)), block 128. in[t][ldIn] columns [inOff, inOff+C), w[C][K], bias[C] or null -> out[t][C].
// The window of sequence s is state + s*stateSeqStride ([K-1][C]).
extern "C" __global__ void causal_conv1d_fwd(const float* __restrict__ in, int ldIn, int inOff, int C,
                                             const float* __restrict__ w, const float* __restrict__ bias, int K,
                                             const int* __restrict__ tokSeq, const int* __restrict__ tokPos,
                                             const float* __restrict__ state, long long stateSeqStride,
                                             float* __restrict__ out) {
    const int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const size_t t = blockIdx.x;
    const int s = tokSeq[t], pos = tokPos[t], hist = K - 1;
    const size_t t0 = t - pos;  // the sequence's first token
    const float* st = state + (size_t)s * stateSeqStride;
    float acc = bias ? bias[c] : 0.f;
    for (int j = 0; j < K; j++) {
        const int tt = pos - hist + j;
        const float v = tt >= 0 ? in[(t0 + tt) * ldIn + inOff + c] : st[(size_t)(hist + tt) * C + c];
        acc += w[(size_t)c * K + j] * v;
    }
    out[t * C + c] = silu_f(acc);
}

// grid (ceil(C/128), S), block 128: replaces each window with the last K-1 inputs of [old window ++ sequence].
// Run after causal_conv1d_fwd (which reads the old window).
extern "C" __global__ void causal_conv1d_state(const float* __restrict__ in, int ldIn, int inOff, int C, int K,
                                               const int* __restrict__ seqStart, const int* __restrict__ seqLen,
                                               float* state, long long stateSeqStride) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const int s = blockIdx.y, hist = K - 1, len = seqLen[s];
    const size_t t0 = seqStart[s];
    float* st = state + (size_t)s * stateSeqStride;
    // ascending i: slot hist+tt = i+len > i is read before it is overwritten
    for (int i = 0; i < hist; i++) {
        const int tt = len - hist + i;
        const float v = tt >= 0 ? in[(t0 + tt) * ldIn + inOff + c] : st[(size_t)(hist + tt) * C + c];
        st[(size_t)i * C + c] = v;
    }
}
