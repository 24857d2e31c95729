package ssdspark.kernels.gpu;

import ssdspark.kernels.Gemm;

import java.util.Map;
import java.util.SplittableRandom;

/**
 * Times the Hopper GEMM's shape experiments (gemm_sm90_variants.cuh, in a fatbin built with
 * SSD_CUDA_DEFINES=-DSSD_GEMM_VARIANTS) against the shipped kernels on the engine's shapes, after checking each
 * against the CPU twin on a small product. Not a test: run with {@code java ... ssdspark.kernels.gpu.GemmVariantsBench}.
 */
public final class GemmVariantsBench {
    private record Variant(String kernel, int tileN, int smem) {}

    public static void main(String[] args) {
        GpuDevice dev = Cuda.device(0);
        Variant[] variants = {
                new Variant("gemm_bf16_tn", 128, GpuGemm.MMA_SMEM),
                new Variant("gemm_bf16_tn_wg", GpuGemm.WGMMA_TILE_N, GpuGemm.WGMMA_SMEM),
                new Variant("gemm_wgv_n256_s4_f1", 256, 4 * 384 * 128 + 1024),
                new Variant("gemm_wgv_n256_s4_f0", 256, 4 * 384 * 128 + 1024),
                new Variant("gemm_wgv_n128_s3_f0", 128, 3 * 256 * 128 + 1024),
                new Variant("gemm_wgv_n128_s3_f1", 128, 3 * 256 * 128 + 1024),
                new Variant("gemm_wgv_n128_s4_f1", 128, 4 * 256 * 128 + 1024),
                new Variant("gemm_wgv_n128_s6_f1", 128, 6 * 256 * 128 + 1024),
        };
        int[][] shapes = {{32768, 3352, 768}, {32768, 768, 1536}, {16384, 8224, 2048}, {16384, 2048, 4096}};
        SplittableRandom r = new SplittableRandom(1);
        try (GpuStream s = dev.newStream()) {
            // correctness on a ragged shape first
            int m = 300, n = 520, k = 200;
            float[] a = DType.BF16.round(GpuTests.randn(r, m * k, 1)), b = DType.BF16.round(GpuTests.randn(r, n * k, 1));
            float[] want = new float[m * n];
            Gemm.matmulReference(a, m, b, n, k, want);
            try (DeviceBuffer ga = GpuTests.uploadHalf(s, DType.BF16, a, m, k); DeviceBuffer gb = GpuTests.uploadHalf(s, DType.BF16, b, n, k);
                 DeviceBuffer c = dev.alloc(4L * m * n)) {
                for (Variant v : variants) {
                    s.zero(c.ptr(), 4L * m * n);
                    s.launch(v.kernel, (n + v.tileN - 1) / v.tileN, (m + 127) / 128, 1, 256, v.smem, ga, DType.BF16.ld(k), gb,
                            DType.BF16.ld(k), c, n, null, m, n, k, 0);
                    GpuTests.close(v.kernel + " " + m + "x" + n + "x" + k, want, s.downloadFloats(c.ptr(), m * n), 2e-5 * Math.sqrt(k), 1e-5);
                }
            }
            s.setProfiling(true);
            for (int[] sh : shapes) {
                int M = sh[0], N = sh[1], K = sh[2];
                try (DeviceBuffer ga = GpuTests.uploadHalf(s, DType.BF16, uniform(r, M * K), M, K);
                     DeviceBuffer gb = GpuTests.uploadHalf(s, DType.BF16, uniform(r, N * K), N, K);
                     DeviceBuffer c = dev.alloc(4L * M * N)) {
                    for (Variant v : variants) {
                        for (int i = 0; i < 2; i++) launch(s, v, ga, gb, c, M, N, K);
                        s.resetProfile();
                        int reps = 10;
                        for (int i = 0; i < reps; i++) launch(s, v, ga, gb, c, M, N, K);
                        Map<String, double[]> p = s.profile();
                        double ms = p.get(v.kernel)[0] / reps;
                        System.out.printf("GEMM %-22s %6d x %5d x %5d: %7.3f ms  %6.1f TFLOP/s%n", v.kernel, M, N, K, ms,
                                2.0 * M * N * K / ms / 1e9);
                    }
                }
            }
        }
    }

    private static float[] uniform(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() - 0.5);
        return a;
    }

    private static void launch(GpuStream s, Variant v, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, int M, int N, int K) {
        s.launch(v.kernel, (N + v.tileN - 1) / v.tileN, (M + 127) / 128, 1, 256, v.smem, a, K, b, K, c, N, null, M, N, K, 0);
    }
}
