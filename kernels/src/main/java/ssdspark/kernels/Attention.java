package ssdspark.kernels;

/**
 * Causal softmax attention of a chunk's queries over a key/value cache, with grouped-query heads: the CPU twin
 * of the GPU attention kernel. Query head h reads kv head h / (heads / kvHeads) (torch's repeat_interleave of
 * the kv heads, as mamba_ssm's MHA does).
 */
public final class Attention {
    private Attention() {}

    /** Query heads, kv heads (dividing heads), channels per head, and the softmax scale applied to q·k. */
    public record Dims(int heads, int kvHeads, int headDim, float scale) {
        public Dims {
            if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0 || headDim < 1)
                throw new IllegalArgumentException("attention heads " + heads + " / kv heads " + kvHeads + " / head dim " + headDim);
        }
    }

    /** Query rows per parallel task. */
    static final int ROWS_PER_TASK = 8;

    /**
     * out row t, head h = Σ_j softmax_j(scale · q_t,h · k_j,g) v_j,g over kv rows j in [0, prefix + t], g = h / (heads / kvHeads):
     * query row t is the token at position prefix + t of a sequence whose kv rows 0 … prefix + nQ − 1 are in k and v.
     * Layouts: q row t, head h at q[qOff + t·ldq + h·headDim]; k (v) row j, kv head g at k[kOff + j·ldkv + g·headDim]
     * (v[vOff + ...]); out row t, head h at out[outOff + t·ldo + h·headDim].
     */
    public static void causal(Dims d, float[] q, int qOff, int ldq, int nQ, float[] k, int kOff, float[] v, int vOff, int ldkv,
                              int nKv, int prefix, float[] out, int outOff, int ldo) {
        if (prefix < 0 || (long) prefix + nQ > nKv)
            throw new IllegalArgumentException(nQ + " queries after a prefix of " + prefix + " need " + ((long) prefix + nQ) + " kv rows, have " + nKv);
        if (nQ <= 0) return;
        final int H = d.heads(), D = d.headDim(), group = H / d.kvHeads();
        final int blocks = (nQ + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        Parallel.forRange(blocks * H, task -> {
            int h = task % H, g = h / group, b = task / H;
            int t0 = b * ROWS_PER_TASK, t1 = Math.min(nQ, t0 + ROWS_PER_TASK);
            float[] s = new float[prefix + t1], acc = new float[D];
            for (int t = t0; t < t1; t++) {
                int qo = qOff + t * ldq + h * D, len = prefix + t + 1;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < len; j++) {
                    int ko = kOff + j * ldkv + g * D;
                    float dot = 0;
                    for (int c = 0; c < D; c++) dot = Math.fma(q[qo + c], k[ko + c], dot);
                    s[j] = dot * d.scale();
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < len; j++) {
                    s[j] = (float) Math.exp(s[j] - max);
                    sum += s[j];
                }
                java.util.Arrays.fill(acc, 0f);
                for (int j = 0; j < len; j++) {
                    float p = s[j];
                    int vo = vOff + j * ldkv + g * D;
                    for (int c = 0; c < D; c++) acc[c] = Math.fma(p, v[vo + c], acc[c]);
                }
                float inv = (float) (1 / sum);
                int oo = outOff + t * ldo + h * D;
                for (int c = 0; c < D; c++) out[oo + c] = acc[c] * inv;
            }
        });
    }
}
