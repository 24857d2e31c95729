package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * Causal attention with rotary embeddings, GQA and a per-sequence KV cache over a packed varlen batch, and the
 * silu gate of the gated MLPs (attention.cuh): the attention layers of mamba_ssm's hybrids. Twin:
 * {@link ssdspark.kernels.Attention}.
 *
 * <p>Keys of sequence s live in rows [kvStart[s], kvStart[s] + prefix[s] + len[s]) of a key buffer of
 * kvHeads * headDim floats a row, its values in the same rows of a value buffer: the first prefix[s] rows are the
 * cache of its document's earlier chunks, the rest are filled by {@link #rotaryKv} from this batch.
 */
public final class GpuAttention {
    private GpuAttention() {}

    /** Query tile of the attention kernel (queries of one sequence per block). */
    public static final int TILE = 64;
    /** Largest head dimension the kernel takes (its shared memory grows with it). */
    public static final int MAX_HEAD_DIM = 256;

    /** Heads of queries and of keys/values (GQA: kvHeads divides heads), head dim, rotary dims and layout, scale. */
    public record Shape(int heads, int kvHeads, int headDim, int rotaryDim, boolean interleaved, float scale) {
        public Shape {
            if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0)
                throw new IllegalArgumentException("attention heads " + heads + " must be a multiple of kv heads " + kvHeads);
            if (headDim < 1 || headDim > MAX_HEAD_DIM)
                throw new IllegalArgumentException("head dim " + headDim + " not in [1, " + MAX_HEAD_DIM + "] on the GPU");
            if (rotaryDim < 0 || rotaryDim > headDim || rotaryDim % 2 != 0)
                throw new IllegalArgumentException("rotary dim " + rotaryDim + " must be even and <= head dim " + headDim);
        }

        public int qkvWidth() { return (heads + 2 * kvHeads) * headDim; }
    }

    /** A batch's attention tables on the device (pointers into one int buffer) and its kv rows. */
    public record Tables(CUdeviceptr tileSeq, CUdeviceptr tileQ0, CUdeviceptr kvStart, CUdeviceptr prefix, int tiles,
                         int kvRows, int[] kvStartHost) {}

    /** Ints {@link #upload} needs for v. */
    public static int tableInts(Varlen v) { return 2 * tiles(v) + 2 * v.seqs; }

    private static int tiles(Varlen v) {
        int n = 0;
        for (int s = 0; s < v.seqs; s++) n += (v.seqLen[s] + TILE - 1) / TILE;
        return n;
    }

    /** Queues the tables of batch v whose sequence s continues a document of prefix[s] cached tokens. */
    public static Tables upload(GpuStream s, Varlen v, int[] prefix, DeviceBuffer buf, long off) {
        int nt = tiles(v), S = v.seqs;
        int[] all = new int[2 * nt + 2 * S];
        int k = 0;
        for (int q = 0; q < S; q++)
            for (int q0 = 0; q0 < v.seqLen[q]; q0 += TILE) { all[k] = q; all[nt + k] = q0; k++; }
        long rows = 0;
        int[] kvStart = new int[S];
        for (int q = 0; q < S; q++) {
            if (prefix[q] < 0) throw new IllegalArgumentException("negative cached length " + prefix[q]);
            kvStart[q] = (int) rows;
            all[2 * nt + q] = (int) rows;
            all[2 * nt + S + q] = prefix[q];
            rows += (long) prefix[q] + v.seqLen[q];
            if (rows > Integer.MAX_VALUE / 2) throw new IllegalArgumentException("attention cache of " + rows + " rows is too large");
        }
        if (4 * (off + all.length) > buf.bytes()) throw new IllegalArgumentException("attention tables do not fit the buffer");
        s.upload(all, buf.at4(off));
        return new Tables(buf.at4(off), buf.at4(off + nt), buf.at4(off + 2L * nt), buf.at4(off + 2L * nt + S), nt, (int) rows, kvStart);
    }

    /**
     * qkv[t][ldQkv] from column qkvOff holds q [H*D] | k [Hkv*D] | v [Hkv*D]; writes q rotated to qOut[t][H*D], k
     * rotated and v to the sequence's row prefix + position of keys and values. invFreq: device floats [rotaryDim / 2],
     * {@link ssdspark.kernels.Rotary#inverseFrequencies}.
     */
    public static void rotaryKv(GpuStream s, Varlen.OnDevice v, Tables tb, Shape sh, CUdeviceptr qkv, int ldQkv, int qkvOff,
                                CUdeviceptr invFreq, CUdeviceptr qOut, CUdeviceptr keys, CUdeviceptr values) {
        s.launch("attn_rotary_kv", v.host().tokens, 1, 1, 128, 0, qkv, ldQkv, qkvOff, sh.heads(), sh.kvHeads(), sh.headDim(),
                sh.rotaryDim(), sh.interleaved() ? 1 : 0, invFreq, v.tokSeq(), v.tokPos(), tb.kvStart(), tb.prefix(), qOut,
                keys, values);
    }

    /**
     * out[t][h*D + d] (outType, row stride ldOut) = causal softmax(q k^T * scale) v over the sequence's kv rows. 16-bit
     * outputs with head dims 32, 64, 96 or 128 run on tensor cores (q, k, v and the probabilities rounded to outType,
     * fp32 accumulation and softmax, as flash-attn computes); fp32 outputs and other head dims on fp32 FMA.
     */
    public static void attend(GpuStream s, DType outType, Varlen.OnDevice v, Tables tb, Shape sh, CUdeviceptr q,
                              CUdeviceptr keys, CUdeviceptr values, CUdeviceptr out, int ldOut) {
        int D = sh.headDim();
        if (tensorCores(outType, D)) {
            int smem = 2 * (2 * TILE * (D + 8) + D * (TILE + 8));
            s.launch("attn_fwd_tc_d" + D + "_" + outType.suffix, tb.tiles(), sh.heads(), 1, 128, smem, q, keys, values,
                    sh.heads(), sh.kvHeads(), D, sh.scale(), tb.tileSeq(), tb.tileQ0(), v.seqStart(), v.seqLen(), tb.kvStart(),
                    tb.prefix(), out, ldOut);
            return;
        }
        int nj = D <= 64 ? 4 : D <= 128 ? 8 : 16;
        int smem = 4 * (TILE * D + TILE * (D + 1) + TILE * D + TILE * (TILE + 1));
        s.launch("attn_fwd_nj" + nj + "_" + outType.suffix, tb.tiles(), sh.heads(), 1, 256, smem, q, keys, values, sh.heads(),
                sh.kvHeads(), D, sh.scale(), tb.tileSeq(), tb.tileQ0(), v.seqStart(), v.seqLen(), tb.kvStart(), tb.prefix(), out, ldOut);
    }

    /** Whether {@link #attend} takes the tensor-core kernel for this output type and head dim. */
    public static boolean tensorCores(DType outType, int headDim) {
        return outType.isHalf() && (headDim == 32 || headDim == 64 || headDim == 96 || headDim == 128);
    }

    /**
     * out[r][outOff + i] = in[r][inOff + i] * silu(in[r][inOff + n + i]) for i < n (GatedMLP's fc1 output, MHA's MLP
     * part: value half, then gate half), and out[r][padFrom, ldOut) = 0.
     */
    public static void siluGate(GpuStream s, DType outType, int rows, CUdeviceptr in, int ldIn, int inOff, int n,
                                CUdeviceptr out, int ldOut, int outOff, int padFrom) {
        s.launch("silu_gate_" + outType.suffix, rows, 1, 1, 256, 0, in, ldIn, inOff, n, out, ldOut, outOff, padFrom);
    }
}
