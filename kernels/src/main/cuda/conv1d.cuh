// Causal depthwise conv1d (+ bias, SiLU unless off: the attention layers' conv has none) over a packed varlen batch. Twin: ssdspark.kernels.CausalConv1d.
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
                                             int silu, float* __restrict__ out) {
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
    out[t * C + c] = silu ? silu_f(acc) : acc;
}

// grid (ceil(T/CONV_TT), ceil(C/128)), block 128: the same for kernel width K known at compile time; each thread
// slides a register window over CONV_TT consecutive tokens of one channel, reloading it at sequence starts.
#define CONV_TT 16
template <int K>
__device__ __forceinline__ void conv1d_slide(const float* __restrict__ in, int ldIn, int inOff, int C,
                                             const float* __restrict__ w, const float* __restrict__ bias, int T,
                                             const int* __restrict__ tokSeq, const int* __restrict__ tokPos,
                                             const float* __restrict__ state, long long stateSeqStride,
                                             int silu, float* __restrict__ out) {
    constexpr int hist = K - 1;
    const int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const int t0 = blockIdx.x * CONV_TT, t1 = min(T, t0 + CONV_TT);
    float wr[K], win[hist > 0 ? hist : 1];
#pragma unroll
    for (int j = 0; j < K; j++) wr[j] = w[(size_t)c * K + j];
    const float b = bias ? bias[c] : 0.f;
    for (int t = t0; t < t1; t++) {
        const int pos = tokPos[t];
        if (t == t0 || pos == 0) {  // (re)load the window of this token's sequence
            const int s = tokSeq[t];
            const float* st = state + (size_t)s * stateSeqStride;
#pragma unroll
            for (int j = 0; j < hist; j++) {
                const int tt = pos - hist + j;
                win[j] = tt >= 0 ? in[(size_t)(t - pos + tt) * ldIn + inOff + c] : st[(size_t)(hist + tt) * C + c];
            }
        }
        const float x = in[(size_t)t * ldIn + inOff + c];
        float acc = b;
#pragma unroll
        for (int j = 0; j < hist; j++) acc += wr[j] * win[j];
        acc += wr[hist] * x;
        out[(size_t)t * C + c] = silu ? silu_f(acc) : acc;
#pragma unroll
        for (int j = 0; j + 1 < hist; j++) win[j] = win[j + 1];
        if (hist > 0) win[hist - 1] = x;
    }
}

#define SSD_CONV_SLIDE(K)                                                                                              \
    extern "C" __global__ void causal_conv1d_fwd_k##K(const float* in, int ldIn, int inOff, int C, const float* w,     \
                                                      const float* bias, int T, const int* tokSeq, const int* tokPos, \
                                                      const float* state, long long stateSeqStride, int silu,          \
                                                      float* out) {                                                    \
        conv1d_slide<K>(in, ldIn, inOff, C, w, bias, T, tokSeq, tokPos, state, stateSeqStride, silu, out);            \
    }
SSD_CONV_SLIDE(2)
SSD_CONV_SLIDE(3)
SSD_CONV_SLIDE(4)

// grid (ceil(T/CONV_TT), ceil(C/512)), block 128, C % 4 == 0: conv1d_slide over 4 neighbouring channels a thread.
// All CONV_TT tokens' inputs are loaded before the first is used (the scalar kernel keeps one load in flight per
// thread and reaches about half of DRAM bandwidth); 16-byte accesses where rows, offsets and pointers allow (VEC), 4-byte
// ones otherwise. The two cases are separate bodies: one body choosing per access kept fewer loads in flight
// (8 % slower, tools/bench/KERNEL_NOTES.md). Same arithmetic in the same order as conv1d_slide, so the same bits.
template <bool VEC>
__device__ __forceinline__ float4 ld4(const float* p) {
    return VEC ? *reinterpret_cast<const float4*>(p) : make_float4(p[0], p[1], p[2], p[3]);
}
template <int K, bool VEC>
__device__ __forceinline__ void conv1d_slide4_body(const float* __restrict__ in, int ldIn, int inOff, int C,
                                                   const float* __restrict__ w, const float* __restrict__ bias, int T,
                                                   const int* __restrict__ tokSeq, const int* __restrict__ tokPos,
                                                   const float* __restrict__ state, long long stateSeqStride, int silu,
                                                   float* __restrict__ out, int c) {
    constexpr int hist = K - 1;
    const int t0 = blockIdx.x * CONV_TT;
    float4 x[CONV_TT];
    int pos[CONV_TT];
#pragma unroll
    for (int i = 0; i < CONV_TT; i++) {
        const int t = t0 + i;
        pos[i] = t < T ? tokPos[t] : 0;
        x[i] = t < T ? ld4<VEC>(in + (size_t)t * ldIn + inOff + c) : make_float4(0.f, 0.f, 0.f, 0.f);
    }
    float wr[4][K], b[4];
#pragma unroll
    for (int k = 0; k < 4; k++) {
        b[k] = bias ? bias[c + k] : 0.f;
#pragma unroll
        for (int j = 0; j < K; j++) wr[k][j] = w[(size_t)(c + k) * K + j];
    }
    float4 win[hist > 0 ? hist : 1];
#pragma unroll
    for (int i = 0; i < CONV_TT; i++) {
        const int t = t0 + i;
        if (t >= T) break;
        if (i == 0 || pos[i] == 0) {  // (re)load the window of this token's sequence
            const float* st = state + (size_t)tokSeq[t] * stateSeqStride;
#pragma unroll
            for (int j = 0; j < hist; j++) {
                const int tt = pos[i] - hist + j;
                win[j] = tt >= 0 ? ld4<VEC>(in + (size_t)(t - pos[i] + tt) * ldIn + inOff + c)
                                 : ld4<VEC>(st + (size_t)(hist + tt) * C + c);
            }
        }
        float a[4] = {b[0], b[1], b[2], b[3]};
        const float xi[4] = {x[i].x, x[i].y, x[i].z, x[i].w};
#pragma unroll
        for (int j = 0; j < hist; j++) {
            const float wj[4] = {win[j].x, win[j].y, win[j].z, win[j].w};
#pragma unroll
            for (int k = 0; k < 4; k++) a[k] += wr[k][j] * wj[k];
        }
#pragma unroll
        for (int k = 0; k < 4; k++) {
            a[k] += wr[k][hist] * xi[k];
            if (silu) a[k] = silu_f(a[k]);
        }
        float* o = out + (size_t)t * C + c;
        if (VEC) *reinterpret_cast<float4*>(o) = make_float4(a[0], a[1], a[2], a[3]);
        else { o[0] = a[0]; o[1] = a[1]; o[2] = a[2]; o[3] = a[3]; }
#pragma unroll
        for (int j = 0; j + 1 < hist; j++) win[j] = win[j + 1];
        if (hist > 0) win[hist - 1] = x[i];
    }
}
template <int K>
__device__ __forceinline__ void conv1d_slide4(const float* __restrict__ in, int ldIn, int inOff, int C,
                                              const float* __restrict__ w, const float* __restrict__ bias, int T,
                                              const int* __restrict__ tokSeq, const int* __restrict__ tokPos,
                                              const float* __restrict__ state, long long stateSeqStride, int silu,
                                              float* __restrict__ out) {
    const int c = 4 * (blockIdx.y * blockDim.x + threadIdx.x);
    if (c >= C) return;
    const bool vec = (((uintptr_t)(in + inOff)) & 15) == 0 && (ldIn & 3) == 0 && (((uintptr_t)state) & 15) == 0 &&
                     (stateSeqStride & 3) == 0 && (((uintptr_t)out) & 15) == 0;
    if (vec) conv1d_slide4_body<K, true>(in, ldIn, inOff, C, w, bias, T, tokSeq, tokPos, state, stateSeqStride, silu, out, c);
    else conv1d_slide4_body<K, false>(in, ldIn, inOff, C, w, bias, T, tokSeq, tokPos, state, stateSeqStride, silu, out, c);
}

#define SSD_CONV_SLIDE4(K)                                                                                             \
    extern "C" __global__ void __launch_bounds__(128, 4) causal_conv1d_fwd_k##K##_x4(const float* in, int ldIn, int inOff, int C, const float* w, \
                                                           const float* bias, int T, const int* tokSeq,               \
                                                           const int* tokPos, const float* state,                     \
                                                           long long stateSeqStride, int silu, float* out) {          \
        conv1d_slide4<K>(in, ldIn, inOff, C, w, bias, T, tokSeq, tokPos, state, stateSeqStride, silu, out);           \
    }
SSD_CONV_SLIDE4(2)
SSD_CONV_SLIDE4(3)
SSD_CONV_SLIDE4(4)

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
