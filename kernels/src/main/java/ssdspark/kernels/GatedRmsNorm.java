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

    /**
     * y[i] = exp(x[i]) for i < n (x and y may be the same array; k is scratch of n floats), for
     * x in [-87.33, 88] (clamped outside: 1.2e-38 below, 1.65e38 above; NaN stays NaN); relative
     * error below 1e-7 (Cody-Waite reduction, degree-7 polynomial). The first loop is plain float
     * arithmetic over arrays indexed [i], which C2 vectorises; only the 2^k scaling is scalar.
     * About 1 ns an element against about 5 for {@code Math.exp}.
     */
    static void exp(float[] x, float[] y, float[] k, int n) {
        for (int i = 0; i < n; i++) {
            float xi = Math.max(Math.min(x[i], 88.0f), -87.33f);
            float kf = Math.fma(xi, 1.44269504f, 12582912f) - 12582912f; // round(x / ln 2)
            float r = Math.fma(kf, -0.693359375f, xi);
            r = Math.fma(kf, 2.12194440e-4f, r);
            float p = 1.9875691500E-4f;
            p = Math.fma(p, r, 1.3981999507E-3f);
            p = Math.fma(p, r, 8.3334519073E-3f);
            p = Math.fma(p, r, 4.1665795894E-2f);
            p = Math.fma(p, r, 1.6666665459E-1f);
            p = Math.fma(p, r, 5.0000001201E-1f);
            y[i] = Math.fma(p, r * r, r) + 1f;
            k[i] = kf;
        }
        for (int i = 0; i < n; i++) y[i] *= Float.intBitsToFloat(((int) k[i] + 127) << 23);
    }
}
