package ssdspark.kernels;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The packed, blocked GEMM against the float64 triple loop.
 *
 * <p>Tolerance: out[i][j] is a float32 fused-multiply-add chain of k terms, so its error is at most
 * about k·2⁻²⁴·Σ_q |x_iq·w_jq|; we allow 2k·2⁻²⁴ of that sum (plus 1e-30 for all-zero rows), which
 * any indexing, padding or tail mistake exceeds by orders of magnitude.
 */
class GemmTest {
    private static int savedThreads;

    @BeforeAll
    static void threads() {
        savedThreads = Parallel.threads();
        Parallel.setThreads(Math.max(2, savedThreads));
    }

    @AfterAll
    static void restore() { Parallel.setThreads(savedThreads); }

    @Test
    void oddShapesMatchTheReference() {
        int[] ms = {1, 2, 3, 4, 5, 7, 9, 13};
        int[] ns = {1, 5, 63, 64, 65, 130};
        int[] ks = {1, 2, 3, 5, 67};
        long seed = 1;
        for (int m : ms)
            for (int n : ns)
                for (int k : ks) check(m, n, k, 0, seed++);
    }

    @Test
    void largerShapesAndOffsets() {
        check(37, 200, 301, 0, 11);
        check(256, 96, 768, 0, 12);     // many row blocks, one and a half panels
        check(1, 3352, 768, 0, 13);     // a decode step through in_proj
        check(6, 70, 33, 17, 14);       // weight starting at an offset
    }

    @Test
    void singleThreadGivesTheSameBits() {
        int m = 29, n = 150, k = 77;
        float[] x = rnd(m * k, 3), w = rnd(n * k, 4);
        Gemm.Weight p = Gemm.pack(w, n, k);
        float[] par = new float[m * n], one = new float[m * n];
        Gemm.matmul(x, m, p, par);
        int saved = Parallel.threads();
        Parallel.setThreads(1);
        try {
            Gemm.matmul(x, m, p, one);
        } finally {
            Parallel.setThreads(saved);
        }
        for (int i = 0; i < par.length; i++) assertEquals(par[i], one[i], 0f);
    }

    @Test
    void zeroRowsAndBadSizes() {
        Gemm.Weight p = Gemm.pack(rnd(12, 5), 3, 4);
        float[] out = {7f};
        Gemm.matmul(new float[0], 0, p, out);
        assertEquals(7f, out[0]);
        assertEquals(3, p.n);
        assertEquals(4, p.k);
        assertThrows(IllegalArgumentException.class, () -> Gemm.matmul(new float[7], 2, p, new float[6]));
        assertThrows(IllegalArgumentException.class, () -> Gemm.matmul(new float[8], 2, p, new float[5]));
        assertThrows(IllegalArgumentException.class, () -> Gemm.pack(new float[11], 3, 4));
    }

    private static void check(int m, int n, int k, int off, long seed) {
        float[] x = rnd(m * k, seed), w = rnd(off + n * k, seed + 1000);
        float[] got = new float[m * n];
        Arrays.fill(got, Float.NaN);
        Gemm.matmul(x, m, Gemm.pack(w, off, n, k), got);
        float[] ref = new float[m * n];
        float[] wOnly = Arrays.copyOfRange(w, off, off + n * k);
        Gemm.matmulReference(x, m, wOnly, n, k, ref);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double mag = 0;
                for (int q = 0; q < k; q++) mag += Math.abs((double) x[i * k + q] * wOnly[j * k + q]);
                double tol = 2.0 * k * 0x1p-24 * mag + 1e-30;
                float g = got[i * n + j], r = ref[i * n + j];
                if (!(Math.abs(g - r) <= tol))
                    fail("m=" + m + " n=" + n + " k=" + k + " off=" + off + ": out[" + i + "][" + j + "] = " + g + ", reference " + r + " (tolerance " + tol + ")");
            }
    }

    static float[] rnd(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }
}
