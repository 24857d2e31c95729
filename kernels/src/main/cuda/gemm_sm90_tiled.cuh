// Hopper GEMM with the copy engine as the producer, sm_90a only: C = A . B^T with both operands pre-tiled (no tensor
// map needed: a stage is two 1-D cp.async.bulk copies of pre-swizzled tiles). Twin: ssdspark.kernels.Gemm.
// The engine runs it for in_proj where it pays (GpuGemm.tiledPays); measured against the shipped gemm_bf16_tn_wg and
// other schedules in tools/bench/KERNEL_NOTES.md (gemm_sm90_variants.cuh keeps those variants for the bench).
#pragma once
#include "gemm_sm90.cuh"

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
namespace wg_gemm {
template <>
__device__ __forceinline__ void wgmma_k16<256, bf16>(float (&d)[128], uint64_t da, uint64_t db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, "
                 "%128, %129, p, 1, 1, 0, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
                 : "l"(da), "l"(db), "r"(1));
}
template <>
__device__ __forceinline__ void wgmma_k16<64, bf16>(float (&d)[32], uint64_t da, uint64_t db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
                 "%32, %33, p, 1, 1, 0, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
                 : "l"(da), "l"(db), "r"(1));
}
}  // namespace wg_gemm
#endif

// ---------------------------------------------------------------------------------------------------------------------
// Warp-specialised variants (issue 7 experiment). 384 threads: warpgroup 0 is the producer (loads k-tiles of 64 into
// STAGES shared-memory stages and signals a full-barrier per stage), warpgroups 1 and 2 are consumers (wgmma with one
// batch in flight) that hand stages back through empty-barriers (one arrival per consumer warp). No __syncthreads in
// the main loop. setmaxnreg moves registers from the producer to the consumers; ptxas still compiles the consumers
// under the entry cap (__launch_bounds__(384, 2) = 80 registers failed with C7602 for 64 accumulators), so these run
// one CTA per SM: 168 at entry, 40 producer / 232 consumer. Measured in tools/bench/KERNEL_NOTES.md.
// The grid is 1-D: the CTA's tiles are t = blockIdx.x, blockIdx.x + gridDim.x, ... (persistent when the grid is
// smaller than the tile count), tiles ordered in groups of 8 row-tiles, column-major inside a group, for L2 reuse.
// Two schedules (as CUTLASS names them):
//  - cooperative (PP false): both consumers work on each 128 x BN tile, 64 rows each;
//  - ping-pong (PP true): consumer c takes the CTA's tiles j = c, c + 2, ... whole (128 rows: two m64 wgmma per k16);
//    the producer fills the stage ring in tile order, so one consumer's epilogue runs under the other's main loop.
//    The consumers take turns through two named barriers: consumer c starts waiting on tile j's stages only after
//    the other has passed every full-barrier of tile j - 1. Without that, a consumer could wait on a full-barrier two
//    phases behind, whose parity test passes at once (seen: a hang with 4 stages, 4 k-tiles, 3 CTAs).
// A is staged by cp.async (16-byte chunks swizzled per thread, completion signalled by
// cp.async.mbarrier.arrive.noinc) unless ATILED. B either the same way (BTILED false: B[N][ldb] as in the shipped kernel) or, with
// BTILED, by ONE 1-D cp.async.bulk per stage from a pre-tiled copy of B made by bf16_pretile: for each k-tile kt,
// NPAD rows (N rounded up to 8) of 128 bytes already in wgmma's 128-byte-swizzle layout, so a BN x 64 tile is one
// contiguous block of min(BN, NPAD - bn) * 128 bytes at ((kt * NPAD) + bn) * 128 (ldb = NPAD), completing on the
// full-barrier with expect_tx. The layout does not depend on BN.
namespace ws_gemm {
using namespace wg_gemm;
constexpr int THREADS = 384;
template <int BN, int STAGES>
constexpr int smem_bytes() { return STAGES * (BM + BN) * BK * 2 + 2048; }  // + alignment slack + barriers

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ bool mbar_try(uint32_t bar, uint32_t parity) {
    uint32_t ok;
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(ok) : "r"(bar), "r"(parity) : "memory");
    return ok != 0;
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) { while (!mbar_try(bar, parity)) {} }
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// The barrier's pending count drops by one when all of this thread's earlier cp.async are done (no increment first).
__device__ __forceinline__ void cp_async_arrive_noinc(uint32_t bar) {
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void bulk_g2s(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n"
                 ::"r"(dst), "l"(src), "r"(bytes), "r"(bar) : "memory");
}
// Named barriers 1 and 2 (0 is __syncthreads'), 256 threads: the waiting consumer's 128 plus the other's 128 arrivals.
__device__ __forceinline__ void turn_wait(int id) { asm volatile("bar.sync %0, 256;\n" ::"r"(id) : "memory"); }
__device__ __forceinline__ void turn_pass(int id) { asm volatile("bar.arrive %0, 256;\n" ::"r"(id) : "memory"); }
template <int N>
__device__ __forceinline__ void setmaxnreg_inc() { asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N)); }
template <int N>
__device__ __forceinline__ void setmaxnreg_dec() { asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N)); }

// Rows [r0, r0 + ROWS) x k [k0, k0 + 64) of X[rows][ldx] into a swizzled tile by the 128 producer threads (p = 0..127):
// thread p moves chunk p % 8 of rows p / 8 + 16 i, so its swizzle (row % 8 = p / 8 % 8) is the same for every i and
// one running pointer serves (the producer lives on few registers).
template <int ROWS>
__device__ __forceinline__ void produce_rows(uint32_t tile, const bf16* __restrict__ X, int ldx, int R, int K, int r0,
                                             int k0, int p) {
    const int j = p & 7, r = p >> 3, gk = k0 + j * 8;
    int gr = r0 + r;
    const bf16* src = X + (size_t)gr * ldx + gk;
    uint32_t dst = tile + r * 128 + ((j ^ (r & 7)) << 4);
    const size_t step = (size_t)16 * ldx;
#pragma unroll 1
    for (int i = 0; i < ROWS / 16; i++, gr += 16, src += step, dst += 16 * 128) {
        const bool ok = gr < R && gk < K;
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(ok ? src : X), "r"(ok ? 16 : 0));
    }
}

// Tile t of the raster: groups of GROUP_M row-tiles, column-major inside a group (GROUP_M 1: row by row, the order of
// the shipped kernel's 2-D grid).
template <int BN, int GROUP_M>
__device__ __forceinline__ void tile_origin(int t, int tiles_m, int tiles_n, int& bm, int& bn) {
    const int per_group = GROUP_M * tiles_n, g = t / per_group, first = g * GROUP_M;
    const int rows = min(GROUP_M, tiles_m - first), r = t - g * per_group;
    bm = (first + r % rows) * BM;
    bn = (r / rows) * BN;
}
#endif

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// Bulk stores of staged C (shared -> global through the copy engine), tracked per issuing thread in bulk groups.
__device__ __forceinline__ void bulk_s2g(float* dst, uint32_t src, uint32_t bytes) {
    asm volatile("cp.async.bulk.global.shared::cta.bulk_group [%0], [%1], %2;\n" ::"l"(dst), "r"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void bulk_commit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void bulk_wait_read() { asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(N) : "memory"); }
__device__ __forceinline__ void bulk_wait_all() { asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory"); }
#endif

// StoreC's C = acc + bias with the stores running under the next tile's main loop: each consumer warp copies its
// 16 rows x CW columns of the finished tile into one of NB shared-memory buffers and hands them to the copy engine,
// one 1-D bulk store per row segment, then moves on; a buffer is rewritten only after the copies of its last chunk
// have read it (wait_group.read NB - 1, chunks counted per warp across tiles). Where a bulk store cannot do it
// (C +=, N or ldc not a multiple of 4, C not 16-byte aligned: row segments are whole 16-byte units) the launch takes
// StoreC's register path. Same fp32 values as StoreC; only how they reach C differs.
// Buffer of a consumer warpgroup (64 rows): row rl in region rl % 4 at slot rl / 4, regions 16 * CW * 4 + 32 bytes
// apart, so the 4 rows that a half-warp's 8-byte stores hit start 8 banks apart (conflict-free for 96 bytes of padding).
template <int CW, int NB>
struct StoreCStaged {
    float* C;
    int ldc;
    const float* bias;
    int accumulate;
    static constexpr int REGION = 16 * CW * 4 + 32, BUFFER = 4 * REGION;
    static constexpr int SMEM_PER_WG = NB * BUFFER;  // shared memory per consumer warpgroup
    static_assert(CW % 8 == 0, "regions 8 banks apart, rows 16-byte aligned");
    __device__ __forceinline__ bool staged(int N) const {
        return !accumulate && (N & 3) == 0 && (ldc & 3) == 0 && ((uintptr_t)C & 15) == 0;
    }
    // stage: the warpgroup's NB buffers; ring: this warp's chunks so far.
    template <int BN>
    __device__ __forceinline__ void operator()(const float (&acc)[BN / 2], int r0, int bn, int M, int N, int lane,
                                               uint32_t stage, int& ring) const {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
        static_assert(BN % CW == 0, "whole chunks per tile");
        if (!staged(N)) {
            StoreC{C, ldc, bias, accumulate}.template operator()<BN>(acc, r0, bn, M, N, lane);
            return;
        }
        const int q = lane >> 2, w = (r0 >> 4) & 3, c2 = 2 * (lane & 3);
        // this thread's rows rl = 16 w + q + 8 h: region q % 4, slot 4 w + q / 4 + 2 h
        const uint32_t mine = (q & 3) * REGION + (4 * w + (q >> 2)) * CW * 4 + c2 * 4;
        // lane l < 16 copies row rl = 16 w + l
        const uint32_t seg = (lane & 3) * REGION + (4 * w + ((lane >> 2) & 3)) * CW * 4;
        const int grow = r0 - q + lane;
#pragma unroll
        for (int ch = 0; ch < BN / CW; ch++) {
            const uint32_t buf = stage + (ring % NB) * BUFFER;
            if (lane < 16) bulk_wait_read<NB - 1>();
            __syncwarp();
#pragma unroll
            for (int j = 0; j < CW / 8; j++) {
                const int jn = ch * (CW / 8) + j, col = bn + 8 * jn + c2;
                const float b0 = bias && col < N ? bias[col] : 0.f, b1 = bias && col + 1 < N ? bias[col + 1] : 0.f;
#pragma unroll
                for (int h = 0; h < 2; h++)
                    asm volatile("st.shared.v2.f32 [%0], {%1, %2};\n" ::"r"(buf + mine + h * 2 * CW * 4 + j * 32),
                                 "f"(acc[4 * jn + 2 * h] + b0), "f"(acc[4 * jn + 2 * h + 1] + b1) : "memory");
            }
            wg_gemm::fence_async_smem();  // generic-proxy writes that the copy engine reads next
            __syncwarp();
            const int col0 = bn + ch * CW;
            if (lane < 16) {
                if (grow < M && col0 < N) bulk_s2g(C + (size_t)grow * ldc + col0, buf + seg, min(CW, N - col0) * 4);
                bulk_commit();
            }
            ring++;
        }
#endif
    }
    // Before the CTA exits: this warp's copies are complete.
    __device__ __forceinline__ void drain(int lane) const {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
        if (lane < 16) bulk_wait_all();
#endif
    }
};
// Shared memory an epilogue stages its tile in, per consumer warpgroup (0: it works from the registers).
template <class E>
struct EpilogueSmem { static constexpr int per_wg = 0; };
template <int CW, int NB>
struct EpilogueSmem<StoreCStaged<CW, NB>> { static constexpr int per_wg = StoreCStaged<CW, NB>::SMEM_PER_WG; };
// Dynamic shared memory of gemm_ws with this epilogue: the stages, the two consumers' staging, slack and barriers.
template <int BN, int STAGES, class E>
constexpr int smem_bytes_for() { return smem_bytes<BN, STAGES>() + 2 * EpilogueSmem<E>::per_wg; }

// ATILED (needs BTILED): A too is read pre-tiled (bf16_pretile's layout over A, lda = its padded row count), so one
// producer thread moves a stage with two bulk copies: the bound for a norm kernel that would write A pre-tiled.
// Epilogue: a functor called per finished tile, as wg_gemm::StoreC (which writes C), or one that stages the tile in
// shared memory after the stages (StoreCStaged: EpilogueSmem<Epilogue>::per_wg bytes per consumer warpgroup).
// DESYNC > 0 (bench): the odd CTAs' consumers start DESYNC clocks per k-tile late, so that CTAs stop writing C at the
// same moments.
template <int BN, int STAGES, bool BTILED, bool PP, int GROUP_M, int PREG, int CREG, bool ATILED, class Epilogue,
          int DESYNC = 0>
__device__ __forceinline__ void gemm_ws(const bf16* __restrict__ A, int lda, const bf16* __restrict__ B, int ldb, int M,
                                        int N, int K, const Epilogue& epilogue) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int A_TILE = BM * BK * 2, B_TILE = BN * BK * 2, STAGE = A_TILE + B_TILE;
    constexpr int EPI = EpilogueSmem<Epilogue>::per_wg;
    static_assert(EPI == 0 || !PP, "staged epilogues are for the cooperative schedule");
    const uint32_t smem = aligned_smem(), epi = smem + STAGES * STAGE, full = epi + 2 * EPI, empty = full + 8 * STAGES;
    const int tiles_m = (M + BM - 1) / BM, tiles_n = (N + BN - 1) / BN, tiles = tiles_m * tiles_n;
    const int ktiles = (K + BK - 1) / BK;
    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) {
            mbar_init(full + 8 * s, ATILED ? 1 : 128 + (BTILED ? 1 : 0));  // each producer thread's cp.async, + the bulk copies' tx
            mbar_init(empty + 8 * s, PP ? 4 : 8);              // one arrival per consumer warp reading it
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    const int wg = threadIdx.x >> 7;
    if (wg == 0) {
        setmaxnreg_dec<PREG>();
        const int p = threadIdx.x;
        if (ATILED && p != 0) return;  // one thread issues the bulk copies
        int stage = 0;
        uint32_t phase = 0;
        for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
            int bm, bn;
            tile_origin<BN, GROUP_M>(t, tiles_m, tiles_n, bm, bn);
            for (int kt = 0; kt < ktiles; kt++) {
                mbar_wait(empty + 8 * stage, phase ^ 1);  // the consumers are done with this stage's last tile
                const uint32_t st = smem + stage * STAGE, fb = full + 8 * stage;
                if constexpr (ATILED) {  // rows past a copy's padded rows keep stale data: they only make C rows >= M
                    const uint32_t a_bytes = min(BM, lda - bm) * 128, b_bytes = min(BN, ldb - bn) * 128;
                    mbar_expect_tx(fb, a_bytes + b_bytes);
                    bulk_g2s(st, reinterpret_cast<const char*>(A) + ((size_t)kt * lda + bm) * 128, a_bytes, fb);
                    bulk_g2s(st + A_TILE, reinterpret_cast<const char*>(B) + ((size_t)kt * ldb + bn) * 128, b_bytes, fb);
                } else {
                    if constexpr (BTILED) {
                        if (p == 0) {  // rows past the copy's ldb rows keep stale data: they only make columns >= N
                            const uint32_t bytes = min(BN, ldb - bn) * 128;
                            mbar_expect_tx(fb, bytes);
                            bulk_g2s(st + A_TILE, reinterpret_cast<const char*>(B) + ((size_t)kt * ldb + bn) * 128, bytes, fb);
                        }
                    } else {
                        produce_rows<BN>(st + A_TILE, B, ldb, N, K, bn, kt * BK, p);
                    }
                    produce_rows<BM>(st, A, lda, M, K, bm, kt * BK, p);
                    cp_async_arrive_noinc(fb);
                }
                if (++stage == STAGES) { stage = 0; phase ^= 1; }
            }
        }
        mma_gemm::cp_async_wait<0>();
    } else {
        setmaxnreg_inc<CREG>();
        constexpr int MSUB = PP ? 2 : 1;  // m64 row blocks per consumer
        const int cw = wg - 1, warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, rbase = PP ? 0 : cw * 64;
        int stage = 0, ring = 0;
        uint32_t phase = 0;
        if (PP && cw == 1 && blockIdx.x < tiles) turn_pass(1);  // consumer 0 goes first
        if (DESYNC > 0 && (blockIdx.x & 1)) {
            const long long t0 = clock64(), wait = (long long)DESYNC * ktiles;
            while (clock64() - t0 < wait) {}
        }
        int j = 0;
        for (int t = blockIdx.x; t < tiles; t += gridDim.x, j++) {
            if (PP && (j & 1) != cw) {  // the other consumer's tile: skip its stages
                const int g = stage + ktiles;
                phase ^= (g / STAGES) & 1;
                stage = g % STAGES;
                continue;
            }
            int bm, bn;
            tile_origin<BN, GROUP_M>(t, tiles_m, tiles_n, bm, bn);
            float acc[MSUB][BN / 2];
#pragma unroll
            for (int m = 0; m < MSUB; m++)
#pragma unroll
                for (int i = 0; i < BN / 2; i++) acc[m][i] = 0.f;
            int prev = -1;
            if (PP) turn_wait(1 + cw);
            for (int kt = 0; kt < ktiles; kt++) {
                mbar_wait(full + 8 * stage, phase);
                if (!ATILED) fence_async_smem();  // cp.async wrote A through the generic proxy; wgmma reads through the async one
                const uint32_t a = smem + stage * STAGE + rbase * 128, b = smem + stage * STAGE + A_TILE;
                wg_fence();
#pragma unroll
                for (int ks = 0; ks < BK / 16; ks++)
#pragma unroll
                    for (int m = 0; m < MSUB; m++)
                        wgmma_k16<BN, bf16>(acc[m], smem_desc(a + m * 64 * 128 + ks * 32), smem_desc(b + ks * 32));
                wg_commit();
                wg_wait<1>();  // the batch before this one is done: its stage can be refilled
                if (prev >= 0 && lane == 0) mbar_arrive(empty + 8 * prev);
                prev = stage;
                if (++stage == STAGES) { stage = 0; phase ^= 1; }
            }
            if (PP && t + (int)gridDim.x < tiles) turn_pass(2 - cw);  // the other consumer's tile j + 1 may start
            wg_wait<0>();
#pragma unroll
            for (int m = 0; m < MSUB; m++) touch(acc[m]);
            if (prev >= 0 && lane == 0) mbar_arrive(empty + 8 * prev);
#pragma unroll
            for (int m = 0; m < MSUB; m++) {
                const int r0 = bm + rbase + m * 64 + warp * 16 + (lane >> 2);
                if constexpr (EPI > 0) epilogue.template operator()<BN>(acc[m], r0, bn, M, N, lane, epi + cw * EPI, ring);
                else epilogue.template operator()<BN>(acc[m], r0, bn, M, N, lane);
            }
        }
        if constexpr (EPI > 0) epilogue.drain(lane);
    }
#else
    __trap();
#endif
}
}  // namespace ws_gemm

// The shipped instance: ping-pong, each consumer warpgroup a whole 128 x 128 tile in turn, so one consumer's epilogue
// (C written from the registers, StoreC) runs under the other's main loop; 6 stages of 32 KB, A and B pre-tiled,
// persistent grid in groups of 8 row-tiles. 168 registers a thread at entry: 40 for the producer, 232 for the
// consumers (as CUTLASS's sm90 kernels). Grid (min(tiles, SMs)), block 384, dynamic smem
// ws_gemm::smem_bytes<128, SSD_TILED_STAGES>() (GpuGemm.TILED_SMEM); lda / ldb = the tiled copies' padded row counts
// (roundup(M, 8), roundup(N, 8)). Against the cooperative 128 x 256 schedule it replaced (session 9,
// tools/bench/KERNEL_NOTES.md): +8-15 % on 130M's projections. No narrow last column tiles (m64n64 where at most 64
// columns are left, as the cooperative kernel had): the branch cost every tile more than it saved on the last one.
#define SSD_TILED_STAGES 6
extern "C" __global__ void __launch_bounds__(384, 1) gemm_bf16_tn_tiled(const bf16* A, int lda, const bf16* B, int ldb,
                                                                       float* C, int ldc, const float* bias, int M,
                                                                       int N, int K, int accumulate) {
    ws_gemm::gemm_ws<128, SSD_TILED_STAGES, true, true, 8, 40, 232, true>(A, lda, B, ldb, M, N, K,
                                                                         wg_gemm::StoreC{C, ldc, bias, accumulate});
}
// lm_head_bf16_tiled (lm_head.cuh) runs the same schedule with its log-sum-exp epilogue.

// B[N][ldb] (rows zero padded past K) -> the pre-tiled layout of gemm_bf16_tn_tiled (A or B alike, common.cuh's
// tiled_index) for kt < ceil(K/64), n < npad; rows >= N and k >= K are zero. One thread per chunk: grid ceil(ceil(K/64) * npad * 8 / 256), block 256.
extern "C" __global__ void bf16_pretile(const bf16* __restrict__ B, int ldb, int N, int K, int npad, bf16* out) {
    const long long chunks = (long long)((K + 63) / 64) * npad * 8;
    const long long id = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= chunks) return;
    const int c = (int)(id & 7), n = (int)((id >> 3) % npad), kt = (int)(id / (8LL * npad)), k = kt * 64 + 8 * c;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (n < N && k < K) v = *reinterpret_cast<const uint4*>(B + (size_t)n * ldb + k);
    *reinterpret_cast<uint4*>(out + tiled_index(n, k, npad)) = v;
}
