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
        final int H = d.heads(), D = d.headDim(), G = d.kvHeads(), group = H / G, rows = prefix + nQ;
        // Keys transposed per kv head, kT[g][c][j]: a query's scores are then D vector loops over j (s[j] += q[c] · kT[g][c][j])
        // instead of one dot product per key. A transient copy of the keys the chunk reads.
        final float[][][] kT = new float[G][D][rows];
        Parallel.forRange(G, g -> {
            for (int j = 0; j < rows; j++) {
                int ko = kOff + j * ldkv + g * D;
                for (int c = 0; c < D; c++) kT[g][c][j] = k[ko + c];
            }
        });
        final int blocks = (nQ + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        Parallel.forRange(blocks * H, task -> {
            int h = task % H, g = h / group, b = task / H;
            int t0 = b * ROWS_PER_TASK, t1 = Math.min(nQ, t0 + ROWS_PER_TASK);
            float[] s = new float[prefix + t1], acc = new float[D], row = new float[D];
            float[][] kg = kT[g];
            for (int t = t0; t < t1; t++) {
                int qo = qOff + t * ldq + h * D, len = prefix + t + 1;
                java.util.Arrays.fill(s, 0, len, 0f);
                for (int c = 0; c < D; c++) scoreAdd(s, q[qo + c], kg[c], len);
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < len; j++) {
                    s[j] *= d.scale();
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < len; j++) {
                    s[j] = (float) Math.exp(s[j] - max);
                    sum += s[j];
                }
                java.util.Arrays.fill(acc, 0f);
                for (int j = 0; j < len; j++) { // the value row copied first: a vector loop needs arrays indexed from 0
                    System.arraycopy(v, vOff + j * ldkv + g * D, row, 0, D);
                    valueAdd(acc, s[j], row, D);
                }
                float inv = (float) (1 / sum);
                int oo = outOff + t * ldo + h * D;
                for (int c = 0; c < D; c++) out[oo + c] = acc[c] * inv;
            }
        });
    }

    /** s[j] += qc · kc[j] for j < len (C2 turns this into SIMD: both arrays indexed by the loop variable). */
    static void scoreAdd(float[] s, float qc, float[] kc, int len) {
        for (int j = 0; j < len; j++) s[j] = Math.fma(qc, kc[j], s[j]);
    }

    /** acc[c] += p · row[c] for c < n. */
    static void valueAdd(float[] acc, float p, float[] row, int n) {
        for (int c = 0; c < n; c++) acc[c] = Math.fma(p, row[c], acc[c]);
    }
}
