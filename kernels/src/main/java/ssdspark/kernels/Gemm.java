package ssdspark.kernels;

import java.util.Arrays;

/**
 * Dense matrix products in torch's Linear layout: {@code out[m][n] = x[m][k] · w[n][k]ᵀ}.
 *
 * <p>The CPU twin packs the weight once into k-major panels of {@link #PANEL} output columns, one
 * small array per (panel, k) row, and multiplies 4 rows of x at a time against 3 panel rows at a
 * time ({@link #madd4}): 12 fused multiply-adds per loaded vector of accumulators, which HotSpot's
 * superword pass turns into 512/256-bit SIMD.
 *
 * <p>Why one array per panel row: C2 in JDK 17 only vectorises a loop when every float[] it stores
 * to and loads from is indexed by the loop variable plus a constant (a loop-invariant offset such as
 * {@code base + c} makes it assume the arrays may overlap and give up), and only when the trip count
 * is a compile-time constant in loops this size. So every vector loop here runs {@code c < PANEL}
 * over arrays indexed {@code [c]}. {@code Math.fma} is an intrinsic (one instruction) on every x86-64
 * and AArch64 CPU HotSpot supports with FMA; the kernels assume it.
 */
public final class Gemm {
    private Gemm() {}

    /** Column-panel width: the length of the GEMM's vectorised inner loop (8 AVX-512 / 16 AVX2 vectors). */
    static final int PANEL = 128;
    /** Width of the SSD scan's channel tiles (headdim 64 is one tile). */
    static final int TILE = 64;
    /** Rows of x handled together, so each panel row loaded feeds this many outputs. */
    static final int ROWS = 4;

    /** A weight [n][k] repacked as rows[panel·k + q][c] = w[panel·PANEL + c][q] (zero past n). */
    public static final class Weight {
        public final int n, k;
        final float[][] rows;

        Weight(int n, int k, float[][] rows) { this.n = n; this.k = k; this.rows = rows; }

        int panels() { return (n + PANEL - 1) / PANEL; }

        public long bytes() { return 4L * rows.length * PANEL; }
    }

    /** Packs w[n][k] (row-major, torch Linear layout) starting at offset off. */
    public static Weight pack(float[] w, int off, int n, int k) {
        if (n < 0 || k < 0 || off < 0) throw new IllegalArgumentException("weight shape " + n + "x" + k + " at offset " + off);
        if (w.length - (long) off < (long) n * k)
            throw new IllegalArgumentException("w holds " + (w.length - (long) off) + " floats after offset " + off + " < " + n + "x" + k);
        int np = (n + PANEL - 1) / PANEL;
        if ((long) np * k > Integer.MAX_VALUE - 16)
            throw new IllegalArgumentException("weight " + n + "x" + k + " is too large for one CPU panel array");
        float[][] rows = new float[np * k][PANEL];
        Parallel.forRange(np, p -> {
            int c1 = Math.min(PANEL, n - p * PANEL);
            for (int c = 0; c < c1; c++) {
                int src = off + (p * PANEL + c) * k;
                for (int q = 0; q < k; q++) rows[p * k + q][c] = w[src + q];
            }
        });
        return new Weight(n, k, rows);
    }

    public static Weight pack(float[] w, int n, int k) { return pack(w, 0, n, k); }

    /** out[m][n] = x[m][k] · Wᵀ. */
    public static void matmul(float[] x, int m, Weight w, float[] out) {
        int n = w.n, k = w.k;
        if (m < 0) throw new IllegalArgumentException("m = " + m);
        if (x.length < (long) m * k) throw new IllegalArgumentException("x holds " + x.length + " < " + m + "x" + k);
        if (out.length < (long) m * n) throw new IllegalArgumentException("out holds " + out.length + " < " + m + "x" + n);
        if (m == 0) return;
        int np = w.panels();
        int blocks = (m + ROWS - 1) / ROWS;
        // Tasks are (panel, group of row blocks): a panel (k·PANEL floats) stays in L2 across its row blocks.
        int groupBlocks = rowGroupBlocks(blocks, np);
        int groups = (blocks + groupBlocks - 1) / groupBlocks;
        Parallel.forRange(np * groups, t -> {
            int panel = t / groups, g = t % groups;
            int b0 = g * groupBlocks, b1 = Math.min(blocks, b0 + groupBlocks);
            float[] acc = new float[ROWS * PANEL], one = new float[PANEL];
            int col0 = panel * PANEL, cols = Math.min(PANEL, n - col0);
            for (int b = b0; b < b1; b++) {
                int r0 = b * ROWS, rows = Math.min(ROWS, m - r0);
                tile(x, k, r0, rows, w.rows, panel * k, acc, one);
                for (int r = 0; r < rows; r++) System.arraycopy(acc, r * PANEL, out, (r0 + r) * n + col0, cols);
            }
        });
    }

    /** Row blocks per task: enough tasks to keep every thread busy, at most 64 rows a task. */
    static int rowGroupBlocks(int blocks, int panels) {
        int want = 4 * Parallel.threads();
        int g = 16;
        while (g > 1 && (long) panels * ((blocks + g - 1) / g) < want) g >>= 1;
        return g;
    }

    /**
     * acc[r·PANEL + c] = Σ_q x[(r0+r)·k + q] · b[bOff + q][c] for r < rows (1 to 4), c < PANEL; rows
     * past {@code rows} hold garbage. {@code one} is scratch of PANEL floats.
     */
    static void tile(float[] x, int k, int r0, int rows, float[][] b, int bOff, float[] acc, float[] one) {
        Arrays.fill(acc, 0f);
        if (rows == ROWS) {
            int o = r0 * k;
            madd4(acc, x, o, o + k, o + 2 * k, o + 3 * k, b, bOff, 0, k);
        } else {
            for (int r = 0; r < rows; r++) {
                Arrays.fill(one, 0f);
                madd1(one, x, (r0 + r) * k, b, bOff, 0, k);
                System.arraycopy(one, 0, acc, r * PANEL, PANEL);
            }
        }
    }

    /**
     * The GEMM micro-kernel: acc[r·PANEL + c] += Σ_{j0 <= j < j1} x[o_r + j] · b[bOff + j][c] for rows
     * r = 0..3 and c < PANEL, three j at a time (12 fused multiply-adds per accumulator vector loaded
     * and stored). The four accumulator rows share one array at constant offsets, so C2's pre-loop,
     * which aligns one array, aligns all four (split cache-line stores are costly on Intel cores).
     * The shape (4 rows × 3 j × 128 columns) and the loop form were measured: C2 (JDK 17) vectorised
     * this and fell back to scalar code, 4-5× slower, for 4 j at a time, for 6 rows, and for an outer
     * loop bound written as {@code j0 + (j1 - j0) / 3 * 3}. Change it only with a benchmark at hand.
     */
    static void madd4(float[] acc, float[] x, int o0, int o1, int o2, int o3,
            float[][] b, int bOff, int j0, int j1) {
        int j = j0;
        for (int jEnd = j1 - 2; j < jEnd; j += 3) {
            float a00 = x[o0 + j], a01 = x[o0 + j + 1], a02 = x[o0 + j + 2];
            float a10 = x[o1 + j], a11 = x[o1 + j + 1], a12 = x[o1 + j + 2];
            float a20 = x[o2 + j], a21 = x[o2 + j + 1], a22 = x[o2 + j + 2];
            float a30 = x[o3 + j], a31 = x[o3 + j + 1], a32 = x[o3 + j + 2];
            float[] b0 = b[bOff + j], b1 = b[bOff + j + 1], b2 = b[bOff + j + 2];
            for (int c = 0; c < PANEL; c++) {
                float w0 = b0[c], w1 = b1[c], w2 = b2[c];
                acc[c] = Math.fma(a02, w2, Math.fma(a01, w1, Math.fma(a00, w0, acc[c])));
                acc[PANEL + c] = Math.fma(a12, w2, Math.fma(a11, w1, Math.fma(a10, w0, acc[PANEL + c])));
                acc[2 * PANEL + c] = Math.fma(a22, w2, Math.fma(a21, w1, Math.fma(a20, w0, acc[2 * PANEL + c])));
                acc[3 * PANEL + c] = Math.fma(a32, w2, Math.fma(a31, w1, Math.fma(a30, w0, acc[3 * PANEL + c])));
            }
        }
        for (; j < j1; j++) {
            float a0 = x[o0 + j], a1 = x[o1 + j], a2 = x[o2 + j], a3 = x[o3 + j];
            float[] b0 = b[bOff + j];
            for (int c = 0; c < PANEL; c++) {
                float w0 = b0[c];
                acc[c] = Math.fma(a0, w0, acc[c]);
                acc[PANEL + c] = Math.fma(a1, w0, acc[PANEL + c]);
                acc[2 * PANEL + c] = Math.fma(a2, w0, acc[2 * PANEL + c]);
                acc[3 * PANEL + c] = Math.fma(a3, w0, acc[3 * PANEL + c]);
            }
        }
    }


    /** One row of {@link #madd4} into its own array: c0[0..PANEL) += Σ_j x0[o0 + j] · b[bOff + j][0..PANEL). */
    static void madd1(float[] c0,
            float[] x0, int o0,
            float[][] b, int bOff, int j0, int j1) {
        int j = j0;
        for (int jEnd = j1 - 2; j < jEnd; j += 3) {
            float a00 = x0[o0 + j], a01 = x0[o0 + j + 1], a02 = x0[o0 + j + 2];
            float[] b0 = b[bOff + j], b1 = b[bOff + j + 1], b2 = b[bOff + j + 2];
            for (int c = 0; c < PANEL; c++) {
                float w0 = b0[c], w1 = b1[c], w2 = b2[c];
                c0[c] = Math.fma(a02, w2, Math.fma(a01, w1, Math.fma(a00, w0, c0[c])));
            }
        }
        for (; j < j1; j++) {
            float a0 = x0[o0 + j];
            float[] b0 = b[bOff + j];
            for (int c = 0; c < PANEL; c++) {
                float w0 = b0[c];
                c0[c] = Math.fma(a0, w0, c0[c]);
            }
        }
    }

    /**
     * {@link #madd4} on 64-wide rows (the SSD scan's channel tiles): c_r[0..TILE) += Σ_j x_r[o_r + j] · b[bOff + j][0..TILE).
     */
    static void madd4t(float[] c0, float[] c1, float[] c2, float[] c3,
            float[] x0, int o0, float[] x1, int o1, float[] x2, int o2, float[] x3, int o3,
            float[][] b, int bOff, int j0, int j1) {
        int j = j0;
        for (int jEnd = j1 - 2; j < jEnd; j += 3) {
            float a00 = x0[o0 + j], a01 = x0[o0 + j + 1], a02 = x0[o0 + j + 2];
            float a10 = x1[o1 + j], a11 = x1[o1 + j + 1], a12 = x1[o1 + j + 2];
            float a20 = x2[o2 + j], a21 = x2[o2 + j + 1], a22 = x2[o2 + j + 2];
            float a30 = x3[o3 + j], a31 = x3[o3 + j + 1], a32 = x3[o3 + j + 2];
            float[] b0 = b[bOff + j], b1 = b[bOff + j + 1], b2 = b[bOff + j + 2];
            for (int c = 0; c < TILE; c++) {
                float w0 = b0[c], w1 = b1[c], w2 = b2[c];
                c0[c] = Math.fma(a02, w2, Math.fma(a01, w1, Math.fma(a00, w0, c0[c])));
                c1[c] = Math.fma(a12, w2, Math.fma(a11, w1, Math.fma(a10, w0, c1[c])));
                c2[c] = Math.fma(a22, w2, Math.fma(a21, w1, Math.fma(a20, w0, c2[c])));
                c3[c] = Math.fma(a32, w2, Math.fma(a31, w1, Math.fma(a30, w0, c3[c])));
            }
        }
        for (; j < j1; j++) {
            float a0 = x0[o0 + j], a1 = x1[o1 + j], a2 = x2[o2 + j], a3 = x3[o3 + j];
            float[] b0 = b[bOff + j];
            for (int c = 0; c < TILE; c++) {
                float w0 = b0[c];
                c0[c] = Math.fma(a0, w0, c0[c]);
                c1[c] = Math.fma(a1, w0, c1[c]);
                c2[c] = Math.fma(a2, w0, c2[c]);
                c3[c] = Math.fma(a3, w0, c3[c]);
            }
        }
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
