package ssdspark.kernels;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The CPU twins of the conv, the norms, the fused LM head, the polynomial exp and the thread pool. */
class CpuKernelsTest {
    private static int savedThreads;

    @BeforeAll
    static void threads() {
        savedThreads = Parallel.threads();
        Parallel.setThreads(Math.max(3, savedThreads)); // parallel paths even on a small machine
    }

    @AfterAll
    static void restore() { Parallel.setThreads(savedThreads); }

    // ---------------------------------------------------------------- causal conv

    /**
     * Splitting a sequence anywhere and carrying the state must give the same bits as one pass: every
     * output is the same fused multiply-adds over the same window in the same order, whichever call
     * computes it. Splits include pieces shorter than the window (history from the carried state).
     */
    @Test
    void convWithCarriedStateEqualsOnePass() {
        for (int kernel : new int[] {1, 2, 4}) {
            for (boolean withBias : new boolean[] {true, false}) {
                int len = 45, channels = 37, stride = 50, off = 6;
                SplittableRandom r = new SplittableRandom(kernel * 10 + (withBias ? 1 : 0));
                float[] in = rnd(len * stride, r), weight = rnd(channels * kernel, r), bias = withBias ? rnd(channels, r) : null;
                float[] state0 = rnd((kernel - 1) * channels, r);

                float[] whole = new float[len * channels], stWhole = state0.clone();
                CausalConv1d.cpu(in, off, stride, len, channels, weight, bias, kernel, stWhole, whole);
                checkConvAgainstDouble(in, off, stride, len, channels, weight, bias, kernel, state0, whole);

                int[][] splits = {{1}, {2}, {3}, {16}, {17, 1}, {1, 1, 1}, {44}, {5, 2, 30}};
                for (int[] cuts : splits) {
                    float[] pieces = new float[len * channels], st = state0.clone();
                    int s = 0;
                    for (int i = 0; i <= cuts.length; i++) {
                        int e = i < cuts.length ? Math.min(len, s + cuts[i]) : len;
                        if (e == s) continue;
                        float[] part = new float[(e - s) * channels];
                        float[] inPart = Arrays.copyOfRange(in, s * stride, e * stride);
                        CausalConv1d.cpu(inPart, off, stride, e - s, channels, weight, bias, kernel, st, part);
                        System.arraycopy(part, 0, pieces, s * channels, part.length);
                        s = e;
                    }
                    String what = "K=" + kernel + " bias=" + withBias + " cuts=" + Arrays.toString(cuts);
                    assertArrayEquals(whole, pieces, what + ": outputs");
                    assertArrayEquals(stWhole, st, what + ": carried state");
                }
            }
        }
    }

    /** Against the definition in double: silu(bias + Σ_j w[c][j]·x[t-K+1+j][c]); float rounding of K+2 terms and the exp (< 1e-7). */
    private static void checkConvAgainstDouble(float[] in, int off, int stride, int len, int ch, float[] w, float[] bias, int k,
                                               float[] state0, float[] got) {
        int hist = k - 1;
        for (int t = 0; t < len; t++)
            for (int c = 0; c < ch; c++) {
                double s = bias == null ? 0 : bias[c], mag = Math.abs(s);
                for (int j = 0; j < k; j++) {
                    int tt = t - hist + j;
                    double v = tt >= 0 ? in[tt * stride + off + c] : state0[(hist + tt) * ch + c];
                    s += w[c * k + j] * v;
                    mag += Math.abs(w[c * k + j] * v);
                }
                double want = s / (1 + Math.exp(-s));
                double tol = 1e-6 * (mag + 1);
                if (!(Math.abs(got[t * ch + c] - want) <= tol))
                    fail("conv out[" + t + "][" + c + "] = " + got[t * ch + c] + ", want " + want);
            }
    }

    @Test
    void convStateWhenTheChunkIsShorterThanTheWindow() {
        // K = 4: the new window after 2 inputs is [old[2], in0, in1]
        float[] st = {1, 2, 3};          // one channel, oldest first
        float[] in = {10, 20};
        float[] out = new float[2];
        CausalConv1d.cpu(in, 0, 1, 2, 1, new float[] {0, 0, 0, 1}, null, 4, st, out);
        assertArrayEquals(new float[] {3, 10, 20}, st);
        assertEquals(10 / (1 + Math.exp(-10)), out[0], 1e-5);
    }

    // ---------------------------------------------------------------- norms

    /**
     * mamba_ssm's group-wise gated RMSNorm against a direct double computation, both gate orders.
     * Tolerance 1e-5 relative: about ten float roundings (6e-8 each) plus the exp's 1e-7.
     */
    @Test
    void gatedNormGroupWiseMatchesDouble() {
        int rows = 19, d = 48;
        for (int groups : new int[] {1, 2, 4})
            for (boolean nbg : new boolean[] {false, true}) {
                SplittableRandom r = new SplittableRandom(groups * 2 + (nbg ? 1 : 0));
                int xStride = d + 5, xOff = 3, zStride = 2 * d + 7, zOff = d + 2, outStride = d + 9, outOff = 4;
                float[] x = rnd(rows * xStride, r), z = rnd(rows * zStride, r), w = rnd(d, r);
                for (int i = 0; i < z.length; i++) z[i] *= 4; // reach both tails of the sigmoid
                float[] out = new float[rows * outStride];
                Arrays.fill(out, -7f);
                int gs = d / groups;
                GatedRmsNorm.cpu(x, xOff, xStride, z, zOff, zStride, w, 1e-5f, gs, nbg, rows, d, out, outOff, outStride);
                for (int t = 0; t < rows; t++) {
                    for (int g0 = 0; g0 < d; g0 += gs) {
                        double ss = 0;
                        double[] v = new double[gs];
                        for (int i = 0; i < gs; i++) {
                            double xv = x[t * xStride + xOff + g0 + i], zv = z[t * zStride + zOff + g0 + i];
                            v[i] = nbg ? xv : xv * zv / (1 + Math.exp(-zv));
                            ss += v[i] * v[i];
                        }
                        double inv = 1 / Math.sqrt(ss / gs + 1e-5);
                        for (int i = 0; i < gs; i++) {
                            double zv = z[t * zStride + zOff + g0 + i];
                            double want = v[i] * inv * w[g0 + i] * (nbg ? zv / (1 + Math.exp(-zv)) : 1);
                            float got = out[t * outStride + outOff + g0 + i];
                            if (!(Math.abs(got - want) <= 1e-5 * Math.abs(want) + 1e-7))
                                fail("groups=" + groups + " nbg=" + nbg + " [" + t + "][" + (g0 + i) + "] = " + got + ", want " + want);
                        }
                    }
                    // columns outside the output window are untouched
                    for (int i = 0; i < outOff; i++) assertEquals(-7f, out[t * outStride + i]);
                    for (int i = outOff + d; i < outStride; i++) assertEquals(-7f, out[t * outStride + i]);
                }
            }
        assertThrows(IllegalArgumentException.class, () -> GatedRmsNorm.cpu(new float[8], 0, 8, new float[8], 0, 8,
                new float[8], 1e-5f, 3, false, 1, 8, new float[8], 0, 8));
    }

    /**
     * The fold the GPU engine runs (ngroups 1, norm after the gate): foldedCpu's unscaled y * silu(z) * w times the
     * rowScale of its per-head sums is the gated norm of one group, and since out_proj is linear, a residual add of
     * the scaled product of the folded rows is the add of the norm's product (addScaledCpu).
     */
    @Test
    void foldedGatedNormIsTheNormOfOneGroup() {
        int rows = 9, headdim = 8, heads = 6, d = heads * headdim, dModel = 10;
        SplittableRandom r = new SplittableRandom(31);
        int yStride = d + 3, zStride = d + 5, zOff = 2;
        float[] y = rnd(rows * yStride, r), z = rnd(rows * zStride, r), w = rnd(d, r), outW = rnd(dModel * d, r);
        for (int i = 0; i < z.length; i++) z[i] *= 4;
        float[] norm = new float[rows * d], folded = new float[rows * d], sums = new float[rows * heads];
        GatedRmsNorm.cpu(y, 1, yStride, z, zOff, zStride, w, 1e-5f, d, false, rows, d, norm, 0, d);
        GatedRmsNorm.foldedCpu(y, 1, yStride, z, zOff, zStride, w, rows, d, headdim, folded, sums);
        float[] scale = new float[rows], prodNorm = new float[rows * dModel], prodFolded = new float[rows * dModel];
        for (int t = 0; t < rows; t++) {
            scale[t] = GatedRmsNorm.rowScale(sums, t * heads, heads, d, 1e-5f);
            for (int i = 0; i < d; i++)
                assertEquals(norm[t * d + i], folded[t * d + i] * scale[t], 1e-6 * Math.abs(norm[t * d + i]) + 1e-7, "[" + t + "][" + i + "]");
            for (int o = 0; o < dModel; o++) // out_proj: prod[t][o] = sum_i outW[o][i] x[t][i]
                for (int i = 0; i < d; i++) {
                    prodNorm[t * dModel + o] += outW[o * d + i] * norm[t * d + i];
                    prodFolded[t * dModel + o] += outW[o * d + i] * folded[t * d + i];
                }
        }
        float[] res = rnd(rows * dModel, r), nw = rnd(dModel, r), resF = res.clone(), a = new float[rows * dModel], b = new float[rows * dModel];
        RmsNorm.addCpu(res, prodNorm, nw, 1e-5f, rows, dModel, a);
        RmsNorm.addScaledCpu(resF, prodFolded, scale, nw, 1e-5f, rows, dModel, b);
        for (int i = 0; i < a.length; i++) {
            assertEquals(res[i], resF[i], 1e-5 * Math.abs(res[i]) + 1e-6, "residual " + i);
            assertEquals(a[i], b[i], 1e-4 * Math.abs(a[i]) + 1e-6, "norm out " + i);
        }
        assertThrows(IllegalArgumentException.class, () -> GatedRmsNorm.foldedCpu(y, 0, yStride, z, 0, zStride, w, 1, d, 7,
                folded, sums));
    }

    @Test
    void rmsNormAndFusedResidualAdd() {
        int rows = 13, d = 70;
        SplittableRandom r = new SplittableRandom(5);
        float[] x = rnd(rows * d, r), w = rnd(d, r), delta = rnd(rows * d, r);
        float[] out = new float[rows * d];
        RmsNorm.cpu(x, w, 1e-5f, rows, d, out);
        checkRms(x, w, rows, d, out);
        float[] res = x.clone(), out2 = new float[rows * d];
        RmsNorm.addCpu(res, delta, w, 1e-5f, rows, d, out2);
        for (int i = 0; i < res.length; i++) assertEquals(x[i] + delta[i], res[i], 0f);
        checkRms(res, w, rows, d, out2);
    }

    private static void checkRms(float[] x, float[] w, int rows, int d, float[] out) {
        for (int t = 0; t < rows; t++) {
            double ss = 0;
            for (int i = 0; i < d; i++) ss += (double) x[t * d + i] * x[t * d + i];
            double inv = 1 / Math.sqrt(ss / d + 1e-5);
            for (int i = 0; i < d; i++) {
                double want = x[t * d + i] * inv * w[i];
                assertEquals(want, out[t * d + i], 1e-6 * Math.abs(want) + 1e-7, "row " + t + " col " + i);
            }
        }
    }

    // ---------------------------------------------------------------- LM head

    /**
     * The fused head against logits and logsumexp in double, over vocabularies that are not a whole
     * number of panels and more rows than one task holds. Tolerance 2e-5: a float logit of d terms is
     * off by at most d·6e-8·Σ|h·e| (≈ 1e-6 here), and a log-prob by about twice its worst logit.
     */
    @Test
    void lmHeadMatchesDoubleLogSoftmax() {
        int d = 40;
        for (int vocab : new int[] {1, 5, 128, 300, 1100})
            for (int rows : new int[] {1, 3, 70}) {
                SplittableRandom r = new SplittableRandom(vocab * 100 + rows);
                float[] h = rnd(rows * d, r), e = rnd(vocab * d, r);
                for (int i = 0; i < h.length; i++) h[i] *= 3; // logits spread over several units
                int[] tg = new int[rows + 2];
                for (int i = 0; i < tg.length; i++) tg[i] = r.nextInt(vocab);
                float[] lp = new float[rows + 3];
                Arrays.fill(lp, 99f);
                LmHead.logProbsCpu(h, rows, Gemm.pack(e, vocab, d), tg, 2, lp, 1);
                assertEquals(99f, lp[0]);
                for (int i = 0; i < rows; i++) {
                    double[] logit = new double[vocab];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int v = 0; v < vocab; v++) {
                        double s = 0;
                        for (int q = 0; q < d; q++) s += (double) h[i * d + q] * e[v * d + q];
                        logit[v] = s;
                        max = Math.max(max, s);
                    }
                    double sum = 0;
                    for (double l : logit) sum += Math.exp(l - max);
                    double want = logit[tg[2 + i]] - max - Math.log(sum);
                    assertEquals(want, lp[1 + i], 2e-5, "vocab " + vocab + " rows " + rows + " row " + i);
                }
                if (rows + 1 < lp.length) assertEquals(99f, lp[rows + 1]);
            }
    }

    @Test
    void lmHeadRejectsTargetsOutsideTheHead() {
        Gemm.Weight head = Gemm.pack(new float[10 * 4], 10, 4);
        assertThrows(IllegalArgumentException.class,
                () -> LmHead.logProbsCpu(new float[8], 2, head, new int[] {3, 10}, 0, new float[2], 0));
    }

    // ---------------------------------------------------------------- exp, silu

    @Test
    void polynomialExpIsAccurate() {
        int n = 20001;
        float[] x = new float[n], y = new float[n], k = new float[n];
        for (int i = 0; i < n; i++) x[i] = -87f + 175f * i / (n - 1);
        GatedRmsNorm.exp(x, y, k, n);
        double worst = 0;
        for (int i = 0; i < n; i++) worst = Math.max(worst, Math.abs(y[i] / Math.exp(x[i]) - 1));
        assertTrue(worst < 2e-7, "worst relative error " + worst);
        float[] edge = {Float.NaN, Float.NEGATIVE_INFINITY, -1000f, 0f, 1000f};
        GatedRmsNorm.exp(edge, y, k, edge.length);
        assertTrue(Float.isNaN(y[0]));
        assertTrue(y[1] >= 0f && y[1] < 2e-38f && y[2] >= 0f && y[2] < 2e-38f);
        assertEquals(1f, y[3]);
        assertTrue(y[4] > 1e38f);

        float[] v = {-200f, -20f, -1f, 0f, 0.5f, 30f, 200f}, e = new float[v.length];
        float[] s = v.clone();
        GatedRmsNorm.siluInPlace(s, e, k, v.length);
        for (int i = 0; i < v.length; i++) assertEquals(GatedRmsNorm.silu(v[i]), s[i], 1e-6 * Math.abs(v[i]) + 1e-30, "silu(" + v[i] + ")");
    }

    // ---------------------------------------------------------------- pool

    @Test
    void forRangeRunsEveryIndexOnceAndRethrows() {
        for (int n : new int[] {1, 2, 7, 1000}) {
            AtomicIntegerArray hits = new AtomicIntegerArray(n);
            Parallel.forRange(n, i -> {
                Parallel.forRange(3, j -> {}); // nested calls run inline on the worker
                hits.incrementAndGet(i);
            });
            for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "index " + i + " of " + n);
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Parallel.forRange(100, i -> {
            if (i == 37) throw new IllegalStateException("boom at " + i);
        }));
        assertEquals("boom at 37", e.getMessage());
        Parallel.forRange(0, i -> fail("no indices"));
    }

    static float[] rnd(int n, SplittableRandom r) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }
}
