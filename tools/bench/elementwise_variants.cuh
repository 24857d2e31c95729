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

// Open experiment (session 7): the conv's window rows (the K-1 tokens before the block's first) loaded with the
// block's inputs, before the first token's position is known; reloaded only where a sequence starts inside the window
// (the shipped kernel waits for tokPos before it issues those loads: a second round trip on every block's path).
template <int K, bool VEC>
__device__ __forceinline__ void conv_spec_body(const float* __restrict__ in, int ldIn, int inOff, int C,
                                               const float* __restrict__ w, const float* __restrict__ bias, int T,
                                               const int* __restrict__ tokSeq, const int* __restrict__ tokPos,
                                               const float* __restrict__ state, long long stateSeqStride, int silu,
                                               float* __restrict__ out, int c) {
    constexpr int hist = K - 1;
    const int t0 = blockIdx.x * CONV_TT;
    float4 x[CONV_TT];
    int pos[CONV_TT];
    float4 win[hist > 0 ? hist : 1];
#pragma unroll
    for (int j = 0; j < hist; j++) {
        const int tt = t0 - hist + j;
        win[j] = tt >= 0 ? ld4<VEC>(in + (size_t)tt * ldIn + inOff + c) : make_float4(0.f, 0.f, 0.f, 0.f);
    }
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
#pragma unroll
    for (int i = 0; i < CONV_TT; i++) {
        const int t = t0 + i;
        if (t >= T) break;
        if (pos[i] < (i == 0 ? hist : 1)) {  // a sequence starts inside this token's window: rebuild it
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
__global__ void __launch_bounds__(128, 4) conv_spec(const float* in, int ldIn, int inOff, int C, const float* w,
                                                    const float* bias, int T, const int* tokSeq, const int* tokPos,
                                                    const float* state, long long stateSeqStride, int silu, float* out) {
    const int c = 4 * (blockIdx.y * blockDim.x + threadIdx.x);
    if (c >= C) return;
    const bool vec = (((uintptr_t)(in + inOff)) & 15) == 0 && (ldIn & 3) == 0 && (((uintptr_t)state) & 15) == 0 &&
                     (stateSeqStride & 3) == 0 && (((uintptr_t)out) & 15) == 0;
    if (vec) conv_spec_body<K, true>(in, ldIn, inOff, C, w, bias, T, tokSeq, tokPos, state, stateSeqStride, silu, out, c);
    else conv_spec_body<K, false>(in, ldIn, inOff, C, w, bias, T, tokSeq, tokPos, state, stateSeqStride, silu, out, c);
}

inline std::vector<EwKernel> elementwise_variants(const EwArgs& a) {
    auto spec = [](const EwArgs& a) {
        conv_spec<4><<<dim3((a.T + 15) / 16, (a.convDim / 4 + 127) / 128), 128>>>(
            a.proj, a.dIn, a.dSsm, a.convDim, a.convW, a.convB, a.T, a.tokSeq, a.tokPos, a.convState, 3LL * a.convDim, 1,
            a.xbc);
    };
    auto shipped = [](const EwArgs& a) {
        causal_conv1d_fwd_k4_x4<<<dim3((a.T + 15) / 16, (a.convDim / 4 + 127) / 128), 128>>>(
            a.proj, a.dIn, a.dSsm, a.convDim, a.convW, a.convB, a.T, a.tokSeq, a.tokPos, a.convState, 3LL * a.convDim, 1,
            a.xbc);
    };
    const double bytes = (double)a.T * a.convDim * 8;
    return {{"conv, window loaded with the inputs", "causal_conv1d_fwd_k4_x4", bytes, spec},
            {"conv shipped again", "causal_conv1d_fwd_k4_x4", bytes, shipped},
            {"conv window early again", "causal_conv1d_fwd_k4_x4", bytes, spec}};
}
