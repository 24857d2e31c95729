package ssdspark.kernels;

/**
 * mamba_ssm's gated RMSNorm, normalised per group of {@code groupSize} channels (not over all of d).
 * norm_before_gate: {@code y = rmsnorm(x) * w * silu(z)}; otherwise {@code y = rmsnorm(x * silu(z)) * w}.
 */
public final class GatedRmsNorm {
    private GatedRmsNorm() {}

    /**
     * x[rows][xStride] at column xOff (d channels), z[rows][zStride] at zOff, w[d] → out[rows][outStride] at outOff.
     */
    public static void cpu(float[] x, int xOff, int xStride, float[] z, int zOff, int zStride, float[] w,
                           float eps, int groupSize, boolean normBeforeGate, int rows, int d,
                           float[] out, int outOff, int outStride) {
        if (d % groupSize != 0) throw new IllegalArgumentException("d " + d + " not a multiple of group size " + groupSize);
        Parallel.forRange(rows, r -> {
            float[] g = new float[groupSize];
            int xr = r * xStride + xOff, zr = r * zStride + zOff, or = r * outStride + outOff;
            for (int g0 = 0; g0 < d; g0 += groupSize) {
                double ss = 0;
                for (int i = 0; i < groupSize; i++) {
                    float v = x[xr + g0 + i];
                    if (!normBeforeGate) v *= silu(z[zr + g0 + i]);
                    g[i] = v;
                    ss += v * v;
                }
                float inv = (float) (1.0 / Math.sqrt(ss / groupSize + eps));
                for (int i = 0; i < groupSize; i++) {
                    float v = g[i] * inv * w[g0 + i];
                    if (normBeforeGate) v *= silu(z[zr + g0 + i]);
                    out[or + g0 + i] = v;
                }
            }
        });
    }

    public static float silu(float v) { return v / (1f + (float) Math.exp(-v)); }
}
