package ssdspark.kernels;

/** Mean and last-position pooling of hidden states, accumulated across chunks of one document. */
public final class Pooling {
    private Pooling() {}

    /** sum[d] += Σ hidden[row][d] over rows [row0, row0+rows), in double so a million-token mean stays exact to float. */
    public static void accumulateSumCpu(float[] hidden, int row0, int rows, int d, double[] sum) {
        for (int r = row0; r < row0 + rows; r++) {
            int o = r * d;
            for (int i = 0; i < d; i++) sum[i] += hidden[o + i];
        }
    }

    public static float[] meanOf(double[] sum, long count) {
        float[] out = new float[sum.length];
        for (int i = 0; i < sum.length; i++) out[i] = (float) (sum[i] / count);
        return out;
    }
}
