// Shape experiments for the Hopper GEMM, timed by GemmVariantsBench; compiled only with -DSSD_GEMM_VARIANTS.
#pragma once
#include "gemm_sm90_tiled.cuh"
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
namespace wg_gemm {
template <>
__device__ __forceinline__ void wgmma_k16<192, bf16>(float (&d)[96], uint64_t da, uint64_t db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %98, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n192k16.f32.bf16.bf16 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95}, "
                 "%96, %97, p, 1, 1, 0, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95])
                 : "l"(da), "l"(db), "r"(1));
}
}  // namespace wg_gemm
#endif
#define SSD_WG_VARIANT(NAME, BN, STAGES, INFLIGHT, MINB)                                                              \
    extern "C" __global__ void __launch_bounds__(256, MINB) NAME(const bf16* A, int lda, const bf16* B, int ldb,      \
                                                                 float* C, int ldc, const float* bias, int M, int N,  \
                                                                 int K) {                                             \
        gemm_wg_tn<bf16, BN, STAGES, INFLIGHT>(A, lda, B, ldb, C, ldc, bias, M, N, K, 0);                               \
    }
SSD_WG_VARIANT(gemm_wgv_n256_s4_f1, 256, 4, 1, 1)
SSD_WG_VARIANT(gemm_wgv_n256_s4_f0, 256, 4, 0, 1)
SSD_WG_VARIANT(gemm_wgv_n128_s3_f0, 128, 3, 0, 2)
SSD_WG_VARIANT(gemm_wgv_n128_s3_f1, 128, 3, 1, 2)
SSD_WG_VARIANT(gemm_wgv_n128_s4_f1, 128, 4, 1, 1)
SSD_WG_VARIANT(gemm_wgv_n128_s6_f1, 128, 6, 1, 1)


// Grid (min(tiles, persistent CTAs)), block 384, dynamic smem ws_gemm::smem_bytes<BN, STAGES>(); the contract of
// gemm_bf16_tn_wg, except that the _bt kernels read B pre-tiled by bf16_pretile (ldb = that copy's NPAD).
#define SSD_WS_VARIANT(NAME, BN, STAGES, BTILED, PP, G, AT)                                                           \
    extern "C" __global__ void __launch_bounds__(384, 1)                                                              \
        NAME(const bf16* A, int lda, const bf16* B, int ldb, float* C, int ldc, const float* bias, int M, int N, int K, \
             int accumulate) {                                                                                        \
        ws_gemm::gemm_ws<BN, STAGES, BTILED, PP, G, 40, 232, AT>(A, lda, B, ldb, M, N, K,                           \
                                                                wg_gemm::StoreC{C, ldc, bias, accumulate});           \
    }
// 168 registers a thread at entry: 40 for the producer, 232 for the consumers (as CUTLASS's sm90 kernels).
// cooperative 128 x 256 (4 stages of 48 KB) and 128 x 192 (5 stages of 40 KB: less waste where N is no multiple of 256); ping-pong 128 x 128 per consumer (6 stages of 32 KB); raster groups of 8
// row-tiles (_g1: row by row)
SSD_WS_VARIANT(gemm_ws_co_n256_s4, 256, 4, false, false, 8, false)
SSD_WS_VARIANT(gemm_ws_co_n256_s4_bt, 256, 4, true, false, 8, false)
SSD_WS_VARIANT(gemm_ws_co_n192_s5_bt, 192, 5, true, false, 8, false)
SSD_WS_VARIANT(gemm_ws_co_n256_s4_at, 256, 4, true, false, 8, true)
SSD_WS_VARIANT(gemm_ws_co_n192_s5_at, 192, 5, true, false, 8, true)
SSD_WS_VARIANT(gemm_ws_co_n256_s4_at_g1, 256, 4, true, false, 1, true)
SSD_WS_VARIANT(gemm_ws_pp_n128_s6, 128, 6, false, true, 8, false)
SSD_WS_VARIANT(gemm_ws_pp_n128_s6_bt, 128, 6, true, true, 8, false)
SSD_WS_VARIANT(gemm_ws_pp_n128_s6_bt_g1, 128, 6, true, true, 1, false)
SSD_WS_VARIANT(gemm_ws_pp_n128_s4_bt, 128, 4, true, true, 8, false)


// Epilogue overlap (2026-11-29, tools/bench/KERNEL_NOTES.md): the shipped schedule (cooperative 128 x 256, A and B
// pre-tiled, persistent) with STAGES stages and C written either from registers (_reg, StoreC) or staged in shared
// memory and written by bulk stores (_cCWbNB: StoreCStaged<CW, NB>, chunks of CW columns, NB buffers a warp),
// optionally with the odd CTAs started late (_ds: DESYNC clocks per k-tile). Dynamic smem
// ws_gemm::smem_bytes_for<256, STAGES, epilogue>().
#define SSD_COMMA ,
#define SSD_WSE_VARIANT(NAME, STAGES, EPI, DESYNC)                                                                    \
    static_assert(ws_gemm::smem_bytes_for<256, STAGES, EPI>() <= 227 * 1024, #NAME ": over 227 KB of shared memory"); \
    extern "C" __global__ void __launch_bounds__(384, 1)                                                              \
        NAME(const bf16* A, int lda, const bf16* B, int ldb, float* C, int ldc, const float* bias, int M, int N, int K, \
             int accumulate) {                                                                                        \
        ws_gemm::gemm_ws<256, STAGES, true, false, 8, 40, 232, true, EPI, DESYNC>(A, lda, B, ldb, M, N, K,             \
                                                                                 EPI{C, ldc, bias, accumulate});      \
    }
SSD_WSE_VARIANT(gemm_wse_s3_reg, 3, wg_gemm::StoreC, 0)
SSD_WSE_VARIANT(gemm_wse_s2_reg, 2, wg_gemm::StoreC, 0)
SSD_WSE_VARIANT(gemm_wse_s4_reg_ds, 4, wg_gemm::StoreC, 600)
SSD_WSE_VARIANT(gemm_wse_s4_c64b1, 4, ws_gemm::StoreCStaged<64 SSD_COMMA 1>, 0)
SSD_WSE_VARIANT(gemm_wse_s4_c32b2, 4, ws_gemm::StoreCStaged<32 SSD_COMMA 2>, 0)
SSD_WSE_VARIANT(gemm_wse_s3_c128b1, 3, ws_gemm::StoreCStaged<128 SSD_COMMA 1>, 0)
SSD_WSE_VARIANT(gemm_wse_s3_c64b2, 3, ws_gemm::StoreCStaged<64 SSD_COMMA 2>, 0)
SSD_WSE_VARIANT(gemm_wse_s3_c32b4, 3, ws_gemm::StoreCStaged<32 SSD_COMMA 4>, 0)
SSD_WSE_VARIANT(gemm_wse_s3_c64b2_ds, 3, ws_gemm::StoreCStaged<64 SSD_COMMA 2>, 600)
SSD_WSE_VARIANT(gemm_wse_s2_c256b1, 2, ws_gemm::StoreCStaged<256 SSD_COMMA 1>, 0)
SSD_WSE_VARIANT(gemm_wse_s4_c32b2_ds, 4, ws_gemm::StoreCStaged<32 SSD_COMMA 2>, 600)
SSD_WSE_VARIANT(gemm_wse_s3_c32b4_ds, 3, ws_gemm::StoreCStaged<32 SSD_COMMA 4>, 600)
SSD_WSE_VARIANT(gemm_wse_s4_c16b4, 4, ws_gemm::StoreCStaged<16 SSD_COMMA 4>, 0)
