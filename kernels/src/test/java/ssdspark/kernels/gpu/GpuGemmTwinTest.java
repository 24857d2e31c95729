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
        // persistent grid walking several tiles a CTA (m 1030 x n 4100: 9 x 17 tiles on 132 SMs), the 1.3B in_proj's
        // n; n = 260: a last row segment of 4 columns. A last column tile of at most 64 columns runs narrow (n 9, 260,
        // 320, 3352, 8512; n 321 and 400 end on wider partial tiles). Two even row strides (8-byte stores: an odd ldc is
        // refused) must store the same floats; n odd ends each row with a 4-byte store.
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
            for (int ldc : new int[] {n + (n & 1), n + 4 + (n & 1)})
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
                else assertArrayEquals(first, g, "two row strides on " + m + "x" + n + "x" + k);
            }
        }
    }

    /**
     * HalfColumns: the columns [from, to) land in z as the bf16 rounding (round to nearest even, Bf16.fromFloat) of the
     * very floats the plain launch stores, z's other columns and rows and C's columns there stay untouched, and C's other
     * columns hold the plain launch's bits. Ranges on whole 256-column tiles (the 130M and 1.3B in_proj: z first), across
     * tiles, inside one tile, in a narrow last tile, ending inside a partial last tile (n 1000) or at n (264: z in the
     * narrow tail, 8-column bounds); ldc n and n + 4.
     */
    @Test
    void preTiledGemmHalfColumnsAreTheRoundedProduct() {
        GpuDevice dev = device();
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.hasWgmma(), "the pre-tiled GEMM runs on sm_90a only");
        // {m, n, k, from, to}
        int[][] cases = SMALL ? new int[][] {{129, 520, 72, 8, 304}, {65, 320, 64, 256, 320}}
                : new int[][] {{129, 520, 72, 0, 256}, {129, 520, 72, 16, 304}, {65, 3352, 64, 0, 1536}, {65, 320, 64, 256, 320},
                {1, 40, 8, 16, 32}, {300, 1024, 136, 512, 1024}, {133, 8512, 200, 0, 4096}, {77, 1000, 64, 232, 1000 - 8},
                {40, 264, 64, 8, 264}};
        short poisonH = Bf16.fromFloat(Float.NaN);
        for (int[] cs : cases) {
            int m = cs[0], n = cs[1], k = cs[2], from = cs[3], to = cs[4], ldz = to - from + 8;
            SplittableRandom r = new SplittableRandom(m * 7 + n + from);
            float[] a = Bf16.round(randn(r, m * k, 1)), b = Bf16.round(randn(r, n * k, 1)), bias = randn(r, n, 1);
            for (int ldc : new int[] {n + (n & 1), n + 4 + (n & 1)})
            try (GpuStream s = dev.newStream(); DeviceBuffer ga = uploadHalf(s, DType.BF16, a, m, k);
                 DeviceBuffer gb = uploadHalf(s, DType.BF16, b, n, k); DeviceBuffer at = dev.alloc(GpuGemm.tiledBytes(m, k));
                 DeviceBuffer bt = dev.alloc(GpuGemm.tiledBytes(n, k)); DeviceBuffer gbias = upload(s, bias);
                 DeviceBuffer c = dev.alloc(4L * (m + 1) * ldc); DeviceBuffer z = dev.alloc(2L * (m + 1) * ldz)) {
                GpuGemm.pretile(s, ga.ptr(), Bf16.ld(k), m, k, at.ptr());
                GpuGemm.pretile(s, gb.ptr(), Bf16.ld(k), n, k, bt.ptr());
                GpuGemm.runTiled(s, at.ptr(), m, bt.ptr(), n, k, c.ptr(), ldc, gbias.ptr());
                float[] plain = s.downloadFloats(c.ptr(), m * ldc);
                float[] poison = new float[(m + 1) * ldc];
                java.util.Arrays.fill(poison, Float.NaN);
                s.upload(poison, c.ptr());
                short[] zPoison = new short[(m + 1) * ldz];
                java.util.Arrays.fill(zPoison, poisonH);
                s.upload(zPoison, 0, zPoison.length, z.ptr());
                GpuGemm.runTiled(s, at.ptr(), m, bt.ptr(), n, k, c.ptr(), ldc, gbias.ptr(), new GpuGemm.HalfColumns(z.ptr(), ldz, from, to));
                float[] got = s.downloadFloats(c.ptr(), (m + 1) * ldc);
                short[] gotZ = new short[(m + 1) * ldz];
                s.download(z.ptr(), gotZ, 0, gotZ.length);
                String what = m + "x" + n + "x" + k + " bf16 columns [" + from + ", " + to + ") ldc " + ldc;
                for (int i = 0; i <= m; i++) {
                    for (int j = 0; j < ldc; j++) {
                        boolean written = i < m && j < n && (j < from || j >= to);
                        float g = got[i * ldc + j];
                        if (written) assertEquals(Float.floatToRawIntBits(plain[i * ldc + j]), Float.floatToRawIntBits(g), what + ": C[" + i + "][" + j + "]");
                        else assertTrue(Float.isNaN(g), what + ": C[" + i + "][" + j + "] should not be written");
                    }
                    for (int j = 0; j < ldz; j++) {
                        short want = i < m && j < to - from ? Bf16.fromFloat(plain[i * ldc + from + j]) : poisonH;
                        assertEquals(want, gotZ[i * ldz + j], what + ": z[" + i + "][" + j + "]");
                    }
                }
            }
        }
        try (GpuStream s = dev.newStream()) {
            assertThrows(IllegalArgumentException.class, () -> GpuGemm.runTiled(s, null, 1, null, 8, 8, null, 9, null), "odd ldc");
            assertThrows(IllegalArgumentException.class, () -> GpuGemm.runTiled(s, null, 1, null, 8, 8, null, 8, null,
                    new GpuGemm.HalfColumns(null, 16, 0, 16)), "bf16 columns past n");
        }
        assertThrows(IllegalArgumentException.class, () -> new GpuGemm.HalfColumns(null, 8, 1, 5));
        assertThrows(IllegalArgumentException.class, () -> new GpuGemm.HalfColumns(null, 2, 0, 4));
        assertThrows(IllegalArgumentException.class, () -> new GpuGemm.HalfColumns(null, 16, 4, 12));
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
