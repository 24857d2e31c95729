// Dense products in torch Linear layout: C[m][n] = A[m][k] . B[n][k]^T (+ bias[n]) (+ C[m][n] when accumulate, which
// folds the residual add of a block into its out_proj). Twin: ssdspark.kernels.Gemm.
//  - bf16 or fp16 inputs, fp32 accumulate on tensor cores (mma.sync m16n8k16, ldmatrix, 3-stage cp.async pipeline).
//    A and B rows must be 16-byte aligned (lda, ldb multiples of 8) and zero padded from K up to the next multiple of 8.
//  - fp32 SIMT path (64x64 tiles, 4x4 per thread): the exact-precision path, any strides.
#pragma once
#include "common.cuh"

namespace mma_gemm {
constexpr int BM = 128, BN = 128, BK = 32, LDS = BK + 8, THREADS = 256;
constexpr int A_STAGE = BM * LDS, B_STAGE = BN * LDS;               // 16-bit elements per stage
template <int STAGES>
constexpr int smem_bytes() { return STAGES * (A_STAGE + B_STAGE) * 2; }  // 61440 for 3 stages, 81920 for 4

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool pred) {
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    int sz = pred ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(sz));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
    unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);
template <>
__device__ __forceinline__ void mma16816<bf16>(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
template <>
__device__ __forceinline__ void mma16816<f16>(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <typename T>
__device__ __forceinline__ void load_tile(T* sA, T* sB, const T* __restrict__ A, int lda,
                                          const T* __restrict__ B, int ldb, int M, int N, int K, int bm, int bn,
                                          int k0) {
    const int tid = threadIdx.x;
#pragma unroll
    for (int i = 0; i < 2; i++) {
        const int id = tid + i * THREADS, r = id >> 2, kc = (id & 3) * 8, gk = k0 + kc;
        {
            const int gr = bm + r;
            const bool p = gr < M && gk < K;
            cp_async16(sA + r * LDS + kc, p ? A + (size_t)gr * lda + gk : A, p);
        }
        {
            const int gr = bn + r;
            const bool p = gr < N && gk < K;
            cp_async16(sB + r * LDS + kc, p ? B + (size_t)gr * ldb + gk : B, p);
        }
    }
}

// acc[mi][ni][e] holds C[bm + wm*64 + mi*16 + lane/4 + (e/2)*8][bn + wn*32 + ni*8 + (lane%4)*2 + e%2],
// warp = wm*4 + wn (2 x 4 warps, 64 x 32 each).
template <typename T, int STAGES = 3>
__device__ __forceinline__ void mainloop(float (&acc)[4][4][4], const T* __restrict__ A, int lda,
                                         const T* __restrict__ B, int ldb, int M, int N, int K, int bm, int bn,
                                         T* smem) {
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;
    T* sA = smem;
    T* sB = smem + STAGES * A_STAGE;
    const int ktiles = (K + BK - 1) / BK;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, wm = warp >> 2, wn = warp & 3;
    __syncthreads();  // the previous tile's readers are done with smem
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < ktiles) load_tile(sA + s * A_STAGE, sB + s * B_STAGE, A, lda, B, ldb, M, N, K, bm, bn, s * BK);
        cp_async_commit();
    }
    for (int kt = 0; kt < ktiles; kt++) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        const int nt = kt + STAGES - 1;
        if (nt < ktiles) {
            const int st = nt % STAGES;
            load_tile(sA + st * A_STAGE, sB + st * B_STAGE, A, lda, B, ldb, M, N, K, bm, bn, nt * BK);
        }
        cp_async_commit();
        const T* a = sA + (kt % STAGES) * A_STAGE;
        const T* b = sB + (kt % STAGES) * B_STAGE;
#pragma unroll
        for (int ks = 0; ks < BK; ks += 16) {
            uint32_t af[4][4], bfr[4][2];
#pragma unroll
            for (int mi = 0; mi < 4; mi++)
                ldmatrix_x4(af[mi], a + (wm * 64 + mi * 16 + (lane & 15)) * LDS + ks + (lane >> 4) * 8);
#pragma unroll
            for (int nj = 0; nj < 2; nj++) {
                uint32_t r[4];
                ldmatrix_x4(r, b + (wn * 32 + nj * 16 + (lane >> 4) * 8 + (lane & 7)) * LDS + ks + ((lane >> 3) & 1) * 8);
                bfr[2 * nj][0] = r[0];
                bfr[2 * nj][1] = r[1];
                bfr[2 * nj + 1][0] = r[2];
                bfr[2 * nj + 1][1] = r[3];
            }
#pragma unroll
            for (int mi = 0; mi < 4; mi++)
#pragma unroll
                for (int ni = 0; ni < 4; ni++) mma16816<T>(acc[mi][ni], af[mi], bfr[ni]);
        }
    }
    cp_async_wait<0>();
}
}  // namespace mma_gemm

// grid (ceil(N/128), ceil(M/128)), block 256, dynamic smem mma_gemm::smem_bytes<STAGES>()
template <typename T, int STAGES>
__device__ __forceinline__ void gemm_half_tn(const T* __restrict__ A, int lda, const T* __restrict__ B, int ldb,
                                             float* C, int ldc, const float* bias, int M, int N, int K, int accumulate) {
    using namespace mma_gemm;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const int bn = blockIdx.x * BN, bm = blockIdx.y * BM;
    float acc[4][4][4];
    mainloop<T, STAGES>(acc, A, lda, B, ldb, M, N, K, bm, bn, reinterpret_cast<T*>(smem_raw));
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, wm = warp >> 2, wn = warp & 3;
#pragma unroll
    for (int mi = 0; mi < 4; mi++)
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const int row = bm + wm * 64 + mi * 16 + (lane >> 2) + half * 8;
            if (row >= M) continue;
#pragma unroll
            for (int ni = 0; ni < 4; ni++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int col = bn + wn * 32 + ni * 8 + (lane & 3) * 2 + e;
                    if (col < N) {
                        float* c = C + (size_t)row * ldc + col;
                        *c = acc[mi][ni][half * 2 + e] + (bias ? bias[col] : 0.f) + (accumulate ? *c : 0.f);
                    }
                }
        }
}

extern "C" __global__ void __launch_bounds__(256) gemm_bf16_tn(const bf16* A, int lda, const bf16* B, int ldb, float* C,
                                                               int ldc, const float* bias, int M, int N, int K,
                                                               int accumulate) {
    gemm_half_tn<bf16, 3>(A, lda, B, ldb, C, ldc, bias, M, N, K, accumulate);
}
extern "C" __global__ void __launch_bounds__(256) gemm_f16_tn(const f16* A, int lda, const f16* B, int ldb, float* C,
                                                              int ldc, const float* bias, int M, int N, int K,
                                                              int accumulate) {
    gemm_half_tn<f16, 3>(A, lda, B, ldb, C, ldc, bias, M, N, K, accumulate);
}

namespace simt_gemm {
constexpr int BM = 64, BN = 64, BK = 16, LDS = SIMT_LDS; // BK is simt_fma_16's depth

// acc[i][j] holds C[bm + ty*4 + i][bn + tx*4 + j], tx = tid % 16, ty = tid / 16 (block of 256).
__device__ __forceinline__ void mainloop(float (&acc)[4][4], const float* __restrict__ A, int lda,
                                         const float* __restrict__ B, int ldb, int M, int N, int K, int bm, int bn,
                                         float (*As)[LDS], float (*Bs)[LDS]) {
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.f;
    for (int k0 = 0; k0 < K; k0 += BK) {
        __syncthreads();
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int id = tid + i * 256, r = id >> 4, kk = id & 15, gk = k0 + kk;
            As[kk][r] = (bm + r < M && gk < K) ? A[(size_t)(bm + r) * lda + gk] : 0.f;
            Bs[kk][r] = (bn + r < N && gk < K) ? B[(size_t)(bn + r) * ldb + gk] : 0.f;
        }
        __syncthreads();
        simt_fma_16(acc, As, Bs, ty, tx);
    }
}
}  // namespace simt_gemm

// grid (ceil(N/64), ceil(M/64)), block 256
extern "C" __global__ void __launch_bounds__(256) gemm_f32_tn(const float* __restrict__ A, int lda,
                                                              const float* __restrict__ B, int ldb, float* C, int ldc,
                                                              const float* bias, int M, int N, int K, int accumulate) {
    using namespace simt_gemm;
    __shared__ __align__(16) float As[BK][LDS];
    __shared__ __align__(16) float Bs[BK][LDS];
    const int bn = blockIdx.x * BN, bm = blockIdx.y * BM, tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    float acc[4][4];
    mainloop(acc, A, lda, B, ldb, M, N, K, bm, bn, As, Bs);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int row = bm + ty * 4 + i;
        if (row >= M) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int col = bn + tx * 4 + j;
            if (col < N) {
                float* c = C + (size_t)row * ldc + col;
                *c = acc[i][j] + (bias ? bias[col] : 0.f) + (accumulate ? *c : 0.f);
            }
        }
    }
}
