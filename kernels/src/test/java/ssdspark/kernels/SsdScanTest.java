package ssdspark.kernels;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * SsdScan.chunked (float32, blocked) against SsdScan.sequentialReference (float64, one step at a time).
 *
 * <p>Tolerance: each output is a sum of O(dstate + q) products of float32 values, and the decay
 * factors are products of up to q float32 factors, so its rounding error is at most a few times
 * (dstate + q)·2⁻²⁴ ≈ 2e-5 of the sum of the magnitudes of its terms. We measure that magnitude by
 * running the float64 reference once more on |x|, |B|, |C|, |D|, |state| (every term then counts
 * positive), and allow 3e-5 of it (the observed error is ~10× smaller). A wrong index, mask or decay
 * shows up as an error of the order of the magnitude itself.
 */
class SsdScanTest {
    private static int savedThreads;

    @BeforeAll
    static void threads() {
        savedThreads = Parallel.threads();
        Parallel.setThreads(Math.max(2, savedThreads)); // exercise the parallel paths even on one core
    }

    @AfterAll
    static void restore() { Parallel.setThreads(savedThreads); }

    record Case(int nheads, int headdim, int dstate, int ngroups, int len, int q, boolean dPerChannel, boolean zeroStart) {
        Case(int nheads, int headdim, int dstate, int ngroups, int len, int q, boolean dPerChannel) {
            this(nheads, headdim, dstate, ngroups, len, q, dPerChannel, false);
        }

        @Override public String toString() {
            return "H" + nheads + " P" + headdim + " N" + dstate + " G" + ngroups + " len" + len + " q" + q
                    + (dPerChannel ? " Dpc" : "") + (zeroStart ? " S0=0" : "");
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        int[] qs = {1, 3, 17, 64, 100};
        for (int g : new int[] {1, 2, 4})
            for (boolean dpc : new boolean[] {false, true}) {
                int len = 37 + 11 * g;                              // not a multiple of any chunk below
                for (int q : qs) out.add(Arguments.of(new Case(8, 8, 6, g, len, q, dpc)));
                out.add(Arguments.of(new Case(8, 8, 6, g, len, len, dpc)));      // one chunk
                out.add(Arguments.of(new Case(8, 8, 6, g, len, len + 5, dpc)));  // chunk longer than the sequence
            }
        // headdim over one 64-wide tile and not a multiple of it, dstate not a multiple of 4, long chunks
        out.add(Arguments.of(new Case(4, 80, 9, 2, 150, 70, false)));
        out.add(Arguments.of(new Case(3, 64, 128, 1, 300, 256, true)));
        out.add(Arguments.of(new Case(2, 16, 5, 1, 1, 4, false)));            // a single step
        out.add(Arguments.of(new Case(6, 64, 16, 3, 130, 129, false)));       // last chunk of one step
        // a document's start (zero state: the inter-chunk term is skipped for the first chunk only)
        out.add(Arguments.of(new Case(4, 64, 32, 2, 90, 40, false, true)));
        out.add(Arguments.of(new Case(4, 64, 32, 1, 90, 128, true, true)));
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void chunkedMatchesSequentialReference(Case k) {
        check(k, 42);
    }

    @Test
    void singleThreadGivesTheSameNumbers() {
        Case k = new Case(4, 80, 9, 2, 150, 70, true);
        float[][] par = run(k, 7);
        int saved = Parallel.threads();
        Parallel.setThreads(1);
        try {
            float[][] one = run(k, 7);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < par[i].length; j++) assertEquals(par[i][j], one[i][j], 0f, "element " + j);
        } finally {
            Parallel.setThreads(saved);
        }
    }

    /**
     * bf16Operands (the tensor-core kernels' twin): each rounded operand is off by at most 2^-9 of itself, an
     * output term by two such roundings (W and x; C and S_in), a state term by three (B, E ∘ dt ∘ x, the chunk's
     * state), and an entering state carries its own error into C · S_in, so every y and final state stays within
     * 2^-7 of its terms' magnitude (on top of the fp32 error) of the float64 recurrence; and the rounding is really
     * applied (most outputs move).
     */
    @Test
    void bf16OperandsStayWithinTheirRoundingBound() {
        for (Case k : new Case[] {new Case(4, 64, 32, 2, 90, 40, false, true), new Case(3, 64, 128, 1, 300, 128, true)}) {
            Inputs v = new Inputs(k, 5);
            int n = k.len * k.nheads * k.headdim;
            float[] y32 = new float[n], y16 = new float[n], st32 = v.state.clone(), st16 = v.state.clone();
            SsdScan.chunked(v.dm, k.len, k.q, v.in, v.stride, v.xOff, v.bOff, v.cOff, v.dt, v.A, v.D, k.dPerChannel, st32, y32, false);
            SsdScan.chunked(v.dm, k.len, k.q, v.in, v.stride, v.xOff, v.bOff, v.cOff, v.dt, v.A, v.D, k.dPerChannel, st16, y16, true);

            double[] stRef = new double[v.state.length], yRef = new double[n], stMag = new double[v.state.length], yMag = new double[n];
            for (int i = 0; i < stRef.length; i++) {
                stRef[i] = v.state[i];
                stMag[i] = Math.abs(v.state[i]);
            }
            SsdScan.sequentialReference(v.dm, k.len, v.in, v.stride, v.xOff, v.bOff, v.cOff, v.dt, v.A, v.D, k.dPerChannel, stRef, yRef);
            float[] absIn = v.in.clone(), absD = v.D.clone();
            for (int i = 0; i < absIn.length; i++) absIn[i] = Math.abs(absIn[i]);
            for (int i = 0; i < absD.length; i++) absD[i] = Math.abs(absD[i]);
            SsdScan.sequentialReference(v.dm, k.len, absIn, v.stride, v.xOff, v.bOff, v.cOff, v.dt, v.A, absD, k.dPerChannel, stMag, yMag);
            int changed = 0;
            for (int i = 0; i < n; i++) {
                if (y16[i] != y32[i]) changed++;
                assertTrue(Math.abs(y16[i] - yRef[i]) <= (REL + 0x1p-7) * yMag[i] + 1e-7, k + ": y[" + i + "] = " + y16[i] + ", reference " + yRef[i]);
            }
            for (int i = 0; i < st16.length; i++)
                assertTrue(Math.abs(st16[i] - stRef[i]) <= (REL + 0x1p-7) * stMag[i] + 1e-7, k + ": state[" + i + "] = " + st16[i] + ", reference " + stRef[i]);
            assertTrue(changed > n / 2, k + ": the rounding changed only " + changed + " of " + n + " outputs");
        }
    }

    @Test
    void rejectsBadChunkAndDims() {
        assertThrows(IllegalArgumentException.class, () -> new SsdScan.Dims(6, 4, 4, 4));
        SsdScan.Dims dm = new SsdScan.Dims(2, 4, 4, 1);
        assertThrows(IllegalArgumentException.class, () -> SsdScan.chunked(dm, 3, 0, new float[100], 16, 0, 8, 12,
                new float[6], new float[2], new float[2], false, new float[32], new float[24]));
    }

    @Test
    void zeroLengthLeavesTheStateAlone() {
        SsdScan.Dims dm = new SsdScan.Dims(2, 4, 4, 1);
        float[] st = new float[32];
        java.util.Arrays.fill(st, 0.5f);
        SsdScan.chunked(dm, 0, 8, new float[0], 16, 0, 8, 12, new float[0], new float[] {-1, -2}, new float[2], false, st, new float[0]);
        for (float v : st) assertEquals(0.5f, v);
    }

    /** Inputs laid out like the engine's conv output: [len][stride] with x, B, C at offsets and spare columns. */
    private static final class Inputs {
        final SsdScan.Dims dm;
        final int stride, xOff, bOff, cOff;
        final float[] in, dt, A, D, state;

        Inputs(Case k, long seed) {
            dm = new SsdScan.Dims(k.nheads, k.headdim, k.dstate, k.ngroups);
            SplittableRandom r = new SplittableRandom(seed);
            int dx = k.nheads * k.headdim, gn = k.ngroups * k.dstate;
            xOff = 3;
            bOff = xOff + dx + 2;
            cOff = bOff + gn + 1;
            stride = cOff + gn + 4;
            in = new float[k.len * stride];
            for (int i = 0; i < in.length; i++) in[i] = (float) (r.nextDouble() * 2 - 1);
            dt = new float[k.len * k.nheads];
            for (int i = 0; i < dt.length; i++) dt[i] = (float) (0.005 + 0.2 * r.nextDouble());
            A = new float[k.nheads];
            for (int h = 0; h < k.nheads; h++) A[h] = (float) -(0.5 + 8 * r.nextDouble());
            D = new float[k.dPerChannel ? dx : k.nheads];
            for (int i = 0; i < D.length; i++) D[i] = (float) (r.nextDouble() * 2 - 1);
            state = new float[k.nheads * k.headdim * k.dstate];
            for (int i = 0; i < state.length; i++) state[i] = k.zeroStart ? 0f : (float) (r.nextDouble() * 4 - 2);
        }
    }

    /** {y, final state} from the chunked scan. */
    private static float[][] run(Case k, long seed) {
        Inputs v = new Inputs(k, seed);
        float[] y = new float[k.len * k.nheads * k.headdim];
        float[] st = v.state.clone();
        SsdScan.chunked(v.dm, k.len, k.q, v.in, v.stride, v.xOff, v.bOff, v.cOff, v.dt, v.A, v.D, k.dPerChannel, st, y);
        return new float[][] {y, st};
    }

    private static void check(Case k, long seed) {
        Inputs v = new Inputs(k, seed);
        float[] y = new float[k.len * k.nheads * k.headdim];
        java.util.Arrays.fill(y, Float.NaN); // every element must be written
        float[] st = v.state.clone();
        SsdScan.chunked(v.dm, k.len, k.q, v.in, v.stride, v.xOff, v.bOff, v.cOff, v.dt, v.A, v.D, k.dPerChannel, st, y);

        double[] stRef = new double[st.length], yRef = new double[y.length];
        for (int i = 0; i < st.length; i++) stRef[i] = v.state[i];
        SsdScan.sequentialReference(v.dm, k.len, v.in, v.stride, v.xOff, v.bOff, v.cOff, v.dt, v.A, v.D, k.dPerChannel, stRef, yRef);

        // magnitudes: the same recurrence on absolute values
        float[] absIn = v.in.clone(), absD = v.D.clone();
        for (int i = 0; i < absIn.length; i++) absIn[i] = Math.abs(absIn[i]);
        for (int i = 0; i < absD.length; i++) absD[i] = Math.abs(absD[i]);
        double[] stMag = new double[st.length], yMag = new double[y.length];
        for (int i = 0; i < st.length; i++) stMag[i] = Math.abs(v.state[i]);
        SsdScan.sequentialReference(v.dm, k.len, absIn, v.stride, v.xOff, v.bOff, v.cOff, v.dt, v.A, absD, k.dPerChannel, stMag, yMag);

        compare("y", y, yRef, yMag);
        compare("state", st, stRef, stMag);
    }

    static final double REL = 3e-5;

    private static void compare(String what, float[] got, double[] want, double[] mag) {
        double worst = 0;
        int at = -1;
        for (int i = 0; i < got.length; i++) {
            double err = Math.abs(got[i] - want[i]);
            if (!(err <= REL * mag[i] + 1e-7)) fail(what + "[" + i + "] = " + got[i] + " but the reference says " + want[i]
                    + " (error " + err + ", magnitude " + mag[i] + ")");
            double rel = err / (mag[i] + 1e-30);
            if (rel > worst) { worst = rel; at = i; }
        }
        assertTrue(worst <= REL, what + " worst relative error " + worst + " at " + at);
    }
}
