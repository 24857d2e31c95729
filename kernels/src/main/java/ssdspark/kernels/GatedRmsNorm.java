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
        if (groupSize < 1 || d % groupSize != 0) throw new IllegalArgumentException("d " + d + " not a multiple of group size " + groupSize);
        if (rows <= 0) return;
        final int tasks = (rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        Parallel.forRange(tasks, task -> {
            // row copies in arrays of their own, so every loop below is a vector loop over [i]
            float[][] sc = scratch(d);
            float[] xs = sc[0], sg = sc[1], e = sc[2], k = sc[3], o = sc[4];
            for (int r = task * ROWS_PER_TASK, r1 = Math.min(rows, r + ROWS_PER_TASK); r < r1; r++) {
                System.arraycopy(x, r * xStride + xOff, xs, 0, d);
                System.arraycopy(z, r * zStride + zOff, sg, 0, d);
                siluInPlace(sg, e, k, d);
                if (!normBeforeGate) for (int i = 0; i < d; i++) xs[i] *= sg[i];
                for (int g0 = 0; g0 < d; g0 += groupSize) {
                    int g1 = g0 + groupSize;
                    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                    int i = g0;
                    for (; i + 3 < g1; i += 4) {
                        float v0 = xs[i], v1 = xs[i + 1], v2 = xs[i + 2], v3 = xs[i + 3];
                        s0 += v0 * v0;
                        s1 += v1 * v1;
                        s2 += v2 * v2;
                        s3 += v3 * v3;
                    }
                    for (; i < g1; i++) s0 += xs[i] * xs[i];
                    float inv = (float) (1.0 / Math.sqrt(((s0 + s1) + (s2 + s3)) / groupSize + eps));
                    if (normBeforeGate) for (i = g0; i < g1; i++) o[i] = xs[i] * inv * w[i] * sg[i];
                    else for (i = g0; i < g1; i++) o[i] = xs[i] * inv * w[i];
                }
                System.arraycopy(o, 0, out, r * outStride + outOff, d);
            }
        });
    }

    /**
     * The norm of one group (ngroups 1) with norm_before_gate false, folded into the SSD scan (ssd_tc.cuh GatedOut):
     * out[r][i] = y * silu(z) * w, unscaled, and sumSq[r][h] = the sum over head h's headdim channels of (y * silu(z))^2.
     * {@link #rowScale} of a row's sums times out is {@link #cpu}'s output; since out_proj is linear, the scale is
     * applied to its product instead (GpuRmsNorm.DeltaScale). Layouts as in {@link #cpu}; sumSq is [rows][d / headdim].
     */
    public static void foldedCpu(float[] y, int yOff, int yStride, float[] z, int zOff, int zStride, float[] w, int rows,
                                 int d, int headdim, float[] out, float[] sumSq) {
        if (headdim < 1 || d % headdim != 0) throw new IllegalArgumentException("d " + d + " not a multiple of headdim " + headdim);
        final int heads = d / headdim;
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++) {
                double ss = 0;
                for (int p = 0; p < headdim; p++) {
                    int i = h * headdim + p;
                    float v = y[r * yStride + yOff + i] * silu(z[r * zStride + zOff + i]);
                    ss += (double) v * v;
                    out[r * d + i] = v * w[i];
                }
                sumSq[r * heads + h] = (float) ss;
            }
    }

    /** 1 / rms of a row from its parts' sums of squares sumSq[off, off + parts) over width channels. */
    public static float rowScale(float[] sumSq, int off, int parts, int width, float eps) {
        double s = 0;
        for (int k = 0; k < parts; k++) s += sumSq[off + k];
        return (float) (1.0 / Math.sqrt(s / width + eps));
    }

    /** Rows per parallel task. */
    static final int ROWS_PER_TASK = 8;

    private static final ThreadLocal<float[][]> SCRATCH = new ThreadLocal<>();

    /** Five arrays of at least len floats, per thread, reused across calls (every element used is written first). */
    private static float[][] scratch(int len) {
        float[][] s = SCRATCH.get();
        if (s == null || s[0].length < len) SCRATCH.set(s = new float[5][len]);
        return s;
    }

    /** v[i] = silu(v[i]) for i < n, with {@link #exp}; e and k are scratch of n floats. */
    static void siluInPlace(float[] v, float[] e, float[] k, int n) {
        for (int i = 0; i < n; i++) e[i] = -v[i];
        exp(e, e, k, n);
        for (int i = 0; i < n; i++) v[i] = v[i] / (1f + e[i]);
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
