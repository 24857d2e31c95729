package ssdspark.kernels;

/**
 * Causal depthwise conv1d over time with kernel width K, bias and SiLU (optional), continuing from a carried
 * window: convState[K-1][channels] holds the last K-1 inputs before this chunk (oldest first) and is
 * replaced by the last K-1 inputs of the chunk (earlier history included when the chunk is short).
 */
public final class CausalConv1d {
    private CausalConv1d() {}

    /** Output rows per parallel task. */
    static final int ROWS_PER_TASK = 16;

    /**
     * in[len][inStride] columns [inOff, inOff+channels), weight[channels][K], bias[channels] (or null)
     * → out[len][channels], SiLU applied.
     *
     * <p>Each task keeps a window of the K input rows an output row reads, copied into its own
     * arrays, so that the taps are vector loops over channels ({@code acc[c] += w_j[c] · row_j[c]}).
     */
    public static void cpu(float[] in, int inOff, int inStride, int len, int channels, float[] weight, float[] bias,
                           int kernel, float[] convState, float[] out) {
        cpu(in, inOff, inStride, len, channels, weight, bias, kernel, convState, out, true);
    }

    /** As above, with SiLU applied only when {@code silu} (mamba_ssm's attention conv has no activation). */
    public static void cpu(float[] in, int inOff, int inStride, int len, int channels, float[] weight, float[] bias,
                           int kernel, float[] convState, float[] out, boolean silu) {
        if (kernel < 1) throw new IllegalArgumentException("kernel width must be >= 1, got " + kernel);
        if (len <= 0) return;
        final int hist = kernel - 1;
        final float[][] wt = new float[kernel][channels]; // tap-major weights
        for (int c = 0; c < channels; c++)
            for (int j = 0; j < kernel; j++) wt[j][c] = weight[c * kernel + j];
        final int tasks = (len + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        Parallel.forRange(tasks, task -> {
            int t0 = task * ROWS_PER_TASK, t1 = Math.min(len, t0 + ROWS_PER_TASK);
            float[][] sc = scratch(kernel + 3, channels);
            float[][] win = java.util.Arrays.copyOf(sc, kernel); // win[j] = input at time t - hist + j
            for (int j = 0; j < hist; j++) load(in, inOff, inStride, channels, convState, hist, t0 - hist + j, win[j + 1]);
            float[] acc = sc[kernel], e = sc[kernel + 1], k = sc[kernel + 2];
            for (int t = t0; t < t1; t++) {
                float[] oldest = win[0]; // rotate the window by one row: the oldest array takes the newest input
                System.arraycopy(win, 1, win, 0, hist);
                win[hist] = oldest;
                load(in, inOff, inStride, channels, convState, hist, t, oldest);
                if (bias == null) java.util.Arrays.fill(acc, 0f);
                else System.arraycopy(bias, 0, acc, 0, channels);
                for (int j = 0; j < kernel; j++) {
                    float[] wj = wt[j], xj = win[j];
                    for (int c = 0; c < channels; c++) acc[c] = Math.fma(wj[c], xj[c], acc[c]);
                }
                if (silu) GatedRmsNorm.siluInPlace(acc, e, k, channels);
                System.arraycopy(acc, 0, out, t * channels, channels);
            }
        });
        // new window: the last K-1 inputs of [old window ++ chunk]; row i comes from old row len+i
        // (> i) when it predates the chunk, so ascending i never reads a row it already replaced
        for (int i = 0; i < hist; i++) {
            int tt = len - hist + i; // time index relative to chunk
            if (tt >= 0) System.arraycopy(in, tt * inStride + inOff, convState, i * channels, channels);
            else System.arraycopy(convState, (hist + tt) * channels, convState, i * channels, channels);
        }
    }

    private static final ThreadLocal<float[][]> SCRATCH = new ThreadLocal<>();

    /** At least rows arrays of at least len floats, per thread, reused across calls; contents are stale. */
    private static float[][] scratch(int rows, int len) {
        float[][] s = SCRATCH.get();
        if (s == null || s.length < rows || s[0].length < len) SCRATCH.set(s = new float[rows][len]);
        return s;
    }

    /** dst = the input at time t (relative to the chunk; negative = carried window). */
    private static void load(float[] in, int inOff, int inStride, int channels, float[] convState, int hist, int t, float[] dst) {
        if (t >= 0) System.arraycopy(in, t * inStride + inOff, dst, 0, channels);
        else System.arraycopy(convState, (hist + t) * channels, dst, 0, channels);
    }
}
