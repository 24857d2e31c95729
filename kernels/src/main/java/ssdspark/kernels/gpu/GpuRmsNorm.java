package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/** Fused residual add + RMSNorm (rmsnorm.cuh). Twin: {@link ssdspark.kernels.RmsNorm#addCpu} / {@code cpu}. */
public final class GpuRmsNorm {
    private GpuRmsNorm() {}

    /**
     * residual[rows][d] (fp32) += delta (skipped when delta is null); y = rmsnorm(residual) * w written to outF
     * (fp32, stride ldF) and/or outH (halfType: bf16 or fp16, stride ldH, zero padded past d); either output may be null.
     * Buffers start 16-byte aligned (as allocations do).
     */
    public static void addNorm(GpuStream s, CUdeviceptr residual, CUdeviceptr delta, CUdeviceptr w, float eps, int rows,
                               int d, CUdeviceptr outF, int ldF, DType halfType, CUdeviceptr outH, int ldH) {
        if (outF == null && outH == null) throw new IllegalArgumentException("no output");
        String t = halfType == DType.F16 ? "f16" : "bf16";
        if (d % 4 == 0 && (outF == null || ldF % 4 == 0)) // a warp per row, 16-byte accesses
            s.launch("add_rmsnorm_warp_" + t, (rows + 7) / 8, 1, 1, 256, 0, residual, delta, w, eps, d, outF, ldF, outH, ldH, rows, 0);
        else
            s.launch("add_rmsnorm_" + t, rows, 1, 1, 256, 0, residual, delta, w, eps, d, outF, ldF, outH, ldH);
    }

    /**
     * {@link #addNorm} with the bf16 output written straight into the pre-tiled layout of {@link GpuGemm#runTiled}
     * (the layout {@link GpuGemm#pretile} makes), so the GEMM that reads it needs no pass of its own. d % 4 == 0.
     */
    public static void addNormTiled(GpuStream s, CUdeviceptr residual, CUdeviceptr delta, CUdeviceptr w, float eps,
                                    int rows, int d, CUdeviceptr outTiled) {
        addNormTiled(s, residual, delta, w, eps, rows, d, null, 0, outTiled);
    }

    /** {@link #addNormTiled} that also writes the fp32 output to outF (stride ldF, a multiple of 4) when not null. */
    public static void addNormTiled(GpuStream s, CUdeviceptr residual, CUdeviceptr delta, CUdeviceptr w, float eps,
                                    int rows, int d, CUdeviceptr outF, int ldF, CUdeviceptr outTiled) {
        addNormTiled(s, residual, delta, null, w, eps, rows, d, outF, ldF, outTiled);
    }

    /**
     * The per-row scale of a delta that is out_proj's product of unscaled gated rows (the gated RMSNorm folded into
     * the scan, {@link GpuSsdScan.GatedOut}): row r of delta is multiplied by
     * 1 / sqrt(sum over k < parts of sumSq[r][k] / width + eps) before it is added
     * ({@link ssdspark.kernels.GatedRmsNorm#rowScale}).
     */
    public record DeltaScale(CUdeviceptr sumSq, int parts, int width, float eps) {}

    /** {@link #addNormTiled} with the delta scaled per row by scale (none when null). */
    public static void addNormTiled(GpuStream s, CUdeviceptr residual, CUdeviceptr delta, DeltaScale scale, CUdeviceptr w,
                                    float eps, int rows, int d, CUdeviceptr outF, int ldF, CUdeviceptr outTiled) {
        if (d % 4 != 0 || (outF != null && ldF % 4 != 0))
            throw new IllegalArgumentException("pre-tiled output needs d and ldF multiples of 4, got " + d + ", " + ldF);
        if (scale != null && delta == null) throw new IllegalArgumentException("a delta scale without a delta");
        if (scale == null)
            s.launch("add_rmsnorm_warp_bf16", (rows + 7) / 8, 1, 1, 256, 0, residual, delta, w, eps, d, outF, ldF, outTiled, 0,
                    rows, GpuGemm.tiledRows(rows));
        else
            s.launch("add_rmsnorm_warp_scaled_bf16", (rows + 7) / 8, 1, 1, 256, 0, residual, delta, w, eps, d, outF, ldF,
                    outTiled, 0, rows, GpuGemm.tiledRows(rows), scale.sumSq(), scale.parts(), scale.width(), scale.eps());
    }
}
