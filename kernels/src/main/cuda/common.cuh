// Shared helpers for the ssdspark kernels. Every kernel is extern "C" so the host finds it by name.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

typedef __nv_bfloat16 bf16;
typedef __half f16;

#define SSD_NEG_INF (-__int_as_float(0x7f800000))

#define SSD_LOG2E 1.4426950408889634f

// (a, b) rounded to bf16 as one 32-bit word, a in the low half (the lower index of a pair)
__device__ __forceinline__ uint32_t pack_bf16(float a, float b) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(a, b);
    return *reinterpret_cast<const uint32_t*>(&v);
}

// 2^v in one SFU instruction (relative error ~2^-22, subnormal results flushed to 0), where expf's range reduction
// would cost more than the products around it: exp(x) = ex2_approx(x * SSD_LOG2E).
__device__ __forceinline__ float ex2_approx(float v) {
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(v));
    return r;
}

// 1/v in one SFU instruction (at most 1 ulp off, subnormal results flushed to 0).
__device__ __forceinline__ float rcp_approx(float v) {
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(v));
    return r;
}

// v sigmoid(v) in five instructions, two of them SFU ops (~2^-21 relative, far under the bf16 and bf16x3 roundings
// that follow it): expf's range reduction and the IEEE division's slow-path branch took ~20 a value, which bound the
// conv and the scan's gated epilogue by issue. v <= -88 gives -0 (1 + 2^x overflows to inf), as the division did.
__device__ __forceinline__ float silu_f(float v) { return v * rcp_approx(1.f + ex2_approx(-v * SSD_LOG2E)); }

// torch's softplus with threshold 20
__device__ __forceinline__ float softplus_f(float v) { return v > 20.f ? v : log1pf(expf(v)); }

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(bf16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_f(f16 v) { return __half2float(v); }

__device__ __forceinline__ void store_f(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_f(bf16* p, float v) { *p = __float2bfloat16_rn(v); }
__device__ __forceinline__ void store_f(f16* p, float v) { *p = __float2half_rn(v); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sum over the block; every thread gets the result. sh holds >= 32 floats. Safe to call repeatedly.
__device__ __forceinline__ float block_sum(float v, float* sh) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();                 // earlier readers of sh are done
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    float r = lane < nw ? sh[lane] : 0.f;
    r = warp_sum(r);
    return r;
}

// Element (r, col) of a bf16 [rows][K] matrix in the pre-tiled layout that gemm_bf16_tn_tiled reads (gemm_sm90_tiled.cuh):
// for each k-tile of 64 columns, npad (rows rounded up to 8) rows of 128 bytes in wgmma's 128-byte swizzle, i.e. the
// 16-byte chunk c of row r at chunk c ^ (r % 8). Producers that write it directly save the GEMM a pass over A.
__device__ __forceinline__ size_t tiled_index(size_t r, int col, int npad) {
    return (((size_t)(col >> 6) * npad + r) << 6) + 8 * (((col >> 3) & 7) ^ (int)(r & 7)) + (col & 7);
}

// Row stride of the fp32 SIMT tiles (64 columns + 4 of padding against bank conflicts).
#define SIMT_LDS 68

// One 16-deep step of a 64x64 fp32 SIMT tile: acc[i][j] += As[k][ty*4+i] * Bs[k][tx*4+j] over k < 16.
__device__ __forceinline__ void simt_fma_16(float (&acc)[4][4], const float (*As)[SIMT_LDS], const float (*Bs)[SIMT_LDS],
                                            int ty, int tx) {
#pragma unroll
    for (int kk = 0; kk < 16; kk++) {
        const float4 a = *reinterpret_cast<const float4*>(&As[kk][ty * 4]);
        const float4 b = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
        const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
}

// (m, s) pairs of an online logsumexp: value = m + log(s)
__device__ __forceinline__ void lse_merge(float& m, float& s, float m2, float s2) {
    float nm = fmaxf(m, m2);
    if (nm == SSD_NEG_INF) { m = nm; s = 0.f; return; }
    s = s * expf(m - nm) + s2 * expf(m2 - nm);
    m = nm;
}
