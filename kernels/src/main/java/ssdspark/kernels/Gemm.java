package ssdspark.kernels;

/**
 * Dense matrix products in torch's Linear layout: {@code out[m][n] = x[m][k] · w[n][k]ᵀ}.
 *
 * <p>The CPU twin packs the weight once (k-major panels) so the inner loop is an axpy over a
 * contiguous panel row, which HotSpot's superword pass turns into SIMD.
 */
public final class Gemm {
    private Gemm() {}

    /** Column-panel width: a panel row of this many floats is the unit the inner loop streams. */
    static final int PANEL = 64;
    /** Rows of x handled together, so each panel row loaded from cache feeds this many outputs. */
    static final int ROWS = 4;

    /** A weight [n][k] repacked as panels[n/PANEL][k][PANEL] (zero padded to a whole panel). */
    public static final class Weight {
        public final int n, k;
        final float[] panels;

        Weight(int n, int k, float[] panels) { this.n = n; this.k = k; this.panels = panels; }

        public long bytes() { return 4L * panels.length; }
    }

    /** Packs w[n][k] (row-major, torch Linear layout) starting at offset off. */
    public static Weight pack(float[] w, int off, int n, int k) {
        int np = (n + PANEL - 1) / PANEL;
        long size = (long) np * k * PANEL;
        if (size > Integer.MAX_VALUE - 16)
            throw new IllegalArgumentException("weight " + n + "x" + k + " is too large for one CPU panel array");
        float[] p = new float[(int) size];
        for (int j = 0; j < n; j++) {
            int panel = j / PANEL, col = j % PANEL;
            int base = panel * k * PANEL + col;
            int src = off + j * k;
            for (int q = 0; q < k; q++) p[base + q * PANEL] = w[src + q];
        }
        return new Weight(n, k, p);
    }

    public static Weight pack(float[] w, int n, int k) { return pack(w, 0, n, k); }

    /** out[m][n] = x[m][k] · Wᵀ. */
    public static void matmul(float[] x, int m, Weight w, float[] out) {
        int n = w.n, k = w.k;
        if (x.length < (long) m * k) throw new IllegalArgumentException("x holds " + x.length + " < " + m + "x" + k);
        if (out.length < (long) m * n) throw new IllegalArgumentException("out holds " + out.length + " < " + m + "x" + n);
        int np = (n + PANEL - 1) / PANEL;
        int rowBlocks = (m + ROWS - 1) / ROWS;
        // Parallel over (panel, row block) tiles; panels outermost so a thread reuses its panel from L2.
        Parallel.forRange(np * rowBlocks, t -> {
            int panel = t / rowBlocks, rb = t % rowBlocks;
            tile(x, k, w.panels, panel, rb * ROWS, Math.min(ROWS, m - rb * ROWS), n, out);
        });
    }

    private static void tile(float[] x, int k, float[] panels, int panel, int row0, int rows, int n, float[] out) {
        float[] acc = new float[ROWS * PANEL];
        int pbase = panel * k * PANEL;
        if (rows == ROWS) {
            int x0 = row0 * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
            for (int q = 0; q < k; q++) {
                float a0 = x[x0 + q], a1 = x[x1 + q], a2 = x[x2 + q], a3 = x[x3 + q];
                int pb = pbase + q * PANEL;
                for (int c = 0; c < PANEL; c++) {
                    float b = panels[pb + c];
                    acc[c] += a0 * b;
                    acc[PANEL + c] += a1 * b;
                    acc[2 * PANEL + c] += a2 * b;
                    acc[3 * PANEL + c] += a3 * b;
                }
            }
        } else {
            for (int r = 0; r < rows; r++) {
                int xr = (row0 + r) * k, ar = r * PANEL;
                for (int q = 0; q < k; q++) {
                    float a = x[xr + q];
                    int pb = pbase + q * PANEL;
                    for (int c = 0; c < PANEL; c++) acc[ar + c] += a * panels[pb + c];
                }
            }
        }
        int col0 = panel * PANEL, cols = Math.min(PANEL, n - col0);
        for (int r = 0; r < rows; r++)
            System.arraycopy(acc, r * PANEL, out, (row0 + r) * n + col0, cols);
    }

    /** Reference: plain triple loop in double, the yardstick the packed path is tested against. */
    public static void matmulReference(float[] x, int m, float[] w, int n, int k, float[] out) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int q = 0; q < k; q++) s += (double) x[i * k + q] * w[j * k + q];
                out[i * n + j] = (float) s;
            }
    }
}
