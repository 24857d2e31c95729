// The SSD chunked scan of Mamba-2 over a packed varlen batch. Twin: ssdspark.kernels.SsdScan.chunked.
//
// Chunks never straddle sequences: sequence s is cut into chunks of at most QMAX tokens starting at its first
// token (chunk tables built on the host), so no state leaks across a document boundary. Per layer:
//   1. ssd_chunk_cumsum  dt = clamp(softplus(dt_raw + dt_bias)), cum = within-chunk cumsum of dt*A   [H][T]
//   2. ssd_chunk_state   local end state of each chunk from a zero start                           [chunk][H][P][N]
//   3. ssd_state_passing per sequence, in chunk order: replaces each local state by the state entering the
//                        chunk (starting from the sequence's carried state) and writes the final state back
//   4. ssd_bmm_cb        CB[t][u] = C_t . B_u per chunk and group                                   [chunk][G][Q][Q]
//   5. ssd_chunk_scan    y = exp(cum_t) C_t.S_in + sum_{u<=t} CB[t][u] exp(cum_t - cum_u) dt_u x_u + D x_t
// Head h reads B/C group h / (H/G). Matrix work is fp32 on 64x64 SIMT tiles (4x4 per thread, 256 threads).
#pragma once
#include "common.cuh"
#include <type_traits>

#define SSD_QMAX 128
#define SSD_LDS SIMT_LDS

// grid (chunks, ceil(H / CUMSUM_HEADS)), block 128: token t of the chunk is thread t, which reads the raw dt of the
// CTA's heads from its row at once (neighbouring columns: one sector, where a CTA per head read a sector per value).
#define CUMSUM_HEADS 8
extern "C" __global__ void ssd_chunk_cumsum(const float* __restrict__ dtIn, int ldDt, int dtOff,
                                            const float* __restrict__ dtBias, const float* __restrict__ A,
                                            float dtMin, float dtMax, const int* __restrict__ chunkStart,
                                            const int* __restrict__ chunkLen, int T, int H, float* dt, float* cum) {
    __shared__ float ws[CUMSUM_HEADS][SSD_QMAX / 32];
    const int c = blockIdx.x, h0 = blockIdx.y * CUMSUM_HEADS, t = threadIdx.x, lane = t & 31, warp = t >> 5;
    const int st = chunkStart[c], len = chunkLen[c];
    float dtv[CUMSUM_HEADS], v[CUMSUM_HEADS];
#pragma unroll
    for (int i = 0; i < CUMSUM_HEADS; i++)
        dtv[i] = t < len && h0 + i < H ? dtIn[(size_t)(st + t) * ldDt + dtOff + h0 + i] : 0.f;
#pragma unroll
    for (int i = 0; i < CUMSUM_HEADS; i++) {
        const int h = h0 + i;
        v[i] = 0.f;
        if (t < len && h < H) {
            dtv[i] = fminf(fmaxf(softplus_f(dtv[i] + dtBias[h]), dtMin), dtMax);
            v[i] = dtv[i] * A[h];
        }
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const float n = __shfl_up_sync(0xffffffffu, v[i], o);
            if (lane >= o) v[i] += n;
        }
        if (lane == 31) ws[i][warp] = v[i];
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < CUMSUM_HEADS; i++) {
        for (int w = 0; w < warp; w++) v[i] += ws[i][w];
        if (t < len && h0 + i < H) {
            dt[(size_t)(h0 + i) * T + st + t] = dtv[i];
            cum[(size_t)(h0 + i) * T + st + t] = v[i];
        }
    }
}

// grid (chunks, H, ceil(P/64)*ceil(N/64)), block 256.
// states[c][h][p][n] = sum_u exp(cum_last - cum_u) dt_u x_u[p] B_u[n]
extern "C" __global__ void __launch_bounds__(256) ssd_chunk_state(const float* __restrict__ x, int ldX, int xOff, int bOff,
                                                                  const float* __restrict__ dt, const float* __restrict__ cum,
                                                                  int T, const int* __restrict__ chunkStart,
                                                                  const int* __restrict__ chunkLen, int H, int P, int N,
                                                                  int G, float* states) {
    __shared__ float wU[SSD_QMAX];
    __shared__ __align__(16) float Xs[16][SSD_LDS];
    __shared__ __align__(16) float Bs[16][SSD_LDS];
    const int c = blockIdx.x, h = blockIdx.y, tilesN = (N + 63) / 64;
    const int p0 = (blockIdx.z / tilesN) * 64, n0 = (blockIdx.z % tilesN) * 64;
    const int g = h / (H / G), tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const int st = chunkStart[c], len = chunkLen[c];
    const float* dth = dt + (size_t)h * T + st;
    const float* cumh = cum + (size_t)h * T + st;
    const float last = cumh[len - 1];
    for (int u = tid; u < len; u += 256) wU[u] = expf(last - cumh[u]) * dth[u];
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.f;
    // global -> registers for the next 16 steps while the current ones are multiplied
    float xr[4], br[4];
    auto fetch = [&](int u0) {
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int id = tid + k * 256, uu = id >> 6, q = id & 63, u = u0 + uu;
            const size_t row = (size_t)(st + u) * ldX;
            xr[k] = (u < len && p0 + q < P) ? x[row + xOff + h * P + p0 + q] : 0.f;
            br[k] = (u < len && n0 + q < N) ? x[row + bOff + g * N + n0 + q] : 0.f;
        }
    };
    fetch(0);
    for (int u0 = 0; u0 < len; u0 += 16) {
        __syncthreads();
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int id = tid + k * 256, uu = id >> 6, q = id & 63, u = u0 + uu;
            Xs[uu][q] = u < len ? wU[u] * xr[k] : 0.f;
            Bs[uu][q] = br[k];
        }
        __syncthreads();
        if (u0 + 16 < len) fetch(u0 + 16);
        simt_fma_16(acc, Xs, Bs, ty, tx);
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int p = p0 + ty * 4 + i;
        if (p >= P) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int n = n0 + tx * 4 + j;
            if (n < N) states[(((size_t)c * H + h) * P + p) * N + n] = acc[i][j];
        }
    }
}

// V state elements of type T moved as one evict-first access (each state is read and written once by the passing).
template <int V, class T>
struct StateIO;
template <>
struct StateIO<1, float> {
    typedef float Raw;
    static __device__ Raw load(const float* p) { return __ldcs(p); }
    static __device__ void unpack(const Raw& r, float (&o)[1]) { o[0] = r; }
    static __device__ void store(float* p, const float (&v)[1]) { __stcs(p, v[0]); }
};
template <>
struct StateIO<4, float> {  // 16-byte aligned
    typedef float4 Raw;
    static __device__ Raw load(const float* p) { return __ldcs(reinterpret_cast<const float4*>(p)); }
    static __device__ void unpack(const Raw& r, float (&o)[4]) { o[0] = r.x, o[1] = r.y, o[2] = r.z, o[3] = r.w; }
    static __device__ void store(float* p, const float (&v)[4]) {
        __stcs(reinterpret_cast<float4*>(p), make_float4(v[0], v[1], v[2], v[3]));
    }
};
template <>
struct StateIO<4, bf16> {  // 8-byte aligned
    typedef uint2 Raw;
    static __device__ Raw load(const bf16* p) { return __ldcs(reinterpret_cast<const uint2*>(p)); }
    static __device__ void unpack(const Raw& r, float (&o)[4]) {
        const float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&r.x));
        const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&r.y));
        o[0] = a.x, o[1] = a.y, o[2] = b.x, o[3] = b.y;
    }
    static __device__ void store(bf16* p, const float (&v)[4]) {
        __stcs(reinterpret_cast<uint2*>(p), make_uint2(pack_bf16(v[0], v[1]), pack_bf16(v[2], v[3])));
    }
};

// grid (ceil(P*N/(256*V)), H, S), block 256; V = 4 (ssd_state_passing_v4) needs P*N % 4 == 0, else V = 1.
// ssm[s*seqStride + h*P*N + e] holds the carried state in (read only if carry & 1: else every sequence starts from
// zero, and the engine need not clear ssm) and the final state out (written only if carry & 2: no caller keeps it
// otherwise); states[c] (local) becomes the
// state entering chunk c. Each thread walks V state elements down the sequence's chunks, AHEAD chunks a round: the
// round's local states are loaded first, then the chunk decays go through shared memory, so the decays' dependent
// loads hide under the state traffic (the kernel moves every state twice at ~3.7 TB/s). 8 ahead at 4 CTAs an SM:
// 117.6 -> 108.1 us per 130M layer against 16 ahead with the decays first (tools/bench/ssd_results). Each state is
// read and written once here: evict-first loads and stores. Without carry bit 2 the last chunk's local state feeds
// nothing (the tensor-core chunk states do not write it) and is not read. T: the states' type in memory (bf16 on the
// tensor-core path: the local states in, the entering states out, both as mamba_ssm's kernels read them); the running
// and the carried states are fp32.
template <int V, class T, int AHEAD = 8>
__device__ __forceinline__ void state_passing_impl(T* states, const float* __restrict__ cum, int T_,
                                                   const int* __restrict__ chunkStart, const int* __restrict__ chunkLen,
                                                   const int* __restrict__ seqChunk0, const int* __restrict__ seqChunks,
                                                   int H, int PN, float* ssm, long long seqStride, int carry) {
    typedef StateIO<V, T> IO;
    __shared__ float decay[AHEAD];
    const int e = (blockIdx.x * blockDim.x + threadIdx.x) * V;
    const bool valid = e < PN;
    const int h = blockIdx.y, s = blockIdx.z;
    float* carried = ssm + (size_t)s * seqStride + (size_t)h * PN + e;  // any alignment: read and written once
    const int c0 = seqChunk0[s], nc = seqChunks[s];
    T* local = states + ((size_t)c0 * H + h) * PN + e;  // chunk c0 + k at local + k * H * PN
    const size_t step = (size_t)H * PN;
    const int nLocal = (carry & 2) ? nc : nc - 1;
    float S[V];
#pragma unroll
    for (int i = 0; i < V; i++) S[i] = valid && (carry & 1) ? carried[i] : 0.f;
    for (int k0 = 0; k0 < nc; k0 += AHEAD) {
        typename IO::Raw loc[AHEAD];
        if (valid)
#pragma unroll
            for (int j = 0; j < AHEAD; j++) loc[j] = k0 + j < nLocal ? IO::load(local + (k0 + j) * step) : typename IO::Raw{};
        __syncthreads();  // the previous round's decays are read
        if ((int)threadIdx.x < AHEAD && k0 + (int)threadIdx.x < nc) {
            const int c = c0 + k0 + threadIdx.x;
            decay[threadIdx.x] = expf(cum[(size_t)h * T_ + chunkStart[c] + chunkLen[c] - 1]);
        }
        __syncthreads();
        if (!valid) continue;
#pragma unroll
        for (int j = 0; j < AHEAD; j++)
            if (k0 + j < nc) {
                float o[V], l[V];
                IO::unpack(loc[j], l);
                const float a = decay[j];
#pragma unroll
                for (int i = 0; i < V; i++) {
                    o[i] = S[i];
                    S[i] = a * S[i] + l[i];
                }
                IO::store(local + (k0 + j) * step, o);
            }
    }
    if (valid && (carry & 2))
#pragma unroll
        for (int i = 0; i < V; i++) carried[i] = S[i];
}

// The entry points: V states a thread, of type ST in memory (bf16: the tensor-core path's, P*N % 4 == 0).
#define SSD_STATE_PASSING(NAME, ST, V)                                                                        \
    extern "C" __global__ void __launch_bounds__(256, 4)                                                      \
        NAME(ST* states, const float* cum, int T, const int* chunkStart, const int* chunkLen,                  \
             const int* seqChunk0, const int* seqChunks, int H, int PN, float* ssm, long long seqStride,       \
             int carry) {                                                                                       \
        state_passing_impl<V>(states, cum, T, chunkStart, chunkLen, seqChunk0, seqChunks, H, PN, ssm,          \
                              seqStride, carry);                                                                \
    }
SSD_STATE_PASSING(ssd_state_passing, float, 1)
SSD_STATE_PASSING(ssd_state_passing_v4, float, 4)
SSD_STATE_PASSING(ssd_state_passing_bf16, bf16, 4)
#undef SSD_STATE_PASSING

// grid (chunks, G, 3), block 256: the lower 64x64 tiles (0,0), (1,0), (1,1) of CB[c][g][t][u] = C_t . B_u.
extern "C" __global__ void __launch_bounds__(256) ssd_bmm_cb(const float* __restrict__ x, int ldX, int bOff, int cOff,
                                                             const int* __restrict__ chunkStart,
                                                             const int* __restrict__ chunkLen, int G, int N, float* cb) {
    __shared__ __align__(16) float Cs[16][SSD_LDS];
    __shared__ __align__(16) float Bs[16][SSD_LDS];
    const int c = blockIdx.x, g = blockIdx.y, z = blockIdx.z;
    const int t0 = (z == 0 ? 0 : 64), u0 = (z == 2 ? 64 : 0);
    const int st = chunkStart[c], len = chunkLen[c];
    if (t0 >= len) return;
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.f;
    float cr[4], br[4];
    auto fetch = [&](int n0) {
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int id = tid + k * 256, r = id >> 4, nn = id & 15, n = n0 + nn;
            cr[k] = (t0 + r < len && n < N) ? x[(size_t)(st + t0 + r) * ldX + cOff + g * N + n] : 0.f;
            br[k] = (u0 + r < len && n < N) ? x[(size_t)(st + u0 + r) * ldX + bOff + g * N + n] : 0.f;
        }
    };
    fetch(0);
    for (int n0 = 0; n0 < N; n0 += 16) {
        __syncthreads();
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int id = tid + k * 256, r = id >> 4, nn = id & 15;
            Cs[nn][r] = cr[k];
            Bs[nn][r] = br[k];
        }
        __syncthreads();
        if (n0 + 16 < N) fetch(n0 + 16);
        simt_fma_16(acc, Cs, Bs, ty, tx);
    }
    float* out = cb + ((size_t)c * G + g) * SSD_QMAX * SSD_QMAX;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int t = t0 + ty * 4 + i;
        if (t >= len) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int u = u0 + tx * 4 + j;
            if (u < len) out[t * SSD_QMAX + u] = acc[i][j];
        }
    }
}

// grid (chunks, H, 2*ceil(P/64)), block 256: y for 64 steps x 64 channels of one head.
extern "C" __global__ void __launch_bounds__(256) ssd_chunk_scan(
    const float* __restrict__ x, int ldX, int xOff, int cOff, const float* __restrict__ dt, const float* __restrict__ cum,
    int T, const int* __restrict__ chunkStart, const int* __restrict__ chunkLen, int H, int P, int N, int G,
    const float* __restrict__ states, const float* __restrict__ cb, const float* __restrict__ D, int dPerChannel,
    float* y, int ldY) {
    __shared__ float cumU[SSD_QMAX], dtU[SSD_QMAX];
    __shared__ __align__(16) float As[16][SSD_LDS];
    __shared__ __align__(16) float Bs[16][SSD_LDS];
    const int c = blockIdx.x, h = blockIdx.y, t0 = (blockIdx.z & 1) * 64, p0 = (blockIdx.z >> 1) * 64;
    const int st = chunkStart[c], len = chunkLen[c];
    if (t0 >= len) return;
    const int g = h / (H / G), tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    for (int u = tid; u < len; u += 256) {
        cumU[u] = cum[(size_t)h * T + st + u];
        dtU[u] = dt[(size_t)h * T + st + u];
    }
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.f;
    // inter chunk: C_t . S_in[p][:]
    const float* S = states + ((size_t)c * H + h) * P * N;
    float ar[4], br[4];
    auto fetchInter = [&](int n0) {
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int id = tid + k * 256, r = id >> 4, nn = id & 15, n = n0 + nn;
            ar[k] = (t0 + r < len && n < N) ? x[(size_t)(st + t0 + r) * ldX + cOff + g * N + n] : 0.f;
            br[k] = (p0 + r < P && n < N) ? S[(size_t)(p0 + r) * N + n] : 0.f;
        }
    };
    fetchInter(0);
    for (int n0 = 0; n0 < N; n0 += 16) {
        __syncthreads();
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int id = tid + k * 256, r = id >> 4, nn = id & 15;
            As[nn][r] = ar[k];
            Bs[nn][r] = br[k];
        }
        __syncthreads();
        if (n0 + 16 < N) fetchInter(n0 + 16);
        simt_fma_16(acc, As, Bs, ty, tx);
    }
    __syncthreads();  // cumU/dtU visible even when N == 0
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int t = t0 + ty * 4 + i;
        const float sc = t < len ? expf(cumU[t]) : 0.f;
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] *= sc;
    }
    // intra chunk: masked (CB o decay) . X
    const float* cbc = cb + ((size_t)c * G + g) * SSD_QMAX * SSD_QMAX;
    const int uEnd = min(t0 + 64, len);
    auto fetchIntra = [&](int u0) {
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int id = tid + k * 256;
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
        for (int k = 0; k < 4; k++) {
            const int id = tid + k * 256;
            {
                const int r = id >> 4, uu = id & 15, t = t0 + r, u = u0 + uu;
                As[uu][r] = (t < len && u <= t) ? ar[k] * expf(cumU[t] - cumU[u]) * dtU[u] : 0.f;
            }
            Bs[id >> 6][id & 63] = br[k];
        }
        __syncthreads();
        if (u0 + 16 < uEnd) fetchIntra(u0 + 16);
        simt_fma_16(acc, As, Bs, ty, tx);
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int t = t0 + ty * 4 + i;
        if (t >= len) continue;
        const size_t xr = (size_t)(st + t) * ldX + xOff + h * P, yr = (size_t)(st + t) * ldY + h * P;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int p = p0 + tx * 4 + j;
            if (p >= P) continue;
            const float dd = dPerChannel ? D[h * P + p] : D[h];
            y[yr + p] = acc[i][j] + dd * x[xr + p];
        }
    }
}
