package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/** Mean/last pooling per sequence of a packed batch (pooling.cuh). Twin: {@link ssdspark.kernels.Pooling}. */
public final class GpuPooling {
    private GpuPooling() {}

    /** pooling.cuh's POOL_ROW_LANES: warps a block, each summing every 8th row of a 32-column strip. */
    static final int POOL_ROW_LANES = 8;

    /** sums[s][d] (double) = sum of the sequence's rows of hidden[t][d]; last[s][d] = its last row. */
    public static void sumLast(GpuStream s, Varlen.OnDevice v, CUdeviceptr hidden, int d, CUdeviceptr sums, CUdeviceptr last) {
        s.launch("pool_sum_last", (d + 31) / 32, v.host().seqs, 1, 32 * POOL_ROW_LANES, 0, hidden, d, v.seqStart(), v.seqLen(), sums, last);
    }
}
