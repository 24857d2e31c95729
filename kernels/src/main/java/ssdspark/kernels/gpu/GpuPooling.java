package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/** Mean/last pooling per sequence of a packed batch (pooling.cuh). Twin: {@link ssdspark.kernels.Pooling}. */
public final class GpuPooling {
    private GpuPooling() {}

    /** sums[s][d] (double) = sum of the sequence's rows of hidden[t][d]; last[s][d] = its last row. */
    public static void sumLast(GpuStream s, Varlen.OnDevice v, CUdeviceptr hidden, int d, CUdeviceptr sums, CUdeviceptr last) {
        s.launch("pool_sum_last", (d + 127) / 128, v.host().seqs, 1, 128, 0, hidden, d, v.seqStart(), v.seqLen(), sums, last);
    }
}
