package ssdspark.model;

import ssdspark.kernels.Attention;
import ssdspark.kernels.CausalConv1d;
import ssdspark.kernels.GatedRmsNorm;
import ssdspark.kernels.Gemm;
import ssdspark.kernels.LmHead;
import ssdspark.kernels.RmsNorm;
import ssdspark.kernels.Rotary;
import ssdspark.kernels.SsdScan;

import java.util.function.UnaryOperator;

/**
 * The pure-Java Mamba-2 forward in float32; thread-safe (all per-call buffers are local). Runs mamba_ssm's hybrids
 * too: attention layers (causal, rotary, GQA, optional conv and MLP part, with the document's KV cache carried in
 * the state) and blocks with a gated MLP.
 */
public final class CpuEngine implements Engine {
    private final Mamba2Config c;
    private final Mamba2Weights w;
    private final Gemm.Weight[] inProj, outProj, fc1, fc2;   // fc1/fc2 null without MLP blocks
    private final Gemm.Weight head;
    private final float[][] negA;        // A = -exp(A_log), per layer
    private final SsdScan.Dims dims;
    private final Attention.Dims attnDims;   // null without attention layers
    private final float[] invFreq;           // rotary inverse frequencies (attention layers)
    private final UnaryOperator<float[]> gemmInput, inProjOutput;
    private final boolean ssdBf16Operands;

    public CpuEngine(Mamba2Weights w) { this(w, UnaryOperator.identity()); }

    /**
     * An engine whose in_proj and out_proj matrix products see gemmInput(activations) instead of the activations:
     * e.g. rounded to bf16, as the GPU's 16-bit GEMMs read them (the bf16 error probe); the input is not modified.
     */
    public CpuEngine(Mamba2Weights w, UnaryOperator<float[]> gemmInput) { this(w, gemmInput, UnaryOperator.identity()); }

    /**
     * The same, and the Mamba-2 mixers read inProjOutput(in_proj's rows [z | xBC | dt]) instead of the rows: e.g. rounded
     * to bf16, as an engine storing its activations in bf16 would keep them (the bf16 error probe's X part).
     */
    public CpuEngine(Mamba2Weights w, UnaryOperator<float[]> gemmInput, UnaryOperator<float[]> inProjOutput) {
        this(w, gemmInput, inProjOutput, false);
    }

    /**
     * The same, and ssdBf16Operands: the SSD rounds the operands the GPU's tensor-core kernels keep in bf16
     * ({@link SsdScan#chunked}'s bf16Operands), so that the bf16 error probe emulates the GPU's bf16 path whole.
     */
    public CpuEngine(Mamba2Weights w, UnaryOperator<float[]> gemmInput, UnaryOperator<float[]> inProjOutput,
                     boolean ssdBf16Operands) {
        this.c = w.cfg;
        this.w = w;
        this.gemmInput = gemmInput;
        this.inProjOutput = inProjOutput;
        this.ssdBf16Operands = ssdBf16Operands;
        int L = c.nLayer;
        inProj = new Gemm.Weight[L];
        outProj = new Gemm.Weight[L];
        fc1 = c.dIntermediate > 0 ? new Gemm.Weight[L] : null;
        fc2 = c.dIntermediate > 0 ? new Gemm.Weight[L] : null;
        negA = new float[L][];
        Mamba2Config.AttnConfig a = c.attn;
        for (int i = 0; i < L; i++) {
            Mamba2Weights.Layer l = w.layers[i];
            if (l.mlp != null) {
                fc1[i] = Gemm.pack(l.mlp.fc1(), 2 * c.dIntermediate, c.dModel);
                fc2[i] = Gemm.pack(l.mlp.fc2(), c.dModel, c.dIntermediate);
            }
            if (l.attention != null) {
                inProj[i] = Gemm.pack(l.attention.inProj(), a.inProjRows(), c.dModel);
                outProj[i] = Gemm.pack(l.attention.outProj(), c.dModel, a.outProjCols());
                continue;
            }
            inProj[i] = Gemm.pack(l.inProj, c.dInProj(), c.dModel);
            outProj[i] = Gemm.pack(l.outProj, c.dModel, c.dInner);
            negA[i] = new float[c.nheads];
            for (int h = 0; h < c.nheads; h++) negA[i][h] = (float) -Math.exp(l.aLog[h]);
        }
        head = Gemm.pack(w.lmHead, w.headRows, c.dModel);
        dims = new SsdScan.Dims(c.nheads, c.headdim, c.dState, c.ngroups);
        attnDims = a == null ? null : new Attention.Dims(a.numHeads(), a.numHeadsKv(), a.headDim(), a.softmaxScale());
        invFreq = a == null ? null : Rotary.inverseFrequencies(a.rotaryDim(), a.rotaryBase());
    }

    @Override public Mamba2Config config() { return c; }

    @Override public String backend() { return "cpu"; }

    @Override
    public float[] forward(int[] tokens, int off, int n, Mamba2State state) {
        final int d = c.dModel;
        // the widest buffers are the in_projs' [n][rows]; past 2^31 floats n * rows would wrap around
        long widest = Math.max(c.dInProj(), Math.max(c.attn == null ? 0 : c.attn.inProjRows(), 2L * c.dIntermediate));
        if ((long) n * widest > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException("a forward pass of " + n + " tokens needs " + n + " x " + widest
                    + " floats for in_proj, more than a Java array holds; lower the token budget or chunk tokens");
        if ((long) state.tokensSeen + n > Integer.MAX_VALUE)
            throw new IllegalArgumentException("a sequence of more than " + Integer.MAX_VALUE + " tokens");
        state.load(); // a state another engine (a GPU's) held: its values into the arrays this engine reads
        float[] h = new float[n * d];                   // residual stream [n][d]
        for (int t = 0; t < n; t++) {
            int tok = tokens[off + t];
            if (tok < 0 || tok >= w.embeddingRows)
                throw new IllegalArgumentException("token id " + tok + " is outside the embedding [0, " + w.embeddingRows + ")");
            System.arraycopy(w.embedding, tok * d, h, t * d, d);
        }
        float[] xn = new float[n * d];                  // normed block input
        float[] out = new float[n * d];
        Buffers mamba = null;
        for (int li = 0; li < c.nLayer; li++) {
            Mamba2Weights.Layer l = w.layers[li];
            RmsNorm.cpu(h, l.norm, c.normEps, n, d, xn);
            if (l.attention != null) {
                attention(li, l.attention, xn, n, state, out);
            } else {
                if (mamba == null) mamba = new Buffers(n);
                mamba(li, l, xn, n, state, mamba, out);
            }
            for (int i = 0; i < n * d; i++) h[i] += out[i];
            if (l.mlp != null) {
                RmsNorm.cpu(h, l.mlp.norm(), c.normEps, n, d, xn);
                mlp(li, xn, n, out);
                for (int i = 0; i < n * d; i++) h[i] += out[i];
            }
        }
        state.tokensSeen += n;
        RmsNorm.cpu(h, w.normF, c.normEps, n, d, xn);
        return xn;
    }

    /** A Mamba-2 mixer's per-call buffers, shared by the Mamba layers of one forward call. */
    private final class Buffers {
        final float[] proj, xbc, dt, y, gated;

        Buffers(int n) {
            proj = new float[n * c.dInProj()];          // in_proj output
            xbc = new float[n * c.convDim()];           // conv output: x | B | C
            dt = new float[n * c.nheads];
            y = new float[n * c.dSsm];                  // SSD output
            gated = new float[n * c.dInner];            // out_proj input: [mlp | gated y]
        }
    }

    /** out = the Mamba-2 mixer of layer li over the normed rows xn, state carried. */
    private void mamba(int li, Mamba2Weights.Layer l, float[] xn, int n, Mamba2State state, Buffers b, float[] out) {
        final int d = c.dModel, dIn = c.dInProj(), dMlp = c.dMlp(), dSsm = c.dSsm, convDim = c.convDim();
        final int H = c.nheads, N = c.dState, G = c.ngroups;
        final Mamba2Config.InProjColumns col = c.inProjColumns();
        final int zOff = col.z(), xbcOff = col.xbc(), dtOff = col.dt();
        float[] proj = b.proj, xbc = b.xbc, dt = b.dt, y = b.y, gated = b.gated;
        Gemm.matmul(gemmInput.apply(xn), n, inProj[li], proj);
        if (l.inProjBias != null) addBias(proj, l.inProjBias, n, dIn);
        proj = inProjOutput.apply(proj);

        CausalConv1d.cpu(proj, xbcOff, dIn, n, convDim, l.convWeight, l.convBias, c.dConv, state.conv[li], xbc);

        for (int t = 0; t < n; t++)
            for (int hh = 0; hh < H; hh++)
                dt[t * H + hh] = SsdScan.discretizeDt(proj[t * dIn + dtOff + hh], l.dtBias[hh], c.dtMin, c.dtMax);

        SsdScan.chunked(dims, n, c.chunkSize, xbc, convDim, 0, dSsm, dSsm + G * N,
                dt, negA[li], l.d, c.dHasHdim, state.ssm[li], y, ssdBf16Operands);

        if (l.gatedNorm != null) {
            GatedRmsNorm.cpu(y, 0, dSsm, proj, zOff, dIn, l.gatedNorm, c.gatedNormEps, dSsm / G, c.normBeforeGate,
                    n, dSsm, gated, dMlp, c.dInner);
        } else {
            for (int t = 0; t < n; t++)
                for (int i = 0; i < dSsm; i++)
                    gated[t * c.dInner + dMlp + i] = y[t * dSsm + i] * GatedRmsNorm.silu(proj[t * dIn + zOff + i]);
        }
        for (int t = 0; t < n; t++) // mamba_ssm's MLP part: silu(z0) * x0
            for (int i = 0; i < dMlp; i++)
                gated[t * c.dInner + i] = GatedRmsNorm.silu(proj[t * dIn + i]) * proj[t * dIn + dMlp + i];

        Gemm.matmul(gemmInput.apply(gated), n, outProj[li], out);
        if (l.outProjBias != null) addBias(out, l.outProjBias, n, d);
    }

    /**
     * out = mamba_ssm's MHA of layer li over the normed rows xn: in_proj → [q|k|v | up|gate], the optional causal conv
     * over q|k|v (no activation), rotary on q and k at the positions state.tokensSeen + t, k and v appended to the
     * layer's KV cache, causal attention over the cache, out_proj over [context | up · silu(gate)].
     */
    private void attention(int li, Mamba2Weights.Attention l, float[] xn, int n, Mamba2State state, float[] out) {
        final Mamba2Config.AttnConfig a = c.attn;
        final int rows = a.inProjRows(), qkv = a.qkvDim(), qDim = a.qDim(), kvDim = a.kvDim();
        final int half = a.mlpDim() / 2, cols = a.outProjCols();
        float[] proj = new float[n * rows];
        Gemm.matmul(gemmInput.apply(xn), n, inProj[li], proj);
        if (l.inProjBias() != null) addBias(proj, l.inProjBias(), n, rows);
        float[] src = proj; // q|k|v rows: src[t * ld ...]
        int ld = rows;
        if (a.dConv() > 0) {
            src = new float[n * qkv];
            ld = qkv;
            CausalConv1d.cpu(proj, 0, rows, n, qkv, l.convWeight(), l.convBias(), a.dConv(), state.conv[li], src, false);
        }
        int[] pos = new int[n];
        for (int t = 0; t < n; t++) pos[t] = state.tokensSeen + t;
        Rotary.apply(src, 0, ld, n, a.numHeads(), a.headDim(), invFreq, a.rotaryInterleaved(), pos, 0);
        Rotary.apply(src, qDim, ld, n, a.numHeadsKv(), a.headDim(), invFreq, a.rotaryInterleaved(), pos, 0);
        Mamba2State.KvCache kv = state.kv[li];
        kv.append(src, qDim, qDim + kvDim, ld, n);
        float[] ctx = new float[n * cols];
        Attention.causal(attnDims, src, 0, ld, n, kv.keys(), 0, kv.values(), 0, kvDim, kv.length(), kv.length() - n, ctx, 0, cols);
        for (int t = 0; t < n; t++) // the MLP part: up * silu(gate)
            for (int i = 0; i < half; i++)
                ctx[t * cols + qDim + i] = proj[t * rows + qkv + i] * GatedRmsNorm.silu(proj[t * rows + qkv + half + i]);
        Gemm.matmul(gemmInput.apply(ctx), n, outProj[li], out);
        if (l.outProjBias() != null) addBias(out, l.outProjBias(), n, c.dModel);
    }

    /** out = fc2(y · silu(gate)) with [y | gate] = fc1(xn): mamba_ssm's GatedMLP of layer li. */
    private void mlp(int li, float[] xn, int n, float[] out) {
        final int dI = c.dIntermediate;
        float[] yg = new float[n * 2 * dI], act = new float[n * dI];
        Gemm.matmul(gemmInput.apply(xn), n, fc1[li], yg);
        for (int t = 0; t < n; t++)
            for (int i = 0; i < dI; i++)
                act[t * dI + i] = yg[t * 2 * dI + i] * GatedRmsNorm.silu(yg[t * 2 * dI + dI + i]);
        Gemm.matmul(gemmInput.apply(act), n, fc2[li], out);
    }

    @Override
    public void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff) {
        LmHead.logProbsCpu(hidden, n, head, targets, tOff, out, outOff);
    }

    private static void addBias(float[] m, float[] b, int rows, int cols) {
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < cols; i++) m[r * cols + i] += b[i];
    }

    @Override public void close() {}
}
