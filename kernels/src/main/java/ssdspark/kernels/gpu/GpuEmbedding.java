package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/** Embedding gather and fp32 -> bf16 row conversion (embedding.cuh). Twin: the row copy in CpuEngine.forward. */
public final class GpuEmbedding {
    private GpuEmbedding() {}

    /** out[t][0:d] (fp32) = table[tokens[t]][0:d], table rows of stride ldTable in any DType. Ids must be valid. */
    public static void gather(GpuStream s, CUdeviceptr tokens, int n, CUdeviceptr table, DType type, int ldTable,
                              int d, CUdeviceptr out) {
        s.launch("embed_gather_" + type.suffix, n, 1, 1, 256, 0, tokens, table, ldTable, d, out);
    }

    /** out[r][0:cols] = half(in[r][0:cols]) (bf16 or fp16), zero padded to ldOut (a multiple of 8 for the GEMMs). */
    public static void toHalf(GpuStream s, DType type, CUdeviceptr in, int ldIn, int rows, int cols, CUdeviceptr out, int ldOut) {
        if (!type.isHalf()) throw new IllegalArgumentException("not a 16-bit type: " + type);
        if (ldOut < cols) throw new IllegalArgumentException("ldOut " + ldOut + " < cols " + cols);
        s.launch("convert_f32_" + type.suffix, rows, 1, 1, 256, 0, in, ldIn, out, ldOut, cols);
    }
}
