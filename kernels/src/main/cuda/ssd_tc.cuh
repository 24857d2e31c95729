// The two matrix-heavy SSD steps on tensor cores: the bf16 / fp16 engines' path. Same results as ssd_chunk_state /
// ssd_chunk_scan in ssd.cuh (the fp32 engine's path) to fp32 rounding; twin: ssdspark.kernels.SsdScan.chunked.
//
// Products run as 3xTF32 on mma.sync m16n8k8 (each fp32 operand split into a TF32 head and a TF32 tail; head*head +
// head*tail + tail*head, fp32 accumulation): plain TF32 (a 10-bit mantissa) moved a sensitive 130M model's per-document
// perplexity by 1.1 %, 3xTF32 keeps the scan at fp32 accuracy.
//
// A CTA of 8 warps covers a whole chunk (Q <= 128 steps) and a slab of heads of one group: the group's B or C tile is
// staged in shared memory once and reused by every head of the slab; each head's x (and state) tiles follow.
// Staging is cp.async of 16-byte pieces, so the fast path needs N <= 128, P <= 64, and 16-byte aligned rows
// (GpuSsdScan.tensorCoreEligible); the host falls back to the fp32 kernels otherwise. Row strides in shared memory
// are chosen so that every fragment load of a warp hits 32 different banks.
#pragma once
#include "ssd.cuh"

namespace ssd_tc {
constexpr int THREADS = 256, HEADS_PER_CTA = 4;
constexpr int LD_N = 132;  // rows over 128 state (or step) columns: C, S, C.B
constexpr int LD_X = 72;   // rows over 64 channels of a head: x
constexpr int LD_B = 136;  // B rows as the k-major operand of the chunk state
// floats: B [128][LD_B] | x [128][LD_X] | w [128]
constexpr int STATE_SMEM = 4 * (SSD_QMAX * LD_B + SSD_QMAX * LD_X + SSD_QMAX);
// floats: C [128][LD_N] | S head, tail [64][LD_N] | x head, tail [128][LD_X] | cum [128] | dt [128]
constexpr int SCAN_SMEM = 4 * (SSD_QMAX * LD_N + 2 * 64 * LD_N + 2 * SSD_QMAX * LD_X + 2 * SSD_QMAX);

__device__ __forceinline__ float tf32(float v) {
    uint32_t r;
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(v));
    return __uint_as_float(r);
}

// v = hi + lo with both TF32: together 21 bits of mantissa
struct Split {
    float hi, lo;
    Split() = default;
    __device__ __forceinline__ explicit Split(float v) : hi(tf32(v)), lo(tf32(v - tf32(v))) {}
};

// Not volatile: the compiler may interleave independent products (volatile asm statements keep program order, so a
// product would wait for the one before it on the same accumulator).
__device__ __forceinline__ void mma_tf32(float (&c)[4], float a0, float a1, float a2, float a3, float b0, float b1) {
    asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(__float_as_uint(a0)), "r"(__float_as_uint(a1)), "r"(__float_as_uint(a2)), "r"(__float_as_uint(a3)),
          "r"(__float_as_uint(b0)), "r"(__float_as_uint(b1)));
}

// acc[j] += a (16x8, row) . b_j (8x8, col) for the 8 column blocks j of a warp's tile, in 3xTF32; (bh0, bl0)[j] and
// (bh1, bl1)[j] are the split values of b_j's fragment (PTX ISA m16n8k8 layout). Each pass runs over all j, so 8
// independent products separate two that share an accumulator. Small terms first.
__device__ __forceinline__ void mma3x8(float (&acc)[8][4], const Split (&a)[4], const float (&bh0)[8], const float (&bh1)[8],
                                       const float (&bl0)[8], const float (&bl1)[8]) {
#pragma unroll
    for (int j = 0; j < 8; j++) mma_tf32(acc[j], a[0].lo, a[1].lo, a[2].lo, a[3].lo, bh0[j], bh1[j]);
#pragma unroll
    for (int j = 0; j < 8; j++) mma_tf32(acc[j], a[0].hi, a[1].hi, a[2].hi, a[3].hi, bl0[j], bl1[j]);
#pragma unroll
    for (int j = 0; j < 8; j++) mma_tf32(acc[j], a[0].hi, a[1].hi, a[2].hi, a[3].hi, bh0[j], bh1[j]);
}

// Stages rows [0, ROWS) x floats [0, W) of src (row r at src + r * ld, 16-byte aligned) into dst[r * LD]; rows >= rowsValid
// and columns >= colsValid (a multiple of 4) read 0. Asynchronous: cp_async_commit / wait, then a barrier.
template <int ROWS, int W>
__device__ __forceinline__ void stage(float* dst, int LD, const float* __restrict__ src, size_t ld, int rowsValid,
                                      int colsValid) {
    constexpr int PER_ROW = W / 4;
    for (int id = threadIdx.x; id < ROWS * PER_ROW; id += THREADS) {
        const int r = id / PER_ROW, j = (id % PER_ROW) * 4;
        const bool p = r < rowsValid && j < colsValid;
        const unsigned d = (unsigned)__cvta_generic_to_shared(dst + r * LD + j);
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(p ? src + r * ld + j : src),
                     "r"(p ? 16 : 0));
    }
}
}  // namespace ssd_tc

// grid (chunks, G, ceil((H/G) / HEADS_PER_CTA)), block 256, dynamic smem ssd_tc::STATE_SMEM.
// states[c][h][p][n] = sum_u exp(cum_last - cum_u) dt_u x_u[p] B_u[n]: (x * w)^T [64 p x Q] . B [Q x 128 n] per head.
// Warp w owns p rows 16*(w%4).. and n columns 64*(w/4)... Operands split as their fragments load: B split once in
// shared memory instead measured slower on an H200 (one CTA per SM instead of two).
extern "C" __global__ void __launch_bounds__(256) ssd_chunk_state_tc(const float* __restrict__ x, int ldX, int xOff,
                                                                     int bOff, const float* __restrict__ dt,
                                                                     const float* __restrict__ cum, int T,
                                                                     const int* __restrict__ chunkStart,
                                                                     const int* __restrict__ chunkLen, int H, int P,
                                                                     int N, int G, float* states) {
    using namespace ssd_tc;
    extern __shared__ __align__(16) float sm[];
    float* Bs = sm;                      // [u][n]
    float* Xs = Bs + SSD_QMAX * LD_B;    // [u][p]
    float* wU = Xs + SSD_QMAX * LD_X;    // [u]
    const int c = blockIdx.x, g = blockIdx.y, hpg = H / G;
    const int st = chunkStart[c], len = chunkLen[c];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, tq = lane & 3;
    const int pb = (warp & 3) * 16, nb = (warp >> 2) * 64, kEnd = (len + 7) & ~7;
    stage<SSD_QMAX, 128>(Bs, LD_B, x + (size_t)st * ldX + bOff + g * N, ldX, len, N);
    for (int i = 0; i < HEADS_PER_CTA; i++) {
        const int hl = blockIdx.z * HEADS_PER_CTA + i;
        if (hl >= hpg) break;
        const int h = g * hpg + hl;
        __syncthreads();  // the previous head's readers are done with x and w
        stage<SSD_QMAX, 64>(Xs, LD_X, x + (size_t)st * ldX + xOff + h * P, ldX, len, P);
        mma_gemm::cp_async_commit();
        const float* cumh = cum + (size_t)h * T + st;
        const float last = cumh[len - 1];
        for (int u = tid; u < SSD_QMAX; u += THREADS) wU[u] = u < len ? expf(last - cumh[u]) * dt[(size_t)h * T + st + u] : 0.f;
        mma_gemm::cp_async_wait<0>();
        __syncthreads();
        float acc[8][4] = {};
        for (int k = 0; k < kEnd; k += 8) {
            const float w0 = wU[k + tq], w1 = wU[k + tq + 4];
            const float* x0 = Xs + (k + tq) * LD_X + pb + gr;
            const float* x1 = x0 + 4 * LD_X;
            const Split a[4] = {Split(x0[0] * w0), Split(x0[8] * w0), Split(x1[0] * w1), Split(x1[8] * w1)};
            const float* b = Bs + (k + tq) * LD_B + nb + gr;
            float h0[8], h1[8], l0[8], l1[8];
#pragma unroll
            for (int j = 0; j < 8; j++) {
                const Split s0(b[8 * j]), s1(b[8 * j + 4 * LD_B]);
                h0[j] = s0.hi;
                l0[j] = s0.lo;
                h1[j] = s1.hi;
                l1[j] = s1.lo;
            }
            mma3x8(acc, a, h0, h1, l0, l1);
        }
        float* out = states + ((size_t)c * H + h) * P * N;
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int p = pb + gr + (e >> 1) * 8, n = nb + 8 * j + 2 * tq + (e & 1);
                if (p < P && n < N) out[(size_t)p * N + n] = acc[j][e];
            }
    }
}

// grid (chunks, G, ceil((H/G) / HEADS_PER_CTA)), block 256, dynamic smem ssd_tc::SCAN_SMEM.
// y[t][p] = exp(cum_t) C_t . S_in[p] + sum_{u<=t} CB[t][u] exp(cum_t - cum_u) dt_u x_u[p] + D x_t[p] per head.
// Warp w owns steps t in [16w, 16w + 16) and all channels of the head; the causal part stops at its diagonal.
// S and x (the operands every warp reads) are split into TF32 head and tail once per head, in shared memory; C and
// C.B rows (a warp's own) are split as their fragments load, C from shared memory (reused by the slab's heads), C.B
// straight from global memory (L2: the group's heads share it), one step ahead.
extern "C" __global__ void __launch_bounds__(256) ssd_chunk_scan_tc(
    const float* __restrict__ x, int ldX, int xOff, int cOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, int H, int P, int N, int G,
    const float* __restrict__ states, const float* __restrict__ cb, const float* __restrict__ D, int dPerChannel,
    float* y, int ldY) {
    using namespace ssd_tc;
    extern __shared__ __align__(16) float sm[];
    float* Cs = sm;                          // [t][n]
    float* Shi = Cs + SSD_QMAX * LD_N;       // [p][n] (64 rows), head and tail
    float* Slo = Shi + 64 * LD_N;
    float* Xhi = Slo + 64 * LD_N;            // [u][p], head and tail
    float* Xlo = Xhi + SSD_QMAX * LD_X;
    float* cumU = Xlo + SSD_QMAX * LD_X;     // [u]
    float* dtU = cumU + SSD_QMAX;            // [u]
    const int c = blockIdx.x, g = blockIdx.y, hpg = H / G;
    const int st = chunkStart[c], len = chunkLen[c];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, tq = lane & 3, tb = warp * 16;
    const int kInter = (N + 7) & ~7, kIntra = min(tb + 16, (len + 7) & ~7);
    const int t0 = tb + gr, t1 = t0 + 8;
    const float* cbc = cb + ((size_t)c * G + g) * SSD_QMAX * SSD_QMAX;
    stage<SSD_QMAX, 128>(Cs, LD_N, x + (size_t)st * ldX + cOff + g * N, ldX, len, N);
    for (int i = 0; i < HEADS_PER_CTA; i++) {
        const int hl = blockIdx.z * HEADS_PER_CTA + i;
        if (hl >= hpg) break;
        const int h = g * hpg + hl;
        __syncthreads();  // the previous head's readers are done with S, x, cum and dt
        stage<64, 128>(Shi, LD_N, states + ((size_t)c * H + h) * P * N, N, P, N);
        stage<SSD_QMAX, 64>(Xhi, LD_X, x + (size_t)st * ldX + xOff + h * P, ldX, len, P);
        mma_gemm::cp_async_commit();
        for (int u = tid; u < SSD_QMAX; u += THREADS) {
            cumU[u] = u < len ? cum[(size_t)h * T + st + u] : 0.f;
            dtU[u] = u < len ? dt[(size_t)h * T + st + u] : 0.f;
        }
        mma_gemm::cp_async_wait<0>();
        __syncthreads();
        for (int e = tid; e < 64 * 128; e += THREADS) {
            float* v = Shi + (e >> 7) * LD_N + (e & 127);
            const Split sp(*v);
            *v = sp.hi;
            Slo[v - Shi] = sp.lo;
        }
        for (int e = tid; e < SSD_QMAX * 64; e += THREADS) {
            float* v = Xhi + (e >> 6) * LD_X + (e & 63);
            const Split sp(*v);
            *v = sp.hi;
            Xlo[v - Xhi] = sp.lo;
        }
        __syncthreads();
        float acc[8][4] = {};
        // inter chunk: C [t x n] . S_in^T [n x p]
        if (tb < len)
            for (int k = 0; k < kInter; k += 8) {
                const float* r = Cs + t0 * LD_N + k + tq;
                const Split a[4] = {Split(r[0]), Split(r[8 * LD_N]), Split(r[4]), Split(r[8 * LD_N + 4])};
                const int o = gr * LD_N + k + tq;
                float h0[8], h1[8], l0[8], l1[8];
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    h0[j] = Shi[o + 8 * j * LD_N];
                    h1[j] = Shi[o + 8 * j * LD_N + 4];
                    l0[j] = Slo[o + 8 * j * LD_N];
                    l1[j] = Slo[o + 8 * j * LD_N + 4];
                }
                mma3x8(acc, a, h0, h1, l0, l1);
            }
        const float c0 = cumU[t0], c1 = cumU[t1], e0 = expf(c0), e1 = expf(c1);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            acc[j][0] *= e0;
            acc[j][1] *= e0;
            acc[j][2] *= e1;
            acc[j][3] *= e1;
        }
        // intra chunk: (CB o decay o causal mask) [t x u] . x [u x p]
        auto cbLoad = [&](int k, float (&v)[4]) {
            const int u0 = k + tq, u1 = u0 + 4;
            v[0] = (t0 < len && u0 <= t0) ? cbc[t0 * SSD_QMAX + u0] : 0.f;
            v[1] = (t1 < len && u0 <= t1) ? cbc[t1 * SSD_QMAX + u0] : 0.f;
            v[2] = (t0 < len && u1 <= t0) ? cbc[t0 * SSD_QMAX + u1] : 0.f;
            v[3] = (t1 < len && u1 <= t1) ? cbc[t1 * SSD_QMAX + u1] : 0.f;
        };
        float nxt[4];
        cbLoad(0, nxt);
        for (int k = 0; k < kIntra; k += 8) {
            const float cur[4] = {nxt[0], nxt[1], nxt[2], nxt[3]};
            if (k + 8 < kIntra) cbLoad(k + 8, nxt);
            const int u0 = k + tq, u1 = u0 + 4;
            const Split a[4] = {Split(cur[0] == 0.f ? 0.f : cur[0] * expf(c0 - cumU[u0]) * dtU[u0]),
                                Split(cur[1] == 0.f ? 0.f : cur[1] * expf(c1 - cumU[u0]) * dtU[u0]),
                                Split(cur[2] == 0.f ? 0.f : cur[2] * expf(c0 - cumU[u1]) * dtU[u1]),
                                Split(cur[3] == 0.f ? 0.f : cur[3] * expf(c1 - cumU[u1]) * dtU[u1])};
            const int o = u0 * LD_X + gr;
            float h0[8], h1[8], l0[8], l1[8];
#pragma unroll
            for (int j = 0; j < 8; j++) {
                h0[j] = Xhi[o + 8 * j];
                h1[j] = Xhi[o + 8 * j + 4 * LD_X];
                l0[j] = Xlo[o + 8 * j];
                l1[j] = Xlo[o + 8 * j + 4 * LD_X];
            }
            mma3x8(acc, a, h0, h1, l0, l1);
        }
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int t = tb + gr + (e >> 1) * 8;
            if (t >= len) continue;
            float* yr = y + (size_t)(st + t) * ldY + h * P;
#pragma unroll
            for (int j = 0; j < 8; j++) {
                const int p = 8 * j + 2 * tq + (e & 1);
                if (p >= P) continue;
                const float dd = dPerChannel ? D[h * P + p] : D[h];
                yr[p] = acc[j][e] + dd * (Xhi[t * LD_X + p] + Xlo[t * LD_X + p]);
            }
        }
    }
}
