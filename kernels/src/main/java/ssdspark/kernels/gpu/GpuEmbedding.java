package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/** Embedding gather and fp32 -> bf16 row conversion (embedding.cuh). Twin: the row copy in CpuEngine.forward. */
public final class GpuEmbedding {
    private GpuEmbedding() {}

    /** out[t][0:d] (fp32) = table[tokens[t]][0:d], table rows of stride ldTable in fp32 or bf16. Ids must be valid. */
    public static void gather(GpuStream s, CUdeviceptr tokens, int n, CUdeviceptr table, boolean bf16, int ldTable,
                              int d, CUdeviceptr out) {
        s.launch(bf16 ? "embed_gather_bf16" : "embed_gather_f32", n, 1, 1, 256, 0, tokens, table, ldTable, d, out);
    }

    /** out[r][0:cols] = bf16(in[r][0:cols]), zero padded to ldOut (a multiple of 8 for the GEMMs). */
    public static void toBf16(GpuStream s, CUdeviceptr in, int ldIn, int rows, int cols, CUdeviceptr out, int ldOut) {
        if (ldOut < cols) throw new IllegalArgumentException("ldOut " + ldOut + " < cols " + cols);
        s.launch("convert_f32_bf16", rows, 1, 1, 256, 0, in, ldIn, out, ldOut, cols);
    }
}
