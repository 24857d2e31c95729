package ssdspark.kernels.gpu;

import org.junit.jupiter.api.Test;
import ssdspark.kernels.GatedRmsNorm;
import ssdspark.kernels.Pooling;
import ssdspark.kernels.RmsNorm;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;
import static ssdspark.kernels.gpu.GpuTests.*;

/** Embedding gather, fused add + RMSNorm, gated RMSNorm, pooling and bf16 conversion against their CPU twins. */
class GpuNormTwinTest {
    @Test
    void embeddingGatherAndConversion() {
        GpuDevice dev = device();
        SplittableRandom r = new SplittableRandom(11);
        int rows = 301, d = 37, n = 517;
        float[] table = randn(r, rows * d, 1);
        int[] tok = new int[n];
        for (int i = 0; i < n; i++) tok[i] = r.nextInt(rows);
        tok[0] = 0;
        tok[n - 1] = rows - 1;
        float[] want = new float[n * d], wantH = new float[n * d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) {
                want[i * d + j] = table[tok[i] * d + j];
                wantH[i * d + j] = Bf16.round(table[tok[i] * d + j]);
            }
        try (GpuStream s = dev.newStream(); DeviceBuffer t = upload(s, table); DeviceBuffer th = uploadBf16(s, table, rows, d);
             DeviceBuffer ids = upload(s, tok); DeviceBuffer out = dev.alloc(4L * n * d);
             DeviceBuffer conv = dev.alloc(2L * n * Bf16.ld(d))) {
            GpuEmbedding.gather(s, ids.ptr(), n, t.ptr(), DType.F32, d, d, out.ptr());
            close("embedding gather fp32", want, s.downloadFloats(out.ptr(), n * d), 0, 0);
            GpuEmbedding.gather(s, ids.ptr(), n, th.ptr(), DType.BF16, Bf16.ld(d), d, out.ptr());
            close("embedding gather bf16", wantH, s.downloadFloats(out.ptr(), n * d), 0, 0);
            // fp32 -> bf16 / fp16 with zero padding, bit-exact with the host conversion
            s.upload(want, out.ptr());
            for (DType ht : new DType[] {DType.BF16, DType.F16}) {
                GpuEmbedding.toHalf(s, ht, out.ptr(), d, n, d, conv.ptr(), Bf16.ld(d));
                short[] h = new short[n * Bf16.ld(d)];
                s.download(conv.ptr(), h, 0, h.length);
                assertArrayEquals(ht.pack(want, 0, n, d), h, "convert_f32_" + ht.suffix);
            }
            short[] tf16 = DType.F16.pack(table, 0, rows, d);
            try (DeviceBuffer tf = dev.alloc(2L * tf16.length)) {
                s.upload(tf16, 0, tf16.length, tf.ptr());
                GpuEmbedding.gather(s, ids.ptr(), n, tf.ptr(), DType.F16, Bf16.ld(d), d, out.ptr());
                float[] want16 = new float[n * d];
                for (int i = 0; i < n * d; i++) want16[i] = Fp16.round(want[i]);
                close("embedding gather fp16", want16, s.downloadFloats(out.ptr(), n * d), 0, 0);
            }
        }
    }

    @Test
    void addRmsNormMatchesTwin() {
        GpuDevice dev = device();
        for (int d : new int[] {37, 768, 2560}) {
            SplittableRandom r = new SplittableRandom(d);
            int rows = 300;
            float[] res = randn(r, rows * d, 1), delta = randn(r, rows * d, 0.5), w = uniform(r, d, 0.5, 1.5);
            float eps = 1e-5f;
            float[] res2 = res.clone(), want = new float[rows * d], want0 = new float[rows * d];
            RmsNorm.cpu(res, w, eps, rows, d, want0);
            RmsNorm.addCpu(res2, delta, w, eps, rows, d, want);
            int ldH = Bf16.ld(d);
            try (GpuStream s = dev.newStream(); DeviceBuffer gr = upload(s, res); DeviceBuffer gd = upload(s, delta);
                 DeviceBuffer gw = upload(s, w); DeviceBuffer o = dev.alloc(4L * rows * d);
                 DeviceBuffer oh = dev.alloc(2L * rows * ldH)) {
                GpuRmsNorm.addNorm(s, gr.ptr(), null, gw.ptr(), eps, rows, d, o.ptr(), d, DType.BF16, null, 0);
                close("rmsnorm d=" + d, want0, s.downloadFloats(o.ptr(), rows * d), 1e-5, 1e-5);
                GpuRmsNorm.addNorm(s, gr.ptr(), gd.ptr(), gw.ptr(), eps, rows, d, o.ptr(), d, DType.BF16, oh.ptr(), ldH);
                close("add+rmsnorm residual d=" + d, res2, s.downloadFloats(gr.ptr(), rows * d), 0, 0);
                close("add+rmsnorm out d=" + d, want, s.downloadFloats(o.ptr(), rows * d), 1e-5, 1e-5);
                short[] h = new short[rows * ldH];
                s.download(oh.ptr(), h, 0, h.length);
                float[] gotH = new float[rows * d];
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < d; j++) gotH[i * d + j] = Bf16.toFloat(h[i * ldH + j]);
                    for (int j = d; j < ldH; j++) assertEquals(0, h[i * ldH + j], "bf16 pad must be zero");
                }
                close("add+rmsnorm bf16 out d=" + d, want, gotH, 1e-5, 1.0 / 128);
                // fp16 output (norm only, on the updated residual)
                float[] want16 = new float[rows * d];
                RmsNorm.cpu(res2, w, eps, rows, d, want16);
                GpuRmsNorm.addNorm(s, gr.ptr(), null, gw.ptr(), eps, rows, d, null, 0, DType.F16, oh.ptr(), ldH);
                s.download(oh.ptr(), h, 0, h.length);
                for (int i = 0; i < rows; i++) for (int j = 0; j < d; j++) gotH[i * d + j] = Fp16.toFloat(h[i * ldH + j]);
                close("rmsnorm fp16 out d=" + d, want16, gotH, 1e-5, 1.0 / 1024);
            }
        }
    }

    @Test
    void gatedRmsNormMatchesTwin() {
        GpuDevice dev = device();
        SplittableRandom r = new SplittableRandom(5);
        int rows = 133, dSsm = 96, dMlp = 10, dInner = dSsm + dMlp, ldProj = 2 * dInner + 7;
        int zOff = 2 * dMlp;
        float[] y = randn(r, rows * dSsm, 1), proj = randn(r, rows * ldProj, 1), w = uniform(r, dSsm, 0.5, 1.5);
        for (int groups : new int[] {1, 3})
            for (boolean nbg : new boolean[] {false, true})
                for (DType bf : DType.values()) {
                    float[] want = new float[rows * dInner];
                    GatedRmsNorm.cpu(y, 0, dSsm, proj, zOff, ldProj, w, 1e-5f, dSsm / groups, nbg, rows, dSsm, want, dMlp, dInner);
                    for (int t = 0; t < rows; t++)
                        for (int i = 0; i < dMlp; i++)
                            want[t * dInner + i] = GatedRmsNorm.silu(proj[t * ldProj + i]) * proj[t * ldProj + dMlp + i];
                    check(dev, "gated rmsnorm groups=" + groups + " nbg=" + nbg + " " + bf, bf, rows, y, dSsm, proj,
                            ldProj, zOff, w, dSsm / groups, nbg, dSsm, dMlp, dInner, want);
                }
        // no gated norm: y * silu(z)
        float[] want = new float[rows * dInner];
        for (int t = 0; t < rows; t++) {
            for (int i = 0; i < dSsm; i++)
                want[t * dInner + dMlp + i] = y[t * dSsm + i] * GatedRmsNorm.silu(proj[t * ldProj + zOff + i]);
            for (int i = 0; i < dMlp; i++)
                want[t * dInner + i] = GatedRmsNorm.silu(proj[t * ldProj + i]) * proj[t * ldProj + dMlp + i];
        }
        // a group wider than the register cache (> 8 x 256): the two-pass path
        int wide = 2600, ldW = 2 * wide + 3;
        float[] yw = randn(r, 7 * wide, 1), pw = randn(r, 7 * ldW, 1), ww = uniform(r, wide, 0.5, 1.5);
        for (boolean nbg : new boolean[] {false, true}) {
            float[] wantW = new float[7 * wide];
            GatedRmsNorm.cpu(yw, 0, wide, pw, 0, ldW, ww, 1e-5f, wide, nbg, 7, wide, wantW, 0, wide);
            check(dev, "gated rmsnorm group of " + wide + " nbg=" + nbg, DType.F32, 7, yw, wide, pw, ldW, 0, ww, wide, nbg,
                    wide, 0, wide, wantW);
        }
        check(dev, "y*silu(z) (no norm)", DType.F32, rows, y, dSsm, proj, ldProj, zOff, null, dSsm, false, dSsm, dMlp, dInner, want);
        // groups of multiples of 512 (the register kernel): the 130M layout (z at 0 of in_proj's rows), groups of 512 with
        // an MLP part, and rows that allow only 4-byte accesses
        int[][] shapes = {{1536, 1, 0, 3352}, {1536, 3, 16, 3400}, {1024, 1, 0, 2051}, {4096, 1, 0, 8448}};
        for (int[] sh : shapes) {
            int d = sh[0], g = sh[1], mlp = sh[2], ld = sh[3], inner = d + mlp, n = 37;
            float[] ys = randn(r, n * d, 1), ps = randn(r, n * ld, 1), ws = uniform(r, d, 0.5, 1.5);
            for (boolean nbg : new boolean[] {false, true})
                for (DType bf : DType.values()) {
                    float[] wantS = new float[n * inner];
                    GatedRmsNorm.cpu(ys, 0, d, ps, 2 * mlp, ld, ws, 1e-5f, d / g, nbg, n, d, wantS, mlp, inner);
                    for (int t = 0; t < n; t++)
                        for (int i = 0; i < mlp; i++)
                            wantS[t * inner + i] = GatedRmsNorm.silu(ps[t * ld + i]) * ps[t * ld + mlp + i];
                    check(dev, "gated rmsnorm d=" + d + " groups=" + g + " mlp=" + mlp + " ld=" + ld + " nbg=" + nbg + " " + bf,
                            bf, n, ys, d, ps, ld, 2 * mlp, ws, d / g, nbg, d, mlp, inner, wantS);
                }
        }
    }

    private static void check(GpuDevice dev, String what, DType bf, int rows, float[] y, int dSsm, float[] proj, int ldProj,
                              int zOff, float[] w, int group, boolean nbg, int d, int dMlp, int dInner, float[] want) {
        int ld = bf.ld(dInner);
        try (GpuStream s = dev.newStream(); DeviceBuffer gy = upload(s, y); DeviceBuffer gp = upload(s, proj);
             DeviceBuffer gw = w == null ? null : upload(s, w); DeviceBuffer o = dev.alloc((long) bf.bytes * rows * ld)) {
            GpuGatedRmsNorm.forward(s, bf, rows, gy.ptr(), dSsm, gp.ptr(), ldProj, zOff, gw == null ? null : gw.ptr(), 1e-5f,
                    group, nbg, d, dMlp, o.ptr(), ld, dMlp, dInner);
            float[] got = new float[rows * dInner];
            if (bf.isHalf()) {
                short[] h = new short[rows * ld];
                s.download(o.ptr(), h, 0, h.length);
                for (int t = 0; t < rows; t++) {
                    for (int i = 0; i < dInner; i++) got[t * dInner + i] = bf.toFloat(h[t * ld + i]);
                    for (int i = dInner; i < ld; i++) assertEquals(0, h[t * ld + i], "pad");
                }
                close(what, want, got, 1e-5, bf == DType.BF16 ? 1.0 / 128 : 1.0 / 1024);
            } else {
                s.download(o.ptr(), got, 0, got.length);
                close(what, want, got, 2e-5, 2e-5);
            }
        }
    }

    /**
     * The norms' pre-tiled bf16 outputs (what the pre-tiled GEMM reads) hold the same bits as GpuGemm.pretile of their
     * row outputs, for every real row: ragged row counts, d not a multiple of 64, both gated-norm kernels, MLP parts
     * that start inside and at the edge of a 16-byte chunk.
     */
    @Test
    void tiledOutputsArePretiledRowOutputs() {
        GpuDevice dev = device();
        SplittableRandom r = new SplittableRandom(21);
        try (GpuStream s = dev.newStream()) {
            for (int d : new int[] {36, 768, 2560}) {
                int rows = 301, ldH = Bf16.ld(d);
                float[] res = randn(r, rows * d, 1), w = uniform(r, d, 0.5, 1.5);
                try (DeviceBuffer gr = upload(s, res); DeviceBuffer gw = upload(s, w);
                     DeviceBuffer oh = dev.alloc(2L * rows * ldH); DeviceBuffer want = dev.alloc(GpuGemm.tiledBytes(rows, d));
                     DeviceBuffer got = dev.alloc(GpuGemm.tiledBytes(rows, d))) {
                    GpuRmsNorm.addNorm(s, gr.ptr(), null, gw.ptr(), 1e-5f, rows, d, null, 0, DType.BF16, oh.ptr(), ldH);
                    GpuGemm.pretile(s, oh.ptr(), ldH, rows, d, want.ptr());
                    s.zero(got.ptr(), GpuGemm.tiledBytes(rows, d));
                    GpuRmsNorm.addNormTiled(s, gr.ptr(), null, gw.ptr(), 1e-5f, rows, d, got.ptr());
                    sameTiledRows(s, "rmsnorm tiled d=" + d, want, got, rows);
                }
            }
            // {d, groups, mlp}: the register kernel (groups of 512s) and the block kernel (group of 32)
            int[][] shapes = {{1536, 1, 0}, {1536, 3, 16}, {1024, 1, 10}, {96, 3, 10}};
            for (int[] sh : shapes) {
                int d = sh[0], g = sh[1], mlp = sh[2], inner = d + mlp, ldProj = 2 * inner + 8, n = 37, ld = Bf16.ld(inner);
                float[] ys = randn(r, n * d, 1), ps = randn(r, n * ldProj, 1), ws = uniform(r, d, 0.5, 1.5);
                try (DeviceBuffer gy = upload(s, ys); DeviceBuffer gp = upload(s, ps); DeviceBuffer gw = upload(s, ws);
                     DeviceBuffer oh = dev.alloc(2L * n * ld); DeviceBuffer want = dev.alloc(GpuGemm.tiledBytes(n, inner));
                     DeviceBuffer got = dev.alloc(GpuGemm.tiledBytes(n, inner))) {
                    GpuGatedRmsNorm.forward(s, DType.BF16, n, gy.ptr(), d, gp.ptr(), ldProj, 2 * mlp, gw.ptr(), 1e-5f, d / g,
                            false, d, mlp, oh.ptr(), ld, mlp, inner);
                    GpuGemm.pretile(s, oh.ptr(), ld, n, inner, want.ptr());
                    s.zero(got.ptr(), GpuGemm.tiledBytes(n, inner));
                    GpuGatedRmsNorm.forwardTiled(s, n, gy.ptr(), d, gp.ptr(), ldProj, 2 * mlp, gw.ptr(), 1e-5f, d / g,
                            false, d, mlp, got.ptr(), mlp, inner);
                    sameTiledRows(s, "gated rmsnorm tiled d=" + d + " groups=" + g + " mlp=" + mlp, want, got, n);
                }
            }
        }
    }

    /**
     * The norm after a block whose gated RMSNorm ran in the scan: delta's row r scaled by rowScale of its sums of
     * squares (24 and 64 parts: fewer and more than a warp's lanes) before the add, the fp32 and the pre-tiled bf16
     * outputs, against RmsNorm.addScaledCpu.
     */
    @Test
    void scaledDeltaAddNormMatchesTwin() {
        GpuDevice dev = device();
        for (int[] sh : new int[][] {{768, 24, 1536}, {2048, 64, 4096}}) {
            int d = sh[0], parts = sh[1], width = sh[2], rows = 301;
            SplittableRandom r = new SplittableRandom(d + parts);
            float[] res = randn(r, rows * d, 1), delta = randn(r, rows * d, 20), w = uniform(r, d, 0.5, 1.5);
            float[] sumSq = uniform(r, rows * parts, 0, 2 * width / parts), scale = new float[rows];
            float eps = 1e-5f, gEps = 1e-6f;
            for (int t = 0; t < rows; t++) scale[t] = ssdspark.kernels.GatedRmsNorm.rowScale(sumSq, t * parts, parts, width, gEps);
            float[] wantRes = res.clone(), want = new float[rows * d];
            RmsNorm.addScaledCpu(wantRes, delta, scale, w, eps, rows, d, want);
            try (GpuStream s = dev.newStream(); DeviceBuffer gr = upload(s, res); DeviceBuffer gd = upload(s, delta);
                 DeviceBuffer gw = upload(s, w); DeviceBuffer gs = upload(s, sumSq); DeviceBuffer o = dev.alloc(4L * rows * d);
                 DeviceBuffer oh = dev.alloc(GpuGemm.tiledBytes(rows, d))) {
                GpuRmsNorm.addNormTiled(s, gr.ptr(), gd.ptr(), new GpuRmsNorm.DeltaScale(gs.ptr(), parts, width, gEps), gw.ptr(),
                        eps, rows, d, o.ptr(), d, oh.ptr());
                String what = "scaled delta add+rmsnorm d=" + d + " parts=" + parts;
                close(what + " residual", wantRes, s.downloadFloats(gr.ptr(), rows * d), 1e-5, 1e-5);
                close(what + " out", want, s.downloadFloats(o.ptr(), rows * d), 1e-5, 1e-5);
                close(what + " bf16 pre-tiled out", want, downloadTiled(s, oh, rows, d), 1e-5, 1.0 / 128);
            }
        }
    }

    /** Equal bf16 bits at every position of rows [0, rows) of two pre-tiled buffers (padding rows are not written). */
    private static void sameTiledRows(GpuStream s, String what, DeviceBuffer want, DeviceBuffer got, int rows) {
        int npad = GpuGemm.tiledRows(rows);
        short[] a = new short[(int) (want.bytes() / 2)], b = new short[a.length];
        s.download(want.ptr(), a, 0, a.length);
        s.download(got.ptr(), b, 0, b.length);
        for (int i = 0; i < a.length; i++) {
            int row = (i / 64) % npad;
            if (row < rows && a[i] != b[i])
                fail(what + ": element " + i + " (row " + row + ", k-tile " + i / 64 / npad + ") is " + b[i] + ", want " + a[i]);
        }
    }

    @Test
    void poolingMatchesTwin() {
        GpuDevice dev = device();
        SplittableRandom r = new SplittableRandom(9);
        int d = 200;
        int[] lens = {1, 7, 300, 2};
        Varlen v = Varlen.of(lens, 64);
        float[] hidden = randn(r, v.tokens * d, 1);
        try (GpuStream s = dev.newStream(); DeviceBuffer h = upload(s, hidden); DeviceBuffer ints = dev.alloc(4L * v.packedInts());
             DeviceBuffer sums = dev.alloc(8L * v.seqs * d); DeviceBuffer last = dev.alloc(4L * v.seqs * d)) {
            Varlen.OnDevice vd = v.upload(s, ints, 0);
            GpuPooling.sumLast(s, vd, h.ptr(), d, sums.ptr(), last.ptr());
            double[] gotSums = new double[v.seqs * d];
            float[] gotLast = new float[v.seqs * d];
            s.download(sums.ptr(), gotSums, 0, gotSums.length);
            s.download(last.ptr(), gotLast, 0, gotLast.length);
            for (int i = 0; i < v.seqs; i++) {
                double[] want = new double[d];
                float[] rowsOf = java.util.Arrays.copyOfRange(hidden, v.seqStart[i] * d, (v.seqStart[i] + lens[i]) * d);
                Pooling.accumulateSumCpu(rowsOf, 0, lens[i], d, want);
                close("pool sum seq " + i, want, java.util.Arrays.copyOfRange(gotSums, i * d, (i + 1) * d), 1e-9, 1e-9);
                close("pool last seq " + i, java.util.Arrays.copyOfRange(rowsOf, (lens[i] - 1) * d, lens[i] * d),
                        java.util.Arrays.copyOfRange(gotLast, i * d, (i + 1) * d), 0, 0);
            }
        }
    }
}
