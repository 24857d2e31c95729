package ssdspark.kernels;

/**
 * The LM head fused with log-softmax and target gather: for each row i, log p(target_i) =
 * h_i·E[target_i] − logsumexp_v(h_i·E[v]). Logits are made a block of rows at a time and never
 * kept for the whole chunk.
 */
public final class LmHead {
    private LmHead() {}

    static final int ROW_BLOCK = 32;

    /** hidden[rows][d], head = packed E[vocab][d], targets[rows] (targetOff) → logProbs[rows] (outOff). */
    public static void logProbsCpu(float[] hidden, int rows, Gemm.Weight head, int[] targets, int targetOff,
                                   float[] logProbs, int outOff) {
        int d = head.k, v = head.n;
        float[] block = new float[Math.min(ROW_BLOCK, Math.max(rows, 1)) * v];
        float[] x = new float[Math.min(ROW_BLOCK, Math.max(rows, 1)) * d];
        for (int r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
            int n = Math.min(ROW_BLOCK, rows - r0);
            System.arraycopy(hidden, r0 * d, x, 0, n * d);
            Gemm.matmul(x, n, head, block);
            final int base = r0;
            Parallel.forRange(n, r -> {
                int o = r * v;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < v; j++) max = Math.max(max, block[o + j]);
                double sum = 0;
                for (int j = 0; j < v; j++) sum += Math.exp(block[o + j] - max);
                int tgt = targets[targetOff + base + r];
                logProbs[outOff + base + r] = (float) (block[o + tgt] - max - Math.log(sum));
            });
        }
    }
}
