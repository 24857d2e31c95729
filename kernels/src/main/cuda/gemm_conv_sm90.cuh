// in_proj with the causal conv1d + SiLU of its xBC columns in the epilogue (sm_90a, pre-tiled operands): the conv's
// 0.47 GB a 130M layer of fp32 reads and writes (causal_conv1d_fwd_k4_x4 reading in_proj's output back) are gone.
// Twin: ssdspark.kernels.Gemm then ssdspark.kernels.CausalConv1d; the GPU test holds it bit for bit to
// gemm_bf16_tn_tiled followed by causal_conv1d_fwd_k*_x4 (the same products, the same conv arithmetic in the same order).
//
// A consumer warpgroup owns a 128-row tile. Its conv columns go through shared memory 16 at a time: the accumulators
// (+ in_proj's bias) are stored as a [128][16] slab, then each thread slides the conv down 16 rows of one column, the
// rows before coming from the slab and, at a sequence's first rows, from its window (convState). Writing every value
// from registers (shuffles for the rows above) made one straight-line epilogue of ~4,500 instructions a thread; the
// consumers then waited on instruction fetches (5x slower GEMM, KERNEL_NOTES.md session 13). The tile's first K - 1
// rows need the tile before, which another CTA computes: the epilogue writes them, and the tile's last K - 1 rows,
// pre-conv into in_proj's xBC columns (where the unfused path had every row), and causal_conv1d_tile_heads computes
// those rows' conv afterwards. With windows kept, the last K - 1 rows of every sequence also go there, for
// causal_conv1d_state.
#pragma once
#include "gemm_sm90_tiled.cuh"
#include "conv1d.cuh"

namespace ws_gemm {
// The slab: 128 rows of 16 columns, rows 24 floats apart (the accumulators' 8-byte stores of a half-warp hit 32 banks).
constexpr int CONV_SLAB_COLS = 16, CONV_SLAB_LD = 24;

template <int K>
struct InProjConv {
    float* proj;            // in_proj's output [M][ldc]: z, dt, and the pre-conv xBC rows named above
    int ldc;
    const float* bias;      // in_proj's bias or null
    int xs, convDim;        // xBC columns [xs, xs + convDim)
    const float* w;         // conv weight [convDim][K]
    const float* cb;        // conv bias or null
    const int* tokSeq;
    const int* tokPos;
    const int* seqLen;
    const float* state;     // windows [S][K - 1][convDim] at stateSeqStride (zero where nothing is carried)
    long long stateSeqStride;
    int keepWindows;
    float* out;             // the conv's output [M][convDim]
    // the slab, then each row's position in its sequence and whether it is also written pre-conv
    static constexpr int SMEM_PER_WG = 128 * CONV_SLAB_LD * 4 + 2 * 128 * 4;

    template <int BN>
    __device__ __forceinline__ void tile(float (&acc)[2][BN / 2], int bm, int bn, int M, int N, int warp, int lane,
                                         int cw, uint32_t slab) const {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
        constexpr int hist = K - 1, CHUNKS = BN / CONV_SLAB_COLS;
        const int xe = xs + convDim;
        if (bn >= xe || bn + BN <= xs) {  // z or dt columns only
#pragma unroll
            for (int m = 0; m < 2; m++)
                wg_gemm::StoreC{proj, ldc, bias, 0}.template operator()<BN>(acc[m], bm + 64 * m + 16 * warp + (lane >> 2),
                                                                             bn, M, N, lane);
            return;
        }
        extern __shared__ __align__(16) unsigned char smem_raw[];  // indexed from it, so that the loads are shared ones
        float* sl = reinterpret_cast<float*>(smem_raw + (slab - (uint32_t)__cvta_generic_to_shared(smem_raw)));
        const int q = lane >> 2, c2 = 2 * (lane & 3);
        const int t = 32 * warp + lane, cl = t & 15, g = t >> 4;  // the conv pass: column cl, rows 16 g .. 16 g + 15
        int* rowPos = reinterpret_cast<int*>(sl + 128 * CONV_SLAB_LD);
        int* rowPre = rowPos + 128;
        asm volatile("bar.sync %0, 128;\n" ::"r"(3 + cw) : "memory");  // the last tile's readers are done
        {
            const int row = bm + t, pos = row < M ? tokPos[row] : 0;
            rowPos[t] = pos;
            rowPre[t] = t < hist || t >= 128 - hist || (keepWindows && row < M && pos + hist >= seqLen[tokSeq[row]]);
        }
#pragma unroll 1
        for (int ch = 0; ch < CHUNKS; ch++) {
            asm volatile("bar.sync %0, 128;\n" ::"r"(3 + cw) : "memory");  // the slab's last readers are done
#pragma unroll
            for (int k = 0; k < CHUNKS; k++) {
                if (k != ch) continue;
#pragma unroll
                for (int jj = 0; jj < 2; jj++) {
                    const int j = 2 * k + jj, col = bn + 8 * j + c2;
                    const float b0 = bias && col < N ? bias[col] : 0.f, b1 = bias && col + 1 < N ? bias[col + 1] : 0.f;
#pragma unroll
                    for (int m = 0; m < 2; m++)
#pragma unroll
                        for (int h = 0; h < 2; h++)
                            *reinterpret_cast<float2*>(sl + (64 * m + 16 * warp + q + 8 * h) * CONV_SLAB_LD + 8 * jj + c2) =
                                make_float2(acc[m][4 * j + 2 * h] + b0, acc[m][4 * j + 2 * h + 1] + b1);
                }
            }
            asm volatile("bar.sync %0, 128;\n" ::"r"(3 + cw) : "memory");
            const int col = bn + CONV_SLAB_COLS * ch + cl, cc = col - xs;
            if (col >= N) continue;
            const bool inx = cc >= 0 && col < xe;
            float wr[K];
#pragma unroll
            for (int k = 0; k < K; k++) wr[k] = inx ? w[(size_t)cc * K + k] : 0.f;
            const float b = inx && cb ? cb[cc] : 0.f;
            float win[hist];  // the values 3, 2, 1 rows above (oldest first); rows before the tile are never used
#pragma unroll
            for (int d = 0; d < hist; d++) {
                const int r = 16 * g - hist + d;
                win[d] = r >= 0 ? sl[r * CONV_SLAB_LD + cl] : 0.f;
            }
#pragma unroll 4
            for (int i = 0; i < 16; i++) {
                const int tr = 16 * g + i, row = bm + tr;
                const float v = sl[tr * CONV_SLAB_LD + cl];
                if (row < M) {
                    float* pr = proj + (size_t)row * ldc + col;
                    if (!inx) {
                        *pr = v;
                    } else {
                        const int pos = rowPos[tr];
                        float lag[hist];
#pragma unroll
                        for (int d = 0; d < hist; d++) lag[d] = win[d];
                        if (pos < hist) {  // the sequence's first rows: its window instead
                            const float* st = state + (size_t)tokSeq[row] * stateSeqStride;
#pragma unroll
                            for (int d = 0; d < hist; d++)  // lag[d] is hist - d rows above
                                if (pos < hist - d) lag[d] = st[(size_t)(pos + d) * convDim + cc];
                        }
                        float s = b;
#pragma unroll
                        for (int d = 0; d < hist; d++) s += wr[d] * lag[d];
                        s += wr[hist] * v;
                        if (tr >= hist) out[(size_t)row * convDim + cc] = silu_f(s);  // else causal_conv1d_tile_heads
                        if (rowPre[tr]) *pr = v;
                    }
                }
#pragma unroll
                for (int d = 0; d + 1 < hist; d++) win[d] = win[d + 1];
                win[hist - 1] = v;
            }
        }
#endif
    }
};
template <int K>
struct EpilogueSmem<InProjConv<K>> { static constexpr int per_wg = InProjConv<K>::SMEM_PER_WG; };
template <int K>
struct TileEpilogue<InProjConv<K>> { static constexpr bool value = true; };
}  // namespace ws_gemm

// gemm_bf16_tn_tiled's schedule and launch (GpuInProjConv), dynamic smem GpuInProjConv.SMEM: C = in_proj's output
// [M][ldc] and the conv's output out[M][convDim] as InProjConv says. d_conv 2..4.
#define SSD_INPROJ_CONV(K)                                                                                             \
    extern "C" __global__ void __launch_bounds__(384, 1) gemm_bf16_tn_tiled_conv##K(                                   \
        const bf16* A, int lda, const bf16* B, int ldb, float* proj, int ldc, const float* bias, int M, int N, int Kd,  \
        int xs, int convDim, const float* w, const float* cb, const int* tokSeq, const int* tokPos, const int* seqLen, \
        const float* state, long long stateSeqStride, int keepWindows, float* out) {                                  \
        ws_gemm::gemm_ws<128, SSD_TILED_STAGES, true, true, 8, 40, 232, true>(                                         \
            A, lda, B, ldb, M, N, Kd,                                                                                  \
            ws_gemm::InProjConv<K>{proj, ldc, bias, xs, convDim, w, cb, tokSeq, tokPos, seqLen, state, stateSeqStride, \
                                   keepWindows, out});                                                                 \
    }
SSD_INPROJ_CONV(2)
SSD_INPROJ_CONV(3)
SSD_INPROJ_CONV(4)
