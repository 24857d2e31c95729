package ssdspark.kernels;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The attention and rotary CPU twins against direct float64 transcriptions of their definitions. */
class AttentionTest {
    static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    /** softmax(scale q·k) v over kv rows [0, prefix + t], in double; kv head = h / (H / Hkv). */
    static double[] naive(float[] q, int qOff, int ldq, int t, int h, float[] k, int kOff, float[] v, int vOff, int ldkv,
                          int prefix, int H, int Hkv, int D, double scale) {
        int g = h / (H / Hkv), len = prefix + t + 1;
        double[] s = new double[len];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < len; j++) {
            double dot = 0;
            for (int c = 0; c < D; c++) dot += (double) q[qOff + t * ldq + h * D + c] * k[kOff + j * ldkv + g * D + c];
            s[j] = dot * scale;
            max = Math.max(max, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < len; j++) sum += s[j] = Math.exp(s[j] - max);
        double[] o = new double[D];
        for (int j = 0; j < len; j++)
            for (int c = 0; c < D; c++) o[c] += s[j] / sum * v[vOff + j * ldkv + g * D + c];
        return o;
    }

    @ParameterizedTest(name = "heads {0}/{1}, head dim {2}, {3} queries after {4}")
    @CsvSource({"4,2,8,5,0", "4,1,16,9,7", "3,3,5,1,20", "8,2,32,17,3", "2,2,4,33,0"})
    void causalGqaMatchesDefinition(int H, int Hkv, int D, int nQ, int prefix) {
        Random r = new Random(H * 1000 + nQ);
        int nKv = prefix + nQ + 2; // spare rows after the last query's: must never be read
        int ldq = H * D + 3, ldkv = 2 * Hkv * D + 1, ldo = H * D + 5;
        float[] q = random(r, 2 + nQ * ldq), kv = random(r, nKv * ldkv);
        float scale = (float) (1 / Math.sqrt(D)) * 1.3f;
        float[] out = new float[1 + nQ * ldo];
        Attention.causal(new Attention.Dims(H, Hkv, D, scale), q, 2, ldq, nQ, kv, 0, kv, Hkv * D, ldkv, nKv, prefix, out, 1, ldo);
        double worst = 0;
        for (int t = 0; t < nQ; t++)
            for (int h = 0; h < H; h++) {
                double[] want = naive(q, 2, ldq, t, h, kv, 0, kv, Hkv * D, ldkv, prefix, H, Hkv, D, scale);
                for (int c = 0; c < D; c++) worst = Math.max(worst, Math.abs(out[1 + t * ldo + h * D + c] - want[c]));
            }
        assertEquals(0, worst, 2e-6, "max |twin - float64|");
        // poisoning the rows a causal query must not see changes nothing
        float[] poisoned = kv.clone();
        for (int j = prefix + nQ; j < nKv; j++) for (int c = 0; c < ldkv; c++) poisoned[j * ldkv + c] = 1e6f;
        float[] out2 = new float[out.length];
        Attention.causal(new Attention.Dims(H, Hkv, D, scale), q, 2, ldq, nQ, poisoned, 0, poisoned, Hkv * D, ldkv, nKv, prefix, out2, 1, ldo);
        assertArrayEquals(out, out2);
    }

    @Test
    void queriesInTwoCallsEqualOneCall() {
        Random r = new Random(5);
        int H = 4, Hkv = 2, D = 8, n = 12, ld = (H + 2 * Hkv) * D;
        float[] qkv = random(r, n * ld);
        var dims = new Attention.Dims(H, Hkv, D, 0.3f);
        float[] whole = new float[n * H * D], parts = new float[n * H * D];
        Attention.causal(dims, qkv, 0, ld, n, qkv, H * D, qkv, (H + Hkv) * D, ld, n, 0, whole, 0, H * D);
        Attention.causal(dims, qkv, 0, ld, 5, qkv, H * D, qkv, (H + Hkv) * D, ld, 5, 0, parts, 0, H * D);
        Attention.causal(dims, qkv, 5 * ld, ld, n - 5, qkv, H * D, qkv, (H + Hkv) * D, ld, n, 5, parts, 5 * H * D, H * D);
        assertArrayEquals(whole, parts, 1e-6f);
    }

    @Test
    void tooFewKvRowsAreRefused() {
        var dims = new Attention.Dims(2, 1, 4, 1f);
        float[] a = new float[100];
        assertThrows(IllegalArgumentException.class, () -> Attention.causal(dims, a, 0, 8, 3, a, 0, a, 4, 8, 4, 2, a, 0, 8));
        assertThrows(IllegalArgumentException.class, () -> new Attention.Dims(4, 3, 8, 1f));
    }

    @Test
    void inverseFrequenciesByHand() {
        assertArrayEquals(new float[] {1f, 0.01f}, Rotary.inverseFrequencies(4, 10000), 1e-9f);
        float[] f = Rotary.inverseFrequencies(64, 10000);
        for (int i = 0; i < 32; i++) assertEquals(Math.pow(10000, -2.0 * i / 64), f[i], 1e-7 * Math.max(1, f[i]) + Math.ulp(f[i]));
        assertThrows(IllegalArgumentException.class, () -> Rotary.inverseFrequencies(5, 10000));
    }

    @ParameterizedTest(name = "interleaved {0}")
    @CsvSource({"false", "true"})
    void rotaryTurnsPairsByPositionTimesFrequency(boolean interleaved) {
        // head dim 6, rotary dim 4 (invFreq 1, 0.01), two heads; channels 4, 5 pass through
        int H = 2, D = 6, ld = H * D + 1;
        Random r = new Random(interleaved ? 1 : 2);
        float[] x = random(r, 3 * ld), before = x.clone();
        int[] pos = {9, 0, 1, 1000};
        float[] f = Rotary.inverseFrequencies(4, 10000);
        Rotary.apply(x, 0, ld, 3, H, D, f, interleaved, pos, 1); // rows at positions 0, 1, 1000
        for (int t = 0; t < 3; t++)
            for (int h = 0; h < H; h++) {
                int b = t * ld + h * D;
                for (int i = 0; i < 2; i++) {
                    int i0 = interleaved ? b + 2 * i : b + i, i1 = interleaved ? i0 + 1 : i0 + 2;
                    double a = pos[1 + t] * (i == 0 ? 1.0 : 0.01), c = Math.cos(a), s = Math.sin(a);
                    assertEquals(before[i0] * c - before[i1] * s, x[i0], 2e-6, "t " + t + " h " + h + " pair " + i);
                    assertEquals(before[i1] * c + before[i0] * s, x[i1], 2e-6);
                }
                assertEquals(before[b + 4], x[b + 4]);
                assertEquals(before[b + 5], x[b + 5]);
            }
        assertEquals(before[3 * ld - 1], x[3 * ld - 1]); // the row's spare column
    }

    @Test
    void rotaryScoresDependOnRelativePositionOnly() {
        Random r = new Random(3);
        int D = 16;
        float[] f = Rotary.inverseFrequencies(D, 10000);
        float[] q = random(r, D), k = random(r, D);
        double first = Double.NaN;
        for (int p : new int[] {0, 5, 300}) {
            float[] qq = q.clone(), kk = k.clone();
            Rotary.apply(qq, 0, D, 1, 1, D, f, false, new int[] {p + 7}, 0);
            Rotary.apply(kk, 0, D, 1, 1, D, f, false, new int[] {p}, 0);
            double dot = 0;
            for (int c = 0; c < D; c++) dot += qq[c] * kk[c];
            if (Double.isNaN(first)) first = dot;
            else assertEquals(first, dot, 1e-4, "offset " + p);
        }
    }
}
