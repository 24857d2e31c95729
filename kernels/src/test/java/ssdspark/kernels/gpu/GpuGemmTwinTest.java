package ssdspark.kernels.gpu;

import org.junit.jupiter.api.Test;
import ssdspark.kernels.Gemm;
import ssdspark.kernels.LmHead;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;
import static ssdspark.kernels.gpu.GpuTests.*;

/** The matrix kernels (bf16 tensor-core and fp32 GEMM, fused LM head) against their CPU twins. */
class GpuGemmTwinTest {
    /** -Dssd.gpu.small=true (the compute-sanitizer runs) keeps only the small shapes. */
    static final boolean SMALL = Boolean.getBoolean("ssd.gpu.small");
    private static final int[][] SHAPES = SMALL ? new int[][] {{1, 7, 3}, {77, 53, 45}, {257, 130, 200}}
            : new int[][] {{1, 7, 3}, {77, 53, 45}, {257, 130, 200}, {300, 520, 768}, {129, 3352, 96}, {1000, 768, 1544}};

    /** The tensor-core kernels this GPU runs: mma.sync everywhere, wgmma too on sm_90 (which must have it). */
    static boolean[] tensorCorePaths(GpuDevice dev) {
        if (dev.ccMajor == 9 && dev.ccMinor == 0)
            assertTrue(dev.hasWgmma(), "an sm_90 GPU must get the sm_90a (wgmma) kernels: was the fatbin built without 90?");
        return dev.hasWgmma() ? new boolean[] {false, true} : new boolean[] {false};
    }

    @Test
    void fp32GemmMatchesTwin() {
        GpuDevice dev = device();
        for (int[] sh : SHAPES) {
            int m = sh[0], n = sh[1], k = sh[2];
            SplittableRandom r = new SplittableRandom(m * 31 + n);
            float[] a = randn(r, m * k, 1), b = randn(r, n * k, 1), bias = randn(r, n, 1);
            float[] want = new float[m * n];
            Gemm.matmul(a, m, Gemm.pack(b, n, k), want);
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) want[i * n + j] += bias[j];
            try (GpuStream s = dev.newStream(); DeviceBuffer ga = upload(s, a); DeviceBuffer gb = upload(s, b);
                 DeviceBuffer gbias = upload(s, bias); DeviceBuffer c = dev.alloc(4L * m * (n + 3))) {
                GpuGemm.f32(s, ga.ptr(), k, gb.ptr(), k, c.ptr(), n, gbias.ptr(), m, n, k);
                close("gemm fp32 " + m + "x" + n + "x" + k, want, s.downloadFloats(c.ptr(), m * n), 1e-4 * Math.sqrt(k), 1e-5);
                // C += A.B^T + bias on top of the first result: twice the product
                GpuGemm.addTo(s, DType.F32, ga.ptr(), k, gb.ptr(), k, c.ptr(), n, gbias.ptr(), m, n, k);
                float[] twice = new float[m * n];
                for (int i = 0; i < twice.length; i++) twice[i] = 2 * want[i];
                close("gemm fp32 accumulate " + m + "x" + n + "x" + k, twice, s.downloadFloats(c.ptr(), m * n), 2e-4 * Math.sqrt(k), 1e-5);
                // strided output, no bias
                GpuGemm.f32(s, ga.ptr(), k, gb.ptr(), k, c.ptr(), n + 3, null, m, n, k);
                float[] got = s.downloadFloats(c.ptr(), m * (n + 3));
                float[] g2 = new float[m * n];
                for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) g2[i * n + j] = got[i * (n + 3) + j] + bias[j];
                close("gemm fp32 ldc=n+3 " + m + "x" + n + "x" + k, want, g2, 1e-4 * Math.sqrt(k), 1e-5);
            }
        }
    }

    @Test
    void preTiledGemmMatchesTwinOnRoundedInputs() {
        GpuDevice dev = device();
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.hasWgmma(), "the pre-tiled GEMM runs on sm_90a only");
        // ragged m, n and k (partial tiles, rows and k past the tiled copies' padding, m no multiple of 128), one row, a
        // persistent grid walking several tiles a CTA (m 1030 x n 4100: 9 x 33 tiles on 132 SMs, the two consumers
        // taking turns), the 1.3B in_proj's n; n = 260: a last row segment of 4 columns; last column tiles of 9 to 128
        // columns. ldc = n + 4 keeps C's rows 16-byte aligned where n % 4 == 0
        // (what a staged epilogue's bulk stores need, ws_gemm::StoreCStaged), ldc = n + 1 does not (StoreC's register
        // path): both must store the same floats.
        int[][] shapes = SMALL ? new int[][] {{1, 9, 8}, {129, 260, 65}, {65, 321, 64}} : new int[][] {{1, 9, 8}, {1, 12, 8},
                {129, 257, 65}, {129, 260, 65}, {65, 320, 64}, {65, 321, 64}, {129, 400, 72}, {300, 520, 200}, {1030, 4100, 136},
                {129, 3352, 136}, {260, 8224, 832}, {133, 8512, 200}};
        for (int[] sh : shapes) {
            int m = sh[0], n = sh[1], k = sh[2];
            DType t = DType.BF16;
            SplittableRandom r = new SplittableRandom(m * 13 + n);
            float[] a = t.round(randn(r, m * k, 1)), b = t.round(randn(r, n * k, 1)), bias = randn(r, n, 1);
            float[] want = new float[m * n];
            Gemm.matmulReference(a, m, b, n, k, want);
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) want[i * n + j] += bias[j];
            float[] first = null;  // the register path's C: the staged stores must move the very same floats
            for (int ldc : new int[] {n + 1, n + 4})
            try (GpuStream s = dev.newStream(); DeviceBuffer ga = uploadHalf(s, t, a, m, k); DeviceBuffer gb = uploadHalf(s, t, b, n, k);
                 DeviceBuffer at = dev.alloc(GpuGemm.tiledBytes(m, k)); DeviceBuffer bt = dev.alloc(GpuGemm.tiledBytes(n, k));
                 DeviceBuffer gbias = upload(s, bias); DeviceBuffer c = dev.alloc(4L * (m + 1) * ldc)) {
                GpuGemm.pretile(s, ga.ptr(), t.ld(k), m, k, at.ptr());
                GpuGemm.pretile(s, gb.ptr(), t.ld(k), n, k, bt.ptr());
                float[] poison = new float[(m + 1) * ldc];
                java.util.Arrays.fill(poison, Float.NaN);
                s.upload(poison, c.ptr());
                GpuGemm.runTiled(s, at.ptr(), m, bt.ptr(), n, k, c.ptr(), ldc, gbias.ptr());
                float[] got = s.downloadFloats(c.ptr(), (m + 1) * ldc), g = new float[m * n];
                for (int i = 0; i <= m; i++) {
                    if (i < m) for (int j = 0; j < n; j++) g[i * n + j] = got[i * ldc + j];
                    for (int j = i < m ? n : 0; j < ldc; j++)
                        assertTrue(Float.isNaN(got[i * ldc + j]), "C[" + i + "][" + j + "] outside the product was written");
                }
                close("gemm bf16 pre-tiled " + m + "x" + n + "x" + k + " ldc " + ldc, want, g, 2e-5 * Math.sqrt(k), 1e-5);
                if (first == null) first = g;
                else assertArrayEquals(first, g, "ldc n + 4 vs n + 1 (bulk stores vs registers) on " + m + "x" + n + "x" + k);
            }
        }
    }

    @Test
    void halfGemmMatchesTwinOnRoundedInputs() {
        GpuDevice dev = device();
        for (DType t : new DType[] {DType.BF16, DType.F16})
        for (int[] sh : SHAPES) {
            int m = sh[0], n = sh[1], k = sh[2];
            SplittableRandom r = new SplittableRandom(m * 17 + n);
            float[] a = t.round(randn(r, m * k, 1)), b = t.round(randn(r, n * k, 1)), bias = randn(r, n, 1);
            float[] want = new float[m * n];
            Gemm.matmulReference(a, m, b, n, k, want);
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) want[i * n + j] += bias[j];
            try (GpuStream s = dev.newStream(); DeviceBuffer ga = uploadHalf(s, t, a, m, k); DeviceBuffer gb = uploadHalf(s, t, b, n, k);
                 DeviceBuffer gbias = upload(s, bias); DeviceBuffer c = dev.alloc(4L * m * n)) {
                for (boolean wg : tensorCorePaths(dev)) {
                    s.zero(c.ptr(), 4L * m * n);
                    GpuGemm.run(s, t, ga.ptr(), t.ld(k), gb.ptr(), t.ld(k), c.ptr(), n, gbias.ptr(), m, n, k, wg);
                    // exact products, fp32 accumulation in another order
                    close("gemm " + t.suffix + (wg ? " wgmma " : " mma.sync ") + m + "x" + n + "x" + k, want,
                            s.downloadFloats(c.ptr(), m * n), 2e-5 * Math.sqrt(k), 1e-5);
                }
                // the device's own kernel adding into C: twice the product
                GpuGemm.addTo(s, t, ga.ptr(), t.ld(k), gb.ptr(), t.ld(k), c.ptr(), n, gbias.ptr(), m, n, k);
                float[] twice = new float[m * n];
                for (int i = 0; i < twice.length; i++) twice[i] = 2 * want[i];
                close("gemm " + t.suffix + " accumulate " + m + "x" + n + "x" + k, twice, s.downloadFloats(c.ptr(), m * n),
                        4e-5 * Math.sqrt(k), 1e-5);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> GpuGemm.checkBf16(44, 48, 45));
    }

    @Test
    void lmHeadMatchesTwin() {
        GpuDevice dev = device();
        // rows spanning several row tiles and one row (many vocab splits); an odd vocabulary
        int[][] shapes = SMALL ? new int[][] {{150, 1037, 72}, {1, 1037, 72}}
                : new int[][] {{150, 1037, 72}, {1, 1037, 72}, {300, 5003, 64}, {64, 50288, 768}};
        for (int[] sh : shapes) {
            int rows = sh[0], vocab = sh[1], d = sh[2];
            SplittableRandom r = new SplittableRandom(rows + vocab);
            float[] h = randn(r, rows * d, 1), e = randn(r, vocab * d, 2.0 / Math.sqrt(d));
            int[] tg = new int[rows];
            for (int i = 0; i < rows; i++) tg[i] = r.nextInt(vocab);
            tg[0] = vocab - 1;
            if (rows > 2) { tg[1] = 0; tg[2] = -1; }
            float[] want = new float[rows];
            int[] tgCpu = tg.clone();
            for (int i = 0; i < rows; i++) if (tgCpu[i] < 0) tgCpu[i] = 0;
            LmHead.logProbsCpu(h, rows, Gemm.pack(e, vocab, d), tgCpu, 0, want, 0);
            for (int i = 0; i < rows; i++) if (tg[i] < 0) want[i] = Float.NaN;
            for (DType t : DType.values()) {
                float[] wantT = want;
                if (t.isHalf()) {
                    wantT = new float[rows];
                    LmHead.logProbsCpu(t.round(h), rows, Gemm.pack(t.round(e), vocab, d), tgCpu, 0, wantT, 0);
                    for (int i = 0; i < rows; i++) if (tg[i] < 0) wantT[i] = Float.NaN;
                }
                try (GpuStream s = dev.newStream();
                     DeviceBuffer gh = t.isHalf() ? uploadHalf(s, t, h, rows, d) : upload(s, h);
                     DeviceBuffer ge = t.isHalf() ? uploadHalf(s, t, e, vocab, d) : upload(s, e);
                     DeviceBuffer gt = upload(s, tg); DeviceBuffer out = dev.alloc(4L * rows)) {
                    for (boolean wg : t.isHalf() ? tensorCorePaths(dev) : new boolean[] {false}) {
                        GpuLmHead.Plan p = GpuLmHead.plan(dev, rows, vocab, t, wg);
                        try (DeviceBuffer scratch = dev.alloc(4 * p.scratchFloats(rows))) {
                            GpuLmHead.logProbs(s, t, gh.ptr(), t.ld(d), ge.ptr(), t.ld(d), rows, vocab, d, gt.ptr(), p, scratch.ptr(), out.ptr());
                            close("lm head " + t.suffix + (p.wgmma() ? " wgmma" : "") + " rows=" + rows + " vocab=" + vocab + " d=" + d
                                    + " splits=" + p.splits(), wantT, s.downloadFloats(out.ptr(), rows), t.isHalf() ? 2e-4 : 1e-4, 1e-5);
                        }
                    }
                    if (t == DType.BF16 && dev.hasWgmma()) { // the pre-tiled warp-specialised head, a split per vocab tile
                        GpuLmHead.Plan p = GpuLmHead.planTiled(vocab);
                        try (DeviceBuffer ht = dev.alloc(GpuGemm.tiledBytes(rows, d)); DeviceBuffer et = dev.alloc(GpuGemm.tiledBytes(vocab, d));
                             DeviceBuffer scratch = dev.alloc(4 * p.scratchFloats(rows))) {
                            GpuGemm.pretile(s, gh.ptr(), t.ld(d), rows, d, ht.ptr());
                            GpuGemm.pretile(s, ge.ptr(), t.ld(d), vocab, d, et.ptr());
                            // all rows, then the first rows - 1 of them (a tiled hidden holding more rows than asked)
                            for (int n : rows > 1 ? new int[] {rows, rows - 1} : new int[] {rows}) {
                                s.upload(new float[] {Float.NaN}, out.ptr().withByteOffset(4L * (rows - 1)));
                                GpuLmHead.logProbsTiled(s, ht.ptr(), rows, et.ptr(), n, vocab, d, gt.ptr(), p, scratch.ptr(), out.ptr());
                                float[] got = s.downloadFloats(out.ptr(), rows);
                                close("lm head bf16 pre-tiled rows=" + n + " of " + rows + " vocab=" + vocab + " d=" + d + " splits="
                                        + p.splits(), java.util.Arrays.copyOf(wantT, n), java.util.Arrays.copyOf(got, n), 2e-4, 1e-5);
                                if (n < rows) assertTrue(Float.isNaN(got[rows - 1]), "row " + (rows - 1) + " past the asked rows was written");
                            }
                        }
                    }
                }
            }
        }
    }
}
