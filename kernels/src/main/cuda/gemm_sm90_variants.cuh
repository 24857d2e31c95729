// Shape experiments for the Hopper GEMM, timed by GemmVariantsBench; compiled only with -DSSD_GEMM_VARIANTS.
#pragma once
#include "gemm_sm90.cuh"
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
