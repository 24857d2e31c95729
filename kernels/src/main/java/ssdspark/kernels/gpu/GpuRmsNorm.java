package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/** Fused residual add + RMSNorm (rmsnorm.cuh). Twin: {@link ssdspark.kernels.RmsNorm#addCpu} / {@code cpu}. */
public final class GpuRmsNorm {
    private GpuRmsNorm() {}

    /**
     * residual[rows][d] (fp32) += delta (skipped when delta is null); y = rmsnorm(residual) * w written to outF
     * (fp32, stride ldF) and/or outH (halfType: bf16 or fp16, stride ldH, zero padded past d); either output may be null.
     */
    public static void addNorm(GpuStream s, CUdeviceptr residual, CUdeviceptr delta, CUdeviceptr w, float eps, int rows,
                               int d, CUdeviceptr outF, int ldF, DType halfType, CUdeviceptr outH, int ldH) {
        if (outF == null && outH == null) throw new IllegalArgumentException("no output");
        String k = halfType == DType.F16 ? "add_rmsnorm_f16" : "add_rmsnorm_bf16";
        s.launch(k, rows, 1, 1, 256, 0, residual, delta, w, eps, d, outF, ldF, outH, ldH);
    }
}
