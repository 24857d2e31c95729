package ssdspark.model.gpu;

import ssdspark.kernels.gpu.DeviceBuffer;
import ssdspark.kernels.gpu.GpuAttention;
import ssdspark.kernels.gpu.GpuDevice;
import ssdspark.kernels.gpu.GpuGemm;
import ssdspark.kernels.gpu.GpuLmHead;
import ssdspark.kernels.gpu.GpuSsdScan;
import ssdspark.kernels.gpu.GpuStream;
import ssdspark.model.Mamba2Config;

/**
 * One task thread's activations on the device, with its own stream. Sized from the batch's token budget
 * (tokens, sequences, SSD chunks) and grown when a larger batch comes; reused across calls.
 */
final class Workspace implements AutoCloseable {
    final GpuStream stream;
    /** Launches beside stream's (GpuEngine: the conv windows and C.B), joined back before their outputs are needed. */
    final GpuStream side;
    private final GpuDevice dev;
    private final Mamba2Config c;
    private final boolean bf16;
    private final int ldModel, ldGated, yWidth;
    private final Mamba2Config.AttnConfig attn;
    private final int attnLayers;

    int capTokens, capSeqs, capChunks, capLmRows;
    long capLmScratch;
    DeviceBuffer ints;       // tokens [capT] | targets [capT] | varlen tables | device-batch tables
    DeviceBuffer residual;   // f32 [T][d]
    DeviceBuffer xn;         // bf16 [T][ldModel] or f32 [T][d]; or pre-tiled for a tiled in_proj (GpuWeights.tiled)
    DeviceBuffer delta;      // f32 [T][d]: a Mamba-2 block's out_proj output, added into residual by the next norm
    DeviceBuffer proj;       // f32 [T][projWidth]: in_proj (or fc1) output
    DeviceBuffer xbc;        // f32 [T][conv_dim]: conv output (x | B | C, or an attention layer's q | k | v)
    DeviceBuffer y;          // f32 [T][yWidth]: the scan's y (d_ssm), or its per-head sums of squares (GpuEngine.foldGatedNorm)
    DeviceBuffer gated;      // out_proj / fc2 input: bf16 [T][ldGated] or f32 [T][gatedWidth]; or pre-tiled (as xn)
    DeviceBuffer hidden;     // f32 [T][d]
    DeviceBuffer hiddenH;    // bf16 [T][ldModel] (bf16 only), or pre-tiled for the tiled LM head (see hiddenTiledRows)
    /** Rows of the pre-tiled hiddenH that the last forward wrote (GpuLmHead.logProbsTiled); 0: hiddenH holds rows. */
    int hiddenTiledRows;
    DeviceBuffer ssd;        // SSD scratch
    DeviceBuffer convState;  // [S][L][(K-1)*conv_dim]
    DeviceBuffer ssmState;   // [S][L][H*P*N]
    DeviceBuffer pool;       // double sums [S][d] | f32 last [S][d]
    DeviceBuffer lm;         // LM head scratch | log-probs [T]
    DeviceBuffer attnQ;      // f32 [T][q_dim]: rotated queries (hybrids)
    DeviceBuffer attnInts;   // attention tables (GpuAttention.upload)
    DeviceBuffer keys, values; // f32 [attention layers][kv rows][kv_dim]: the batch's KV caches
    int capKvRows;
    GpuAttention.Tables attnTables; // of the last batch (hybrids)
    /** The array the last forward returned while its rows are still in hidden/hiddenH (see GpuEngine.logProbs). */
    float[] lastHidden;
    int lastHiddenRows;

    /** ldGated: row stride of the out_proj / fc2 input buffer, the widest of the layers' (16-bit) strides. */
    private final boolean tiled;

    Workspace(GpuDevice dev, Mamba2Config c, Precision p, int ldModel, int ldGated, boolean tiled, int yWidth) {
        this.dev = dev;
        this.yWidth = yWidth;
        this.tiled = tiled;
        this.c = c;
        this.bf16 = p.matrixType.isHalf(); // 16-bit activations for the GEMMs
        this.ldModel = ldModel;
        this.ldGated = ldGated;
        this.attn = c.attn;
        int a = 0;
        for (int l = 0; l < c.nLayer; l++) if (c.isAttention(l)) a++;
        this.attnLayers = a;
        this.stream = dev.newStream();
        this.side = dev.newSideStream();
    }

    /** Row width of in_proj's output buffer: the widest of Mamba-2's in_proj, attention's in_proj and fc1. */
    long projWidth() {
        return Math.max(c.dInProj(), Math.max(attn == null ? 0 : attn.inProjRows(), 2L * c.dIntermediate));
    }

    /** Row width of the fp32 out_proj / fc2 input (fp32 engine): the widest such input. */
    long gatedWidth() {
        return Math.max(c.dInner, Math.max(attn == null ? 0 : attn.outProjCols(), c.dIntermediate));
    }

    /** Per layer and sequence: the conv window, Mamba-2's or the attention conv's, whichever is larger. */
    long convStateFloats() {
        long m = (long) (c.dConv - 1) * c.convDim();
        return attn == null ? m : Math.max(m, (long) Math.max(0, attn.dConv() - 1) * attn.qkvDim());
    }

    long ssmStateFloats() { return (long) c.nheads * c.headdim * c.dState; }

    int tablesOffset() { return 2 * capTokens; }

    /** Element offset in ints of a device batch's start[S] | more[S] | one flag int (after the varlen tables). */
    long seqMetaOffset() { return 4L * capTokens + 2L * capChunks + 4L * capSeqs; }

    /** Makes room for a batch; chunks = SSD chunks of the batch. */
    void ensure(int tokens, int seqs, int chunks) {
        try {
            grow(tokens, seqs, chunks);
        } catch (RuntimeException e) {
            emptied(); // e.g. out of device memory half way: free all, so the next (smaller) call starts clean
            throw e;
        }
    }

    private void grow(int tokens, int seqs, int chunks) {
        boolean grown = false;
        if (tokens > capTokens || chunks > capChunks) {
            stream.sync();
            int t = Math.max(tokens, capTokens + capTokens / 4);
            t = (t + 255) & ~255;
            // each sequence adds at most one partial chunk
            int ch = Math.max(chunks, t / GpuSsdScan.MAX_CHUNK + Math.max(seqs, capSeqs) + 1);
            freeTokenBuffers();
            capTokens = t;
            capChunks = ch;
            long T = t;
            int d = c.dModel;
            residual = dev.alloc(4 * T * d);
            xn = dev.alloc(bf16 ? Math.max(2 * T * ldModel, tiled ? GpuGemm.tiledBytes(t, d) : 0) : 4 * T * d);
            delta = dev.alloc(4 * T * d);
            proj = dev.alloc(4 * T * projWidth());
            xbc = dev.alloc(4 * T * Math.max(c.convDim(), attn == null ? 0 : attn.qkvDim()));
            y = dev.alloc(4 * T * yWidth);
            gated = dev.alloc(bf16 ? Math.max(2 * T * ldGated, tiled ? GpuGemm.tiledBytes(t, c.dInner) : 0) : 4 * T * gatedWidth());
            if (attn != null) {
                attnQ = dev.alloc(4 * T * attn.qDim());
                attnInts = dev.alloc(4L * (2L * (t / GpuAttention.TILE + Math.max(seqs, capSeqs) + 1) + 2L * Math.max(seqs, capSeqs)));
            }
            hidden = dev.alloc(4 * T * d);
            if (bf16) hiddenH = dev.alloc(Math.max(2 * T * ldModel, tiled ? GpuGemm.tiledBytes(t, d) : 0));
            hiddenTiledRows = 0;
            ssd = dev.alloc(4 * GpuSsdScan.scratchFloats(t, ch, c.nheads, c.headdim, c.dState, c.ngroups));
            grown = true;
        }
        if (seqs > capSeqs) {
            stream.sync();
            capSeqs = Math.max(seqs, capSeqs + capSeqs / 4);
            if (attn != null) {
                closeAll(attnInts);
                attnInts = dev.alloc(4L * (2L * (capTokens / GpuAttention.TILE + capSeqs + 1) + 2L * capSeqs));
            }
            closeAll(convState, ssmState, pool);
            convState = dev.alloc(4L * capSeqs * c.nLayer * convStateFloats());
            ssmState = dev.alloc(4L * capSeqs * c.nLayer * ssmStateFloats());
            pool = dev.alloc(12L * capSeqs * c.dModel);
            grown = true;
        }
        if (grown) allocInts();
    }

    private void allocInts() {
        closeAll(ints);
        ints = dev.alloc(4L * (seqMetaOffset() + 2L * capSeqs + 1));
    }

    /** Room for every attention layer's keys and values of a batch with rows cached + new tokens. */
    void ensureKv(int rows) {
        if (rows <= capKvRows) return;
        stream.sync();
        closeAll(keys, values);
        keys = values = null;
        int cap = Math.max(rows, capKvRows + capKvRows / 4);
        capKvRows = 0;
        long n = 4L * attnLayers * cap * attn.kvDim();
        try {
            keys = dev.alloc(n);
            values = dev.alloc(n);
            capKvRows = cap;
        } catch (RuntimeException e) {
            emptied();
            throw e;
        }
    }

    /** LM head scratch for rows (plan from GpuLmHead.plan) plus the log-prob output [rows]. */
    void ensureLm(GpuLmHead.Plan p, int rows) {
        long need = p.scratchFloats(rows) + rows;
        if (lm == null || need > capLmScratch) {
            stream.sync();
            closeAll(lm);
            lm = null;
            long cap = Math.max(need, capLmScratch + capLmScratch / 4);
            capLmScratch = 0;
            try {
                lm = dev.alloc(4 * cap);
                capLmScratch = cap;
            } catch (RuntimeException e) {
                emptied();
                throw e;
            }
        }
    }

    /** Frees every buffer and forgets every capacity (after a failed allocation); the stream stays. */
    private void emptied() {
        try {
            stream.sync();
            side.sync();
        } catch (RuntimeException ignored) {
            // the stream's own error is what the caller sees
        }
        closeAll(ints, residual, xn, delta, proj, xbc, y, gated, hidden, hiddenH, ssd, convState, ssmState, pool, lm, attnQ,
                attnInts, keys, values);
        ints = residual = xn = delta = proj = xbc = y = gated = hidden = hiddenH = ssd = convState = ssmState = pool = lm = null;
        attnQ = attnInts = keys = values = null;
        capTokens = capSeqs = capChunks = capKvRows = 0;
        capLmScratch = 0;
        lastHidden = null;
        attnTables = null;
    }

    long bytes() {
        long b = 0;
        for (DeviceBuffer x : new DeviceBuffer[] {ints, residual, xn, delta, proj, xbc, y, gated, hidden, hiddenH, ssd,
                convState, ssmState, pool, lm, attnQ, attnInts, keys, values})
            if (x != null) b += x.bytes();
        return b;
    }

    private void freeTokenBuffers() {
        stream.sync();
        side.sync();  // joined into stream before each scan; a failed batch may have left it running
        closeAll(residual, xn, delta, proj, xbc, y, gated, hidden, hiddenH, ssd, attnQ, attnInts);
        residual = xn = delta = proj = xbc = y = gated = hidden = hiddenH = ssd = attnQ = attnInts = null;
    }

    private static void closeAll(DeviceBuffer... bs) {
        for (DeviceBuffer b : bs) if (b != null) b.close();
    }

    @Override
    public void close() {
        stream.sync();
        emptied();
        stream.close();
        side.close();
    }
}
