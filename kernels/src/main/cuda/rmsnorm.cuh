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

// The same with one warp per row and 16-byte accesses (d, ldF, ldH multiples of 4; 8 rows per 256-thread block):
// no block barriers, and the second pass over the row reads what the first just brought into L1. Each pass loads
// NORM_BATCH of a lane's float4 before it uses any (one at a time, a 2048-wide row took 16 dependent round trips:
// 3.1 TB/s against 3.8, tools/bench/KERNEL_NOTES.md); the sums run in the same order either way. tiledRows > 0:
// outH is written in gemm_bf16_tn_tiled's pre-tiled layout for that many (padded) rows instead of rows of ldH.
//
// DeltaScale (the gated RMSNorm folded into the scan, ssd_tc.cuh's GatedOut): delta is out_proj's product of the
// unscaled gated rows, so residual += delta / sqrt(sum_k sumSq[r][k] / width + eps).
#define NORM_BATCH 8
struct DeltaScale {
    const float* sumSq;  // [rows][parts]
    int parts, width;
    float eps;
};

template <typename TH, bool SCALED = false>
__device__ __forceinline__ void add_rmsnorm_warp(float* __restrict__ residual, const float* __restrict__ delta,
                                                 const float* __restrict__ w, float eps, int d, float* __restrict__ outF,
                                                 int ldF, TH* __restrict__ outH, int ldH, int rows, int tiledRows,
                                                 const DeltaScale& ds = DeltaScale{}) {
    const int lane = threadIdx.x & 31, n4 = d / 4;
    const size_t r = (size_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (r >= (size_t)rows) return;
    float4* x = reinterpret_cast<float4*>(residual + r * d);
    const float4* dl = delta ? reinterpret_cast<const float4*>(delta + r * d) : nullptr;
    float sc = 1.f;
    if constexpr (SCALED) {
        float s = 0.f;
        for (int k = lane; k < ds.parts; k += 32) s += ds.sumSq[r * ds.parts + k];
        sc = 1.f / sqrtf(warp_sum(s) / ds.width + ds.eps);
    }
    float ss = 0.f;
    for (int i0 = lane; i0 < n4; i0 += 32 * NORM_BATCH) {
        float4 v[NORM_BATCH], e[NORM_BATCH];
#pragma unroll
        for (int b = 0; b < NORM_BATCH; b++) {
            const int i = i0 + 32 * b;
            if (i < n4) {
                v[b] = x[i];
                if (dl) e[b] = dl[i];
            }
        }
#pragma unroll
        for (int b = 0; b < NORM_BATCH; b++) {
            const int i = i0 + 32 * b;
            if (i >= n4) break;
            if (dl) {
                if constexpr (SCALED) e[b] = make_float4(sc * e[b].x, sc * e[b].y, sc * e[b].z, sc * e[b].w);
                v[b] = make_float4(v[b].x + e[b].x, v[b].y + e[b].y, v[b].z + e[b].z, v[b].w + e[b].w);
                x[i] = v[b];
            }
            ss += v[b].x * v[b].x + v[b].y * v[b].y + v[b].z * v[b].z + v[b].w * v[b].w;
        }
    }
    const float inv = 1.f / sqrtf(warp_sum(ss) / d + eps);
    const float4* w4 = reinterpret_cast<const float4*>(w);
    for (int i0 = lane; i0 < n4; i0 += 32 * NORM_BATCH) {
        float4 v[NORM_BATCH], g[NORM_BATCH];
#pragma unroll
        for (int b = 0; b < NORM_BATCH; b++) {
            const int i = i0 + 32 * b;
            if (i < n4) v[b] = x[i], g[b] = w4[i];
        }
#pragma unroll
        for (int b = 0; b < NORM_BATCH; b++) {
            const int i = i0 + 32 * b;
            if (i >= n4) break;
            const float4 o = make_float4(v[b].x * inv * g[b].x, v[b].y * inv * g[b].y, v[b].z * inv * g[b].z,
                                         v[b].w * inv * g[b].w);
            if (outF) reinterpret_cast<float4*>(outF + r * ldF)[i] = o;
            if (outH) {
                TH* h = tiledRows ? outH + tiled_index(r, 4 * i, tiledRows) : outH + r * ldH + 4 * i;  // 4 | 8: one chunk
                store_f(h, o.x);
                store_f(h + 1, o.y);
                store_f(h + 2, o.z);
                store_f(h + 3, o.w);
            }
        }
    }
    if (outH && tiledRows)  // the last k-tile's columns past d
        for (int i = d + lane; i < ((d + 63) & ~63); i += 32) store_f(outH + tiled_index(r, i, tiledRows), 0.f);
    else if (outH)
        for (int i = d + lane; i < ldH; i += 32) store_f(outH + r * ldH + i, 0.f);
}
extern "C" __global__ void __launch_bounds__(256, 2) add_rmsnorm_warp_bf16(float* residual, const float* delta, const float* w, float eps, int d,
                                                 float* outF, int ldF, bf16* outH, int ldH, int rows, int tiledRows) {
    add_rmsnorm_warp(residual, delta, w, eps, d, outF, ldF, outH, ldH, rows, tiledRows);
}
extern "C" __global__ void __launch_bounds__(256, 2) add_rmsnorm_warp_f16(float* residual, const float* delta, const float* w, float eps, int d,
                                                float* outF, int ldF, f16* outH, int ldH, int rows, int tiledRows) {
    add_rmsnorm_warp(residual, delta, w, eps, d, outF, ldF, outH, ldH, rows, tiledRows);
}
// add_rmsnorm_warp with the delta scaled per row (DeltaScale), bf16 out only: the tiled path's norms after a Mamba-2
// block whose gated norm ran in the scan.
extern "C" __global__ void __launch_bounds__(256, 2) add_rmsnorm_warp_scaled_bf16(float* residual, const float* delta,
        const float* w, float eps, int d, float* outF, int ldF, bf16* outH, int ldH, int rows, int tiledRows,
        const float* sumSq, int parts, int width, float scaleEps) {
    add_rmsnorm_warp<bf16, true>(residual, delta, w, eps, d, outF, ldF, outH, ldH, rows, tiledRows,
                                 DeltaScale{sumSq, parts, width, scaleEps});
}
