// mamba_ssm's gated RMSNorm, group-wise, plus the MLP part silu(z0)*x0 of the out_proj input.
// Twin: ssdspark.kernels.GatedRmsNorm (and the MLP/no-norm loops of CpuEngine.forward).
#pragma once
#include "common.cuh"

// Where column col of row r goes: out[r][ldOut], or with tiledRows > 0 gemm_bf16_tn_tiled's pre-tiled layout
// (common.cuh's tiled_index), whose columns past padFrom up to the next multiple of 64 are the zero fill.
template <typename TO>
struct OutRow {
    TO* out;
    size_t r;
    int ldOut, tiledRows;
    __device__ __forceinline__ TO* at(int col) const {
        return tiledRows ? out + tiled_index(r, col, tiledRows) : out + r * ldOut + col;
    }
    __device__ __forceinline__ int padTo(int padFrom) const { return tiledRows ? (padFrom + 63) & ~63 : ldOut; }
    // the block's threads write the MLP part silu(pr[i]) * pr[dMlp + i], i < dMlp, and zero the columns from padFrom
    __device__ __forceinline__ void mlpAndPad(const float* __restrict__ pr, int dMlp, int padFrom) const {
        for (int i = threadIdx.x; i < dMlp; i += blockDim.x) store_f(at(i), silu_f(pr[i]) * pr[dMlp + i]);
        for (int i = padFrom + threadIdx.x; i < padTo(padFrom); i += blockDim.x) store_f(at(i), 0.f);
    }
};

// grid (rows), block 256. y[r][0:d] (row stride ldY), z = proj[r][zOff:zOff+d], w[d] (null: y*silu(z), no norm).
// Writes out[r][outOff:outOff+d]; if dMlp > 0 also out[r][0:dMlp] = silu(proj[r][0:dMlp]) * proj[r][dMlp:2dMlp];
// zero fills out[r][padFrom:ldOut] (rows: see OutRow).
template <typename TO>
__device__ __forceinline__ void gated_rmsnorm_impl(const float* __restrict__ y, int ldY, const float* __restrict__ proj,
                                                   int ldProj, int zOff, const float* __restrict__ w, float eps,
                                                   int groupSize, int normBeforeGate, int d, int dMlp, TO* out,
                                                   int ldOut, int outOff, int padFrom, int tiledRows) {
    __shared__ float sh[32];
    const size_t r = blockIdx.x;
    const float* yr = y + r * ldY;
    const float* zr = proj + r * ldProj + zOff;
    const OutRow<TO> o{out, r, ldOut, tiledRows};
    if (w == nullptr) {
        for (int i = threadIdx.x; i < d; i += blockDim.x) store_f(o.at(outOff + i), yr[i] * silu_f(zr[i]));
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
                store_f(o.at(outOff + g0 + i), v);
            }
        }
    }
    o.mlpAndPad(proj + r * ldProj, dMlp, padFrom);
}

// The same for groups of a multiple of 512 columns: grid (rows), block d/16 (<= 1024). Thread j keeps y and z of
// columns [16j, 16j+16) in registers, all loaded before the first is used (the loop above keeps one or two loads in
// flight per thread and reaches about 1.8 TB/s); one sum per warp, the group's from shared memory (a group is whole
// warps). 16-byte accesses where rows and pointers allow, 4-byte ones otherwise.
// o[8k .. 8k+8) as eight 16-bit values in one 16-byte word
template <typename TO>
__device__ __forceinline__ uint4 pack8(const float (&o)[16], int k) {
    union { uint4 u; TO h[8]; } pk;
#pragma unroll
    for (int e = 0; e < 8; e++) store_f(&pk.h[e], o[8 * k + e]);
    return pk.u;
}

template <typename TO>
__device__ __forceinline__ void store16(TO* dst, const float (&o)[16], bool vec) {
    if constexpr (sizeof(TO) == 4) {
        if (vec) {
#pragma unroll
            for (int k = 0; k < 4; k++)
                reinterpret_cast<float4*>(dst)[k] = make_float4(o[4 * k], o[4 * k + 1], o[4 * k + 2], o[4 * k + 3]);
            return;
        }
    } else {
        if (vec) {
#pragma unroll
            for (int k = 0; k < 2; k++) reinterpret_cast<uint4*>(dst)[k] = pack8<TO>(o, k);
            return;
        }
    }
#pragma unroll
    for (int i = 0; i < 16; i++) store_f(dst + i, o[i]);
}

__device__ __forceinline__ void load16(float (&v)[16], const float* p, bool vec) {
#pragma unroll
    for (int k = 0; k < 4; k++) {
        const float4 q = vec ? reinterpret_cast<const float4*>(p)[k] : make_float4(p[4 * k], p[4 * k + 1], p[4 * k + 2], p[4 * k + 3]);
        v[4 * k] = q.x; v[4 * k + 1] = q.y; v[4 * k + 2] = q.z; v[4 * k + 3] = q.w;
    }
}

template <typename TO>
__device__ __forceinline__ void gated_rmsnorm_regs(const float* __restrict__ y, int ldY, const float* __restrict__ proj,
                                                   int ldProj, int zOff, const float* __restrict__ w, float eps,
                                                   int groupSize, int normBeforeGate, int d, int dMlp, TO* out,
                                                   int ldOut, int outOff, int padFrom, int tiledRows) {
    __shared__ float sh[32];
    const size_t r = blockIdx.x;
    const int c0 = 16 * threadIdx.x, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const bool vy = (((uintptr_t)y) & 15) == 0 && (ldY & 3) == 0;
    const bool vz = (((uintptr_t)(proj + zOff)) & 15) == 0 && (ldProj & 3) == 0;
    const bool vo = (((uintptr_t)(out + outOff)) & 15) == 0 && (ldOut * sizeof(TO)) % 16 == 0;
    float v[16], z[16], wr[16];
    load16(v, y + r * ldY + c0, vy);
    load16(z, proj + r * ldProj + zOff + c0, vz);
    load16(wr, w + c0, (((uintptr_t)w) & 15) == 0);
    float ss = 0.f;
#pragma unroll
    for (int i = 0; i < 16; i++) {
        if (!normBeforeGate) v[i] *= silu_f(z[i]);
        ss += v[i] * v[i];
    }
    ss = warp_sum(ss);
    if (lane == 0) sh[warp] = ss;
    __syncthreads();
    const int perGroup = groupSize >> 9, first = warp / perGroup * perGroup;  // warps of this thread's group
    float gs = 0.f;
    for (int k = 0; k < perGroup; k++) gs += sh[first + k];
    const float inv = 1.f / sqrtf(gs / groupSize + eps);
    float o[16];
#pragma unroll
    for (int i = 0; i < 16; i++) {
        o[i] = v[i] * inv * wr[i];
        if (normBeforeGate) o[i] *= silu_f(z[i]);
    }
    const OutRow<TO> orow{out, r, ldOut, tiledRows};
    const int col = outOff + c0;
    if (!tiledRows) {
        store16(orow.at(col), o, vo);
    } else if constexpr (sizeof(TO) == 2) {
        if ((col & 7) == 0) {  // two whole 16-byte chunks of the tiled layout
#pragma unroll
            for (int k = 0; k < 2; k++) *reinterpret_cast<uint4*>(orow.at(col + 8 * k)) = pack8<TO>(o, k);
        } else {
#pragma unroll
            for (int i = 0; i < 16; i++) store_f(orow.at(col + i), o[i]);
        }
    }
    orow.mlpAndPad(proj + r * ldProj, dMlp, padFrom);
}

#define SSD_GATED_NORM_REGS(SUFFIX, TO)                                                                                \
    extern "C" __global__ void gated_rmsnorm_regs_##SUFFIX(const float* y, int ldY, const float* proj, int ldProj,     \
                                                           int zOff, const float* w, float eps, int groupSize,         \
                                                           int normBeforeGate, int d, int dMlp, TO* out, int ldOut,    \
                                                           int outOff, int padFrom, int tiledRows) {                   \
        gated_rmsnorm_regs(y, ldY, proj, ldProj, zOff, w, eps, groupSize, normBeforeGate, d, dMlp, out, ldOut, outOff, \
                           padFrom, tiledRows);                                                                        \
    }
SSD_GATED_NORM_REGS(f32, float)
SSD_GATED_NORM_REGS(bf16, bf16)
SSD_GATED_NORM_REGS(f16, f16)

extern "C" __global__ void gated_rmsnorm_f32(const float* y, int ldY, const float* proj, int ldProj, int zOff,
                                             const float* w, float eps, int groupSize, int normBeforeGate, int d,
                                             int dMlp, float* out, int ldOut, int outOff, int padFrom, int tiledRows) {
    gated_rmsnorm_impl(y, ldY, proj, ldProj, zOff, w, eps, groupSize, normBeforeGate, d, dMlp, out, ldOut, outOff,
                       padFrom, tiledRows);
}
extern "C" __global__ void gated_rmsnorm_bf16(const float* y, int ldY, const float* proj, int ldProj, int zOff,
                                              const float* w, float eps, int groupSize, int normBeforeGate, int d,
                                              int dMlp, bf16* out, int ldOut, int outOff, int padFrom, int tiledRows) {
    gated_rmsnorm_impl(y, ldY, proj, ldProj, zOff, w, eps, groupSize, normBeforeGate, d, dMlp, out, ldOut, outOff,
                       padFrom, tiledRows);
}
extern "C" __global__ void gated_rmsnorm_f16(const float* y, int ldY, const float* proj, int ldProj, int zOff,
                                             const float* w, float eps, int groupSize, int normBeforeGate, int d,
                                             int dMlp, f16* out, int ldOut, int outOff, int padFrom, int tiledRows) {
    gated_rmsnorm_impl(y, ldY, proj, ldProj, zOff, w, eps, groupSize, normBeforeGate, d, dMlp, out, ldOut, outOff,
                       padFrom, tiledRows);
}
