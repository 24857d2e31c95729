package ssdspark.kernels.gpu;

import ssdspark.kernels.Gemm;

import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Times the Hopper GEMM's experiments (gemm_sm90_variants.cuh, in a fatbin built with
 * SSD_CUDA_DEFINES=-DSSD_GEMM_VARIANTS) against the shipped kernels on the engine's shapes, after checking each
 * against the CPU twin ({@link Gemm#matmulReference}) on ragged shapes with bias and accumulate (and C checked
 * unwritten past its rows and columns). Not a test: run with
 * {@code java ... ssdspark.kernels.gpu.GemmVariantsBench} (JUnit on the class path for the comparisons); it exits
 * non-zero if a variant computed a wrong product (such a variant is reported and left out of the timings).
 */
public final class GemmVariantsBench {
    /** How a kernel is launched: the 2-D grid of the shipped kernels, or the 1-D grid of the warp-specialised ones. */
    private enum Grid { TILES_2D, TILES_1D, PERSISTENT }

    /**
     * One kernel and its launch. {@code pretiledB} / {@code pretiledA}: B / A is read from the copy made by
     * bf16_pretile (ldb / lda = its padded row count). {@code accumulateArg}: the kernel takes the accumulate
     * flag (the older shape experiments do not); {@code timedAccumulate}: timed as C += A . B^T (out_proj's addTo).
     */
    private record Variant(String label, String kernel, int tileN, int threads, int smem, Grid grid, boolean pretiledA,
                           boolean pretiledB, boolean accumulateArg, boolean timedAccumulate, int cluster, int maxGrid) {
        Variant(String label, String kernel, int tileN, int threads, int smem, Grid grid, boolean pretiledA,
                boolean pretiledB, boolean accumulateArg, boolean timedAccumulate) {
            this(label, kernel, tileN, threads, smem, grid, pretiledA, pretiledB, accumulateArg, timedAccumulate, 1, 0);
        }

        Variant accumulating() {
            return new Variant(label + " C+=", kernel, tileN, threads, smem, grid, pretiledA, pretiledB, true, true,
                    cluster, maxGrid);
        }

        /** The same kernel on a persistent grid of at most {@code ctas} CTAs (a multiple of its cluster size). */
        Variant onAtMost(int ctas) {
            return new Variant(label + " grid<=" + ctas, kernel, tileN, threads, smem, grid, pretiledA, pretiledB,
                    accumulateArg, timedAccumulate, cluster, ctas);
        }

        /** Persistent: one CTA per SM at most (maxGrid if set); a clustered kernel gets whole clusters, one per
         *  group of {@code cluster} row-tiles sharing a column tile (gemm_sm90_variants.cuh gemm_wsm). */
        int gridX(int m, int n, int sms) {
            int tilesN = (n + tileN - 1) / tileN, tilesM = (m + 127) / 128;
            int ctas = maxGrid > 0 ? maxGrid : sms;
            return switch (grid) {
                case TILES_2D -> tilesN;
                case TILES_1D -> tilesN * tilesM;
                case PERSISTENT -> cluster * Math.min(tilesN * ((tilesM + cluster - 1) / cluster), ctas / cluster);
            };
        }

        int gridY(int m) { return grid == Grid.TILES_2D ? (m + 127) / 128 : 1; }
    }

    private static Variant legacy(String kernel, int tileN, int smem, boolean acc) {
        return new Variant(kernel, kernel, tileN, 256, smem, Grid.TILES_2D, false, false, acc, false);
    }

    /** gemm_sm90_variants.cuh's ws_gemm::smem_bytes: stages of (128 + BN) x 64 bf16 plus slack and barriers. */
    private static Variant ws(String kernel, int tileN, int stages, Grid grid) {
        String label = kernel + (grid == Grid.PERSISTENT ? " persist" : " tiles");
        boolean tiledA = kernel.contains("_at");
        return new Variant(label, kernel, tileN, 384, stages * (128 + tileN) * 128 + 2048, grid, tiledA,
                tiledA || kernel.contains("_bt"), true, false);
    }

    /**
     * The shipped schedule with {@code stages} stages and its epilogue: from registers ({@code chunkCols} 0) or staged
     * in chunks of {@code chunkCols} columns, {@code buffers} buffers a warp (gemm_sm90_tiled.cuh StoreCStaged:
     * per consumer warpgroup buffers x 4 regions of 16 rows + 32 bytes); smem as ws_gemm::smem_bytes_for.
     */
    private static Variant wse(String kernel, int stages, int chunkCols, int buffers) {
        int staging = 2 * buffers * 4 * (16 * chunkCols * 4 + 32);  // as ws_gemm::smem_bytes_for
        return new Variant(kernel + " persist", kernel, 256, 384, stages * (128 + 256) * 128 + 2048 + staging,
                Grid.PERSISTENT, true, true, true, false);
    }

    /** gemm_wsm_*: the shipped schedule with B multicast over clusters of {@code cluster} CTAs along M. */
    private static Variant wsm(String kernel, int cluster) {
        return new Variant(kernel + " persist", kernel, 256, 384, 4 * (128 + 256) * 128 + 2048, Grid.PERSISTENT, true,
                true, true, false, cluster, 0);
    }

    private static Variant shippedTiled() {
        return new Variant("gemm_bf16_tn_tiled (shipped)", "gemm_bf16_tn_tiled", GpuGemm.TILED_TILE_N, 384,
                GpuGemm.TILED_SMEM, Grid.PERSISTENT, true, true, true, false);
    }

    /** Rows of the pre-tiled B: N rounded up to 8 (the swizzle's period); the kernels copy only the rows that exist. */
    static int pretiledRows(int n) { return (n + 7) & ~7; }

    public static void main(String[] args) {
        GpuDevice dev = Cuda.device(0);
        int sms = dev.multiprocessors;
        Variant shipped = shippedTiled(), at = ws("gemm_ws_co_n256_s4_at", 256, 4, Grid.PERSISTENT),
                c2 = wsm("gemm_wsm_co_n256_s4_c2", 2), c4 = wsm("gemm_wsm_co_n256_s4_c4", 4);
        // the candidates alternate with the shipped kernel: the run drifts ~10 % (KERNEL_NOTES), only neighbours compare
        // (session 8: {shipped, at} x 3; session 7: the shipped kernel with narrow last column tiles against its previous
        // build, gemm_ws_co_n256_s4_at;
        // the multicast runs of session 6 were {shipped, c2, at, c4, shipped, c2, c2 <= 128, c4 <= 128, shipped, c2, c4,
        // c4 <= 120, shipped, c2})
        // session 9: the shipped ping-pong 128 x 128 against the cooperative 128 x 256 it replaced (`at`; the session's
        // runs also had the ping-pong at 4 stages and with narrow last tiles: KERNEL_NOTES.md)
        Variant[] variants = {shipped, at, shipped, at, shipped, at};
        if (args.length > 0 && args[0].equals("ncu")) {  // one launch each on the 130M in_proj shape, for ncu
            profileOnce(dev, new Variant[] {shipped, c2, c4}, 32768, 3352, 768);
            return;
        }
        SplittableRandom r = new SplittableRandom(System.nanoTime());
        java.util.Set<String> wrong = new java.util.TreeSet<>();
        try (GpuStream s = dev.newStream()) {
            // Correctness first, fresh inputs per case: ragged M, N, K (tails of every tile kind), bias, accumulate,
            // and a 1-D grid far smaller than the tile count (several tiles per CTA, ping-pong turns, stage wrap).
            // n % 4 == 0 without C +=: the staged epilogues' bulk stores (n = 260: a last segment of 16 bytes; 1030 x 4100
            // on 3 CTAs: 51 tiles a CTA, the buffer rings wrap); the others their register path.
            // Clusters along M (gemm_wsm): row-tile counts odd (3, 9), 1, 2 and 4; 512 rows fill every cluster.
            int[][] cases = {{300, 520, 200, 0, 0}, {333, 1000, 776, 1, 1}, {333, 1000, 776, 1, 0}, {129, 257, 65, 1, 0},
                    {129, 260, 65, 1, 0}, {1, 9, 8, 0, 1}, {1, 12, 8, 1, 0}, {260, 3352, 832, 1, 1}, {260, 3352, 832, 1, 0},
                    {1030, 4100, 136, 1, 0}, {512, 776, 520, 1, 0}};
            for (int[] cs : cases) {
                int m = cs[0], n = cs[1], k = cs[2];
                boolean withBias = cs[3] == 1, accumulate = cs[4] == 1;
                float[] a = DType.BF16.round(GpuTests.randn(r, m * k, 1)), b = DType.BF16.round(GpuTests.randn(r, n * k, 1));
                float[] bias = withBias ? GpuTests.randn(r, n, 1) : null;
                // C[m + 1][ldc = n + 4] poisoned with NaN: the product's part must be written, the 4 columns past n and
                // the row past m must not (n + 4 keeps n's alignment, so the staged kernels take their bulk stores)
                int ldc = n + 4;
                float[] c0 = nans((m + 1) * ldc), cAcc = accumulate ? GpuTests.randn(r, m * n, 1) : null;
                if (accumulate) for (int i = 0; i < m; i++) System.arraycopy(cAcc, i * n, c0, i * ldc, n);
                float[] want = new float[m * n];
                Gemm.matmulReference(a, m, b, n, k, want);
                for (int i = 0; i < m * n; i++)
                    want[i] += (bias == null ? 0 : bias[i % n]) + (accumulate ? cAcc[i] : 0);
                int ld = DType.BF16.ld(k);
                try (DeviceBuffer ga = GpuTests.uploadHalf(s, DType.BF16, a, m, k); DeviceBuffer gb = GpuTests.uploadHalf(s, DType.BF16, b, n, k);
                     DeviceBuffer gat = pretile(s, ga, ld, m, k); DeviceBuffer gt = pretile(s, gb, ld, n, k); DeviceBuffer gbias = bias == null ? null : GpuTests.upload(s, bias);
                     DeviceBuffer c = dev.alloc(4L * (m + 1) * ldc)) {
                    for (Variant v : distinctKernels(variants)) {
                        if (!v.accumulateArg && (accumulate || withBias) || wrong.contains(v.kernel)) continue;
                        // grids: the variant's own, then (1-D) 3 CTAs, or for a clustered kernel one cluster (every
                        // group on it) and 3 clusters (some with nothing to do on small shapes)
                        int[] grids = v.grid == Grid.TILES_2D ? new int[] {v.gridX(m, n, sms)}
                                : v.cluster == 1 ? new int[] {v.gridX(m, n, sms), 3}
                                : new int[] {v.gridX(m, n, sms), v.cluster, 3 * v.cluster};
                        for (int grid : grids) try {
                            s.upload(c0, c.ptr());
                            s.launch(v.kernel, grid, v.gridY(m), 1, v.threads, v.smem, v.pretiledA ? gat : ga,
                                    v.pretiledA ? pretiledRows(m) : ld, v.pretiledB ? gt : gb,
                                    v.pretiledB ? pretiledRows(n) : ld, c, ldc, gbias, m, n, k, accumulate ? 1 : 0);
                            String what = String.format("%s grid %d %dx%dx%d%s%s", v.kernel, grid, m, n, k,
                                    withBias ? " bias" : "", accumulate ? " acc" : "");
                            float[] got = s.downloadFloats(c.ptr(), (m + 1) * ldc), part = new float[m * n];
                            for (int i = 0; i <= m; i++)
                                for (int j = i < m ? n : 0; j < ldc; j++)
                                    if (!Float.isNaN(got[i * ldc + j]))
                                        throw new AssertionError(what + ": wrote C[" + i + "][" + j + "] outside the product");
                            for (int i = 0; i < m; i++) System.arraycopy(got, i * ldc, part, i * n, n);
                            GpuTests.close(what, want, part, 2e-5 * Math.sqrt(k), 1e-5);
                        } catch (AssertionError | RuntimeException e) {  // RuntimeException: the launch failed
                            System.out.println("WRONG " + e);
                            wrong.add(v.kernel);
                        }
                    }
                }
            }
            System.out.println(wrong.isEmpty() ? "all variants agree with the CPU twin"
                    : "WRONG products (not timed): " + wrong);
            s.setProfiling(true);
            int[][] shapes = {{32768, 3352, 768}, {32768, 768, 1536}, {16384, 8512, 2048}, {16384, 2048, 4096}};
            double[][] tflops = new double[variants.length][shapes.length];
            for (int si = 0; si < shapes.length; si++) {
                int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
                try (DeviceBuffer ga = GpuTests.uploadHalf(s, DType.BF16, uniform(r, M * K), M, K);
                     DeviceBuffer gb = GpuTests.uploadHalf(s, DType.BF16, uniform(r, N * K), N, K);
                     DeviceBuffer gat = pretile(s, ga, K, M, K); DeviceBuffer gt = pretile(s, gb, K, N, K);
                     DeviceBuffer c = dev.alloc(4L * M * N)) {
                    for (int vi = 0; vi < variants.length; vi++) {
                        Variant v = variants[vi];
                        if (wrong.contains(v.kernel)) continue;
                        for (int i = 0; i < 3; i++) launch(s, v, ga, gat, gb, gt, c, M, N, K, sms);
                        s.resetProfile();
                        int reps = 50;
                        for (int i = 0; i < reps; i++) launch(s, v, ga, gat, gb, gt, c, M, N, K, sms);
                        Map<String, double[]> p = s.profile();
                        double ms = p.get(v.kernel)[0] / reps;
                        tflops[vi][si] = 2.0 * M * N * K / ms / 1e9;
                        System.out.printf("GEMM %2d. %-40s %6d x %5d x %5d: %7.3f ms  %6.1f TFLOP/s%n", vi + 1, v.label, M, N, K, ms,
                                tflops[vi][si]);
                    }
                }
            }
            System.out.println("\n| kernel | " + String.join(" | ", Arrays.stream(shapes).map(
                    sh -> sh[0] + "x" + sh[1] + "x" + sh[2]).toArray(String[]::new)) + " |");
            System.out.println("|---|--:|--:|--:|--:|");
            for (int vi = 0; vi < variants.length; vi++) {
                StringBuilder row = new StringBuilder("| " + (vi + 1) + ". " + variants[vi].label + " |");
                for (double t : tflops[vi]) row.append(wrong.contains(variants[vi].kernel) ? " wrong |" : String.format(" %.0f |", t));
                System.out.println(row);
            }
        }
        if (!wrong.isEmpty()) System.exit(1);
    }

    /** One variant per kernel (the twin checks run each kernel once, on its own grids). */
    private static Variant[] distinctKernels(Variant[] variants) {
        Map<String, Variant> byKernel = new java.util.LinkedHashMap<>();
        for (Variant v : variants) byKernel.putIfAbsent(v.kernel, v);
        return byKernel.values().toArray(new Variant[0]);
    }

    /** Each variant launched once on random M x N x K data (after the pre-tiling launches), for a profiler such as
     *  ncu filtering by kernel name. */
    private static void profileOnce(GpuDevice dev, Variant[] variants, int M, int N, int K) {
        SplittableRandom r = new SplittableRandom(1);
        try (GpuStream s = dev.newStream();
             DeviceBuffer ga = GpuTests.uploadHalf(s, DType.BF16, uniform(r, M * K), M, K);
             DeviceBuffer gb = GpuTests.uploadHalf(s, DType.BF16, uniform(r, N * K), N, K);
             DeviceBuffer gat = pretile(s, ga, K, M, K); DeviceBuffer gt = pretile(s, gb, K, N, K);
             DeviceBuffer c = dev.alloc(4L * M * N)) {
            for (Variant v : variants) launch(s, v, ga, gat, gb, gt, c, M, N, K, dev.multiprocessors);
            s.sync();
            System.out.println("profiled once each on " + M + "x" + N + "x" + K + ": "
                    + String.join(", ", Arrays.stream(variants).map(Variant::kernel).toArray(String[]::new)));
        }
    }

    /** X[n][ldx] (bf16) in bf16_pretile's layout: B as GpuWeights would keep a weight for the _bt kernels, A as a
     *  norm kernel would write its output for the _at kernels. */
    private static DeviceBuffer pretile(GpuStream s, DeviceBuffer x, int ldx, int n, int k) {
        DeviceBuffer t = s.device().alloc(2L * ((k + 63) / 64) * pretiledRows(n) * 64);
        pretileInto(s, x, ldx, n, k, t);
        return t;
    }

    private static void pretileInto(GpuStream s, DeviceBuffer x, int ldx, int n, int k, DeviceBuffer t) {
        int rows = pretiledRows(n);
        long chunks = (long) ((k + 63) / 64) * rows * 8;
        s.launch("bf16_pretile", (int) ((chunks + 255) / 256), 1, 1, 256, 0, x, ldx, n, k, rows, t);
    }

    private static float[] nans(int n) {
        float[] a = new float[n];
        Arrays.fill(a, Float.NaN);
        return a;
    }

    private static float[] uniform(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() - 0.5);
        return a;
    }

    private static void launch(GpuStream s, Variant v, DeviceBuffer a, DeviceBuffer at, DeviceBuffer b, DeviceBuffer bt,
                               DeviceBuffer c, int M, int N, int K, int sms) {
        s.launch(v.kernel, v.gridX(M, N, sms), v.gridY(M), 1, v.threads, v.smem, v.pretiledA ? at : a,
                v.pretiledA ? pretiledRows(M) : K, v.pretiledB ? bt : b,
                v.pretiledB ? pretiledRows(N) : K, c, N, null, M, N, K, v.timedAccumulate ? 1 : 0);
    }
}
