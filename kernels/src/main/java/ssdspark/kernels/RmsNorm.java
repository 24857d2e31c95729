package ssdspark.kernels;

/** RMSNorm over rows: {@code y = x / sqrt(mean(x²) + eps) * w}. Rows are the pre-norm residual stream. */
public final class RmsNorm {
    private RmsNorm() {}

    /** out[rows][d] = rmsnorm(x[rows][d]) * w. */
    public static void cpu(float[] x, float[] w, float eps, int rows, int d, float[] out) {
        Parallel.forRange(rows, r -> row(x, r * d, w, eps, d, out, r * d));
    }

    /** Fused residual add: residual += delta, then out = rmsnorm(residual) * w. */
    public static void addCpu(float[] residual, float[] delta, float[] w, float eps, int rows, int d, float[] out) {
        Parallel.forRange(rows, r -> {
            int o = r * d;
            for (int i = 0; i < d; i++) residual[o + i] += delta[o + i];
            row(residual, o, w, eps, d, out, o);
        });
    }

    /** {@link #addCpu} with delta's row r scaled by scale[r] before it is added (GatedRmsNorm.foldedCpu's rows). */
    public static void addScaledCpu(float[] residual, float[] delta, float[] scale, float[] w, float eps, int rows, int d,
                                    float[] out) {
        Parallel.forRange(rows, r -> {
            int o = r * d;
            for (int i = 0; i < d; i++) residual[o + i] += scale[r] * delta[o + i];
            row(residual, o, w, eps, d, out, o);
        });
    }

    static void row(float[] x, int xo, float[] w, float eps, int d, float[] out, int oo) {
        double ss = 0;
        for (int i = 0; i < d; i++) { float v = x[xo + i]; ss += v * v; }
        float inv = (float) (1.0 / Math.sqrt(ss / d + eps));
        for (int i = 0; i < d; i++) out[oo + i] = x[xo + i] * inv * w[i];
    }
}
