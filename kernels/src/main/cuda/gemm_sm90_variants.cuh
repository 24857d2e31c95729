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
// session 9: ping-pong with A pre-tiled too at 4 stages (lost to 6, which shipped as gemm_bf16_tn_tiled)
SSD_WS_VARIANT(gemm_ws_pp_n128_s4_at, 128, 4, true, true, 8, true)


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


// B multicast over clusters of CM CTAs along M (2026-11-29, tools/bench/KERNEL_NOTES.md): the shipped schedule
// (cooperative 128 x 256, A and B pre-tiled, persistent, C from the registers) with the CM CTAs of a cluster working in
// lockstep on CM row-tiles that share one column tile bn. Each CTA loads its own A tile and 1/CM of the B tile's rows,
// the latter multicast (cp.async.bulk ... .multicast::cluster) into the same offset of every CTA of the cluster and
// completing on each one's full barrier, so the L2 hands each CTA 16 + 32 / CM KB per k-tile instead of 48.
// What the sharing needs:
//  - a CTA's full barrier expects its A bytes + ALL the B bytes (its own part and the peers' parts);
//  - a stage may be refilled only when the consumers of EVERY CTA of the cluster released it (any producer writes into
//    every CTA's stage): each consumer warp arrives on the empty barrier of each CTA (mapa + a cluster-scope arrive),
//    8 CM arrivals a phase. A peer's bytes can reach a full barrier before this CTA's expect_tx (the tx count goes
//    negative for a while): the pending arrival of the local producer keeps that phase open;
//  - the barriers of every CTA are initialised before any peer copies or arrives (cluster barrier after the init), and
//    no CTA exits while a peer may still arrive on its barriers (cluster barrier before the exit; all threads stay);
//  - the CTAs of a cluster walk the same tile-groups (group p = cluster, cluster + clusters, ...) and so the same
//    stages and phases; where M has fewer row-tiles than the group, a CTA without a row-tile still loads its share of B
//    and its consumers still wait and release every stage, but it issues no A copy, no wgmma and no stores.
// Grid: a multiple of CM (the cluster shape is compiled in: __cluster_dims__), persistent, e.g. CM x min(groups,
// SMs / CM); block 384; dynamic smem ws_gemm::smem_bytes<BN, STAGES>().
namespace ws_gemm {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
__device__ __forceinline__ uint32_t cluster_rank() {
    uint32_t r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
    return r;
}
// All threads of all CTAs of the cluster: what each wrote before is visible to all after.
__device__ __forceinline__ void cluster_sync() {
    asm volatile("barrier.cluster.arrive.release;\nbarrier.cluster.wait.acquire;\n" ::: "memory");
}
// This shared::cta address in CTA `rank`'s shared memory (a shared::cluster address).
__device__ __forceinline__ uint32_t map_to_cta(uint32_t addr, uint32_t rank) {
    uint32_t r;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(addr), "r"(rank));
    return r;
}
__device__ __forceinline__ void mbar_arrive_remote(uint32_t cluster_addr) {
    asm volatile("mbarrier.arrive.release.cluster.shared::cluster.b64 _, [%0];\n" ::"r"(cluster_addr) : "memory");
}
// Wait that acquires at cluster scope: the arrivals released by the peers' consumers (their reads are done).
__device__ __forceinline__ void mbar_wait_cluster(uint32_t bar, uint32_t parity) {
    uint32_t ok = 0;
    while (!ok)
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 p, [%1], %2;\n"
                     "selp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(ok) : "r"(bar), "r"(parity) : "memory");
}
// 1-D bulk copy global -> the same offset of the shared memory of every CTA in mask, completing bytes on the mbarrier
// at the same offset in each.
__device__ __forceinline__ void bulk_g2s_multicast(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar,
                                                   uint16_t mask) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster"
                 " [%0], [%1], %2, [%3], %4;\n" ::"r"(dst), "l"(src), "r"(bytes), "r"(bar), "h"(mask) : "memory");
}
#endif

template <int BN, int STAGES, int CM, int GROUP_M, int PREG, int CREG>
__device__ __forceinline__ void gemm_wsm(const bf16* __restrict__ A, int lda, const bf16* __restrict__ B, int ldb,
                                         int M, int N, int K, const StoreC& epilogue) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    static_assert(GROUP_M % CM == 0, "raster groups of whole clusters");
    constexpr int A_TILE = BM * BK * 2, B_TILE = BN * BK * 2, STAGE = A_TILE + B_TILE;
    constexpr uint16_t ALL = (1u << CM) - 1;
    const uint32_t smem = aligned_smem(), full = smem + STAGES * STAGE, empty = full + 8 * STAGES;
    const uint32_t rank = cluster_rank();
    const int tiles_m = (M + BM - 1) / BM, tiles_n = (N + BN - 1) / BN;
    const int groups_m = (tiles_m + CM - 1) / CM, groups = groups_m * tiles_n;
    const int cluster = blockIdx.x / CM, clusters = gridDim.x / CM;
    const int ktiles = (K + BK - 1) / BK;
    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) {
            mbar_init(full + 8 * s, 1);        // the local producer's expect_tx
            mbar_init(empty + 8 * s, 8 * CM);  // every consumer warp of the cluster
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    cluster_sync();
    const int wg = threadIdx.x >> 7;
    if (wg == 0) {
        setmaxnreg_dec<PREG>();
        if (threadIdx.x == 0) {
            int stage = 0;
            uint32_t phase = 0;
            for (int g = cluster; g < groups; g += clusters) {
                int gm, bn;
                tile_origin<BN, GROUP_M / CM>(g, groups_m, tiles_n, gm, bn);
                const int bm = (gm / BM * CM + (int)rank) * BM;
                const int b_rows = min(BN, ldb - bn), lo = b_rows * (int)rank / CM, hi = b_rows * ((int)rank + 1) / CM;
                // rows past a copy's padded rows keep stale data: they only make C rows >= M or columns >= N
                const uint32_t a_bytes = bm < M ? min(BM, lda - bm) * 128 : 0, b_bytes = b_rows * 128;
                for (int kt = 0; kt < ktiles; kt++) {
                    mbar_wait_cluster(empty + 8 * stage, phase ^ 1);  // every CTA's consumers are done with it
                    const uint32_t st = smem + stage * STAGE, fb = full + 8 * stage;
                    mbar_expect_tx(fb, a_bytes + b_bytes);
                    if (a_bytes) bulk_g2s(st, reinterpret_cast<const char*>(A) + ((size_t)kt * lda + bm) * 128, a_bytes, fb);
                    if (hi > lo)
                        bulk_g2s_multicast(st + A_TILE + lo * 128,
                                           reinterpret_cast<const char*>(B) + ((size_t)kt * ldb + bn + lo) * 128,
                                           (hi - lo) * 128, fb, ALL);
                    if (++stage == STAGES) { stage = 0; phase ^= 1; }
                }
            }
        }
    } else {
        setmaxnreg_inc<CREG>();
        const int cw = wg - 1, warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, rbase = cw * 64;
        int stage = 0;
        uint32_t phase = 0;
        auto release = [&](int s) {  // this warp is done reading stage s: tell every CTA's producer
            if (lane == 0)
#pragma unroll
                for (int q = 0; q < CM; q++) mbar_arrive_remote(map_to_cta(empty + 8 * s, q));
        };
        for (int g = cluster; g < groups; g += clusters) {
            int gm, bn;
            tile_origin<BN, GROUP_M / CM>(g, groups_m, tiles_n, gm, bn);
            const int bm = (gm / BM * CM + (int)rank) * BM;
            if (bm >= M) {  // no row-tile here: keep the cluster's stages and phases in step
                for (int kt = 0; kt < ktiles; kt++) {
                    mbar_wait(full + 8 * stage, phase);
                    __syncwarp();
                    release(stage);
                    if (++stage == STAGES) { stage = 0; phase ^= 1; }
                }
                continue;
            }
            float acc[BN / 2];
#pragma unroll
            for (int i = 0; i < BN / 2; i++) acc[i] = 0.f;
            int prev = -1;
            for (int kt = 0; kt < ktiles; kt++) {
                mbar_wait(full + 8 * stage, phase);
                const uint32_t a = smem + stage * STAGE + rbase * 128, b = smem + stage * STAGE + A_TILE;
                wg_fence();
#pragma unroll
                for (int ks = 0; ks < BK / 16; ks++) wgmma_k16<BN, bf16>(acc, smem_desc(a + ks * 32), smem_desc(b + ks * 32));
                wg_commit();
                wg_wait<1>();  // the batch before this one is done: its stage can be refilled
                if (prev >= 0) release(prev);
                prev = stage;
                if (++stage == STAGES) { stage = 0; phase ^= 1; }
            }
            wg_wait<0>();
            touch(acc);
            if (prev >= 0) release(prev);
            epilogue.template operator()<BN>(acc, bm + rbase + warp * 16 + (lane >> 2), bn, M, N, lane);
        }
    }
    cluster_sync();  // no CTA leaves while a peer may still arrive on its barriers
#else
    __trap();
#endif
}
}  // namespace ws_gemm

#define SSD_WSM_VARIANT(NAME, CM)                                                                                     \
    extern "C" __global__ void __cluster_dims__(CM, 1, 1) __launch_bounds__(384, 1)                                   \
        NAME(const bf16* A, int lda, const bf16* B, int ldb, float* C, int ldc, const float* bias, int M, int N, int K, \
             int accumulate) {                                                                                        \
        ws_gemm::gemm_wsm<256, 4, CM, 8, 40, 232>(A, lda, B, ldb, M, N, K, wg_gemm::StoreC{C, ldc, bias, accumulate}); \
    }
SSD_WSM_VARIANT(gemm_wsm_co_n256_s4_c2, 2)
SSD_WSM_VARIANT(gemm_wsm_co_n256_s4_c4, 4)
