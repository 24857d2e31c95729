// Dense products C = A . B^T in torch Linear layout on Hopper's warpgroup tensor cores (wgmma), sm_90a only.
// Twin: ssdspark.kernels.Gemm (as the mma.sync path in gemm.cuh, which other GPUs run).
//
// A CTA of two warpgroups computes a 128 x BN tile of C; each warpgroup owns 64 rows and issues wgmma.m64nBNk16
// with both operands read from shared memory. Tiles of 64 k (128 bytes of a 16-bit row) are staged with cp.async in
// the layout wgmma reads with the 128-byte swizzle: row r of a tile at r * 128 bytes, its 16-byte chunk j at chunk
// j ^ (r % 8), each tile 1024-byte aligned. STAGES buffers: INFLIGHT wgmma batches stay in flight behind the one
// issued, and STAGES - 1 - INFLIGHT tiles load ahead of it.
// (JCuda 12.6 has no cuTensorMapEncodeTiled, so the bulk tensor copy engine is out of reach from the host.)
#pragma once
#include "gemm.cuh"

namespace wg_gemm {
constexpr int BM = 128, BK = 64, THREADS = 256;
template <int BN, int STAGES>
constexpr int smem_bytes() { return STAGES * (BM + BN) * BK * 2 + 1024; }  // + alignment slack

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// Shared-memory matrix descriptor: K-major, 128-byte swizzle, 8-row groups 1024 bytes apart.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr) {
    return (uint64_t)((addr & 0x3FFFF) >> 4) | (uint64_t)1 << 16 | (uint64_t)(1024 >> 4) << 32 | (uint64_t)1 << 62;
}
__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wg_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
__device__ __forceinline__ void fence_async_smem() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// Keeps the compiler from moving reads of the accumulators above the wait that makes them valid.
template <int R>
__device__ __forceinline__ void touch(float (&d)[R]) {
#pragma unroll
    for (int i = 0; i < R; i++) asm volatile("" : "+f"(d[i])::"memory");
}

template <int BN, typename T>
__device__ __forceinline__ void wgmma_k16(float (&d)[BN / 2], uint64_t da, uint64_t db);
// wgmma.m64nNk16 with fp32 accumulators d[N/2] (N = 128: the shipped tile; gemm_sm90_variants.cuh adds 256), A and B
// from shared memory, scale-d on (accumulate), no transposes.
#define SSD_WGMMA_K16_N128(T, PTX_T)                                                                                   \
    template <>                                                                                                        \
    __device__ __forceinline__ void wgmma_k16<128, T>(float (&d)[64], uint64_t da, uint64_t db) {                      \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                                     \
                     "wgmma.mma_async.sync.aligned.m64n128k16.f32." PTX_T "." PTX_T " "                                \
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "                                                                          \
                     "%64, %65, p, 1, 1, 0, 0;\n}\n"                                                                   \
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])                                                                                \
                     : "l"(da), "l"(db), "r"(1));                                                                      \
    }
SSD_WGMMA_K16_N128(bf16, "bf16")
SSD_WGMMA_K16_N128(f16, "f16")

// Stages rows [r0, r0 + ROWS) x k [k0, k0 + 64) of X[rows][ldx] into a swizzled tile; rows >= R and k >= K read 0.
template <int ROWS, typename T>
__device__ __forceinline__ void stage_rows(uint32_t tile, const T* __restrict__ X, int ldx, int R, int K, int r0, int k0) {
#pragma unroll
    for (int i = 0; i < ROWS * 8 / THREADS; i++) {
        const int id = threadIdx.x + i * THREADS, r = id >> 3, j = id & 7, gr = r0 + r, gk = k0 + j * 8;
        const bool p = gr < R && gk < K;
        const T* src = p ? X + (size_t)gr * ldx + gk : X;
        const uint32_t dst = tile + r * 128 + ((j ^ (r & 7)) << 4);
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(p ? 16 : 0));
    }
}

// acc[4j + 2h + e] = C[bm + 64*wg + 16*w + lane/4 + 8h][bn + 8j + 2(lane%4) + e] over k < K, wg = warp/4, w = warp%4.
template <typename T, int BN, int STAGES, int INFLIGHT>
__device__ __forceinline__ void mainloop(float (&acc)[BN / 2], const T* __restrict__ A, int lda, const T* __restrict__ B,
                                         int ldb, int M, int N, int K, int bm, int bn, uint32_t smem) {
    constexpr int A_TILE = BM * BK * 2, STAGE = (BM + BN) * BK * 2, AHEAD = STAGES - 1 - INFLIGHT;
    static_assert(AHEAD >= 1, "no tile would load ahead");
#pragma unroll
    for (int i = 0; i < BN / 2; i++) acc[i] = 0.f;
    const int ktiles = (K + BK - 1) / BK, wg = threadIdx.x >> 7;
    __syncthreads();  // an earlier tile's readers are done with smem
#pragma unroll
    for (int s = 0; s < AHEAD; s++) {
        if (s < ktiles) {
            stage_rows<BM>(smem + s * STAGE, A, lda, M, K, bm, s * BK);
            stage_rows<BN>(smem + s * STAGE + A_TILE, B, ldb, N, K, bn, s * BK);
        }
        mma_gemm::cp_async_commit();
    }
    for (int kt = 0; kt < ktiles; kt++) {
        mma_gemm::cp_async_wait<AHEAD - 1>();
        fence_async_smem();
        __syncthreads();  // tile kt is in smem for all; every warpgroup is past wgmma batch kt - 1 - INFLIGHT
        const int nt = kt + AHEAD;
        if (nt < ktiles) {  // into the stage of tile kt - 1 - INFLIGHT
            const uint32_t st = smem + (nt % STAGES) * STAGE;
            stage_rows<BM>(st, A, lda, M, K, bm, nt * BK);
            stage_rows<BN>(st + A_TILE, B, ldb, N, K, bn, nt * BK);
        }
        mma_gemm::cp_async_commit();
        const uint32_t a = smem + (kt % STAGES) * STAGE + wg * 64 * 128, b = smem + (kt % STAGES) * STAGE + A_TILE;
        wg_fence();
#pragma unroll
        for (int ks = 0; ks < BK / 16; ks++) wgmma_k16<BN, T>(acc, smem_desc(a + ks * 32), smem_desc(b + ks * 32));
        wg_commit();
        wg_wait<INFLIGHT>();
    }
    wg_wait<0>();
    touch(acc);
    mma_gemm::cp_async_wait<0>();
}
#endif

__device__ __forceinline__ uint32_t aligned_smem() {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    return ((uint32_t)__cvta_generic_to_shared(smem_raw) + 1023) & ~1023u;
}
// The epilogue that writes C[M][ldc] (+)= acc + bias[col] (accumulate: read C first); a thread's two neighbouring
// columns go out as one 8-byte store where rows are 8-byte aligned (col is even). Called per finished tile for the
// thread's rows r0 and r0 + 8 of columns bn + 8 jn + 2 (lane % 4) + e, e = 0, 1 (acc[4 jn + 2 h + e], h: row r0 + 8h).
struct StoreC {
    float* C;
    int ldc;
    const float* bias;
    int accumulate;
    template <int BN>
    __device__ __forceinline__ void operator()(const float (&acc)[BN / 2], int r0, int bn, int M, int N, int lane) const {
        const bool pairs = (ldc & 1) == 0 && ((uintptr_t)C & 7) == 0;
#pragma unroll
        for (int jn = 0; jn < BN / 8; jn++) {
            const int col = bn + 8 * jn + 2 * (lane & 3);
            const float b0 = bias && col < N ? bias[col] : 0.f, b1 = bias && col + 1 < N ? bias[col + 1] : 0.f;
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int row = r0 + 8 * h;
                if (row >= M) continue;
                float* c = C + (size_t)row * ldc + col;
                float v0 = acc[4 * jn + 2 * h] + b0, v1 = acc[4 * jn + 2 * h + 1] + b1;
                if (pairs && col + 1 < N) {
                    if (accumulate) {
                        const float2 o = *reinterpret_cast<const float2*>(c);
                        v0 += o.x;
                        v1 += o.y;
                    }
                    *reinterpret_cast<float2*>(c) = make_float2(v0, v1);
                } else {
                    if (col < N) c[0] = v0 + (accumulate ? c[0] : 0.f);
                    if (col + 1 < N) c[1] = v1 + (accumulate ? c[1] : 0.f);
                }
            }
        }
    }
};

}  // namespace wg_gemm

// grid (ceil(N/BN), ceil(M/128)), block 256, dynamic smem wg_gemm::smem_bytes<BN, STAGES>(). Contract of gemm_bf16_tn
// (accumulate: C += the product).
template <typename T, int BN, int STAGES, int INFLIGHT>
__device__ __forceinline__ void gemm_wg_tn(const T* __restrict__ A, int lda, const T* __restrict__ B, int ldb, float* C,
                                           int ldc, const float* bias, int M, int N, int K, int accumulate) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace wg_gemm;
    const int bn = blockIdx.x * BN, bm = blockIdx.y * BM;
    float acc[BN / 2];
    mainloop<T, BN, STAGES, INFLIGHT>(acc, A, lda, B, ldb, M, N, K, bm, bn, aligned_smem());
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    StoreC{C, ldc, bias, accumulate}.template operator()<BN>(acc, bm + (warp >> 2) * 64 + (warp & 3) * 16 + (lane >> 2),
                                                             bn, M, N, lane);
#else
    __trap();  // the host launches this only where the sm_90a code is loaded
#endif
}

// The shipped shape (GpuGemm.WGMMA_*): 128 x 128 tiles, 3 stages, two CTAs per SM (one's epilogue hides under the
// other's main loop).
#define SSD_WG_BN 128
#define SSD_WG_STAGES 3
#define SSD_WG_INFLIGHT 0
extern "C" __global__ void __launch_bounds__(256, 2) gemm_bf16_tn_wg(const bf16* A, int lda, const bf16* B, int ldb,
                                                                     float* C, int ldc, const float* bias, int M, int N,
                                                                     int K, int accumulate) {
    gemm_wg_tn<bf16, SSD_WG_BN, SSD_WG_STAGES, SSD_WG_INFLIGHT>(A, lda, B, ldb, C, ldc, bias, M, N, K, accumulate);
}
extern "C" __global__ void __launch_bounds__(256, 2) gemm_f16_tn_wg(const f16* A, int lda, const f16* B, int ldb,
                                                                    float* C, int ldc, const float* bias, int M, int N,
                                                                    int K, int accumulate) {
    gemm_wg_tn<f16, SSD_WG_BN, SSD_WG_STAGES, SSD_WG_INFLIGHT>(A, lda, B, ldb, C, ldc, bias, M, N, K, accumulate);
}

// out[0] = 1 where this code is the sm_90a build (wgmma present), 0 in every other build: the host's probe.
extern "C" __global__ void probe_sm90a(int* out) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    out[0] = 1;
#else
    out[0] = 0;
#endif
}
