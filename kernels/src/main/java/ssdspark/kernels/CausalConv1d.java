package ssdspark.kernels;

/**
 * Causal depthwise conv1d over time with kernel width K, bias and SiLU, continuing from a carried
 * window: convState[K-1][channels] holds the last K-1 inputs before this chunk (oldest first) and is
 * replaced by the last K-1 inputs of the chunk (earlier history included when the chunk is short).
 */
public final class CausalConv1d {
    private CausalConv1d() {}

    /**
     * in[len][inStride] columns [inOff, inOff+channels), weight[channels][K], bias[channels] (or null)
     * → out[len][channels], SiLU applied.
     */
    public static void cpu(float[] in, int inOff, int inStride, int len, int channels, float[] weight, float[] bias,
                           int kernel, float[] convState, float[] out) {
        int hist = kernel - 1;
        int blocks = (channels + 63) / 64;
        Parallel.forRange(blocks, b -> {
            int c0 = b * 64, c1 = Math.min(channels, c0 + 64);
            for (int t = 0; t < len; t++) {
                for (int c = c0; c < c1; c++) {
                    float s = bias == null ? 0f : bias[c];
                    int wb = c * kernel;
                    // tap j reads input at time t - (K-1) + j
                    for (int j = 0; j < kernel; j++) {
                        int tt = t - hist + j;
                        float v = tt >= 0 ? in[tt * inStride + inOff + c] : convState[(hist + tt) * channels + c];
                        s += weight[wb + j] * v;
                    }
                    out[t * channels + c] = GatedRmsNorm.silu(s);
                }
            }
            // new window: the last K-1 inputs of [old window ++ chunk]
            for (int c = c0; c < c1; c++) {
                for (int i = 0; i < hist; i++) {
                    int tt = len - hist + i; // time index relative to chunk
                    float v = tt >= 0 ? in[tt * inStride + inOff + c] : convState[(hist + tt) * channels + c];
                    convState[i * channels + c] = v; // slot len+i, read above, is not yet overwritten

                }
            }
        });
    }
}
