// The matrix-heavy SSD steps on tensor cores (chunk states, C.B, chunk scan): the bf16 / fp16 engines' path. Same
// results as ssd_chunk_state / ssd_bmm_cb / ssd_chunk_scan in ssd.cuh (the fp32 engine's path) to about 1e-5 of the
// output scale, but for the bf16 operands below; twin: SsdScan.chunked (with bf16Operands).
//
// Products run as bf16x3 on mma.sync m16n8k16 with fp32 accumulation: each fp32 operand v is split into v_hi =
// bf16(v) and v_lo = bf16(v - v_hi) (16 bits of mantissa together, fp32's range), and a.b is taken as
// a_lo.b_hi + a_hi.b_lo + a_hi.b_hi. Plain TF32 (10 bits) moved a sensitive 130M model's per-document perplexity by
// 1.1 %; 3xTF32 on m16n8k8 was exact enough but bound by instruction issue (tools/bench/KERNEL_NOTES.md).
// Exceptions, where mamba_ssm's kernels read bf16 operands too: the chunk states' product takes (x w) and B in bf16
// (one product) and the local states go to memory in bf16; the scan's C . S_in takes C and the state entering the
// chunk in bf16, and its intra-chunk product M . x takes M = C.B o decay o dt and x in bf16.
// The running and final states, C.B, the skip term D x and every sum stay fp32. The CPU twin rounds alike
// (SsdScan.chunked's bf16Operands).
//
// The operand every warp of a CTA reads (B or the state S, and x) is split once into packed bf16 pairs in shared
// memory, laid out so that each fragment register is one 32-bit load and a warp's loads hit 32 different banks; the
// operand whose rows a warp owns (x.w, C, C.B) is split as its fragments load. The fast path needs N <= 128, P <= 64
// and even, 8-byte aligned rows (GpuSsdScan.tensorCoreEligible); the host falls back to the fp32 kernels otherwise.
#pragma once
#include "ssd.cuh"
#include "gemm_sm90.cuh"

// On sm_90a the products whose other operand sits in shared memory for the whole CTA (the chunk states' B, the scan's
// S_in) run on wgmma with the row operand from registers: the same fragments and, as measured, the same bits.
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define SSD_TC_WGMMA 1
#endif

namespace ssd_tc {
constexpr int THREADS = 256;
constexpr int LD_X = 68;   // floats per staged x row (64 channels + 4): fragment loads down a column miss no bank
constexpr int LD_W = 68;   // 32-bit words per packed row (64 bf16 pairs + 4)
// chunk state, floats: B (bf16 pairs) [128 n][LD_W] | x [128 u][LD_X] | w [128]
constexpr int STATE_SMEM = 4 * (128 * LD_W + SSD_QMAX * LD_X + SSD_QMAX);
// chunk scan, floats: S (bf16) [64 p][LD_W] | x (bf16) [64 p][LD_W] | cum [128] | dt [128]; on sm_90a S as a bf16
// wgmma tile (see pack_sin_tile), 1024-byte aligned, in place of its packed pairs
constexpr int SCAN_SMEM = 4 * (2 * 64 * LD_W + 2 * SSD_QMAX);
constexpr int SCAN_S_TILE = 64 * 128 * 2;  // bytes of the sm_90a S_in tile
static_assert(1024 + SCAN_S_TILE + 4 * (64 * LD_W + 2 * SSD_QMAX) <= SCAN_SMEM, "sm_90a scan layout fits");
// C.B tile, 32-bit words: C head, tail [64 t][LD_W] | B head, tail [64 u][LD_W]
constexpr int BMM_SMEM = 4 * (4 * 64 * LD_W);

// (a, b) = hi + lo, each a packed bf16 pair
struct Split2 {
    uint32_t hi, lo;
    Split2() = default;
    __device__ __forceinline__ Split2(float a, float b) {
        const __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
        hi = *reinterpret_cast<const uint32_t*>(&h);
        lo = pack_bf16(a - __low2float(h), b - __high2float(h));
    }
};

// Four 8x8 b16 matrices from shared memory, in mma fragment order.
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const uint32_t* p) {
    const unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

// Not volatile: the compiler may interleave independent products.
__device__ __forceinline__ void mma_bf16(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                         uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// acc[j] += a (16x16, row) . b_j (16x8, col) for the warp's 8 column blocks j, in bf16x3 (PTX ISA m16n8k16 fragment
// layout). Each pass runs over all j, so 8 independent products separate two that share an accumulator.
__device__ __forceinline__ void mma3x8(float (&acc)[8][4], const Split2 (&a)[4], const uint32_t (&bh0)[8],
                                       const uint32_t (&bh1)[8], const uint32_t (&bl0)[8], const uint32_t (&bl1)[8]) {
#pragma unroll
    for (int j = 0; j < 8; j++) mma_bf16(acc[j], a[0].lo, a[1].lo, a[2].lo, a[3].lo, bh0[j], bh1[j]);
#pragma unroll
    for (int j = 0; j < 8; j++) mma_bf16(acc[j], a[0].hi, a[1].hi, a[2].hi, a[3].hi, bl0[j], bl1[j]);
#pragma unroll
    for (int j = 0; j < 8; j++) mma_bf16(acc[j], a[0].hi, a[1].hi, a[2].hi, a[3].hi, bh0[j], bh1[j]);
}

// Both in bf16 (the chunk states' product, the scan's two): a.b.
__device__ __forceinline__ void mma1x8(float (&acc)[8][4], const uint32_t (&a)[4], const uint32_t (&b0)[8],
                                       const uint32_t (&b1)[8]) {
#pragma unroll
    for (int j = 0; j < 8; j++) mma_bf16(acc[j], a[0], a[1], a[2], a[3], b0[j], b1[j]);
}

// The b fragments of column blocks j = 0..7 from a packed [col][LD_W] operand (words k/2 + tq and k/2 + tq + 4 of
// row col0 + 8j + gr): one ldmatrix.x4 brings both halves of two column blocks. LO false: an operand held in bf16
// alone (hi; lo and bl* untouched).
template <bool LO = true>
__device__ __forceinline__ void load_b(const uint32_t* hi, const uint32_t* lo, int col0, int k, int lane,
                                       uint32_t (&bh0)[8], uint32_t (&bh1)[8], uint32_t (&bl0)[8], uint32_t (&bl1)[8]) {
    const int mat = lane >> 3, r = lane & 7;  // lanes 8i..8i+7 address the rows of matrix i
    const int o = (col0 + 8 * (mat >> 1) + r) * LD_W + (k >> 1) + 4 * (mat & 1);
#pragma unroll
    for (int j = 0; j < 8; j += 2) {
        uint32_t t[4];
        ldsm_x4(t, hi + o + 8 * j * LD_W);
        bh0[j] = t[0], bh1[j] = t[1], bh0[j + 1] = t[2], bh1[j + 1] = t[3];
        if constexpr (LO) {
            ldsm_x4(t, lo + o + 8 * j * LD_W);
            bl0[j] = t[0], bl1[j] = t[1], bl0[j + 1] = t[2], bl1[j + 1] = t[3];
        }
    }
}

// Where the pair of k = 2w, 2w + 1 sits along a packed row when the row operand is loaded 4 k at a time: a lane's
// A fragment for a 16-k step holds k = 2q, 2q + 1 (a0) and 2q + 8, 2q + 9 (a2), so the scan gives lane q the 16 bytes
// at 4q .. 4q + 3 of the step instead (one 16-byte load, not two 8-byte ones) and packs the other operand with k
// permuted alike inside each 16: the pair at 4q + 2h goes to word 4h + q. The product is the same sum.
__device__ __forceinline__ int k_perm(int w) { return (w & ~7) | ((w & 1) << 2) | ((w >> 1) & 3); }
// The scan's output columns (channels p) likewise: lane q's columns 2q, 2q + 1 of column blocks 2J and 2J + 1 are
// made channels 16J + 4q .. + 3 (one 16-byte load of x and store of y), by packing channel p as product column
// p_perm(p) of S_in and x.
__device__ __forceinline__ int p_perm(int p) { return (p & ~15) | (((p >> 1) & 1) << 3) | (((p >> 2) & 3) << 1) | (p & 1); }

// Where the packers put the bf16 pair w (k = 2w, 2w + 1) of operand row r: word row(r) + pair(r, w) of hi / lo (the
// split lets a packer keep a running row pointer). PackedRows: mma.sync's fragments, rows of LD_W words.
// Swizzled128<ROWS>: wgmma's K-major 128-byte-swizzle tiles, ROWS rows of 128 bytes per block of 32 pairs, 16-byte
// chunk ((w % 32) / 4) ^ (r % 8); the whole index in pair() (that form compiled to the scan's hand-written SASS).
struct PackedRows {
    static __device__ int row(int r) { return r * LD_W; }
    static __device__ int pair(int, int w) { return w; }
};
template <int ROWS>
struct Swizzled128 {
    static __device__ int row(int) { return 0; }
    static __device__ int pair(int r, int w) {
        return (w >> 5) * (ROWS * 32) + r * 32 + ((((w & 31) >> 2) ^ (r & 7)) << 2) + (w & 3);
    }
};

// Packs rows [0, 128) (k) x columns [0, COLS) of src (element (k, col) at src[k * ld + col]) rounded to bf16, as pairs
// over k into dst[col][k/2]: the column-major operand. Rows >= rowsValid and columns >= colsValid read 0. A thread keeps
// one column and walks its rows with a running pointer (the per-item 64-bit index products and predicates had made the
// scan's prologue ~45 % of its instructions); it issues 16 items' loads before it packs any. PERM_K / PERM_COL (the
// scan's x): pairs stored as k_perm, columns as p_perm. Words: where a pair goes (PackedRows: dst[col][k/2]).
template <int COLS, bool PERM_K = false, bool PERM_COL = false, class Words = PackedRows>
__device__ __forceinline__ void pack_k_pairs(uint32_t* dst, const float* __restrict__ src, size_t ld, int rowsValid,
                                             int colsValid) {
    constexpr int ITEMS = 64 * COLS / THREADS, BATCH = 16, PAIR_STEP = THREADS / COLS;  // pairs a thread steps
    static_assert(ITEMS % BATCH == 0 && THREADS % COLS == 0, "whole batches, one column a thread");
    const int col = threadIdx.x % COLS, w0 = threadIdx.x / COLS;
    const bool colOk = col < colsValid;
    const float* p = src + (size_t)(2 * w0) * ld + col;
    const size_t step = (size_t)(2 * PAIR_STEP) * ld;
    const int row = PERM_COL ? p_perm(col) : col;
    uint32_t* d = dst + Words::row(row);
#pragma unroll
    for (int b0 = 0; b0 < ITEMS; b0 += BATCH) {
        float v0[BATCH], v1[BATCH];
#pragma unroll
        for (int i = 0; i < BATCH; i++, p += step) {
            const int k = 2 * (w0 + (b0 + i) * PAIR_STEP);
            v0[i] = colOk && k < rowsValid ? p[0] : 0.f;
            v1[i] = colOk && k + 1 < rowsValid ? p[ld] : 0.f;
        }
#pragma unroll
        for (int i = 0; i < BATCH; i++) {
            const int w = w0 + (b0 + i) * PAIR_STEP, at = Words::pair(row, PERM_K ? k_perm(w) : w);
            d[at] = pack_bf16(v0[i], v1[i]);
        }
    }
}

// Packs rows [0, 64) x columns [0, 128) of src (row r at src + r * ld, 8-byte aligned) as pairs along the row into
// hi/lo[r][col/2]: the operand whose k runs along its rows. Rows >= rowsValid and columns >= colsValid read 0. A
// thread keeps one column pair and walks its rows with a running pointer, 16 loads in flight before any split.
// PERMUTED (the scan's S_in): rows stored as p_perm, pairs as k_perm. STREAM: evict-first loads, for a source read once.
// Words: where a pair goes (PackedRows: hi/lo[r][col/2]). A bf16 source is copied pair by pair into hi (lo unused).
template <int NTHREADS, bool PERMUTED = false, bool STREAM = false, class Words = PackedRows, class T = float>
__device__ __forceinline__ void pack_row_pairs(uint32_t* hi, uint32_t* lo, const T* __restrict__ src, size_t ld,
                                               int rowsValid, int colsValid) {
    constexpr bool SPLIT = std::is_same<T, float>::value;  // else bf16: one 32-bit word a pair
    typedef typename std::conditional<SPLIT, float2, uint32_t>::type Pair;
    constexpr int ITEMS = 64 * 64 / NTHREADS, BATCH = 16, ROW_STEP = NTHREADS / 64;
    static_assert(ITEMS % BATCH == 0 && NTHREADS % 64 == 0, "whole batches, one column pair a thread");
    static_assert(!PERMUTED || ROW_STEP == 4, "rows r0 + 4m under p_perm");
    const int w = threadIdx.x & 63, r0 = threadIdx.x >> 6, col = 2 * w;
    const bool colOk = col < colsValid;
    const T* p = src + (size_t)r0 * ld + col;
    const size_t step = (size_t)ROW_STEP * ld;
    const int row0 = PERMUTED ? p_perm(r0) : r0, pair = PERMUTED ? k_perm(w) : w;
    uint32_t* h = hi + Words::row(row0);
    uint32_t* l = lo + Words::row(row0);
#pragma unroll
    for (int b0 = 0; b0 < ITEMS; b0 += BATCH) {
        Pair v[BATCH];
#pragma unroll
        for (int i = 0; i < BATCH; i++, p += step)
            v[i] = colOk && r0 + (b0 + i) * ROW_STEP < rowsValid
                       ? (STREAM ? __ldcs(reinterpret_cast<const Pair*>(p)) : *reinterpret_cast<const Pair*>(p))
                       : Pair{};
#pragma unroll
        for (int i = 0; i < BATCH; i++) {
            // row r0 + 4m (r0 < 4) goes to p_perm(r0) + 16 (m / 4) + 2 (m % 4)
            const int m = b0 + i, off = PERMUTED ? 16 * (m >> 2) + 2 * (m & 3) : m * ROW_STEP;
            const int at = Words::row(off) + Words::pair(row0 + off, pair);
            if constexpr (SPLIT) {
                const Split2 sp(v[i].x, v[i].y);
                h[at] = sp.hi;
                l[at] = sp.lo;
            } else {
                h[at] = v[i];
            }
        }
    }
}

// cp.async of rows [0, ROWS) x floats [0, W) of src (row r at src + r * ld, 16-byte aligned) into dst[r * LD]; rows >=
// rowsValid and columns >= colsValid (a multiple of 4) read 0. Then cp_async_commit / wait and a barrier.
template <int ROWS, int W>
__device__ __forceinline__ void stage(float* dst, int LD, const float* __restrict__ src, size_t ld, int rowsValid,
                                      int colsValid) {
    constexpr int PER_ROW = W / 4, ROW_STEP = THREADS / PER_ROW;
    static_assert(THREADS % PER_ROW == 0 && ROWS % ROW_STEP == 0, "one 16-byte column a thread");
    const int r0 = threadIdx.x / PER_ROW, j = (threadIdx.x % PER_ROW) * 4;
    const bool colOk = j < colsValid;
    const float* p = src + (size_t)r0 * ld + j;
    const size_t step = (size_t)ROW_STEP * ld;
    unsigned d = (unsigned)__cvta_generic_to_shared(dst + r0 * LD + j);
#pragma unroll
    for (int i = 0; i < ROWS / ROW_STEP; i++, p += step, d += ROW_STEP * LD * 4) {
        const bool ok = colOk && r0 + i * ROW_STEP < rowsValid;
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(ok ? p : src), "r"(ok ? 16 : 0));
    }
}

// The chunk-state kernels' shared memory (STATE_SMEM): B in bf16 as chunk_state_product reads it, the head's x
// [128 u][LD_X] and the weights w [128 u]. On sm_90a B is a bf16 tile in wgmma's K-major 128-byte-swizzle layout
// (1024-byte aligned; two blocks of 64 u, each 128 n rows of 128 bytes: element (u, n) in block u / 64, row n, 16-byte
// chunk ((u % 64) / 8) ^ (n % 8)); elsewhere packed pairs over u [128 n][LD_W].
#ifdef SSD_TC_WGMMA
constexpr bool STATE_WG = true;  // the chunk-state kernel's product on wgmma (the walk keeps mma.sync: see below)
#else
constexpr bool STATE_WG = false;
#endif
constexpr int STATE_B_TILE = 128 * 128 * 2;  // bytes of the sm_90a B tile
static_assert(1024 + STATE_B_TILE + 4 * (SSD_QMAX * LD_X + SSD_QMAX) <= STATE_SMEM, "sm_90a layout fits STATE_SMEM");
template <bool WG>
struct StateSmem {
    uint32_t* B;
    float *Xs, *wU;
    __device__ explicit StateSmem(float* sm) {
        if (WG) {
            const uint32_t at = (uint32_t)__cvta_generic_to_shared(sm);
            unsigned char* b = reinterpret_cast<unsigned char*>(sm) + (((at + 1023) & ~1023u) - at);
            B = reinterpret_cast<uint32_t*>(b);
            Xs = reinterpret_cast<float*>(b + STATE_B_TILE);
        } else {
            B = reinterpret_cast<uint32_t*>(sm);
            Xs = sm + 128 * LD_W;
        }
        wU = Xs + SSD_QMAX * LD_X;
    }
};

// Packs B [u][n] (row u at src + u * ld, 128 columns n) rounded to bf16 into m.B in the layout above. Rows >= rowsValid and
// columns >= colsValid read 0. On sm_90a the writes (Swizzled128<128>'s words) are fenced for wgmma's reads (the
// async proxy) before the barrier that publishes them.
template <bool WG>
__device__ __forceinline__ void pack_state_b(const StateSmem<WG>& m, const float* __restrict__ src, size_t ld,
                                             int rowsValid, int colsValid) {
#ifdef SSD_TC_WGMMA
    if (WG) {
        pack_k_pairs<128, false, false, Swizzled128<128>>(m.B, src, ld, rowsValid, colsValid);
        wg_gemm::fence_async_smem();
        return;
    }
#endif
    pack_k_pairs<128>(m.B, src, ld, rowsValid, colsValid);
}

#ifdef SSD_TC_WGMMA
// The scan's S_in [p][n] (bf16, P x N, row stride ld; read once, evict-first) into a wgmma tile of 64 rows:
// pack_row_pairs' relabelling (row p_perm(p), pair k_perm(n / 2)) in the Swizzled128 layout. Rows >= rowsValid and
// columns >= colsValid read 0; the writes are fenced for wgmma's reads before the barrier that publishes them.
__device__ __forceinline__ void pack_sin_tile(uint32_t* tile, const bf16* __restrict__ src, size_t ld, int rowsValid,
                                              int colsValid) {
    pack_row_pairs<THREADS, true, true, Swizzled128<64>>(tile, nullptr, src, ld, rowsValid, colsValid);
    wg_gemm::fence_async_smem();
}
#endif

// The chunk state's per-head inputs for chunk [st, st + len) of head h: its x columns staged into Xs [u][p] by
// cp.async and the weights w_u = exp(cum_last - cum_u) dt_u into wU; `meanwhile()` runs while the copies fly. Returns
// cum_last; ends with a barrier (Xs and wU ready).
template <class F>
__device__ __forceinline__ float stage_head(float* Xs, float* wU, const float* __restrict__ x, int ldX, int xOff, int h,
                                            int P, const float* __restrict__ dt, const float* __restrict__ cum, int T,
                                            int st, int len, F&& meanwhile) {
    stage<SSD_QMAX, 64>(Xs, LD_X, x + (size_t)st * ldX + xOff + h * P, ldX, len, P);
    mma_gemm::cp_async_commit();
    meanwhile();
    const float* cumh = cum + (size_t)h * T + st;
    const float last = cumh[len - 1];
    for (int u = threadIdx.x; u < SSD_QMAX; u += THREADS) wU[u] = u < len ? expf(last - cumh[u]) * dt[(size_t)h * T + st + u] : 0.f;
    mma_gemm::cp_async_wait<0>();
    __syncthreads();
    return last;
}

#ifdef SSD_TC_WGMMA
// acc (8 column blocks of 8 n, as mma.sync's C fragments: wgmma.m64nN's accumulator layout) += a (the warp's 16 rows
// of the warpgroup's 64, mma.sync's A fragment layout) . B tile at descriptor db (16 u x 64 n).
__device__ __forceinline__ void wgmma_m64n64k16(float (&acc)[8][4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                                uint64_t db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, "
                 "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"
                 : "+f"(acc[0][0]), "+f"(acc[0][1]), "+f"(acc[0][2]), "+f"(acc[0][3]), "+f"(acc[1][0]), "+f"(acc[1][1]),
                   "+f"(acc[1][2]), "+f"(acc[1][3]), "+f"(acc[2][0]), "+f"(acc[2][1]), "+f"(acc[2][2]), "+f"(acc[2][3]),
                   "+f"(acc[3][0]), "+f"(acc[3][1]), "+f"(acc[3][2]), "+f"(acc[3][3]), "+f"(acc[4][0]), "+f"(acc[4][1]),
                   "+f"(acc[4][2]), "+f"(acc[4][3]), "+f"(acc[5][0]), "+f"(acc[5][1]), "+f"(acc[5][2]), "+f"(acc[5][3]),
                   "+f"(acc[6][0]), "+f"(acc[6][1]), "+f"(acc[6][2]), "+f"(acc[6][3]), "+f"(acc[7][0]), "+f"(acc[7][1]),
                   "+f"(acc[7][2]), "+f"(acc[7][3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "l"(db), "r"(1));
}
__device__ __forceinline__ void touch_acc(float (&acc)[8][4]) {
#pragma unroll
    for (int j = 0; j < 8; j++) wg_gemm::touch(acc[j]);
}
// acc += a . B for one 16-k step, both in bf16 (the chunk states' product, the scan's C . S_in): B at shared address b,
// the step's 32-byte column of a 128-byte-swizzle tile; the batch is retired before returning.
__device__ __forceinline__ void wgmma1_step(float (&acc)[8][4], const uint32_t (&a)[4], uint32_t b) {
    wg_gemm::wg_fence();
    wgmma_m64n64k16(acc, a[0], a[1], a[2], a[3], wg_gemm::smem_desc(b));
    wg_gemm::wg_commit();
    wg_gemm::wg_wait<0>();
    touch_acc(acc);
}
#endif

// acc += (x * w)^T [16 p of warp w % 4 x kEnd u] . B [kEnd u x 64 n of warp w / 4]: the chunk state's product, from x
// staged in Xs [u][p], the weights w_u = exp(cum_last - cum_u) dt_u in wU and B packed by pack_state_b; x * w is
// rounded to bf16 as its fragments are built. Warp w owns p rows pb = 16 (w % 4).. and n columns nb = 64 (w / 4)..;
// gr = lane / 4, tq = lane % 4. WG (sm_90a only): each warpgroup (its 64 n) issues one wgmma.m64n64k16 a k-step with
// (x w)^T from registers, retired before the next k-step; else 8 mma.sync m16n8k16 a warp. The same bits either way.
template <bool WG>
__device__ __forceinline__ void chunk_state_product(float (&acc)[8][4], const float* Xs, const float* wU,
                                                    const StateSmem<WG>& m, int kEnd, int pb, int nb, int gr, int tq,
                                                    int lane) {
#ifdef SSD_TC_WGMMA
    const uint32_t bAt = (uint32_t)__cvta_generic_to_shared(m.B);
    if (WG) touch_acc(acc);
#endif
    for (int k = 0; k < kEnd; k += 16) {
        const int u0 = k + 2 * tq, u1 = u0 + 8;  // a0/a1: k columns u0, u0+1; a2/a3: u1, u1+1
        const float w00 = wU[u0], w01 = wU[u0 + 1], w10 = wU[u1], w11 = wU[u1 + 1];
        const float* xa = Xs + pb + gr;
        const uint32_t a[4] = {pack_bf16(xa[u0 * LD_X] * w00, xa[(u0 + 1) * LD_X] * w01),
                               pack_bf16(xa[u0 * LD_X + 8] * w00, xa[(u0 + 1) * LD_X + 8] * w01),
                               pack_bf16(xa[u1 * LD_X] * w10, xa[(u1 + 1) * LD_X] * w11),
                               pack_bf16(xa[u1 * LD_X + 8] * w10, xa[(u1 + 1) * LD_X + 8] * w11)};
#ifdef SSD_TC_WGMMA
        if (WG) {
            wgmma1_step(acc, a, bAt + (k >> 6) * (64 * 128 * 2) + nb * 128 + ((k & 63) >> 4) * 32);
            continue;
        }
#endif
        uint32_t b0[8], b1[8];
        load_b<false>(m.B, nullptr, nb, k, lane, b0, b1, b0, b1);
        mma1x8(acc, a, b0, b1);
    }
}

// f(j, e, p, n) for this thread's pairs (acc[j][e], acc[j][e + 1]) of a state in the accumulator layout of
// chunk_state_product: elements (p, n) and (p, n + 1).
template <class F>
__device__ __forceinline__ void for_state_pairs(int pb, int nb, int gr, int tq, F&& f) {
#pragma unroll
    for (int j = 0; j < 8; j++)
#pragma unroll
        for (int e = 0; e < 4; e += 2) f(j, e, pb + gr + (e >> 1) * 8, nb + 8 * j + 2 * tq);
}

// out[p][n] (P x N, row stride N) = this thread's part of a state in the accumulator layout of chunk_state_product;
// evict-first stores: each state is read once, by the passing, the scan or a later call. bf16: the scan's S_in.
template <class T>
__device__ __forceinline__ void store_state(T* out, const float (&acc)[8][4], int P, int N, int pb, int nb, int gr,
                                            int tq) {
    for_state_pairs(pb, nb, gr, tq, [&](int j, int e, int p, int n) {
        if (p >= P || n >= N) return;
        if constexpr (std::is_same<T, float>::value) {
            __stcs(reinterpret_cast<float2*>(out + (size_t)p * N + n), make_float2(acc[j][e], acc[j][e + 1]));
        } else {
            __stcs(reinterpret_cast<unsigned int*>(out + (size_t)p * N + n), pack_bf16(acc[j][e], acc[j][e + 1]));
        }
    });
}

// The state entering a sequence's first chunk: the carried one at in[p][n] (P x N) if carry & 1, else zero.
__device__ __forceinline__ void initial_state(float (&acc)[8][4], const float* in, int carry, int P, int N, int pb,
                                              int nb, int gr, int tq) {
    if (carry & 1)
        for_state_pairs(pb, nb, gr, tq, [&](int j, int e, int p, int n) {
            const float2 v = p < P && n < N ? *reinterpret_cast<const float2*>(in + (size_t)p * N + n) : make_float2(0.f, 0.f);
            acc[j][e] = v.x, acc[j][e + 1] = v.y;
        });
    else
        for_state_pairs(pb, nb, gr, tq, [&](int j, int e, int, int) { acc[j][e] = acc[j][e + 1] = 0.f; });
}
}  // namespace ssd_tc

// grid (chunks, G, ceil((H/G) / headsPerCta)), block 256, dynamic smem ssd_tc::STATE_SMEM. Two CTAs an SM: at three
// (80 registers, no spill) it measured 132.3 -> 142.1 us a 130M layer (ssd_results/2026-11-30-state-3cta-walk-wg.log).
// states[c][h][p][n] = sum_u exp(cum_last - cum_u) dt_u x_u[p] B_u[n], stored in bf16: (x * w)^T [64 p x Q] .
// B [Q x 128 n] per head.
// Warp w owns p rows 16*(w%4).. and n columns 64*(w/4)..; B, shared by the group's heads, is packed once per CTA and
// serves headsPerCta heads (GpuSsdScan.stateHeadsPerCta: a divisor of the group's heads, from a model of the CTA
// waves). carry as ssd_state_passing: without bit 2 (no final state kept) a sequence's last chunk is skipped, its
// state feeds nothing else (tokPos[t]: token t's position in its sequence).
extern "C" __global__ void __launch_bounds__(256, 2) ssd_chunk_state_tc(const float* __restrict__ x, int ldX, int xOff,
                                                                        int bOff, const float* __restrict__ dt,
                                                                        const float* __restrict__ cum, int T,
                                                                        const int* __restrict__ chunkStart,
                                                                        const int* __restrict__ chunkLen,
                                                                        const int* __restrict__ tokPos, int carry, int H,
                                                                        int P, int N, int G, int headsPerCta,
                                                                        bf16* states) {
    using namespace ssd_tc;
    extern __shared__ __align__(16) float sm[];
    const StateSmem<STATE_WG> m(sm);
    float *Xs = m.Xs, *wU = m.wU;
    const int c = blockIdx.x, g = blockIdx.y, hpg = H / G;
    if (!(carry & 2) && (c + 1 == (int)gridDim.x || tokPos[chunkStart[c + 1]] == 0)) return;  // a sequence's last chunk
    const int st = chunkStart[c], len = chunkLen[c];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, tq = lane & 3;
    const int pb = (warp & 3) * 16, nb = (warp >> 2) * 64, kEnd = (len + 15) & ~15;
    pack_state_b(m, x + (size_t)st * ldX + bOff + g * N, ldX, len, N);
    for (int i = 0; i < headsPerCta; i++) {
        const int hl = blockIdx.z * headsPerCta + i;
        if (hl >= hpg) break;
        const int h = g * hpg + hl;
        __syncthreads();  // B is packed; the previous head's readers are done with x and w
        stage_head(Xs, wU, x, ldX, xOff, h, P, dt, cum, T, st, len, [] {});
        float acc[8][4] = {};
        chunk_state_product(acc, Xs, wU, m, kEnd, pb, nb, gr, tq, lane);
        store_state(states + ((size_t)c * H + h) * P * N, acc, P, N, pb, nb, gr, tq);
    }
}

// grid (seqs, G, H/G), block 256, dynamic smem ssd_tc::STATE_SMEM: ssd_chunk_state_tc and ssd_state_passing in one
// kernel that walks sequence s's chunks in order for head h. The running state stays in the registers of
// chunk_state_product's accumulator layout; sin[c] gets the state entering chunk c in bf16 (what
// ssd_state_passing_bf16 leaves), so the local states never go to memory and the passing's read and write of every
// state disappear. The same products and the same decay * S + local (rounded to bf16, as the chunk-state kernel stores
// it) as the two kernels: the same bits. The price: B is packed once a chunk for one head, and a sequence's chunks run
// one after another in one CTA, so it pays only when the CTAs fill the multiprocessors evenly (GpuSsdScan.walkPays).
// carry as ssd_state_passing: bit 1 read the carried state from ssm + s * seqStride + h * P * N,
// bit 2 write the final one there. What nobody reads is skipped: without bit 2 the last chunk's product (it feeds only
// the final state), without bit 1 the first chunk's zero state (the tensor-core scan does not read it).
extern "C" __global__ void __launch_bounds__(256, 2) ssd_state_walk_tc(
    const float* __restrict__ x, int ldX, int xOff, int bOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, const int* __restrict__ seqChunk0,
    const int* __restrict__ seqChunks, int H, int P, int N, int G, bf16* sin, float* ssm, long long seqStride,
    int carry) {
    using namespace ssd_tc;
    extern __shared__ __align__(16) float sm[];
    // mma.sync: on wgmma the walk measured slower on 1.3B, with bf16x3 products (its running state left no registers;
    // ssd_results/2026-11-30-state-wgmma-shipped.log) and with one bf16 product (-state-3cta-walk-wg.log)
    const StateSmem<false> m(sm);
    float *Xs = m.Xs, *wU = m.wU;
    const int s = blockIdx.x, g = blockIdx.y, h = g * (H / G) + blockIdx.z;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, tq = lane & 3;
    const int pb = (warp & 3) * 16, nb = (warp >> 2) * 64;
    const int c0 = seqChunk0[s], nc = seqChunks[s];
    float* carried = ssm + (size_t)s * seqStride + (size_t)h * P * N;
    float S[8][4];  // the state entering the next chunk
    initial_state(S, carried, carry, P, N, pb, nb, gr, tq);
    for (int k = 0; k < nc; k++) {
        const int c = c0 + k, st = chunkStart[c], len = chunkLen[c], kEnd = (len + 15) & ~15;
        // the state entering the chunk, unless it is a fresh sequence's zero state (stored before the product: S
        // changes only after it)
        if (k > 0 || (carry & 1)) store_state(sin + ((size_t)c * H + h) * P * N, S, P, N, pb, nb, gr, tq);
        if (k == nc - 1 && !(carry & 2)) return;
        __syncthreads();  // the previous chunk's readers are done with B, x and w
        const float last = stage_head(Xs, wU, x, ldX, xOff, h, P, dt, cum, T, st, len,
                                      [&] { pack_state_b(m, x + (size_t)st * ldX + bOff + g * N, ldX, len, N); });
        float acc[8][4] = {};
        chunk_state_product(acc, Xs, wU, m, kEnd, pb, nb, gr, tq, lane);
        const float decay = expf(last);
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) S[j][e] = decay * S[j][e] + __bfloat162float(__float2bfloat16_rn(acc[j][e]));
    }
    if (carry & 2) store_state(carried, S, P, N, pb, nb, gr, tq);
}

// grid (chunks, G, 3), block 128, dynamic smem ssd_tc::BMM_SMEM: the lower 64x64 tiles (0,0), (1,0), (1,1) of
// CB[c][g][t][u] = C_t . B_u, as ssd_bmm_cb (the fp32 engine's) but in bf16x3 on tensor cores. Both operands are
// split once into packed pairs along n; warp w owns rows 16w.. of the tile and all 64 columns. Needs N <= 128 and
// even, 8-byte aligned rows (GpuSsdScan.tensorCoreEligible).
extern "C" __global__ void __launch_bounds__(128) ssd_bmm_cb_tc(const float* __restrict__ x, int ldX, int bOff, int cOff,
                                                                const int* __restrict__ chunkStart,
                                                                const int* __restrict__ chunkLen, int G, int N, float* cb) {
    using namespace ssd_tc;
    extern __shared__ __align__(16) float sm[];
    uint32_t* Chi = reinterpret_cast<uint32_t*>(sm);  // [t][n/2]
    uint32_t* Clo = Chi + 64 * LD_W;
    uint32_t* Bhi = Clo + 64 * LD_W;                   // [u][n/2]
    uint32_t* Blo = Bhi + 64 * LD_W;
    const int c = blockIdx.x, g = blockIdx.y, z = blockIdx.z;
    const int t0 = (z == 0 ? 0 : 64), u0 = (z == 2 ? 64 : 0);
    const int st = chunkStart[c], len = chunkLen[c];
    if (t0 >= len) return;
    pack_row_pairs<128>(Chi, Clo, x + (size_t)(st + t0) * ldX + cOff + g * N, ldX, len - t0, N);
    pack_row_pairs<128>(Bhi, Blo, x + (size_t)(st + u0) * ldX + bOff + g * N, ldX, len - u0, N);
    __syncthreads();
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, gr = lane >> 2, tq = lane & 3, tb = 16 * warp;
    float acc[8][4] = {};
    const int kEnd = (N + 15) & ~15;
    for (int k = 0; k < kEnd; k += 16) {
        const int w0 = (k >> 1) + tq, r0 = (tb + gr) * LD_W, r1 = r0 + 8 * LD_W;  // a0 a1 a2 a3: (r0, w0) (r1, w0) (r0, w0+4) (r1, w0+4)
        Split2 a[4];
        a[0].hi = Chi[r0 + w0], a[0].lo = Clo[r0 + w0];
        a[1].hi = Chi[r1 + w0], a[1].lo = Clo[r1 + w0];
        a[2].hi = Chi[r0 + w0 + 4], a[2].lo = Clo[r0 + w0 + 4];
        a[3].hi = Chi[r1 + w0 + 4], a[3].lo = Clo[r1 + w0 + 4];
        uint32_t bh0[8], bh1[8], bl0[8], bl1[8];
        load_b(Bhi, Blo, 0, k, lane, bh0, bh1, bl0, bl1);
        mma3x8(acc, a, bh0, bh1, bl0, bl1);
    }
    float* out = cb + ((size_t)c * G + g) * SSD_QMAX * SSD_QMAX;
#pragma unroll
    for (int e = 0; e < 4; e += 2) {
        const int t = t0 + tb + gr + (e >> 1) * 8;
        if (t >= len) continue;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const int u = u0 + 8 * j + 2 * tq;
            if (u + 1 < len) *reinterpret_cast<float2*>(out + t * SSD_QMAX + u) = make_float2(acc[j][e], acc[j][e + 1]);
            else if (u < len) out[t * SSD_QMAX + u] = acc[j][e];
        }
    }
}

// grid (H * chunks), block 256, dynamic smem ssd_tc::SCAN_SMEM; CTA b covers head b % H of chunk b / H.
// y[t][p] = exp(cum_t) C_t . S_in[p] + sum_{u<=t} CB[t][u] exp(cum_t - cum_u) dt_u x_u[p] + D x_t[p].
// Warp w owns steps t in [16w, 16w + 16) and all channels of the head; the causal part stops at its diagonal. C and
// C.B rows come straight from global memory (L2: every head of the group reads them), one step ahead. Three CTAs per
// SM: the kernel is bound by latency, not by the tensor cores (tools/bench/KERNEL_NOTES.md). Without carry bit 1 (no
// carried states) a sequence's first chunk (tokPos of its first token 0) starts from zero: no S_in, no C . S_in.
//
// GatedOut instead of y (the gated RMSNorm folded in, ngroups 1, norm after the gate): the epilogue writes
// g[t][h*P + p] = bf16(y * silu(z) * w) in gemm_bf16_tn_tiled's pre-tiled layout and sumSq[t][h] = sum_p (y * silu(z))^2;
// the per-row 1/rms is applied to out_proj's output by the next add_rmsnorm (add_rmsnorm_warp's DeltaScale). The
// round trip of y (write, then the norm's read) and the norm's read of z go; z is read here instead.
struct GatedOut {
    const float* z;  // z[t][ldZ] at zOff: in_proj's output
    int ldZ, zOff;
    const float* w;  // the norm weight [H*P]
    bf16* out;       // pre-tiled, tiledRows rows
    int tiledRows;
    float* sumSq;    // [T][H]
};

// The scan's inter-chunk part for a warp's rows t0 and t1 = t0 + 8 (rows >= len read as zero): acc =
// diag(exp(cum_t)) C [t x n] . S_in^T [n x p], C's rows t0 (at C0) and t1 read from L2 one 16-n step ahead; lane tq
// takes n = k + 4 tq .. + 3 of a step (k_perm: S_in is packed to match; N % 4 == 0). step(k, a) adds the step's
// product of the C fragments a (rounded to bf16) into acc.
template <class Step>
__device__ __forceinline__ void scan_inter(float (&acc)[8][4], const float* __restrict__ C0, int ldX, bool r0, bool r1,
                                           int N, int tq, float c0, float c1, Step&& step) {
    using namespace ssd_tc;
    const float* C1 = C0 + 8 * (size_t)ldX;
    auto loadC = [&](int k, float4 (&v)[2]) {
        const int n = k + 4 * tq;
        const float4 z = make_float4(0.f, 0.f, 0.f, 0.f);
        v[0] = r0 && n < N ? *reinterpret_cast<const float4*>(C0 + n) : z;
        v[1] = r1 && n < N ? *reinterpret_cast<const float4*>(C1 + n) : z;
    };
    const int kInter = (N + 15) & ~15;
#ifdef SSD_TC_WGMMA
    // the rows' lines to L1 first (a quad's lane tq takes line tq of each row), then each step loads its C just before
    // it: a C prefetched in registers across the wgmma spilled 44 bytes at three CTAs an SM
    if (r0 && 32 * tq < N) asm volatile("prefetch.global.L1 [%0];" ::"l"(C0 + 32 * tq));
    if (r1 && 32 * tq < N) asm volatile("prefetch.global.L1 [%0];" ::"l"(C1 + 32 * tq));
    for (int k = 0; k < kInter; k += 16) {
        float4 cur[2];
        loadC(k, cur);
        const uint32_t a[4] = {pack_bf16(cur[0].x, cur[0].y), pack_bf16(cur[1].x, cur[1].y),
                               pack_bf16(cur[0].z, cur[0].w), pack_bf16(cur[1].z, cur[1].w)};
        step(k, a);
    }
#else
    float4 nxt[2];
    loadC(0, nxt);
    for (int k = 0; k < kInter; k += 16) {
        const uint32_t a[4] = {pack_bf16(nxt[0].x, nxt[0].y), pack_bf16(nxt[1].x, nxt[1].y),
                               pack_bf16(nxt[0].z, nxt[0].w), pack_bf16(nxt[1].z, nxt[1].w)};
        if (k + 16 < kInter) loadC(k + 16, nxt);
        step(k, a);
    }
#endif
    const float e0 = expf(c0), e1 = expf(c1);
#pragma unroll
    for (int j = 0; j < 8; j++) {
        acc[j][0] *= e0;
        acc[j][1] *= e0;
        acc[j][2] *= e1;
        acc[j][3] *= e1;
    }
}

template <bool GATED>
__device__ __forceinline__ void chunk_scan_tc(
    const float* __restrict__ x, int ldX, int xOff, int cOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, const int* __restrict__ tokPos, int carry,
    int H, int P, int N, int G, const bf16* __restrict__ sin, const float* __restrict__ cb, const float* __restrict__ D,
    int dPerChannel, float* y, int ldY, const GatedOut& go) {
    using namespace ssd_tc;
    extern __shared__ __align__(16) float scan_sm[];
#ifdef SSD_TC_WGMMA
    const uint32_t at0 = (uint32_t)__cvta_generic_to_shared(scan_sm);
    unsigned char* tiles = reinterpret_cast<unsigned char*>(scan_sm) + (((at0 + 1023) & ~1023u) - at0);
    uint32_t* S = reinterpret_cast<uint32_t*>(tiles);  // pack_sin_tile
    uint32_t* X = reinterpret_cast<uint32_t*>(tiles + SCAN_S_TILE);  // [p][u/2]
#else
    uint32_t* S = reinterpret_cast<uint32_t*>(scan_sm);  // [p][n/2]
    uint32_t* X = S + 64 * LD_W;  // [p][u/2]
#endif
    float* cumU = reinterpret_cast<float*>(X + 64 * LD_W);  // [u]
    float* dtU = cumU + SSD_QMAX;                             // [u]
    const int h = blockIdx.x % H, c = blockIdx.x / H, g = h / (H / G);
    const int st = chunkStart[c], len = chunkLen[c];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, tq = lane & 3, tb = warp * 16;
    const int t0 = tb + gr, t1 = t0 + 8;
    const bool stateIn = (carry & 1) || tokPos[st] != 0;
    // S_in [p][n] packed over n (bf16 from the passing; read once: evict-first loads leave L2 to the C and C.B rows
    // every head of the chunk reads; ssd_bench: 2-3 % off the scan); x [u][p] packed over u in bf16
    const bf16* sinH = sin + ((size_t)c * H + h) * P * N;
#ifdef SSD_TC_WGMMA
    if (stateIn) pack_sin_tile(S, sinH, N, P, N);
#else
    if (stateIn) pack_row_pairs<THREADS, true, true>(S, nullptr, sinH, N, P, N);
#endif
    pack_k_pairs<64, true, true>(X, x + (size_t)st * ldX + xOff + h * P, ldX, len, P);
    for (int u = tid; u < SSD_QMAX; u += THREADS) {
        cumU[u] = u < len ? cum[(size_t)h * T + st + u] : 0.f;
        dtU[u] = u < len ? dt[(size_t)h * T + st + u] : 0.f;
    }
    __syncthreads();
    float acc[8][4] = {};
#ifdef SSD_TC_WGMMA
    // inter chunk on wgmma: two m64n64k16 a k-step for each warpgroup's 64 rows t (with a row below len); the same
    // C fragments and sums as the mma.sync path (ssd_results/2026-11-30-scan-wgmma-inter.log)
    if (stateIn && 64 * (warp >> 2) < len) {
        const uint32_t sAt = (uint32_t)__cvta_generic_to_shared(S);
        touch_acc(acc);
        scan_inter(acc, x + (size_t)(st + t0) * ldX + cOff + g * N, ldX, t0 < len, t1 < len, N, tq, cumU[t0], cumU[t1],
                   [&](int k, const uint32_t (&a)[4]) {
                       wgmma1_step(acc, a, sAt + (k >> 6) * (64 * 128) + ((k & 63) >> 4) * 32);
                   });
    }
#endif
    if (tb < len) {
        const float c0 = cumU[t0], c1 = cumU[t1];
        float4 nxt[2];
#ifndef SSD_TC_WGMMA
        if (stateIn)  // inter chunk on mma.sync, a warp
            scan_inter(acc, x + (size_t)(st + t0) * ldX + cOff + g * N, ldX, t0 < len, t1 < len, N, tq, c0, c1,
                       [&](int k, const uint32_t (&a)[4]) {
                uint32_t b0[8], b1[8];
                load_b<false>(S, nullptr, 0, k, lane, b0, b1, b0, b1);
                mma1x8(acc, a, b0, b1);
            });
#endif
        // intra chunk: (CB o decay o causal mask) [t x u] . x [u x p]
        const float* cbc = cb + ((size_t)c * G + g) * SSD_QMAX * SSD_QMAX;
        auto loadCB = [&](int k, float4 (&v)[2]) {  // u = k + 4 tq .. + 3 (k_perm: x is packed to match)
            const int u = k + 4 * tq;                  // rows t0, t1 are < 128
            v[0] = *reinterpret_cast<const float4*>(cbc + t0 * SSD_QMAX + u);
            v[1] = *reinterpret_cast<const float4*>(cbc + t1 * SSD_QMAX + u);
        };
        // M[t][u] = CB[t][u] exp(cum_t - cum_u) dt_u, rounded to bf16. Left of the warp's diagonal block every u < t
        // (< len when t < len): no mask. On it, u > t is masked (CB there may be unwritten). Rows t >= len are never stored.
        auto step = [&](int k, bool diagonal) {
            const int u = k + 4 * tq;
            const float4 cu = *reinterpret_cast<const float4*>(cumU + u), du = *reinterpret_cast<const float4*>(dtU + u);
            auto m = [&](float v, int t, float ct, int uu, float cuu, float duu) {
                const float r = v * ex2_approx((ct - cuu) * SSD_LOG2E) * duu;  // 2^-22 error: far under bf16's 2^-9
                return (!diagonal || uu <= t) ? r : 0.f;
            };
            const uint32_t a[4] = {pack_bf16(m(nxt[0].x, t0, c0, u, cu.x, du.x), m(nxt[0].y, t0, c0, u + 1, cu.y, du.y)),
                                   pack_bf16(m(nxt[1].x, t1, c1, u, cu.x, du.x), m(nxt[1].y, t1, c1, u + 1, cu.y, du.y)),
                                   pack_bf16(m(nxt[0].z, t0, c0, u + 2, cu.z, du.z), m(nxt[0].w, t0, c0, u + 3, cu.w, du.w)),
                                   pack_bf16(m(nxt[1].z, t1, c1, u + 2, cu.z, du.z), m(nxt[1].w, t1, c1, u + 3, cu.w, du.w))};
            if (!diagonal) loadCB(k + 16, nxt);
            uint32_t b0[8], b1[8];
            load_b<false>(X, nullptr, 0, k, lane, b0, b1, b0, b1);
            mma1x8(acc, a, b0, b1);
        };
        loadCB(0, nxt);
        for (int k = 0; k < tb; k += 16) step(k, false);
        step(tb, true);
    }
    // columns 2tq, 2tq + 1 of blocks 2J, 2J + 1 are channels 16J + 4tq .. + 3 (p_perm); P % 4 == 0. One D a head is
    // loaded once: four loads a 16-channel step cost the scan ~2 % (ssd_bench).
    const float dHead = dPerChannel ? 0.f : D[h];
#pragma unroll
    for (int e = 0; e < 4; e += 2) {
        const int t = tb + gr + (e >> 1) * 8;
        if (!GATED && t >= len) continue;
        const bool valid = t < len;  // a quad shares t: the sum's shuffles below run in every lane
        float ss = 0.f;
        const float* xr = x + (size_t)(st + t) * ldX + xOff + h * P;
        // the row's z, all four loads in flight before the first is used: loaded inside the loop, each 16-channel
        // step waited for its own z behind the silu's division branch (ncu: a fifth of the scan's stall samples;
        // batched, the scan went 11.17 -> 10.60 ms a 130M batch). Read-only loads (ld.global.nc): 0.6 ms less than
        // plain loads; z prefetched to L2 at the kernel's start cost 0.8 ms more. x batched too spills 56 bytes.
        float4 zs[4];
        if constexpr (GATED) {
#pragma unroll
            for (int J = 0; J < 4; J++) {
                const int p = 16 * J + 4 * tq;
                if (valid && p < P)
                    zs[J] = __ldg(reinterpret_cast<const float4*>(go.z + (size_t)(st + t) * go.ldZ + go.zOff + h * P + p));
            }
        }
#pragma unroll
        for (int J = 0; J < 4; J++) {
            const int p = 16 * J + 4 * tq;
            if (!valid || p >= P) continue;
            const float4 xv = *reinterpret_cast<const float4*>(xr + p);
            const float* dp = D + h * P + p;  // any alignment
            const float4 d = dPerChannel ? make_float4(dp[0], dp[1], dp[2], dp[3]) : make_float4(dHead, dHead, dHead, dHead);
            const float4 yv = make_float4(acc[2 * J][e] + d.x * xv.x, acc[2 * J][e + 1] + d.y * xv.y,
                                          acc[2 * J + 1][e] + d.z * xv.z, acc[2 * J + 1][e + 1] + d.w * xv.w);
            if constexpr (GATED) {
                const float4 zv = zs[J];
                const float4 wv = __ldg(reinterpret_cast<const float4*>(go.w + h * P + p));
                const float v[4] = {yv.x * silu_f(zv.x), yv.y * silu_f(zv.y), yv.z * silu_f(zv.z), yv.w * silu_f(zv.w)};
                const float wr[4] = {wv.x, wv.y, wv.z, wv.w};
                union { uint2 u; bf16 b[4]; } pk;
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    ss += v[i] * v[i];
                    pk.b[i] = __float2bfloat16_rn(v[i] * wr[i]);
                }
                // 4 columns from a multiple of 4: one 8-byte piece of a 16-byte chunk of the tiled layout
                *reinterpret_cast<uint2*>(go.out + tiled_index(st + t, h * P + p, go.tiledRows)) = pk.u;
            } else {
                *reinterpret_cast<float4*>(y + (size_t)(st + t) * ldY + h * P + p) = yv;
            }
        }
        if constexpr (GATED) {
            ss += __shfl_xor_sync(0xffffffffu, ss, 1);
            ss += __shfl_xor_sync(0xffffffffu, ss, 2);
            if (valid && tq == 0) go.sumSq[(size_t)(st + t) * H + h] = ss;
        }
    }
}

extern "C" __global__ void __launch_bounds__(256, 3) ssd_chunk_scan_tc(
    const float* __restrict__ x, int ldX, int xOff, int cOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, const int* __restrict__ tokPos, int carry,
    int H, int P, int N, int G, const bf16* __restrict__ sin, const float* __restrict__ cb, const float* __restrict__ D,
    int dPerChannel, float* y, int ldY) {
    chunk_scan_tc<false>(x, ldX, xOff, cOff, dt, cum, T, chunkStart, chunkLen, tokPos, carry, H, P, N, G, sin, cb, D,
                         dPerChannel, y, ldY, GatedOut{});
}

// The same with the gated RMSNorm's GatedOut epilogue instead of y.
extern "C" __global__ void __launch_bounds__(256, 3) ssd_chunk_scan_gated_tc(
    const float* __restrict__ x, int ldX, int xOff, int cOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, const int* __restrict__ tokPos, int carry,
    int H, int P, int N, int G, const bf16* __restrict__ sin, const float* __restrict__ cb, const float* __restrict__ D,
    int dPerChannel,
    const float* __restrict__ z, int ldZ, int zOff, const float* __restrict__ w, bf16* __restrict__ out, int tiledRows,
    float* __restrict__ sumSq) {
    chunk_scan_tc<true>(x, ldX, xOff, cOff, dt, cum, T, chunkStart, chunkLen, tokPos, carry, H, P, N, G, sin, cb, D,
                        dPerChannel, nullptr, 0, GatedOut{z, ldZ, zOff, w, out, tiledRows, sumSq});
}
