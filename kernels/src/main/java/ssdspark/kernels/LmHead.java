package ssdspark.kernels;

/**
 * The LM head fused with log-softmax and target gather: for each row i, log p(target_i) =
 * h_i·E[target_i] − logsumexp_v(h_i·E[v]). Logits are never kept: each task multiplies a group of
 * rows by a slice of the vocabulary 64 columns at a time and folds them into a running (max, Σexp)
 * per row; the slices' partial sums are merged at the end. The packed head is read once per 64 rows.
 */
public final class LmHead {
    private LmHead() {}

    /** Rows of hidden states per task (16 blocks of 4). */
    static final int ROW_GROUP = 64;
    /** Vocabulary panels (of 64) per task. */
    static final int VOCAB_PANELS = 8;

    /** hidden[rows][d], head = packed E[vocab][d], targets[rows] (targetOff) → logProbs[rows] (outOff). */
    public static void logProbsCpu(float[] hidden, int rows, Gemm.Weight head, int[] targets, int targetOff,
                                   float[] logProbs, int outOff) {
        final int d = head.k, v = head.n, np = head.panels();
        if (rows <= 0) return;
        if (hidden.length < (long) rows * d) throw new IllegalArgumentException("hidden holds " + hidden.length + " < " + rows + "x" + d);
        for (int i = 0; i < rows; i++) {
            int t = targets[targetOff + i];
            if (t < 0 || t >= v) throw new IllegalArgumentException("target " + t + " at row " + i + " is outside the head's " + v + " rows");
        }
        final int W = Gemm.PANEL;
        final int rowGroups = (rows + ROW_GROUP - 1) / ROW_GROUP;
        final int vocabGroups = (np + VOCAB_PANELS - 1) / VOCAB_PANELS;
        final float[] pMax = new float[vocabGroups * rows];
        final double[] pSum = new double[vocabGroups * rows];
        final float[] tgtLogit = new float[rows];
        Parallel.forRange(vocabGroups * rowGroups, task -> {
            int vg = task / rowGroups, rg = task % rowGroups;
            int r0 = rg * ROW_GROUP, r1 = Math.min(rows, r0 + ROW_GROUP);
            int p0 = vg * VOCAB_PANELS, p1 = Math.min(np, p0 + VOCAB_PANELS);
            float[] acc = new float[Gemm.ROWS * W], one = new float[W], l = new float[W];
            float[] ex = new float[W], kx = new float[W];
            float[] max = new float[r1 - r0];
            double[] sum = new double[r1 - r0];
            java.util.Arrays.fill(max, Float.NEGATIVE_INFINITY);
            for (int p = p0; p < p1; p++) {
                int col0 = p * W, cols = Math.min(W, v - col0);
                for (int b = r0; b < r1; b += Gemm.ROWS) {
                    int nr = Math.min(Gemm.ROWS, r1 - b);
                    Gemm.tile(hidden, d, b, nr, head.rows, p * d, acc, one);
                    for (int r = 0; r < nr; r++) {
                        System.arraycopy(acc, r * W, l, 0, W); // the row in an array of its own: vector loops below
                        int row = b + r, li = row - r0;
                        int t = targets[targetOff + row] - col0;
                        if (t >= 0 && t < cols) tgtLogit[row] = l[t];
                        float m = max[li];
                        for (int c = 0; c < cols; c++) m = Math.max(m, l[c]);
                        double s = sum[li];
                        if (m != max[li]) {
                            if (s != 0) s *= Math.exp((double) max[li] - m);
                            max[li] = m;
                        }
                        for (int c = 0; c < cols; c++) ex[c] = l[c] - m;
                        GatedRmsNorm.exp(ex, ex, kx, cols);
                        float fs = 0f;
                        for (int c = 0; c < cols; c++) fs += ex[c];
                        sum[li] = s + fs;
                    }
                }
            }
            for (int i = 0; i < r1 - r0; i++) {
                pMax[vg * rows + r0 + i] = max[i];
                pSum[vg * rows + r0 + i] = sum[i];
            }
        });
        Parallel.forRange((rows + 63) / 64, blk -> {
            for (int i = blk * 64, e = Math.min(rows, i + 64); i < e; i++) {
                float m = Float.NEGATIVE_INFINITY;
                for (int g = 0; g < vocabGroups; g++) m = Math.max(m, pMax[g * rows + i]);
                double s = 0;
                for (int g = 0; g < vocabGroups; g++) {
                    double gs = pSum[g * rows + i];
                    if (gs != 0) s += gs * Math.exp((double) pMax[g * rows + i] - m);
                }
                logProbs[outOff + i] = (float) (tgtLogit[i] - m - Math.log(s));
            }
        });
    }
}
