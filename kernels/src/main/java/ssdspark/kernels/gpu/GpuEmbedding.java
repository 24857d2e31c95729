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

    /**
     * Gathers a batch's ids from int32s already in device memory: token p of sequence s of v is src[start[s] + p]
     * (start and more: device int[S]). With targets non-null also the next-token targets: src[start[s] + p + 1] while
     * p + 1 < len[s] + more[s] (more[s] = 1: the document goes on right after the sequence), else -1. Unchecked: see
     * {@link #firstBad}.
     */
    public static void gatherIds(GpuStream s, Varlen.OnDevice v, CUdeviceptr src, CUdeviceptr start, CUdeviceptr more,
                                 CUdeviceptr ids, CUdeviceptr targets) {
        int n = v.host().tokens;
        s.launch("ids_gather", (n + 255) / 256, 1, 1, 256, 0, src, start, more, v.tokSeq(), v.tokPos(), v.seqLen(), n, ids, targets);
    }

    /**
     * The index of the first of ids[0, n) outside [lo, limit), or -1 if none; waits for the stream. scratch: one int
     * of device memory.
     */
    public static int firstBad(GpuStream s, CUdeviceptr ids, int n, int lo, int limit, CUdeviceptr scratch) {
        s.upload(new int[] {Integer.MAX_VALUE}, scratch);
        s.launch("ids_check", (n + 255) / 256, 1, 1, 256, 0, ids, n, lo, limit, scratch);
        int[] bad = new int[1];
        s.download(scratch, bad, 0, 1);
        return bad[0] == Integer.MAX_VALUE ? -1 : bad[0];
    }
}
