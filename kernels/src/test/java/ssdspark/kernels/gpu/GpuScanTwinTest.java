package ssdspark.kernels.gpu;

import org.junit.jupiter.api.Test;
import ssdspark.kernels.CausalConv1d;
import ssdspark.kernels.SsdScan;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static ssdspark.kernels.gpu.GpuTests.*;

/**
 * The sequence kernels on packed varlen batches with carried states: causal conv1d and the SSD scan, each
 * sequence compared with its CPU twin run alone (and the scan with the float64 recurrence).
 */
class GpuScanTwinTest {
    @Test
    void causalConv1dVarlenMatchesTwin() {
        GpuDevice dev = device();
        // channels 70: one channel a thread; 72 with aligned rows: 4 a thread with 16-byte loads; 72 with offset rows:
        // 4 a thread with 4-byte loads
        int[][] shapes = {{70, 5, 80}, {72, 8, 88}, {72, 5, 81}};
        for (int[] shape : shapes)
        for (int kernel : new int[] {4, 3, 2, 1}) {
            SplittableRandom r = new SplittableRandom(kernel);
            int[] lens = {1, 2, 5, 130, 3, 17, 16, 15};
            int channels = shape[0], inOff = shape[1], ldIn = shape[2], hist = kernel - 1;
            Varlen v = Varlen.of(lens, 64);
            float[] in = randn(r, v.tokens * ldIn, 1), w = randn(r, channels * kernel, 0.5), bias = randn(r, channels, 0.3);
            float[] states = randn(r, v.seqs * hist * channels, 1);
            float[] want = new float[v.tokens * channels], wantStates = states.clone();
            for (int s = 0; s < v.seqs; s++) {
                float[] seqIn = Arrays.copyOfRange(in, v.seqStart[s] * ldIn, (v.seqStart[s] + lens[s]) * ldIn);
                float[] st = Arrays.copyOfRange(wantStates, s * hist * channels, (s + 1) * hist * channels);
                float[] out = new float[lens[s] * channels];
                CausalConv1d.cpu(seqIn, inOff, ldIn, lens[s], channels, w, bias, kernel, st, out);
                System.arraycopy(out, 0, want, v.seqStart[s] * channels, out.length);
                System.arraycopy(st, 0, wantStates, s * hist * channels, st.length);
            }
            try (GpuStream s = dev.newStream(); DeviceBuffer gi = upload(s, in); DeviceBuffer gw = upload(s, w);
                 DeviceBuffer gb = upload(s, bias); DeviceBuffer gs = upload(s, states.length == 0 ? new float[1] : states);
                 DeviceBuffer out = dev.alloc(4L * v.tokens * channels); DeviceBuffer ints = dev.alloc(4L * v.packedInts())) {
                Varlen.OnDevice vd = v.upload(s, ints, 0);
                GpuCausalConv1d.forward(s, vd, gi.ptr(), ldIn, inOff, channels, gw.ptr(), gb.ptr(), kernel, gs.ptr(),
                        (long) hist * channels, true, out.ptr());
                String what = "conv1d K=" + kernel + " C=" + channels + " ld=" + ldIn + " off=" + inOff;
                close(what + " out", want, s.downloadFloats(out.ptr(), want.length), 1e-5, 1e-5);
                if (hist > 0) close(what + " states", wantStates, s.downloadFloats(gs.ptr(), states.length), 0, 0);
                // the windows' replacement on a side stream (the engine's path), joined before they are read
                if (hist > 0) try (GpuStream side = dev.newSideStream()) {
                    s.upload(states, gs.ptr());
                    GpuCausalConv1d.forward(s, side, vd, gi.ptr(), ldIn, inOff, channels, gw.ptr(), gb.ptr(), kernel, gs.ptr(),
                            (long) hist * channels, true, true, out.ptr());
                    s.waitFor(side);
                    close(what + " out, windows on a side stream", want, s.downloadFloats(out.ptr(), want.length), 1e-5, 1e-5);
                    close(what + " states from a side stream", wantStates, s.downloadFloats(gs.ptr(), states.length), 0, 0);
                    // no window kept: the same output from the given windows, which stay as they were
                    s.upload(states, gs.ptr());
                    GpuCausalConv1d.forward(s, side, vd, gi.ptr(), ldIn, inOff, channels, gw.ptr(), gb.ptr(), kernel, gs.ptr(),
                            (long) hist * channels, false, true, out.ptr());
                    close(what + " out, windows not kept", want, s.downloadFloats(out.ptr(), want.length), 1e-5, 1e-5);
                    close(what + " windows not kept stay", states, s.downloadFloats(gs.ptr(), states.length), 0, 0);
                }
            }
        }
    }

    /** The same bits in columns [0, width) of every row of two [rows][ld] outputs. */
    static void sameY(String what, float[] want, float[] got, int rows, int ld, int width) {
        for (int t = 0; t < rows; t++)
            for (int c = 0; c < width; c++)
                assertEquals(Float.floatToRawIntBits(want[t * ld + c]), Float.floatToRawIntBits(got[t * ld + c]),
                        what + ": y[" + t + "][" + c + "]");
    }

    /** The same floats, bit for bit. */
    static void sameBits(String what, float[] want, float[] got) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++)
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), what + " " + i);
    }

    /** |got - want| <= rel * mag + atol for every element (mag: the element's terms' magnitude). */
    static void closeToMagnitude(String what, float[] want, float[] got, double[] mag, double rel, double atol) {
        double worst = 0, maxDiff = 0;
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs((double) got[i] - want[i]);
            if (Float.isNaN(got[i]) != Float.isNaN(want[i])) d = Double.POSITIVE_INFINITY;
            maxDiff = Math.max(maxDiff, d);
            worst = Math.max(worst, d / (rel * mag[i] + atol));
            if (!(d <= rel * mag[i] + atol))
                throw new AssertionError(String.format("%s: element %d is %s, expected %s (|diff| %.3g > %.3g * magnitude %.3g + %.3g)",
                        what, i, got[i], want[i], d, rel, mag[i], atol));
        }
        System.out.printf("  %-48s max|diff| %.3g over %d values, %.2f of the bound%n", what, maxDiff, want.length, worst);
    }

    static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) m = Math.max(m, Math.abs(v));
        return m;
    }

    static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }

    record Case(String name, int H, int P, int N, int G, int q, int[] lens, boolean dPerChannel) {}

    @Test
    void ssdScanVarlenMatchesTwin() {
        GpuDevice dev = device();
        Case[] cases = {
                new Case("odd dims", 6, 20, 24, 2, 64, new int[] {1, 37, 200, 129, 128, 64, 65}, false),
                new Case("130M head shape", 4, 64, 128, 1, 128, new int[] {300, 1, 128, 129}, false),
                new Case("two P tiles, D per channel", 3, 80, 16, 3, 128, new int[] {257, 5}, true),
                new Case("short chunks", 2, 8, 8, 1, 7, new int[] {20, 1, 7, 8}, false),
                new Case("partial head slab", 10, 32, 64, 2, 128, new int[] {150, 40}, true),
                // 139 chunks x 2 slabs fill a wave of an H200's 132 SMs: 16 heads a chunk-state CTA, the second slab 4
                new Case("16 heads a state CTA, partial slab", 20, 16, 16, 1, 8, new int[] {600, 500, 3}, false),
        };
        for (Case k : cases)
            for (boolean tc : new boolean[] {true, false})
                for (boolean aligned : new boolean[] {true, false}) run(dev, k, tc, aligned);
    }

    /** aligned: x, B, C and y rows in 16-byte pieces, as the engine lays them out; else odd strides and offsets. */
    private static void run(GpuDevice dev, Case k, boolean tc, boolean aligned) {
        final int H = k.H, P = k.P, N = k.N, G = k.G;
        SplittableRandom r = new SplittableRandom(H * 1000 + P);
        Varlen v = Varlen.of(k.lens, k.q);
        int dSsm = H * P, convDim = dSsm + 2 * G * N, ldX = aligned ? convDim : convDim + 3, xOff = aligned ? 0 : 1,
                bOff = xOff + dSsm, cOff = bOff + G * N, ldY = aligned ? dSsm + 4 : dSsm + 2;
        boolean onTensorCores = tc && GpuSsdScan.tensorCoreEligible(P, N, ldX, xOff, bOff, cOff, ldY);
        if (tc && aligned && !onTensorCores && N <= 128 && P <= 64)
            throw new AssertionError(k.name + ": an aligned layout must take the tensor-core kernels");
        int ldDt = H + 5, dtOff = 2;
        float[] x = randn(r, v.tokens * ldX, 1);
        float[] dtRaw = randn(r, v.tokens * ldDt, 1.5);
        float[] dtBias = randn(r, H, 1), A = new float[H], D = randn(r, k.dPerChannel ? H * P : H, 1);
        for (int h = 0; h < H; h++) A[h] = (float) -Math.exp(r.nextDouble(0, Math.log(16)));
        float dtMin = 0.001f, dtMax = 2f;
        float[] init = randn(r, v.seqs * H * P * N, 0.5);
        float[] wantY = new float[v.tokens * dSsm], wantS = new float[init.length];
        double[] refY = new double[v.tokens * dSsm], magY = new double[v.tokens * dSsm], magS = new double[init.length];
        SsdScan.Dims dims = new SsdScan.Dims(H, P, N, G);
        float[] absD = D.clone();
        for (int i = 0; i < absD.length; i++) absD[i] = Math.abs(absD[i]);
        for (int s = 0; s < v.seqs; s++) {
            int len = k.lens[s], t0 = v.seqStart[s];
            float[] seqX = Arrays.copyOfRange(x, t0 * ldX, (t0 + len) * ldX);
            float[] dt = new float[len * H];
            for (int t = 0; t < len; t++)
                for (int h = 0; h < H; h++)
                    dt[t * H + h] = SsdScan.discretizeDt(dtRaw[(t0 + t) * ldDt + dtOff + h], dtBias[h], dtMin, dtMax);
            float[] st = Arrays.copyOfRange(init, s * H * P * N, (s + 1) * H * P * N);
            double[] stD = new double[st.length];
            for (int i = 0; i < st.length; i++) stD[i] = st[i];
            float[] y = new float[len * dSsm];
            double[] yD = new double[len * dSsm];
            // the tensor-core kernels read some operands in bf16: their twin rounds them alike
            SsdScan.chunked(dims, len, k.q, seqX, ldX, xOff, bOff, cOff, dt, A, D, k.dPerChannel, st, y, onTensorCores);
            SsdScan.sequentialReference(dims, len, seqX, ldX, xOff, bOff, cOff, dt, A, D, k.dPerChannel, stD, yD);
            // each output's magnitude: the recurrence on |inputs| (every term counts positive)
            float[] absX = seqX.clone();
            for (int i = 0; i < absX.length; i++) absX[i] = Math.abs(absX[i]);
            double[] stM = new double[st.length], yM = new double[len * dSsm];
            for (int i = 0; i < st.length; i++) stM[i] = Math.abs(init[s * H * P * N + i]);
            SsdScan.sequentialReference(dims, len, absX, ldX, xOff, bOff, cOff, dt, A, absD, k.dPerChannel, stM, yM);
            System.arraycopy(yM, 0, magY, t0 * dSsm, yM.length);
            System.arraycopy(stM, 0, magS, s * H * P * N, stM.length);
            System.arraycopy(y, 0, wantY, t0 * dSsm, y.length);
            System.arraycopy(yD, 0, refY, t0 * dSsm, yD.length);
            System.arraycopy(st, 0, wantS, s * H * P * N, st.length);
        }
        try (GpuStream s = dev.newStream(); DeviceBuffer gx = upload(s, x); DeviceBuffer gdt = upload(s, dtRaw);
             DeviceBuffer gbias = upload(s, dtBias); DeviceBuffer ga = upload(s, A); DeviceBuffer gd = upload(s, D);
             DeviceBuffer gst = upload(s, init); DeviceBuffer ints = dev.alloc(4L * v.packedInts());
             DeviceBuffer scratch = dev.alloc(4 * GpuSsdScan.scratchFloats(v.tokens, v.chunks, H, P, N, G));
             DeviceBuffer gy = dev.alloc(4L * v.tokens * ldY)) {
            Varlen.OnDevice vd = v.upload(s, ints, 0);
            GpuSsdScan.forward(s, vd, dims, new GpuSsdScan.Inputs(gx.ptr(), ldX, xOff, bOff, cOff, gdt.ptr(), ldDt, dtOff),
                    new GpuSsdScan.Params(gbias.ptr(), ga.ptr(), dtMin, dtMax, gd.ptr(), k.dPerChannel), gst.ptr(),
                    (long) H * P * N, scratch.ptr(), gy.ptr(), ldY, tc);
            float[] got = s.downloadFloats(gy.ptr(), v.tokens * ldY);
            float[] gotY = new float[v.tokens * dSsm];
            for (int t = 0; t < v.tokens; t++) System.arraycopy(got, t * ldY, gotY, t * dSsm, dSsm);
            // errors scale with the largest outputs (sums of many terms): tolerances relative to max |y|
            float[] ref = new float[refY.length];
            for (int i = 0; i < ref.length; i++) ref[i] = (float) refY[i];
            double scaleY = maxAbs(ref), scaleS = maxAbs(wantS);
            String name = "ssd " + (onTensorCores ? "bf16x3 tensor cores " : "SIMT fp32 ") + k.name + (aligned ? "" : " (odd layout)");
            double tol = onTensorCores ? 1e-4 : 2e-5;  // bf16x3: 16-bit products, fp32 sums
            System.out.printf("  %s: max |y| %.3g; CPU twin vs float64 max |diff| %.3g%n", name, scaleY, maxDiff(wantY, ref));
            float[] wantFinal = s.downloadFloats(gst.ptr(), init.length);
            if (onTensorCores) {
                // The bf16 operands (ssd_tc.cuh): against the exact recurrence, up to 2^-9 of each rounded factor, so
                // within 2^-7 of an output's terms' magnitude; against the twin, which rounds them too, a value at a
                // rounding boundary may round the other way on the two sides (their fp32 inputs differ in the last
                // bits), each such flip moving a term by one bf16 ulp: the same bound.
                closeToMagnitude(name + " y vs float64 recurrence", ref, gotY, magY, 0x1p-7, tol * scaleY);
                closeToMagnitude(name + " y vs chunked twin", wantY, gotY, magY, 0x1p-7, tol * scaleY);
                closeToMagnitude(name + " final states", wantS, wantFinal, magS, 0x1p-7, tol * scaleS);
            } else {
                close(name + " y vs float64 recurrence", ref, gotY, tol * scaleY, 1e-4);
                close(name + " y vs chunked twin", wantY, gotY, tol * scaleY, 1e-4);
                close(name + " final states", wantS, wantFinal, tol * scaleS, 1e-4);
            }

            // The engine's path for fresh sequences: C.B on a side stream, the carried state not read (ssm holds NaN
            // before): the same bits as one stream from a zeroed state.
            GpuSsdScan.Inputs in = new GpuSsdScan.Inputs(gx.ptr(), ldX, xOff, bOff, cOff, gdt.ptr(), ldDt, dtOff);
            GpuSsdScan.Params par = new GpuSsdScan.Params(gbias.ptr(), ga.ptr(), dtMin, dtMax, gd.ptr(), k.dPerChannel);
            s.zero(gst.ptr(), 4L * init.length);
            GpuSsdScan.forward(s, vd, dims, in, par, gst.ptr(), (long) H * P * N, scratch.ptr(), gy.ptr(), ldY, tc);
            float[] y0 = s.downloadFloats(gy.ptr(), v.tokens * ldY), s0 = s.downloadFloats(gst.ptr(), init.length);
            float[] nan = new float[Math.max(init.length, v.tokens * ldY)];
            Arrays.fill(nan, Float.NaN);
            s.upload(nan, 0, init.length, gst.ptr());
            s.upload(nan, 0, v.tokens * ldY, gy.ptr());
            try (GpuStream side = dev.newSideStream()) {
                GpuSsdScan.forward(s, side, vd, dims, in, par, gst.ptr(), (long) H * P * N, false, true, scratch.ptr(), gy.ptr(), ldY, tc);
                float[] y1 = s.downloadFloats(gy.ptr(), v.tokens * ldY), s1 = s.downloadFloats(gst.ptr(), init.length);
                sameY(name + " with C.B on a side stream and no carried state", y0, y1, v.tokens, ldY, dSsm);
                sameBits(name + ": final state", s0, s1);
                // no state kept: the same y, and ssm neither read nor written
                s.upload(nan, 0, init.length, gst.ptr());
                GpuSsdScan.forward(s, side, vd, dims, in, par, gst.ptr(), (long) H * P * N, false, false, scratch.ptr(), gy.ptr(), ldY, tc);
                float[] y2 = s.downloadFloats(gy.ptr(), v.tokens * ldY), s2 = s.downloadFloats(gst.ptr(), init.length);
                sameY(name + " with no state kept", y0, y2, v.tokens, ldY, dSsm);
                for (int i = 0; i < s2.length; i++) assertTrue(Float.isNaN(s2[i]), name + ": ssm written though no state is kept");
            }
            if (onTensorCores) {
                // The chunk states' two schedules, each forced: ssd_state_walk_tc gives the bits of ssd_chunk_state_tc +
                // the passing (whichever ran above), from the carried state, from none, and with no state kept.
                for (boolean walk : new boolean[] {false, true}) {
                    String how = name + (walk ? " walking each sequence's chunks" : " chunk states then passing");
                    s.upload(init, gst.ptr());
                    s.upload(nan, 0, v.tokens * ldY, gy.ptr());
                    GpuSsdScan.forward(s, null, vd, dims, in, par, gst.ptr(), (long) H * P * N, true, true, scratch.ptr(), gy.ptr(), ldY, true, walk, null);
                    sameY(how + ", carried state", got, s.downloadFloats(gy.ptr(), v.tokens * ldY), v.tokens, ldY, dSsm);
                    sameBits(how + ": final state", wantFinal, s.downloadFloats(gst.ptr(), init.length));
                    s.upload(nan, 0, init.length, gst.ptr());
                    GpuSsdScan.forward(s, null, vd, dims, in, par, gst.ptr(), (long) H * P * N, false, true, scratch.ptr(), gy.ptr(), ldY, true, walk, null);
                    sameY(how + ", no carried state", y0, s.downloadFloats(gy.ptr(), v.tokens * ldY), v.tokens, ldY, dSsm);
                    sameBits(how + ": final state from zero", s0, s.downloadFloats(gst.ptr(), init.length));
                    s.upload(nan, 0, init.length, gst.ptr());
                    GpuSsdScan.forward(s, null, vd, dims, in, par, gst.ptr(), (long) H * P * N, false, false, scratch.ptr(), gy.ptr(), ldY, true, walk, null);
                    sameY(how + ", no state kept", y0, s.downloadFloats(gy.ptr(), v.tokens * ldY), v.tokens, ldY, dSsm);
                    float[] fin = s.downloadFloats(gst.ptr(), init.length);
                    for (int i = 0; i < fin.length; i++) assertTrue(Float.isNaN(fin[i]), how + ": ssm written though no state is kept");
                }
            }
            if (onTensorCores && aligned && GpuSsdScan.gatedEligible(dims, in, dSsm + 8, 4)) {
                s.upload(init, gst.ptr());
                gatedEpilogue(s, name, v, vd, dims, in, par, gst, scratch, got, ldY, wantFinal, r);
            }
        }
    }

    /**
     * The scan writing the gated RMSNorm's folded output (GpuSsdScan.GatedOut) instead of y, from the carried state:
     * y * silu(z) * w in bf16, pre-tiled, and per-head sums of squares, against GatedRmsNorm.foldedCpu of the same
     * scan's y (gotY: the plain run's, whose bits the gated kernel computes too) and, scaled by rowScale, against the
     * unfolded norm GatedRmsNorm.cpu; the final states are unchanged.
     */
    private static void gatedEpilogue(GpuStream s, String name, Varlen v, Varlen.OnDevice vd, SsdScan.Dims dims,
                                      GpuSsdScan.Inputs in, GpuSsdScan.Params par, DeviceBuffer gst, DeviceBuffer scratch,
                                      float[] gotY, int ldY, float[] wantFinal, SplittableRandom r) {
        final int H = dims.nheads(), P = dims.headdim(), dSsm = H * P, T = v.tokens, ldZ = dSsm + 8, zOff = 4, npad = GpuGemm.tiledRows(T);
        final float eps = 1e-5f;
        float[] z = randn(r, T * ldZ, 2), w = uniform(r, dSsm, 0.5, 1.5);
        float[] want = new float[T * dSsm], wantSs = new float[T * H];
        ssdspark.kernels.GatedRmsNorm.foldedCpu(gotY, 0, ldY, z, zOff, ldZ, w, T, dSsm, P, want, wantSs);
        try (DeviceBuffer gz = upload(s, z); DeviceBuffer gw = upload(s, w); DeviceBuffer out = s.device().alloc(GpuGemm.tiledBytes(T, dSsm));
             DeviceBuffer ss = s.device().alloc(4L * T * H)) {
            GpuSsdScan.forwardGated(s, null, vd, dims, in, par, gst.ptr(), (long) H * P * dims.dstate(), true, true, scratch.ptr(),
                    new GpuSsdScan.GatedOut(gz.ptr(), ldZ, zOff, gw.ptr(), out.ptr(), npad, ss.ptr()));
            float[] got = downloadTiled(s, out, T, dSsm);
            // the same product rounded to bf16 (silu's exp in CUDA and Java differ by an ulp or two): half a bf16 ulp
            close(name + " gated epilogue: y*silu(z)*w in bf16", want, got, 1e-30, 1.01 / 256);
            float[] gotSs = s.downloadFloats(ss.ptr(), T * H);
            close(name + " gated epilogue: sums of squares", wantSs, gotSs, 1e-30, 1e-5);
            sameBits(name + " gated epilogue: final state", wantFinal, s.downloadFloats(gst.ptr(), wantFinal.length));
            // folded * rowScale is the gated RMSNorm of one group
            float[] norm = new float[T * dSsm], folded = new float[T * dSsm];
            ssdspark.kernels.GatedRmsNorm.cpu(gotY, 0, ldY, z, zOff, ldZ, w, eps, dSsm, false, T, dSsm, norm, 0, dSsm);
            for (int t = 0; t < T; t++) {
                float sc = ssdspark.kernels.GatedRmsNorm.rowScale(gotSs, t * H, H, dSsm, eps);
                for (int i = 0; i < dSsm; i++) folded[t * dSsm + i] = got[t * dSsm + i] * sc;
            }
            close(name + " gated epilogue scaled vs gated RMSNorm", norm, folded, 1e-6, 1.0 / 128);
        }
    }
}
