package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * C[m][n] = A[m][k] . B[n][k]^T + bias[n] in torch Linear layout (gemm.cuh). Twin: {@link ssdspark.kernels.Gemm}.
 * bf16 / fp16: tensor cores (mma.sync m16n8k16) with fp32 accumulation; rows of A and B strided by a multiple of 8 and
 * zero padded past k ({@link Bf16#ld}). fp32: SIMT FMA, any strides.
 */
public final class GpuGemm {
    private GpuGemm() {}

    /** Dynamic shared memory of gemm_bf16_tn / lm_head_bf16 (3 stages of 128x32 A and B tiles, padded rows). */
    public static final int BF16_SMEM = 3 * (128 + 128) * 40 * 2;

    /** Pipeline depth of the bf16 GEMM: 3 (default) or 4 (-Dssdspark.gemm.stages=4; an experiment, bf16 only). */
    private static volatile int stages = Integer.getInteger("ssdspark.gemm.stages", 3);

    public static void setStages(int s) {
        if (s != 3 && s != 4) throw new IllegalArgumentException("stages must be 3 or 4");
        stages = s;
    }

    /** Any DType: fp32 goes to the SIMT kernel, bf16 / fp16 to the tensor-core one. */
    public static void run(GpuStream s, DType t, CUdeviceptr a, int lda, CUdeviceptr b, int ldb, CUdeviceptr c, int ldc,
                           CUdeviceptr bias, int m, int n, int k) {
        if (t == DType.F32) {
            f32(s, a, lda, b, ldb, c, ldc, bias, m, n, k);
            return;
        }
        checkBf16(lda, ldb, k);
        if (ldc < n) throw new IllegalArgumentException("ldc " + ldc + " < n " + n);
        boolean s4 = stages == 4 && t == DType.BF16;
        s.launch("gemm_" + t.suffix + "_tn" + (s4 ? "_s4" : ""), (n + 127) / 128, (m + 127) / 128, 1, 256,
                s4 ? 4 * (128 + 128) * 40 * 2 : BF16_SMEM, a, lda, b, ldb, c, ldc, bias, m, n, k);
    }

    public static void bf16(GpuStream s, CUdeviceptr a, int lda, CUdeviceptr b, int ldb, CUdeviceptr c, int ldc,
                            CUdeviceptr bias, int m, int n, int k) {
        run(s, DType.BF16, a, lda, b, ldb, c, ldc, bias, m, n, k);
    }

    public static void f32(GpuStream s, CUdeviceptr a, int lda, CUdeviceptr b, int ldb, CUdeviceptr c, int ldc,
                           CUdeviceptr bias, int m, int n, int k) {
        if (lda < k || ldb < k || ldc < n) throw new IllegalArgumentException("strides " + lda + "/" + ldb + "/" + ldc + " too small for k " + k + ", n " + n);
        s.launch("gemm_f32_tn", (n + 63) / 64, (m + 63) / 64, 1, 256, 0, a, lda, b, ldb, c, ldc, bias, m, n, k);
    }

    static void checkBf16(int lda, int ldb, int k) {
        if (lda % 8 != 0 || ldb % 8 != 0 || lda < k || ldb < k)
            throw new IllegalArgumentException("bf16 GEMM rows need strides that are multiples of 8 and >= k: lda " + lda
                    + ", ldb " + ldb + ", k " + k);
    }
}
