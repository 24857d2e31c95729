// in_proj with the causal conv1d of its xBC columns in the GEMM's epilogue (sm_90a, pre-tiled operands): the conv
// kernel's round trip of xBC through memory (a read and a write of T x convDim floats, ~150 us a 130M layer) goes.
// Twin: ssdspark.kernels.Gemm then ssdspark.kernels.CausalConv1d (+ SiLU); the same bits as gemm_bf16_tn_tiled
// followed by causal_conv1d_fwd_k*_x4, since each value goes through the same operations in the same order.
//
// A finished 128 x 256 tile whose columns meet xBC is staged in shared memory 32 columns at a time (both consumer
// warpgroups, a named barrier). Each tile row t >= K-1 of a conv column gets its conv from the staged rows (taps
// before its sequence's first token from the carried window), written to out[t][convDim]; z and dt columns are
// written to C as before. Rows whose taps reach into the previous tile (rows 0 .. K-2 of a tile) are finished by
// causal_conv1d_tile_heads, which reads the raw values the epilogue leaves in C for them: a tile's first and last
// K-1 rows, and each sequence's last K-1 tokens (what causal_conv1d_state keeps as the next window). Other rows'
// xBC columns of C are not written.
#pragma once
#include "gemm_sm90_tiled.cuh"
#include "conv1d.cuh"

namespace conv_epi {
constexpr int CW = 32;                      // columns staged at a time
constexpr int LDS = CW + 8;                 // floats a staged row: a half-warp's 8-byte stores hit 4 rows 8 banks apart
constexpr int TILE_BYTES = 128 * LDS * 4;
constexpr int META_BYTES = 128 * 3 * 4;     // per tile row: position in its sequence, sequence, first tail position
constexpr int SMEM = TILE_BYTES + META_BYTES;

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
__device__ __forceinline__ void consumers_sync() { asm volatile("bar.sync 3, 256;\n" ::: "memory"); }
__device__ __forceinline__ void sts2(uint32_t a, float x, float y) {
    asm volatile("st.shared.v2.f32 [%0], {%1, %2};\n" ::"r"(a), "f"(x), "f"(y) : "memory");
}
__device__ __forceinline__ void sts3i(uint32_t a, int x, int y, int z) {
    asm volatile("st.shared.u32 [%0], %1;\nst.shared.u32 [%0+4], %2;\nst.shared.u32 [%0+8], %3;\n" ::"r"(a), "r"(x),
                 "r"(y), "r"(z) : "memory");
}
__device__ __forceinline__ float lds(uint32_t a) {
    float v;
    asm volatile("ld.shared.f32 %0, [%1];\n" : "=f"(v) : "r"(a) : "memory");
    return v;
}
__device__ __forceinline__ void lds3i(uint32_t a, int& x, int& y, int& z) {
    asm volatile("ld.shared.u32 %0, [%3];\nld.shared.u32 %1, [%3+4];\nld.shared.u32 %2, [%3+8];\n"
                 : "=r"(x), "=r"(y), "=r"(z) : "r"(a) : "memory");
}
#endif
}  // namespace conv_epi

// The epilogue (cooperative schedule: both consumer warpgroups on each tile; gemm_ws hands warpgroup cw the buffer
// at stage = base + cw * SMEM_PER_WG, and the two halves are one 128-row buffer).
template <int K>
struct StoreCConv {
    float* C;
    int ldc;
    const float* bias;
    int xbcOff, convDim;  // xBC = columns [xbcOff, xbcOff + convDim) of C
    const float* w;       // [convDim][K]
    const float* cbias;   // [convDim] or null
    const int *tokSeq, *tokPos, *seqLen;
    const float* state;   // sequence s's window at state + s * stateSeqStride, [K-1][convDim]
    long long stateSeqStride;
    float* out;           // [M][convDim]
    static constexpr int SMEM_PER_WG = conv_epi::SMEM / 2;
    static_assert(conv_epi::SMEM % 16 == 0, "barriers after the buffer stay aligned");

    template <int BN>
    __device__ __forceinline__ void operator()(const float (&acc)[BN / 2], int r0, int bn, int M, int N, int lane,
                                               uint32_t stage, int&) const {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
        using namespace conv_epi;
        using wg_gemm::BM;
        static_assert(BN % CW == 0 && K >= 2 && K <= 4, "whole chunks; conv widths 2..4");
        if (bn >= xbcOff + convDim || bn + BN <= xbcOff) {  // no conv column: straight from the registers
            wg_gemm::StoreC{C, ldc, bias, 0}.template operator()<BN>(acc, r0, bn, M, N, lane);
            return;
        }
        constexpr int hist = K - 1;
        const int bm = r0 & ~(BM - 1), rl = r0 - bm;  // r0 = bm + 64 cw + 16 warp + lane / 4
        const uint32_t base = stage - (rl >> 6) * SMEM_PER_WG, meta = base + TILE_BYTES;
        const int i = threadIdx.x - 128;  // 0..255 over both consumer warpgroups
        if (i < BM) {
            const int t = bm + i;
            int pos = 0, sq = 0, tail = 0;
            if (t < M) sq = tokSeq[t], pos = tokPos[t], tail = seqLen[sq] - hist;
            sts3i(meta + 12 * i, pos, sq, tail);
        }
        const int tq = lane & 3, colL = i & 31, row0 = i >> 5;  // outputs: column colL of rows row0 + 8k
#pragma unroll
        for (int ch = 0; ch < BN / CW; ch++) {
#pragma unroll
            for (int jj = 0; jj < CW / 8; jj++) {
                const int jn = ch * (CW / 8) + jj, col = bn + 8 * jn + 2 * tq;
                const float b0 = bias && col < N ? bias[col] : 0.f, b1 = bias && col + 1 < N ? bias[col + 1] : 0.f;
#pragma unroll
                for (int h = 0; h < 2; h++)
                    sts2(base + ((rl + 8 * h) * LDS + 8 * jj + 2 * tq) * 4, acc[4 * jn + 2 * h] + b0,
                         acc[4 * jn + 2 * h + 1] + b1);
            }
            consumers_sync();  // the chunk (and the tile's row table) is staged
            const int gcol = bn + ch * CW + colL, c = gcol - xbcOff;
            if (gcol < N) {
                if (c >= 0 && c < convDim) {
                    float wr[K];
#pragma unroll
                    for (int j = 0; j < K; j++) wr[j] = w[(size_t)c * K + j];
                    const float b = cbias ? cbias[c] : 0.f;
                    const float* st0 = state + (hist * (size_t)convDim + c);  // slot hist + tt, tt < 0
#pragma unroll 4
                    for (int k = 0; k < BM / 8; k++) {
                        const int r = row0 + 8 * k, t = bm + r;
                        if (t >= M) break;
                        const uint32_t at = base + (r * LDS + colL) * 4;
                        const float x = lds(at);
                        int pos, sq, tail;
                        lds3i(meta + 12 * r, pos, sq, tail);
                        if (r < hist || r >= BM - hist || pos >= tail) C[(size_t)t * ldc + gcol] = x;
                        if (r < hist) continue;  // causal_conv1d_tile_heads
                        float a = b;
#pragma unroll
                        for (int j = 0; j < hist; j++) {
                            const int tt = pos - hist + j;
                            a += wr[j] * (tt >= 0 ? lds(at - (hist - j) * LDS * 4)
                                                  : st0[(size_t)sq * stateSeqStride + (long long)tt * convDim]);
                        }
                        a += wr[hist] * x;
                        out[(size_t)t * convDim + c] = silu_f(a);
                    }
                } else {
#pragma unroll 4
                    for (int k = 0; k < BM / 8; k++) {
                        const int r = row0 + 8 * k, t = bm + r;
                        if (t >= M) break;
                        C[(size_t)t * ldc + gcol] = lds(base + (r * LDS + colL) * 4);
                    }
                }
            }
            consumers_sync();  // the buffer is free for the next chunk (or tile)
        }
#endif
    }
    __device__ __forceinline__ void drain(int) const {}
};
namespace ws_gemm {
template <int K>
struct EpilogueSmem<StoreCConv<K>> { static constexpr int per_wg = StoreCConv<K>::SMEM_PER_WG; };
}  // namespace ws_gemm

// gemm_bf16_tn_tiled's contract (no accumulate) plus the conv of columns [xbcOff, xbcOff + convDim): grid
// (min(tiles, SMs)), block 384, dynamic smem ws_gemm::smem_bytes_for<256, SSD_TILED_STAGES, StoreCConv<K>>()
// (GpuGemmConv.SMEM). Follow with causal_conv1d_tile_heads_k<K> and causal_conv1d_state on C (GpuGemmConv.inProjConv).
#define SSD_GEMM_CONV(K)                                                                                              \
    extern "C" __global__ void __launch_bounds__(384, 1) gemm_bf16_tn_tiled_conv_k##K(                               \
        const bf16* A, int lda, const bf16* B, int ldb, float* C, int ldc, const float* bias, int M, int N, int Kdim,  \
        int xbcOff, int convDim, const float* w, const float* cbias, const int* tokSeq, const int* tokPos,             \
        const int* seqLen, const float* state, long long stateSeqStride, float* out) {                                \
        ws_gemm::gemm_ws<256, SSD_TILED_STAGES, true, false, 8, 40, 232, true>(                                       \
            A, lda, B, ldb, M, N, Kdim,                                                                                \
            StoreCConv<K>{C, ldc, bias, xbcOff, convDim, w, cbias, tokSeq, tokPos, seqLen, state, stateSeqStride, out}); \
    }
SSD_GEMM_CONV(2)
SSD_GEMM_CONV(3)
SSD_GEMM_CONV(4)

// grid (ceil(T/128), ceil(C/128)), block 128: rows 128 X .. 128 X + K - 2 of each 128-row tile of the fused in_proj,
// whose taps reach into the tile before: causal_conv1d_fwd's arithmetic (bias, taps oldest first, SiLU) on the raw
// inputs gemm_bf16_tn_tiled_conv_k* left in `in` for those rows and the K-1 rows before them.
template <int K>
__device__ __forceinline__ void conv1d_tile_heads(const float* __restrict__ in, int ldIn, int inOff, int C,
                                                  const float* __restrict__ w, const float* __restrict__ bias, int T,
                                                  const int* __restrict__ tokSeq, const int* __restrict__ tokPos,
                                                  const float* __restrict__ state, long long stateSeqStride,
                                                  float* __restrict__ out) {
    constexpr int hist = K - 1;
    const int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C) return;
#pragma unroll
    for (int r = 0; r < hist; r++) {
        const int t = blockIdx.x * 128 + r;
        if (t >= T) return;
        const int pos = tokPos[t];
        const float* st = state + (size_t)tokSeq[t] * stateSeqStride;
        float acc = bias ? bias[c] : 0.f;
#pragma unroll
        for (int j = 0; j < K; j++) {
            const int tt = pos - hist + j;
            acc += w[(size_t)c * K + j] * (tt >= 0 ? in[(size_t)(t - hist + j) * ldIn + inOff + c] : st[(size_t)(hist + tt) * C + c]);
        }
        out[(size_t)t * C + c] = silu_f(acc);
    }
}
#define SSD_CONV_TILE_HEADS(K)                                                                                        \
    extern "C" __global__ void causal_conv1d_tile_heads_k##K(const float* in, int ldIn, int inOff, int C,            \
                                                             const float* w, const float* bias, int T,                 \
                                                             const int* tokSeq, const int* tokPos, const float* state, \
                                                             long long stateSeqStride, float* out) {                   \
        conv1d_tile_heads<K>(in, ldIn, inOff, C, w, bias, T, tokSeq, tokPos, state, stateSeqStride, out);             \
    }
SSD_CONV_TILE_HEADS(2)
SSD_CONV_TILE_HEADS(3)
SSD_CONV_TILE_HEADS(4)
