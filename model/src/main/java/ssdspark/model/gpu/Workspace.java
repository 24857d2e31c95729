package ssdspark.model.gpu;

import ssdspark.kernels.gpu.DeviceBuffer;
import ssdspark.kernels.gpu.GpuDevice;
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
    private final GpuDevice dev;
    private final Mamba2Config c;
    private final boolean bf16;
    private final int ldModel, ldInner;

    int capTokens, capSeqs, capChunks, capLmRows;
    long capLmScratch;
    DeviceBuffer ints;       // tokens [capT] | targets [capT] | varlen tables | device-batch tables
    DeviceBuffer residual;   // f32 [T][d]
    DeviceBuffer xn;         // bf16 [T][ldModel] or f32 [T][d]
    DeviceBuffer proj;       // f32 [T][d_in_proj]
    DeviceBuffer xbc;        // f32 [T][conv_dim]
    DeviceBuffer y;          // f32 [T][d_ssm]
    DeviceBuffer gated;      // bf16 [T][ldInner] or f32 [T][d_inner]
    DeviceBuffer hidden;     // f32 [T][d]
    DeviceBuffer hiddenH;    // bf16 [T][ldModel] (bf16 only)
    DeviceBuffer ssd;        // SSD scratch
    DeviceBuffer convState;  // [S][L][(K-1)*conv_dim]
    DeviceBuffer ssmState;   // [S][L][H*P*N]
    DeviceBuffer pool;       // double sums [S][d] | f32 last [S][d]
    DeviceBuffer lm;         // LM head scratch | log-probs [T]
    /** The array the last forward returned while its rows are still in hidden/hiddenH (see GpuEngine.logProbs). */
    float[] lastHidden;
    int lastHiddenRows;

    Workspace(GpuDevice dev, Mamba2Config c, Precision p, int ldModel, int ldInner) {
        this.dev = dev;
        this.c = c;
        this.bf16 = p.matrixType.isHalf(); // 16-bit activations for the GEMMs
        this.ldModel = ldModel;
        this.ldInner = ldInner;
        this.stream = dev.newStream();
    }

    long convStateFloats() { return (long) (c.dConv - 1) * c.convDim(); }

    long ssmStateFloats() { return (long) c.nheads * c.headdim * c.dState; }

    int tablesOffset() { return 2 * capTokens; }

    /** Element offset in ints of a device batch's start[S] | more[S] | one flag int (after the varlen tables). */
    long seqMetaOffset() { return 4L * capTokens + 2L * capChunks + 4L * capSeqs; }

    /** Makes room for a batch; chunks = SSD chunks of the batch. */
    void ensure(int tokens, int seqs, int chunks) {
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
            xn = dev.alloc(bf16 ? 2 * T * ldModel : 4 * T * d);
            proj = dev.alloc(4 * T * c.dInProj());
            xbc = dev.alloc(4 * T * c.convDim());
            y = dev.alloc(4 * T * c.dSsm);
            gated = dev.alloc(bf16 ? 2 * T * ldInner : 4 * T * c.dInner);
            hidden = dev.alloc(4 * T * d);
            if (bf16) hiddenH = dev.alloc(2 * T * ldModel);
            ssd = dev.alloc(4 * GpuSsdScan.scratchFloats(t, ch, c.nheads, c.headdim, c.dState, c.ngroups));
            grown = true;
        }
        if (seqs > capSeqs) {
            stream.sync();
            capSeqs = Math.max(seqs, capSeqs + capSeqs / 4);
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

    /** LM head scratch for rows (plan from GpuLmHead.plan) plus the log-prob output [rows]. */
    void ensureLm(GpuLmHead.Plan p, int rows) {
        long need = p.scratchFloats(rows) + rows;
        if (lm == null || need > capLmScratch) {
            stream.sync();
            closeAll(lm);
            capLmScratch = Math.max(need, capLmScratch + capLmScratch / 4);
            lm = dev.alloc(4 * capLmScratch);
        }
    }

    long bytes() {
        long b = 0;
        for (DeviceBuffer x : new DeviceBuffer[] {ints, residual, xn, proj, xbc, y, gated, hidden, hiddenH, ssd,
                convState, ssmState, pool, lm})
            if (x != null) b += x.bytes();
        return b;
    }

    private void freeTokenBuffers() {
        stream.sync();
        closeAll(residual, xn, proj, xbc, y, gated, hidden, hiddenH, ssd);
        residual = xn = proj = xbc = y = gated = hidden = hiddenH = ssd = null;
    }

    private static void closeAll(DeviceBuffer... bs) {
        for (DeviceBuffer b : bs) if (b != null) b.close();
    }

    @Override
    public void close() {
        stream.sync();
        closeAll(ints, residual, xn, proj, xbc, y, gated, hidden, hiddenH, ssd, convState, ssmState, pool, lm);
        ints = residual = xn = proj = xbc = y = gated = hidden = hiddenH = ssd = convState = ssmState = pool = lm = null;
        stream.close();
    }
}
