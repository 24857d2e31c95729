package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * in_proj with the causal conv1d (+ bias, SiLU) of its xBC columns done in the GEMM's epilogue (gemm_conv.cuh), so
 * xBC does not go through memory a second time. Same bits as {@link GpuGemm#runTiled} followed by
 * {@link GpuCausalConv1d#forward} with SiLU; twin: {@link ssdspark.kernels.Gemm} then
 * {@link ssdspark.kernels.CausalConv1d}.
 */
public final class GpuGemmConv {
    private GpuGemmConv() {}

    /** Dynamic shared memory: the pre-tiled GEMM's stages plus a 128 x 32 staging buffer (rows of 40 floats) and a row table. */
    public static final int SMEM = GpuGemm.TILED_SMEM + 128 * (32 + 8) * 4 + 128 * 3 * 4;

    /** Whether the fused path serves this call: the pre-tiled GEMM pays and the conv is 2 to 4 taps wide. */
    public static boolean serves(GpuDevice d, DType t, int n, int convWidth) {
        return GpuGemm.tiledPays(d, t, n) && convWidth >= 2 && convWidth <= 4;
    }

    /**
     * C[m][n] = A . B^T + bias with A and B pre-tiled ({@link GpuGemm#pretile}), except for C's columns
     * [xbcOff, xbcOff + convDim), which go through the causal conv1d of the packed batch {@code v} instead:
     * out[t][convDim] = SiLU(conv(C[.][xbcOff..]) + convBias), carried windows in state + s * stateSeqStride
     * ([width-1][convDim], replaced by the windows after each sequence, as {@link GpuCausalConv1d#forward}).
     * C's xBC columns are left holding only the raw values the conv's last steps need.
     */
    public static void inProjConv(GpuStream s, Varlen.OnDevice v, CUdeviceptr aTiled, int m, CUdeviceptr bTiled, int n,
                                  int k, CUdeviceptr c, int ldc, CUdeviceptr bias, int xbcOff, int convDim,
                                  CUdeviceptr convWeight, CUdeviceptr convBias, int width, CUdeviceptr state,
                                  long stateSeqStride, CUdeviceptr out) {
        if (!serves(s.device(), DType.BF16, n, width))
            throw new IllegalStateException("the fused in_proj + conv needs the pre-tiled GEMM (sm_90a, n >= "
                    + GpuGemm.TILED_MIN_N + ") and a conv 2 to 4 wide, got n " + n + ", width " + width);
        if (ldc < n || xbcOff < 0 || convDim < 1 || xbcOff + convDim > n)
            throw new IllegalArgumentException("xBC columns [" + xbcOff + ", " + (xbcOff + convDim) + ") outside C's " + n
                    + " (ldc " + ldc + ")");
        if (v.host().tokens != m) throw new IllegalArgumentException("the batch has " + v.host().tokens + " tokens, A " + m + " rows");
        s.launch("gemm_bf16_tn_tiled_conv_k" + width, GpuGemm.tiledGrid(s.device(), m, n), 1, 1, 384, SMEM, aTiled,
                GpuGemm.tiledRows(m), bTiled, GpuGemm.tiledRows(n), c, ldc, bias, m, n, k, xbcOff, convDim, convWeight,
                convBias, v.tokSeq(), v.tokPos(), v.seqLen(), state, stateSeqStride, out);
        // the first width-1 rows of every 128-row tile, whose taps reach into the tile before
        s.launch("causal_conv1d_tile_heads_k" + width, (m + 127) / 128, (convDim + 127) / 128, 1, 128, 0, c, ldc, xbcOff,
                convDim, convWeight, convBias, m, v.tokSeq(), v.tokPos(), state, stateSeqStride, out);
        GpuCausalConv1d.keepWindows(s, v, c, ldc, xbcOff, convDim, width, state, stateSeqStride);
    }
}
