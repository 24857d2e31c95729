// Experimental SSD kernels for tools/bench/ssd_bench.cu (-DSSD_BENCH_VARIANTS='"ssd_variants.cuh"'); never shipped.
#pragma once
#include <functional>
#include "gemm_sm90.cuh"
#include <vector>

struct BenchArgs {
    const float* x;
    int ldX, xOff, bOff, cOff;
    const float *dt, *cum;
    int T;
    const int *chunkStart, *chunkLen;
    int H, P, N, G;
    float* states;
    const float *passed, *cb, *D;
    float* y;
    int ldY;
};
struct BenchVariant {
    const char* name;
    bool replacesScan;
    std::function<void()> prepare;
    std::function<void(const BenchArgs&)> launch;
};

// No experiment is open. Tried and not shipped (KERNEL_NOTES.md), source in the history:
//  - C split into {hi, lo} bf16 pairs once per token by a small kernel, read by the scan instead of splitting C per
//    head (commit 14d00d8; 477 us against the shipped scan's 401 us per 130M layer: more spills at three CTAs per SM);
//  - the scan with its causal work balanced over the warps, each warp half the channels of two row blocks (commit
//    898c588; 490 against 404 us: more dependent L2 loads on each warp's path);
//  - the scan reading C.B from a shared-memory copy of the chunk's triangle, staged by cp.async once the inter-chunk
//    part is done (commit 720f121; 393 against 399 us: the C.B loads' latency is not what holds the scan);
//  - state passing with the local states loaded 4 or 8 chunks ahead (16 shipped then; commit 9408b1c);
//  - state passing with each thread reading the chunk decays itself after its loads (no barrier), 1, 2 or 4 states
//    a thread, 2 to 6 CTAs an SM: 113-239 us against 108 for the shipped loads-then-shared-decays (session 6).
// ---------------------------------------------------------------------------------------------------------------------
// Tried (session 6, not shipped: 410 us against the mma.sync scan's 391 per 130M layer, 522 against 499 on 1.3B, same
// bits; ssd_results/2026-11-30-scan-wgmma.log): the chunk scan on Hopper's warpgroup tensor cores (sm_90a): ssd_chunk_scan_tc's contract and products (bf16x3,
// fp32 accumulation), but each k-step of a warpgroup's 64 rows is three wgmma.m64n64k16 with the row operand (C, or
// the decayed C.B) in registers and S_in / x read from shared memory by the tensor cores, where the mma.sync kernel
// spent ~24 mma.sync and 8 ldmatrix a warp per k-step (it was bound by instruction issue, KERNEL_NOTES.md).
// S_in [p][n] and x as [p][u] are split once into bf16 hi / lo planes in wgmma's K-major 128-byte-swizzle layout
// (64 rows of 128 bytes per 64 k, chunk j of row r at j ^ (r % 8)). Warpgroup g owns rows t in [64g, 64g + 64); its
// causal part runs the k-steps up to its last row, warps above a step's diagonal adding zeros.
namespace ssd_wg {
constexpr int PLANE = 2 * 64 * 128;  // bytes of one bf16 plane: 64 rows x 128 k (two 64-k tiles of 8 KB)
// S hi, S lo, x hi, x lo (1024-byte aligned planes), then cum [128], dt [128]
constexpr int SCAN_SMEM = 4 * PLANE + 2 * SSD_QMAX * 4 + 1024;
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
using ssd_tc::Split2;

__device__ __forceinline__ void sts(uint32_t a, uint32_t v) { asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(a), "r"(v) : "memory"); }

// Rows [0, 64) x k [0, 128) of src (element (r, k) at src[r * ldR + k * ldK]) split into the hi / lo planes; rows >=
// rowsValid or k >= kValid read 0. Warp w packs k in [16w, 16w + 16) (one 16-byte chunk of every row, 8 rows x 4
// pairs a store: 32 different banks under the swizzle); lane l rows l/4 + 8a, pairs k = 16w + 2(l%4) + 8b. Running
// pointers and per-thread offsets: no per-item index products. 16 loads in flight before any split.
template <bool K_CONTIGUOUS>
__device__ __forceinline__ void pack_planes(uint32_t hi, uint32_t lo, const float* __restrict__ src, size_t ldR, size_t ldK,
                                            int rowsValid, int kValid) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, ro = lane >> 2, wq = lane & 3, k0 = 16 * warp + 2 * wq;
    const float* p0 = src + ro * ldR + k0 * ldK;  // b = 0; b = 1 at + 8 ldK
    const size_t rowStep = 8 * ldR;
    float2 v[16];
#pragma unroll
    for (int a = 0; a < 8; a++, p0 += rowStep) {
        const bool rowOk = 8 * a + ro < rowsValid;
#pragma unroll
        for (int b = 0; b < 2; b++) {
            const float* q = p0 + 8 * b * ldK;
            const int k = k0 + 8 * b;
            if (K_CONTIGUOUS)
                v[2 * a + b] = rowOk && k < kValid ? *reinterpret_cast<const float2*>(q) : make_float2(0.f, 0.f);
            else
                v[2 * a + b] = make_float2(rowOk && k < kValid ? q[0] : 0.f, rowOk && k + 1 < kValid ? q[ldK] : 0.f);
        }
    }
    // pair (r, k) at tile (k / 64) * 8192 + r * 128 + (((k % 64) / 8) ^ (r % 8)) * 16 + (k % 8) * 2, r % 8 = ro
    uint32_t off[2];
#pragma unroll
    for (int b = 0; b < 2; b++) off[b] = (warp >> 2) * 8192 + ro * 128 + ((((2 * warp + b) & 7) ^ ro) << 4) + 4 * wq;
#pragma unroll
    for (int a = 0; a < 8; a++)
#pragma unroll
        for (int b = 0; b < 2; b++) {
            const Split2 sp(v[2 * a + b].x, v[2 * a + b].y);
            sts(hi + off[b] + a * 1024, sp.hi);
            sts(lo + off[b] + a * 1024, sp.lo);
        }
}

// d (64 x 64, fp32) += a (64 x 16 rows of this warpgroup, registers: the mma.m16n8k16 A fragment per warp) . b, with b
// 64 rows (n of the product) x 16 k from shared memory at descriptor db.
__device__ __forceinline__ void wgmma_rs(float (&d)[32], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint64_t db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, "
                 "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
                   "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
                   "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
                   "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "l"(db), "r"(1));
}
// The three bf16x3 products of one k-step, issued; the caller prepares the next step's operand meanwhile.
__device__ __forceinline__ void issue3(float (&d)[32], const Split2 (&a)[4], uint64_t dbHi, uint64_t dbLo) {
    wg_gemm::wg_fence();
    wgmma_rs(d, a[0].lo, a[1].lo, a[2].lo, a[3].lo, dbHi);
    wgmma_rs(d, a[0].hi, a[1].hi, a[2].hi, a[3].hi, dbLo);
    wgmma_rs(d, a[0].hi, a[1].hi, a[2].hi, a[3].hi, dbHi);
    wg_gemm::wg_commit();
}
// Waits for them: a's registers must stay unchanged until the tensor cores have read them, so the empty asm after the
// wait keeps them live to that point (the compiler sees the wgmma asm as their last use).
__device__ __forceinline__ void finish3(float (&d)[32], Split2 (&a)[4]) {
    wg_gemm::wg_wait<0>();
#pragma unroll
    for (int i = 0; i < 4; i++) asm volatile("" : "+r"(a[i].hi), "+r"(a[i].lo)::"memory");
    wg_gemm::touch(d);
}
#endif
}  // namespace ssd_wg

// grid (H * chunks), block 256, dynamic smem ssd_wg::SCAN_SMEM; ssd_chunk_scan_tc's contract.
__device__ __forceinline__ void chunk_scan_wg(
    const float* __restrict__ x, int ldX, int xOff, int cOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, int H, int P, int N, int G,
    const float* __restrict__ states, const float* __restrict__ cb, const float* __restrict__ D, int dPerChannel,
    float* y, int ldY) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using namespace ssd_wg;
    using ssd_tc::Split2;
    const uint32_t sHi = wg_gemm::aligned_smem(), sLo = sHi + PLANE, xHi = sLo + PLANE, xLo = xHi + PLANE;
    extern __shared__ __align__(16) unsigned char ssd_wg_smem[];
    float* cumU = reinterpret_cast<float*>(ssd_wg_smem + (xLo + PLANE - (uint32_t)__cvta_generic_to_shared(ssd_wg_smem)));
    float* dtU = cumU + SSD_QMAX;
    const int h = blockIdx.x % H, c = blockIdx.x / H, g = h / (H / G);
    const int st = chunkStart[c], len = chunkLen[c];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, tq = lane & 3;
    const int wgi = warp >> 2, tb = warp * 16, t0 = tb + gr, t1 = t0 + 8;
    // S_in [p][n] (pairs along n) and x as [p][u] (pairs along u)
    pack_planes<true>(sHi, sLo, states + ((size_t)c * H + h) * P * N, N, 1, P, N);
    pack_planes<false>(xHi, xLo, x + (size_t)st * ldX + xOff + h * P, 1, ldX, P, len);
    for (int u = tid; u < SSD_QMAX; u += 256) {
        cumU[u] = u < len ? cum[(size_t)h * T + st + u] : 0.f;
        dtU[u] = u < len ? dt[(size_t)h * T + st + u] : 0.f;
    }
    wg_gemm::fence_async_smem();  // the planes are read by the tensor cores (async proxy)
    __syncthreads();
    float acc[32];
#pragma unroll
    for (int i = 0; i < 32; i++) acc[i] = 0.f;
    if (64 * wgi < len) {
        // inter chunk: C [t x n] . S_in^T [n x p]
        const float* C0 = x + (size_t)(st + t0) * ldX + cOff + g * N;
        const float* C1 = C0 + 8 * (size_t)ldX;
        const bool r0 = t0 < len, r1 = t1 < len;
        auto loadC = [&](int k, float2 (&v)[4]) {
            const int n0 = k + 2 * tq, n1 = n0 + 8;
            const float2 z = make_float2(0.f, 0.f);
            v[0] = r0 && n0 < N ? *reinterpret_cast<const float2*>(C0 + n0) : z;
            v[1] = r1 && n0 < N ? *reinterpret_cast<const float2*>(C1 + n0) : z;
            v[2] = r0 && n1 < N ? *reinterpret_cast<const float2*>(C0 + n1) : z;
            v[3] = r1 && n1 < N ? *reinterpret_cast<const float2*>(C1 + n1) : z;
        };
        const int kInter = (N + 15) & ~15;
        float2 nxt[4];
        auto splitC = [&](int k, Split2 (&a)[4]) {  // C of step k from nxt; loads step k + 16's
#pragma unroll
            for (int i = 0; i < 4; i++) a[i] = Split2(nxt[i].x, nxt[i].y);
            if (k + 16 < kInter) loadC(k + 16, nxt);
        };
        Split2 a[4], an[4];
        loadC(0, nxt);
        splitC(0, a);
        for (int k = 0; k < kInter; k += 16) {
            const uint32_t o = (k >> 6) * 8192 + (k & 63) * 2;  // k-step's start inside the 128-byte-swizzled rows
            issue3(acc, a, wg_gemm::smem_desc(sHi + o), wg_gemm::smem_desc(sLo + o));
            if (k + 16 < kInter) splitC(k + 16, an);
            finish3(acc, a);
#pragma unroll
            for (int i = 0; i < 4; i++) a[i] = an[i];
        }
        const float c0 = cumU[t0], c1 = cumU[t1], e0 = expf(c0), e1 = expf(c1);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            acc[4 * j] *= e0;
            acc[4 * j + 1] *= e0;
            acc[4 * j + 2] *= e1;
            acc[4 * j + 3] *= e1;
        }
        // intra chunk: (CB o decay o causal mask) [t x u] . x [u x p], k-steps up to the warpgroup's last row
        const float* cbc = cb + ((size_t)c * G + g) * SSD_QMAX * SSD_QMAX;
        auto loadCB = [&](int k, float2 (&v)[4]) {
            const int u0 = k + 2 * tq, u1 = u0 + 8;
            v[0] = *reinterpret_cast<const float2*>(cbc + t0 * SSD_QMAX + u0);
            v[1] = *reinterpret_cast<const float2*>(cbc + t1 * SSD_QMAX + u0);
            v[2] = *reinterpret_cast<const float2*>(cbc + t0 * SSD_QMAX + u1);
            v[3] = *reinterpret_cast<const float2*>(cbc + t1 * SSD_QMAX + u1);
        };
        const int kEnd = min(64 * wgi + 64, (len + 15) & ~15);  // rows t < len need u <= t only
        auto makeM = [&](int k, Split2 (&a)[4]) {  // M of step k from nxt (C.B); loads step k + 16's left of the diagonal
            if (k > tb) {  // above this warp's diagonal: zeros (rows t < k <= u)
#pragma unroll
                for (int i = 0; i < 4; i++) a[i].hi = a[i].lo = 0u;
                return;
            }
            const bool diagonal = k == tb;
            const int u0 = k + 2 * tq, u1 = u0 + 8;
            const float2 cu0 = *reinterpret_cast<const float2*>(cumU + u0), cu1 = *reinterpret_cast<const float2*>(cumU + u1);
            const float2 du0 = *reinterpret_cast<const float2*>(dtU + u0), du1 = *reinterpret_cast<const float2*>(dtU + u1);
            auto m = [&](float v, int t, float ct, int u, float cu, float du) {
                const float r = v * ex2_approx((ct - cu) * SSD_LOG2E) * du;
                return (!diagonal || u <= t) ? r : 0.f;
            };
            a[0] = Split2(m(nxt[0].x, t0, c0, u0, cu0.x, du0.x), m(nxt[0].y, t0, c0, u0 + 1, cu0.y, du0.y));
            a[1] = Split2(m(nxt[1].x, t1, c1, u0, cu0.x, du0.x), m(nxt[1].y, t1, c1, u0 + 1, cu0.y, du0.y));
            a[2] = Split2(m(nxt[2].x, t0, c0, u1, cu1.x, du1.x), m(nxt[2].y, t0, c0, u1 + 1, cu1.y, du1.y));
            a[3] = Split2(m(nxt[3].x, t1, c1, u1, cu1.x, du1.x), m(nxt[3].y, t1, c1, u1 + 1, cu1.y, du1.y));
            if (!diagonal) loadCB(k + 16, nxt);
        };
        loadCB(0, nxt);
        makeM(0, a);
        for (int k = 0; k < kEnd; k += 16) {
            const uint32_t o = (k >> 6) * 8192 + (k & 63) * 2;
            issue3(acc, a, wg_gemm::smem_desc(xHi + o), wg_gemm::smem_desc(xLo + o));
            if (k + 16 < kEnd) makeM(k + 16, an);
            finish3(acc, a);
#pragma unroll
            for (int i = 0; i < 4; i++) a[i] = an[i];
        }
    }
#pragma unroll
    for (int e = 0; e < 4; e += 2) {
        const int t = tb + gr + (e >> 1) * 8;
        if (t >= len) continue;
        const float* xr = x + (size_t)(st + t) * ldX + xOff + h * P;
        float* yr = y + (size_t)(st + t) * ldY + h * P;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const int p = 8 * j + 2 * tq;
            if (p >= P) continue;
            const float2 xv = *reinterpret_cast<const float2*>(xr + p);
            const float d0 = dPerChannel ? D[h * P + p] : D[h], d1 = dPerChannel ? D[h * P + p + 1] : D[h];
            *reinterpret_cast<float2*>(yr + p) = make_float2(acc[4 * j + e] + d0 * xv.x, acc[4 * j + e + 1] + d1 * xv.y);
        }
    }
#else
    __trap();
#endif
}
extern "C" __global__ void __launch_bounds__(256, 3) ssd_chunk_scan_wg(
    const float* __restrict__ x, int ldX, int xOff, int cOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, int H, int P, int N, int G,
    const float* __restrict__ states, const float* __restrict__ cb, const float* __restrict__ D, int dPerChannel,
    float* y, int ldY) {
    chunk_scan_wg(x, ldX, xOff, cOff, dt, cum, T, chunkStart, chunkLen, H, P, N, G, states, cb, D, dPerChannel, y, ldY);
}

extern "C" __global__ void __launch_bounds__(256, 2) scan_wg_2cta(
    const float* __restrict__ x, int ldX, int xOff, int cOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, int H, int P, int N, int G,
    const float* __restrict__ states, const float* __restrict__ cb, const float* __restrict__ D, int dPerChannel,
    float* y, int ldY) {
    chunk_scan_wg(x, ldX, xOff, cOff, dt, cum, T, chunkStart, chunkLen, H, P, N, G, states, cb, D, dPerChannel, y, ldY);
}

// Tried (session 6, lost: 452.9 us with its split kernel against 367.8 for the scan it copies, 570 against 460 on
// 1.3B; 68 bytes of spills at 80 registers; ssd_results/2026-11-30-scan-presplit-c.log): C split into hi / lo bf16
// words once per token by split_c_pairs, read by the scan (scan_presplit_c, the shipped scan otherwise) instead of
// split per head: ~26 fewer instructions a k-step of the inter-chunk part. As in commit 14d00d8, spills decide it.
// grid ceil(T * G * N / 2 / 256), block 256: cHi / cLo [t][G * N / 2] = the bf16 hi / lo of C's pairs.
extern "C" __global__ void split_c_pairs(const float* __restrict__ x, int ldX, int cOff, int T, int GN, uint32_t* cHi,
                                         uint32_t* cLo) {
    const long long id = (long long)blockIdx.x * blockDim.x + threadIdx.x, pairs = (long long)GN / 2;
    if (id >= (long long)T * pairs) return;
    const long long t = id / pairs, w = id % pairs;
    const float2 v = *reinterpret_cast<const float2*>(x + t * ldX + cOff + 2 * w);
    const ssd_tc::Split2 sp(v.x, v.y);
    cHi[id] = sp.hi;
    cLo[id] = sp.lo;
}

extern "C" __global__ void __launch_bounds__(256, 3) scan_presplit_c(
    const uint32_t* __restrict__ cHi, const uint32_t* __restrict__ cLo,
    const float* __restrict__ x, int ldX, int xOff, int cOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, int H, int P, int N, int G,
    const float* __restrict__ states, const float* __restrict__ cb, const float* __restrict__ D, int dPerChannel,
    float* y, int ldY) {
    using namespace ssd_tc;
    using ssd_tc::THREADS;
    extern __shared__ __align__(16) float sm[];
    uint32_t* Shi = reinterpret_cast<uint32_t*>(sm);   // [p][n/2]
    uint32_t* Slo = Shi + 64 * LD_W;
    uint32_t* Xhi = Slo + 64 * LD_W;                    // [p][u/2]
    uint32_t* Xlo = Xhi + 64 * LD_W;
    float* cumU = reinterpret_cast<float*>(Xlo + 64 * LD_W);  // [u]
    float* dtU = cumU + SSD_QMAX;                             // [u]
    const int h = blockIdx.x % H, c = blockIdx.x / H, g = h / (H / G);
    const int st = chunkStart[c], len = chunkLen[c];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gr = lane >> 2, tq = lane & 3, tb = warp * 16;
    const int t0 = tb + gr, t1 = t0 + 8;
    // S_in [p][n] packed over n; x [u][p] packed over u
    pack_row_pairs<THREADS, true>(Shi, Slo, states + ((size_t)c * H + h) * P * N, N, P, N);
    pack_k_pairs<64, true, true>(Xhi, Xlo, x + (size_t)st * ldX + xOff + h * P, ldX, len, P);
    for (int u = tid; u < SSD_QMAX; u += THREADS) {
        cumU[u] = u < len ? cum[(size_t)h * T + st + u] : 0.f;
        dtU[u] = u < len ? dt[(size_t)h * T + st + u] : 0.f;
    }
    __syncthreads();
    float acc[8][4] = {};
    if (tb < len) {
        // inter chunk: C [t x n] . S_in^T [n x p]
        // C split once per token by split_c_pairs: hi / lo words [t][G * N / 2]; lane tq takes pairs k/2 + 2tq, + 1
        const size_t ldW = (size_t)G * N / 2;
        const uint32_t* H0 = cHi + (size_t)(st + t0) * ldW + g * N / 2;
        const uint32_t* L0 = cLo + (size_t)(st + t0) * ldW + g * N / 2;
        const bool r0 = t0 < len, r1 = t1 < len;
        auto loadC = [&](int k, uint2 (&v)[4]) {  // hi t0, hi t1, lo t0, lo t1
            const int w = k / 2 + 2 * tq;
            const uint2 z = make_uint2(0u, 0u);
            const bool ok = 2 * w < N;
            v[0] = r0 && ok ? *reinterpret_cast<const uint2*>(H0 + w) : z;
            v[1] = r1 && ok ? *reinterpret_cast<const uint2*>(H0 + 8 * ldW + w) : z;
            v[2] = r0 && ok ? *reinterpret_cast<const uint2*>(L0 + w) : z;
            v[3] = r1 && ok ? *reinterpret_cast<const uint2*>(L0 + 8 * ldW + w) : z;
        };
        const int kInter = (N + 15) & ~15;
        uint2 nxc[4];
        loadC(0, nxc);
        for (int k = 0; k < kInter; k += 16) {
            Split2 a[4];
            a[0].hi = nxc[0].x, a[0].lo = nxc[2].x;
            a[1].hi = nxc[1].x, a[1].lo = nxc[3].x;
            a[2].hi = nxc[0].y, a[2].lo = nxc[2].y;
            a[3].hi = nxc[1].y, a[3].lo = nxc[3].y;
            if (k + 16 < kInter) loadC(k + 16, nxc);
            uint32_t bh0[8], bh1[8], bl0[8], bl1[8];
            load_b(Shi, Slo, 0, k, lane, bh0, bh1, bl0, bl1);
            mma3x8(acc, a, bh0, bh1, bl0, bl1);
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
        float4 nxt[2];
        const float* cbc = cb + ((size_t)c * G + g) * SSD_QMAX * SSD_QMAX;
        auto loadCB = [&](int k, float4 (&v)[2]) {  // u = k + 4 tq .. + 3 (k_perm: x is packed to match)
            const int u = k + 4 * tq;                  // rows t0, t1 are < 128
            v[0] = *reinterpret_cast<const float4*>(cbc + t0 * SSD_QMAX + u);
            v[1] = *reinterpret_cast<const float4*>(cbc + t1 * SSD_QMAX + u);
        };
        // M[t][u] = CB[t][u] exp(cum_t - cum_u) dt_u. Left of the warp's diagonal block every u < t (< len when t
        // < len): no mask. On it, u > t is masked (CB there may be unwritten). Rows t >= len are never stored.
        auto step = [&](int k, bool diagonal) {
            const int u = k + 4 * tq;
            const float4 cu = *reinterpret_cast<const float4*>(cumU + u), du = *reinterpret_cast<const float4*>(dtU + u);
            auto m = [&](float v, int t, float ct, int uu, float cuu, float duu) {
                const float r = v * ex2_approx((ct - cuu) * SSD_LOG2E) * duu;  // 2^-22 error: far under bf16x3's 2^-16
                return (!diagonal || uu <= t) ? r : 0.f;
            };
            const Split2 a[4] = {Split2(m(nxt[0].x, t0, c0, u, cu.x, du.x), m(nxt[0].y, t0, c0, u + 1, cu.y, du.y)),
                                 Split2(m(nxt[1].x, t1, c1, u, cu.x, du.x), m(nxt[1].y, t1, c1, u + 1, cu.y, du.y)),
                                 Split2(m(nxt[0].z, t0, c0, u + 2, cu.z, du.z), m(nxt[0].w, t0, c0, u + 3, cu.w, du.w)),
                                 Split2(m(nxt[1].z, t1, c1, u + 2, cu.z, du.z), m(nxt[1].w, t1, c1, u + 3, cu.w, du.w))};
            if (!diagonal) loadCB(k + 16, nxt);
            uint32_t bh0[8], bh1[8], bl0[8], bl1[8];
            load_b(Xhi, Xlo, 0, k, lane, bh0, bh1, bl0, bl1);
            mma3x8(acc, a, bh0, bh1, bl0, bl1);
        };
        loadCB(0, nxt);
        for (int k = 0; k < tb; k += 16) step(k, false);
        step(tb, true);
    }
    // columns 2tq, 2tq + 1 of blocks 2J, 2J + 1 are channels 16J + 4tq .. + 3 (p_perm); P % 4 == 0
#pragma unroll
    for (int e = 0; e < 4; e += 2) {
        const int t = tb + gr + (e >> 1) * 8;
        if (t >= len) continue;
        const float* xr = x + (size_t)(st + t) * ldX + xOff + h * P;
        float* yr = y + (size_t)(st + t) * ldY + h * P;
#pragma unroll
        for (int J = 0; J < 4; J++) {
            const int p = 16 * J + 4 * tq;
            if (p >= P) continue;
            const float4 xv = *reinterpret_cast<const float4*>(xr + p);
            const float* dp = D + (dPerChannel ? h * P + p : h);  // any alignment
            const int s = dPerChannel ? 1 : 0;
            const float4 d = make_float4(dp[0], dp[s], dp[2 * s], dp[3 * s]);
            *reinterpret_cast<float4*>(yr + p) = make_float4(acc[2 * J][e] + d.x * xv.x, acc[2 * J][e + 1] + d.y * xv.y,
                                                             acc[2 * J + 1][e] + d.z * xv.z, acc[2 * J + 1][e + 1] + d.w * xv.w);
        }
    }
}

inline std::vector<BenchVariant> bench_variants() {
    return {{"scan_wg 2 CTAs an SM", true,
             [] { CK(cudaFuncSetAttribute(scan_wg_2cta, cudaFuncAttributeMaxDynamicSharedMemorySize, ssd_wg::SCAN_SMEM)); },
             [](const BenchArgs& a) {
                 scan_wg_2cta<<<(a.T / SSD_QMAX) * a.H, 256, ssd_wg::SCAN_SMEM>>>(
                     a.x, a.ldX, a.xOff, a.cOff, a.dt, a.cum, a.T, a.chunkStart, a.chunkLen, a.H, a.P, a.N, a.G,
                     a.passed, a.cb, a.D, 0, a.y, a.ldY);
             }},
            {"scan with C split once per token (+ split_c_pairs)", true,
             [] {
                 CK(cudaFuncSetAttribute(scan_presplit_c, cudaFuncAttributeMaxDynamicSharedMemorySize, ssd_tc::SCAN_SMEM));
             },
             [](const BenchArgs& a) {
                 static uint32_t *hi = nullptr, *lo = nullptr;
                 const size_t words = (size_t)a.T * a.G * a.N / 2;
                 if (!hi) hi = dalloc<uint32_t>(words), lo = dalloc<uint32_t>(words);
                 split_c_pairs<<<(unsigned)((words + 255) / 256), 256>>>(a.x, a.ldX, a.cOff, a.T, a.G * a.N, hi, lo);
                 scan_presplit_c<<<(a.T / SSD_QMAX) * a.H, 256, ssd_tc::SCAN_SMEM>>>(
                     hi, lo, a.x, a.ldX, a.xOff, a.cOff, a.dt, a.cum, a.T, a.chunkStart, a.chunkLen, a.H, a.P, a.N, a.G,
                     a.passed, a.cb, a.D, 0, a.y, a.ldY);
             }},
            {"ssd_chunk_scan_wg", true,
             [] {
                 CK(cudaFuncSetAttribute(ssd_chunk_scan_wg, cudaFuncAttributeMaxDynamicSharedMemorySize, ssd_wg::SCAN_SMEM));
             },
             [](const BenchArgs& a) {
                 ssd_chunk_scan_wg<<<(a.T / SSD_QMAX) * a.H, 256, ssd_wg::SCAN_SMEM>>>(
                     a.x, a.ldX, a.xOff, a.cOff, a.dt, a.cum, a.T, a.chunkStart, a.chunkLen, a.H, a.P, a.N, a.G,
                     a.passed, a.cb, a.D, 0, a.y, a.ldY);
             }}};
}

// State passing variants: same signature and in-place contract as ssd_state_passing_v4 (checked against the fp32
// path's passed states, then timed on a copy of the local states like the shipped kernel).
struct PassingVariant {
    const char* name;
    void (*kernel)(float*, const float*, int, const int*, const int*, const int*, const int*, int, int, float*, long long);
    int vec = 4;  // state elements per thread: grid (ceil(PN / (256 vec)), H, seqs)
};

inline std::vector<PassingVariant> passing_variants() { return {}; }
