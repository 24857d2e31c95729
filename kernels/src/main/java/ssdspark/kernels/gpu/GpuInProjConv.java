package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * in_proj's product with the causal conv1d + SiLU of its xBC columns in the GEMM's epilogue (gemm_conv_sm90.cuh,
 * sm_90a, pre-tiled operands): the same floats as {@link GpuGemm#runTiled} followed by {@link GpuCausalConv1d#forward},
 * without the conv reading in_proj's output back (0.47 GB a 130M layer). Twin: {@link ssdspark.kernels.Gemm} then
 * {@link ssdspark.kernels.CausalConv1d}.
 */
public final class GpuInProjConv {
    private GpuInProjConv() {}

    /** Dynamic shared memory: the pre-tiled GEMM's stages plus each consumer's slab (128 rows x 24 floats) and row tables. */
    public static final int SMEM = GpuGemm.TILED_SMEM + 2 * (128 * 24 + 2 * 128) * 4;

    /** Whether this device runs the fused kernel for a conv of width {@code kernel}: sm_90a builds, d_conv 2..4. */
    public static boolean eligible(GpuDevice d, int kernel) { return d.hasWgmma() && kernel >= 2 && kernel <= 4; }

    /**
     * proj[m][ldc] = A . B^T + bias (A [m][k], B [n][k], both pre-tiled by {@link GpuGemm#pretile}) for every column
     * outside [xbcOff, xbcOff + convDim), and out[m][convDim] = SiLU(conv(those columns)) as
     * {@link GpuCausalConv1d#forward} computes it from the windows at {@code state} (s * stateSeqStride: sequence s's
     * [kernel-1][convDim], oldest first). Those columns of proj hold only the rows the fused path needs again.
     * keepWindows: each window is then replaced by the last kernel-1 inputs of its sequence, on {@code side} (null:
     * on s), which the caller joins before proj is overwritten.
     */
    public static void run(GpuStream s, GpuStream side, Varlen.OnDevice v, CUdeviceptr aTiled, int m, CUdeviceptr bTiled,
                           int n, int k, CUdeviceptr proj, int ldc, CUdeviceptr bias, int xbcOff, int convDim,
                           CUdeviceptr weight, CUdeviceptr convBias, int kernel, CUdeviceptr state, long stateSeqStride,
                           boolean keepWindows, CUdeviceptr out) {
        if (!eligible(s.device(), kernel))
            throw new IllegalStateException("the fused in_proj + conv needs an sm_90a build and d_conv in 2..4, not " + kernel);
        if (ldc < n) throw new IllegalArgumentException("ldc " + ldc + " < n " + n);
        if (xbcOff < 0 || xbcOff + convDim > n) throw new IllegalArgumentException("conv columns [" + xbcOff + ", "
                + (xbcOff + convDim) + ") outside in_proj's " + n);
        if (v.host().tokens != m) throw new IllegalArgumentException(m + " rows but " + v.host().tokens + " tokens");
        s.launch("gemm_bf16_tn_tiled_conv" + kernel, GpuGemm.tiledGrid(s.device(), m, n), 1, 1, 384, SMEM, aTiled,
                GpuGemm.tiledRows(m), bTiled, GpuGemm.tiledRows(n), proj, ldc, bias, m, n, k, xbcOff, convDim, weight,
                convBias, v.tokSeq(), v.tokPos(), v.seqLen(), state, stateSeqStride, keepWindows ? 1 : 0, out);
        // each 128-row tile's first kernel-1 rows: their history is the tile before's
        s.launch("causal_conv1d_tile_heads_k" + kernel, (m + 127) / 128, (convDim + 127) / 128, 1, 128, 0, proj, ldc,
                xbcOff, convDim, weight, convBias, m, v.tokSeq(), v.tokPos(), state, stateSeqStride, out);
        if (keepWindows) GpuCausalConv1d.replaceWindows(s, side, v, proj, ldc, xbcOff, convDim, kernel, state, stateSeqStride);
    }
}
