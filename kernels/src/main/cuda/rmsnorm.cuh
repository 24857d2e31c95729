// Fused residual add + RMSNorm. Twin: ssdspark.kernels.RmsNorm (cpu / addCpu).
#pragma once
#include "common.cuh"

// grid (rows), block 256. If delta != null: residual += delta. Then y = residual * rsqrt(mean(residual^2) + eps) * w,
// written to outF[r][0:d] (fp32, row stride ldF) and/or outH[r][0:ldH] (bf16 / fp16, zero padded past d), whichever
// is non-null.
template <typename TH>
__device__ __forceinline__ void add_rmsnorm_impl(float* residual, const float* delta, const float* w, float eps, int d,
                                                 float* outF, int ldF, TH* outH, int ldH) {
    __shared__ float sh[32];
    const size_t r = blockIdx.x;
    float* x = residual + r * d;
    const float* dl = delta ? delta + r * d : nullptr;
    float ss = 0.f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float v = x[i];
        if (dl) { v += dl[i]; x[i] = v; }
        ss += v * v;
    }
    ss = block_sum(ss, sh);
    const float inv = 1.f / sqrtf(ss / d + eps);
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float v = x[i] * inv * w[i];
        if (outF) outF[r * ldF + i] = v;
        if (outH) store_f(outH + r * ldH + i, v);
    }
    if (outH)
        for (int i = d + threadIdx.x; i < ldH; i += blockDim.x) store_f(outH + r * ldH + i, 0.f);
}
extern "C" __global__ void add_rmsnorm_bf16(float* residual, const float* delta, const float* w, float eps, int d,
                                            float* outF, int ldF, bf16* outH, int ldH) {
    add_rmsnorm_impl(residual, delta, w, eps, d, outF, ldF, outH, ldH);
}
extern "C" __global__ void add_rmsnorm_f16(float* residual, const float* delta, const float* w, float eps, int d,
                                           float* outF, int ldF, f16* outH, int ldH) {
    add_rmsnorm_impl(residual, delta, w, eps, d, outF, ldF, outH, ldH);
}
