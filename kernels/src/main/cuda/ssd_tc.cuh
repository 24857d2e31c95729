// Tensor-core versions of the two heavy SSD kernels (ssd_chunk_state, ssd_chunk_scan): the same tiles staged in
// shared memory, multiplied with WMMA m16n16k8 TF32 in the 3xTF32 scheme (a*b ~ a_hi*b_hi + a_hi*b_lo + a_lo*b_hi,
// hi/lo the TF32 split of each fp32 operand), which keeps fp32 accuracy at several times the SIMT rate.
// 128 threads: 4 warps in 2 x 2, each 32 x 32 of the 64 x 64 output tile. Twin: ssdspark.kernels.SsdScan.chunked.
// Opt-in (-Dssdspark.ssd.tc=true): measured slower than the SIMT kernels on an H200 (chunk scan 39.8 vs 22.2 ms,
// chunk state 16.1 vs 12.7 ms per 130M batch of 32 K tokens); an mma.sync version with conflict-free fragment
// loads is the next step.
#pragma once
#include <mma.h>
#include "ssd.cuh"

namespace ssd_tc {
using namespace nvcuda;
typedef wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> FragA;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> FragB;
typedef wmma::fragment<wmma::accumulator, 16, 16, 8, float> FragC;

template <typename F>
__device__ __forceinline__ void split(const F& x, F& hi, F& lo) {
#pragma unroll
    for (int i = 0; i < x.num_elements; i++) {
        const float v = x.x[i], h = wmma::__float_to_tf32(v);
        hi.x[i] = h;
        lo.x[i] = wmma::__float_to_tf32(v - h);
    }
}

// acc[i][j] += A[rows wr*32+i*16..][k] . B[k][cols wc*32+j*16..] over the 16 k of the staged tiles.
// As[k][row] (A column-major, ldm SSD_LDS), Bs[k][col] (B row-major, ldm SSD_LDS).
__device__ __forceinline__ void mma_tile16(FragC (&acc)[2][2], const float (*As)[SSD_LDS], const float (*Bs)[SSD_LDS],
                                           int wr, int wc) {
#pragma unroll
    for (int kk = 0; kk < 16; kk += 8) {
        FragA a[2], ah[2], al[2];
        FragB b[2], bh[2], bl[2];
#pragma unroll
        for (int i = 0; i < 2; i++) {
            wmma::load_matrix_sync(a[i], &As[kk][wr * 32 + i * 16], SSD_LDS);
            split(a[i], ah[i], al[i]);
        }
#pragma unroll
        for (int j = 0; j < 2; j++) {
            wmma::load_matrix_sync(b[j], &Bs[kk][wc * 32 + j * 16], SSD_LDS);
            split(b[j], bh[j], bl[j]);
        }
#pragma unroll
        for (int i = 0; i < 2; i++)
#pragma unroll
            for (int j = 0; j < 2; j++) {
                wmma::mma_sync(acc[i][j], al[i], bh[j], acc[i][j]);
                wmma::mma_sync(acc[i][j], ah[i], bl[j], acc[i][j]);
                wmma::mma_sync(acc[i][j], ah[i], bh[j], acc[i][j]);
            }
    }
}

__device__ __forceinline__ void zero(FragC (&acc)[2][2]) {
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.f);
}

// acc -> Os[64][SSD_LDS] (row-major)
__device__ __forceinline__ void store(float (*Os)[SSD_LDS], FragC (&acc)[2][2], int wr, int wc) {
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++)
            wmma::store_matrix_sync(&Os[wr * 32 + i * 16][wc * 32 + j * 16], acc[i][j], SSD_LDS, wmma::mem_row_major);
}
}  // namespace ssd_tc

// grid (chunks, H, ceil(P/64)*ceil(N/64)), block 128. Same result as ssd_chunk_state.
extern "C" __global__ void __launch_bounds__(128) ssd_chunk_state_tc(const float* __restrict__ x, int ldX, int xOff,
                                                                     int bOff, const float* __restrict__ dt,
                                                                     const float* __restrict__ cum, int T,
                                                                     const int* __restrict__ chunkStart,
                                                                     const int* __restrict__ chunkLen, int H, int P,
                                                                     int N, int G, float* states) {
    using namespace ssd_tc;
    __shared__ float wU[SSD_QMAX];
    __shared__ __align__(32) float Xs[16][SSD_LDS];
    __shared__ __align__(32) float Bs[16][SSD_LDS];
    __shared__ __align__(32) float Os[64][SSD_LDS];
    const int c = blockIdx.x, h = blockIdx.y, tilesN = (N + 63) / 64;
    const int p0 = (blockIdx.z / tilesN) * 64, n0 = (blockIdx.z % tilesN) * 64;
    const int g = h / (H / G), tid = threadIdx.x, warp = tid >> 5, wr = warp >> 1, wc = warp & 1;
    const int st = chunkStart[c], len = chunkLen[c];
    const float* dth = dt + (size_t)h * T + st;
    const float* cumh = cum + (size_t)h * T + st;
    const float last = cumh[len - 1];
    for (int u = tid; u < len; u += 128) wU[u] = expf(last - cumh[u]) * dth[u];
    FragC acc[2][2];
    zero(acc);
    float xr[8], br[8];
    auto fetch = [&](int u0) {
#pragma unroll
        for (int k = 0; k < 8; k++) {
            const int id = tid + k * 128, uu = id >> 6, q = id & 63, u = u0 + uu;
            const size_t row = (size_t)(st + u) * ldX;
            xr[k] = (u < len && p0 + q < P) ? x[row + xOff + h * P + p0 + q] : 0.f;
            br[k] = (u < len && n0 + q < N) ? x[row + bOff + g * N + n0 + q] : 0.f;
        }
    };
    fetch(0);
    for (int u0 = 0; u0 < len; u0 += 16) {
        __syncthreads();
#pragma unroll
        for (int k = 0; k < 8; k++) {
            const int id = tid + k * 128, uu = id >> 6, q = id & 63, u = u0 + uu;
            Xs[uu][q] = u < len ? wU[u] * xr[k] : 0.f;  // A[p][u] = Xs[u][p]: column-major
            Bs[uu][q] = br[k];
        }
        __syncthreads();
        if (u0 + 16 < len) fetch(u0 + 16);
        mma_tile16(acc, Xs, Bs, wr, wc);
    }
    store(Os, acc, wr, wc);
    __syncthreads();
    for (int id = tid; id < 64 * 64; id += 128) {
        const int i = id >> 6, j = id & 63, p = p0 + i, n = n0 + j;
        if (p < P && n < N) states[(((size_t)c * H + h) * P + p) * N + n] = Os[i][j];
    }
}

// grid (chunks, H, 2*ceil(P/64)), block 128. Same result as ssd_chunk_scan; exp(cum_t) is folded into C_t.
extern "C" __global__ void __launch_bounds__(128) ssd_chunk_scan_tc(
    const float* __restrict__ x, int ldX, int xOff, int cOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, int H, int P, int N, int G,
    const float* __restrict__ states, const float* __restrict__ cb, const float* __restrict__ D, int dPerChannel,
    float* y, int ldY) {
    using namespace ssd_tc;
    __shared__ float cumU[SSD_QMAX], dtU[SSD_QMAX];
    __shared__ __align__(32) float As[16][SSD_LDS];
    __shared__ __align__(32) float Bs[16][SSD_LDS];
    __shared__ __align__(32) float Os[64][SSD_LDS];
    const int c = blockIdx.x, h = blockIdx.y, t0 = (blockIdx.z & 1) * 64, p0 = (blockIdx.z >> 1) * 64;
    const int st = chunkStart[c], len = chunkLen[c];
    if (t0 >= len) return;
    const int g = h / (H / G), tid = threadIdx.x, warp = tid >> 5, wr = warp >> 1, wc = warp & 1;
    for (int u = tid; u < len; u += 128) {
        cumU[u] = cum[(size_t)h * T + st + u];
        dtU[u] = dt[(size_t)h * T + st + u];
    }
    __syncthreads();
    FragC acc[2][2];
    zero(acc);
    // inter chunk: (exp(cum_t) C_t) . S_in[p][:]
    const float* S = states + ((size_t)c * H + h) * P * N;
    float ar[8], br[8];
    auto fetchInter = [&](int n0) {
#pragma unroll
        for (int k = 0; k < 8; k++) {
            const int id = tid + k * 128, r = id >> 4, nn = id & 15, n = n0 + nn;
            ar[k] = (t0 + r < len && n < N) ? x[(size_t)(st + t0 + r) * ldX + cOff + g * N + n] : 0.f;
            br[k] = (p0 + r < P && n < N) ? S[(size_t)(p0 + r) * N + n] : 0.f;
        }
    };
    if (N > 0) fetchInter(0);
    for (int n0 = 0; n0 < N; n0 += 16) {
        __syncthreads();
#pragma unroll
        for (int k = 0; k < 8; k++) {
            const int id = tid + k * 128, r = id >> 4, nn = id & 15, t = t0 + r;
            As[nn][r] = t < len ? ar[k] * expf(cumU[t]) : 0.f;
            Bs[nn][r] = br[k];
        }
        __syncthreads();
        if (n0 + 16 < N) fetchInter(n0 + 16);
        mma_tile16(acc, As, Bs, wr, wc);
    }
    // intra chunk: masked (CB o decay) . X
    const float* cbc = cb + ((size_t)c * G + g) * SSD_QMAX * SSD_QMAX;
    const int uEnd = min(t0 + 64, len);
    auto fetchIntra = [&](int u0) {
#pragma unroll
        for (int k = 0; k < 8; k++) {
            const int id = tid + k * 128;
            {
                const int r = id >> 4, uu = id & 15, t = t0 + r, u = u0 + uu;
                ar[k] = (t < len && u <= t) ? cbc[t * SSD_QMAX + u] : 0.f;
            }
            {
                const int uu = id >> 6, q = id & 63, u = u0 + uu;
                br[k] = (u < len && p0 + q < P) ? x[(size_t)(st + u) * ldX + xOff + h * P + p0 + q] : 0.f;
            }
        }
    };
    fetchIntra(0);
    for (int u0 = 0; u0 < uEnd; u0 += 16) {
        __syncthreads();
#pragma unroll
        for (int k = 0; k < 8; k++) {
            const int id = tid + k * 128;
            {
                const int r = id >> 4, uu = id & 15, t = t0 + r, u = u0 + uu;
                As[uu][r] = (t < len && u <= t) ? ar[k] * expf(cumU[t] - cumU[u]) * dtU[u] : 0.f;
            }
            Bs[id >> 6][id & 63] = br[k];
        }
        __syncthreads();
        if (u0 + 16 < uEnd) fetchIntra(u0 + 16);
        mma_tile16(acc, As, Bs, wr, wc);
    }
    store(Os, acc, wr, wc);
    __syncthreads();
    for (int id = tid; id < 64 * 64; id += 128) {
        const int i = id >> 6, j = id & 63, t = t0 + i, p = p0 + j;
        if (t >= len || p >= P) continue;
        const float dd = dPerChannel ? D[h * P + p] : D[h];
        y[(size_t)(st + t) * ldY + h * P + p] = Os[i][j] + dd * x[(size_t)(st + t) * ldX + xOff + h * P + p];
    }
}
