package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * The SSD chunked scan over a packed varlen batch, with carried states in and final states out (ssd.cuh).
 * Twin: {@link ssdspark.kernels.SsdScan#chunked} on each sequence alone with the same chunk length
 * ({@code Varlen.q}, at most {@link #MAX_CHUNK}); dt is computed from the raw in_proj column as in CpuEngine:
 * {@code clamp(softplus(dt_raw + dt_bias), dtMin, dtMax)}.
 *
 * <p>Five launches: chunk cumsum, chunk states, state passing (per sequence, from its carried state), C.B per
 * chunk and group, chunk scan. Scratch: dt and cumsum [H][T], chunk states [chunks][H][P][N], CB [chunks][G][Q][Q].
 * The chunk-state and chunk-scan products run as fp32 FMA (SIMT) tiles; -Dssdspark.ssd.tc=true selects WMMA
 * tensor-core kernels in 3xTF32 (same accuracy), which in their present form are slower on an H200 (bf16 130M
 * scoring: 287 K vs 354 K tok/s) and are kept as the starting point for an mma.sync version.
 */
public final class GpuSsdScan {
    private GpuSsdScan() {}

    public static final int MAX_CHUNK = 128;

    /** Tensor-core (3xTF32) chunk-state and chunk-scan kernels only with -Dssdspark.ssd.tc=true (see above). */
    private static volatile boolean tensorCores = Boolean.getBoolean("ssdspark.ssd.tc");

    public static void setTensorCores(boolean on) { tensorCores = on; }

    public static boolean tensorCores() { return tensorCores; }

    public static long scratchFloats(int tokens, int chunks, int nheads, int headdim, int dstate, int ngroups) {
        return 2L * nheads * tokens + (long) chunks * nheads * headdim * dstate + (long) chunks * ngroups * MAX_CHUNK * MAX_CHUNK;
    }

    /**
     * x, B, C: columns xOff (nheads*headdim), bOff, cOff (ngroups*dstate each) of rows x[t][ldX];
     * dt_raw: column dtOff + h of rows dtIn[t][ldDt]; A[h] negative; D[h] or D[h*headdim+p];
     * ssm + s*seqStride: sequence s's state [H][P][N], read as the initial state and replaced by the final one;
     * y[t][ldY] columns [0, H*P).
     */
    public static void forward(GpuStream s, Varlen.OnDevice v, int nheads, int headdim, int dstate, int ngroups,
                               CUdeviceptr x, int ldX, int xOff, int bOff, int cOff,
                               CUdeviceptr dtIn, int ldDt, int dtOff, CUdeviceptr dtBias, CUdeviceptr negA,
                               float dtMin, float dtMax, CUdeviceptr d, boolean dPerChannel,
                               CUdeviceptr ssm, long seqStride, CUdeviceptr scratch, CUdeviceptr y, int ldY) {
        forward(s, v, nheads, headdim, dstate, ngroups, x, ldX, xOff, bOff, cOff, dtIn, ldDt, dtOff, dtBias, negA, dtMin,
                dtMax, d, dPerChannel, ssm, seqStride, scratch, y, ldY, tensorCores);
    }

    /** As above, choosing the tensor-core (3xTF32) or SIMT fp32 kernels for the two matrix-heavy steps. */
    public static void forward(GpuStream s, Varlen.OnDevice v, int nheads, int headdim, int dstate, int ngroups,
                               CUdeviceptr x, int ldX, int xOff, int bOff, int cOff,
                               CUdeviceptr dtIn, int ldDt, int dtOff, CUdeviceptr dtBias, CUdeviceptr negA,
                               float dtMin, float dtMax, CUdeviceptr d, boolean dPerChannel,
                               CUdeviceptr ssm, long seqStride, CUdeviceptr scratch, CUdeviceptr y, int ldY,
                               boolean tensorCores) {
        final int H = nheads, P = headdim, N = dstate, G = ngroups;
        if (H % G != 0) throw new IllegalArgumentException("nheads " + H + " not a multiple of ngroups " + G);
        Varlen hv = v.host();
        final int T = hv.tokens, C = hv.chunks;
        CUdeviceptr dt = scratch, cum = scratch.withByteOffset(4L * H * T),
                states = scratch.withByteOffset(8L * H * T),
                cb = scratch.withByteOffset(8L * H * T + 4L * C * H * P * N);
        s.launch("ssd_chunk_cumsum", C, H, 1, MAX_CHUNK, 0, dtIn, ldDt, dtOff, dtBias, negA, dtMin, dtMax,
                v.chunkStart(), v.chunkLen(), T, dt, cum);
        int tilesP = (P + 63) / 64, tilesN = (N + 63) / 64;
        String tc = tensorCores ? "_tc" : "";
        int block = tensorCores ? 128 : 256;
        s.launch("ssd_chunk_state" + tc, C, H, tilesP * tilesN, block, 0, x, ldX, xOff, bOff, dt, cum, T, v.chunkStart(),
                v.chunkLen(), H, P, N, G, states);
        s.launch("ssd_state_passing", (P * N + 255) / 256, H, hv.seqs, 256, 0, states, cum, T, v.chunkStart(),
                v.chunkLen(), v.seqChunk0(), v.seqChunks(), H, P * N, ssm, seqStride);
        s.launch("ssd_bmm_cb", C, G, 3, 256, 0, x, ldX, bOff, cOff, v.chunkStart(), v.chunkLen(), G, N, cb);
        s.launch("ssd_chunk_scan" + tc, C, H, 2 * tilesP, block, 0, x, ldX, xOff, cOff, dt, cum, T, v.chunkStart(),
                v.chunkLen(), H, P, N, G, states, cb, d, dPerChannel ? 1 : 0, y, ldY);
    }
}
