// mamba_ssm's gated RMSNorm, group-wise, plus the MLP part silu(z0)*x0 of the out_proj input.
// Twin: ssdspark.kernels.GatedRmsNorm (and the MLP/no-norm loops of CpuEngine.forward).
#pragma once
#include "common.cuh"

// grid (rows), block 256. y[r][0:d] (row stride ldY), z = proj[r][zOff:zOff+d], w[d] (null: y*silu(z), no norm).
// Writes out[r][outOff:outOff+d]; if dMlp > 0 also out[r][0:dMlp] = silu(proj[r][0:dMlp]) * proj[r][dMlp:2dMlp];
// zero fills out[r][padFrom:ldOut].
template <typename TO>
__device__ __forceinline__ void gated_rmsnorm_impl(const float* __restrict__ y, int ldY, const float* __restrict__ proj,
                                                   int ldProj, int zOff, const float* __restrict__ w, float eps,
                                                   int groupSize, int normBeforeGate, int d, int dMlp, TO* out,
                                                   int ldOut, int outOff, int padFrom) {
    __shared__ float sh[32];
    const size_t r = blockIdx.x;
    const float* yr = y + r * ldY;
    const float* zr = proj + r * ldProj + zOff;
    TO* orow = out + r * ldOut;
    if (w == nullptr) {
        for (int i = threadIdx.x; i < d; i += blockDim.x) store_f(orow + outOff + i, yr[i] * silu_f(zr[i]));
    } else {
        for (int g0 = 0; g0 < d; g0 += groupSize) {
            float ss = 0.f;
            for (int i = threadIdx.x; i < groupSize; i += blockDim.x) {
                float v = yr[g0 + i];
                if (!normBeforeGate) v *= silu_f(zr[g0 + i]);
                ss += v * v;
            }
            ss = block_sum(ss, sh);
            const float inv = 1.f / sqrtf(ss / groupSize + eps);
            for (int i = threadIdx.x; i < groupSize; i += blockDim.x) {
                float v = yr[g0 + i];
                if (!normBeforeGate) v *= silu_f(zr[g0 + i]);
                v = v * inv * w[g0 + i];
                if (normBeforeGate) v *= silu_f(zr[g0 + i]);
                store_f(orow + outOff + g0 + i, v);
            }
        }
    }
    const float* pr = proj + r * ldProj;
    for (int i = threadIdx.x; i < dMlp; i += blockDim.x) store_f(orow + i, silu_f(pr[i]) * pr[dMlp + i]);
    for (int i = padFrom + threadIdx.x; i < ldOut; i += blockDim.x) store_f(orow + i, 0.f);
}

extern "C" __global__ void gated_rmsnorm_f32(const float* y, int ldY, const float* proj, int ldProj, int zOff,
                                             const float* w, float eps, int groupSize, int normBeforeGate, int d,
                                             int dMlp, float* out, int ldOut, int outOff, int padFrom) {
    gated_rmsnorm_impl(y, ldY, proj, ldProj, zOff, w, eps, groupSize, normBeforeGate, d, dMlp, out, ldOut, outOff,
                       padFrom);
}
extern "C" __global__ void gated_rmsnorm_bf16(const float* y, int ldY, const float* proj, int ldProj, int zOff,
                                              const float* w, float eps, int groupSize, int normBeforeGate, int d,
                                              int dMlp, bf16* out, int ldOut, int outOff, int padFrom) {
    gated_rmsnorm_impl(y, ldY, proj, ldProj, zOff, w, eps, groupSize, normBeforeGate, d, dMlp, out, ldOut, outOff,
                       padFrom);
}
extern "C" __global__ void gated_rmsnorm_f16(const float* y, int ldY, const float* proj, int ldProj, int zOff,
                                             const float* w, float eps, int groupSize, int normBeforeGate, int d,
                                             int dMlp, f16* out, int ldOut, int outOff, int padFrom) {
    gated_rmsnorm_impl(y, ldY, proj, ldProj, zOff, w, eps, groupSize, normBeforeGate, d, dMlp, out, ldOut, outOff,
                       padFrom);
}
