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

// The same for groups of a multiple of 512 columns: grid (rows), block d/16 (<= 1024). Warp w keeps y and z of
// columns [512w, 512w + 512) in registers, lane l the four runs of 4 at 512w + 4l + 128k (k < 4): each load
// instruction of the warp covers 512 contiguous bytes (16 neighbouring columns a lane spread one over 32 sectors and
// measured 186 against 161 µs a 1.3B row set, tools/bench/KERNEL_NOTES.md). All loads come before the first use (the
// loop above keeps one or two in flight per thread and reaches about 1.8 TB/s); one sum per warp, the group's from
// shared memory (a group is whole warps). 16-byte accesses where rows and pointers allow, 4-byte ones otherwise.
constexpr int GATED_RUN_STEP = 128;  // columns between a lane's runs of 4

__device__ __forceinline__ void load4x4(float (&v)[16], const float* p, bool vec) {
#pragma unroll
    for (int k = 0; k < 4; k++) {
        const float* q = p + GATED_RUN_STEP * k;
        const float4 x = vec ? *reinterpret_cast<const float4*>(q) : make_float4(q[0], q[1], q[2], q[3]);
        v[4 * k] = x.x; v[4 * k + 1] = x.y; v[4 * k + 2] = x.z; v[4 * k + 3] = x.w;
    }
}

// o[4k .. 4k+4) to dst as one 8-byte (16-bit TO) or 16-byte (float) store
template <typename TO>
__device__ __forceinline__ void store4(TO* dst, const float (&o)[16], int k) {
    if constexpr (sizeof(TO) == 4) {
        *reinterpret_cast<float4*>(dst) = make_float4(o[4 * k], o[4 * k + 1], o[4 * k + 2], o[4 * k + 3]);
    } else {
        union { uint2 u; TO h[4]; } pk;
#pragma unroll
        for (int e = 0; e < 4; e++) store_f(&pk.h[e], o[4 * k + e]);
        *reinterpret_cast<uint2*>(dst) = pk.u;
    }
}

template <typename TO>
__device__ __forceinline__ void gated_rmsnorm_regs(const float* __restrict__ y, int ldY, const float* __restrict__ proj,
                                                   int ldProj, int zOff, const float* __restrict__ w, float eps,
                                                   int groupSize, int normBeforeGate, int d, int dMlp, TO* out,
                                                   int ldOut, int outOff, int padFrom, int tiledRows) {
    __shared__ float sh[32];
    const size_t r = blockIdx.x;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, c0 = 512 * warp + 4 * lane;
    const bool vy = (((uintptr_t)y) & 15) == 0 && (ldY & 3) == 0;
    const bool vz = (((uintptr_t)(proj + zOff)) & 15) == 0 && (ldProj & 3) == 0;
    const bool vo = (((uintptr_t)(out + outOff)) & 15) == 0 && (ldOut * sizeof(TO)) % 16 == 0;
    float v[16], z[16], wr[16];
    load4x4(v, y + r * ldY + c0, vy);
    load4x4(z, proj + r * ldProj + zOff + c0, vz);
    load4x4(wr, w + c0, (((uintptr_t)w) & 15) == 0);
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
    // a run of 4 stays inside one 16-byte chunk of the tiled layout when it starts on a multiple of 4; else (and for
    // unaligned rows) element by element, each through the layout
    const bool runs = tiledRows ? sizeof(TO) == 2 && ((outOff & 3) == 0) : vo;
#pragma unroll
    for (int k = 0; k < 4; k++) {
        const int col = outOff + c0 + GATED_RUN_STEP * k;
        if (runs) store4(orow.at(col), o, k);
        else
#pragma unroll
            for (int e = 0; e < 4; e++) store_f(orow.at(col + e), o[4 * k + e]);
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
