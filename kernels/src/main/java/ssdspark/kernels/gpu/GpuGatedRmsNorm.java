package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * mamba_ssm's group-wise gated RMSNorm plus the MLP part of the out_proj input (gated_rmsnorm.cuh).
 * Twin: {@link ssdspark.kernels.GatedRmsNorm#cpu} and the silu(z0)*x0 / y*silu(z) loops of CpuEngine.
 */
public final class GpuGatedRmsNorm {
    private GpuGatedRmsNorm() {}

    /**
     * For each row: out[outOff + i] = gatedRmsNorm(y[i], z = proj[zOff + i]) over groups of groupSize (w null:
     * y*silu(z)); out[i] = silu(proj[i]) * proj[dMlp + i] for i < dMlp; out[padFrom, ldOut) = 0.
     */
    public static void forward(GpuStream s, DType outType, int rows, CUdeviceptr y, int ldY, CUdeviceptr proj,
                               int ldProj, int zOff, CUdeviceptr w, float eps, int groupSize, boolean normBeforeGate,
                               int d, int dMlp, CUdeviceptr out, int ldOut, int outOff, int padFrom) {
        launch(s, outType, rows, y, ldY, proj, ldProj, zOff, w, eps, groupSize, normBeforeGate, d, dMlp, out, ldOut, outOff,
                padFrom, 0);
    }

    /**
     * {@link #forward} into bf16 in the pre-tiled layout of {@link GpuGemm#runTiled} (what {@link GpuGemm#pretile} makes of
     * the row output [rows][padFrom]), so out_proj needs no pass of its own over its input.
     */
    public static void forwardTiled(GpuStream s, int rows, CUdeviceptr y, int ldY, CUdeviceptr proj, int ldProj, int zOff,
                                    CUdeviceptr w, float eps, int groupSize, boolean normBeforeGate, int d, int dMlp,
                                    CUdeviceptr outTiled, int outOff, int padFrom) {
        launch(s, DType.BF16, rows, y, ldY, proj, ldProj, zOff, w, eps, groupSize, normBeforeGate, d, dMlp, outTiled, 0,
                outOff, padFrom, GpuGemm.tiledRows(rows));
    }

    private static void launch(GpuStream s, DType outType, int rows, CUdeviceptr y, int ldY, CUdeviceptr proj, int ldProj,
                               int zOff, CUdeviceptr w, float eps, int groupSize, boolean normBeforeGate, int d, int dMlp,
                               CUdeviceptr out, int ldOut, int outOff, int padFrom, int tiledRows) {
        if (d % groupSize != 0) throw new IllegalArgumentException("d " + d + " not a multiple of group size " + groupSize);
        if (w != null && groupSize % 512 == 0 && d / 16 <= 1024) { // 16 columns a thread in registers, whole warps a group
            s.launch("gated_rmsnorm_regs_" + outType.suffix, rows, 1, 1, d / 16, 0, y, ldY, proj, ldProj, zOff,
                    w, eps, groupSize, normBeforeGate ? 1 : 0, d, dMlp, out, ldOut, outOff, padFrom, tiledRows);
            return;
        }
        s.launch("gated_rmsnorm_" + outType.suffix, rows, 1, 1, 256, 0, y, ldY, proj, ldProj, zOff,
                w, eps, groupSize, normBeforeGate ? 1 : 0, d, dMlp, out, ldOut, outOff, padFrom, tiledRows);
    }
}
