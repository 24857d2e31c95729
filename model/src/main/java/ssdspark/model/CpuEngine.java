package ssdspark.model;

import ssdspark.kernels.CausalConv1d;
import ssdspark.kernels.GatedRmsNorm;
import ssdspark.kernels.Gemm;
import ssdspark.kernels.LmHead;
import ssdspark.kernels.RmsNorm;
import ssdspark.kernels.SsdScan;

import java.util.function.UnaryOperator;

/** The pure-Java Mamba-2 forward in float32; thread-safe (all per-call buffers are local). */
public final class CpuEngine implements Engine {
    private final Mamba2Config c;
    private final Mamba2Weights w;
    private final Gemm.Weight[] inProj, outProj;
    private final Gemm.Weight head;
    private final float[][] negA;        // A = -exp(A_log), per layer
    private final SsdScan.Dims dims;
    private final UnaryOperator<float[]> gemmInput;

    public CpuEngine(Mamba2Weights w) { this(w, UnaryOperator.identity()); }

    /**
     * An engine whose in_proj and out_proj matrix products see gemmInput(activations) instead of the activations:
     * e.g. rounded to bf16, as the GPU's 16-bit GEMMs read them (the bf16 error probe); the input is not modified.
     */
    public CpuEngine(Mamba2Weights w, UnaryOperator<float[]> gemmInput) {
        this.c = w.cfg;
        this.w = w;
        this.gemmInput = gemmInput;
        int L = c.nLayer;
        inProj = new Gemm.Weight[L];
        outProj = new Gemm.Weight[L];
        negA = new float[L][];
        for (int i = 0; i < L; i++) {
            Mamba2Weights.Layer l = w.layers[i];
            inProj[i] = Gemm.pack(l.inProj, c.dInProj(), c.dModel);
            outProj[i] = Gemm.pack(l.outProj, c.dModel, c.dInner);
            negA[i] = new float[c.nheads];
            for (int h = 0; h < c.nheads; h++) negA[i][h] = (float) -Math.exp(l.aLog[h]);
        }
        head = Gemm.pack(w.lmHead, w.headRows, c.dModel);
        dims = new SsdScan.Dims(c.nheads, c.headdim, c.dState, c.ngroups);
    }

    @Override public Mamba2Config config() { return c; }

    @Override public String backend() { return "cpu"; }

    @Override
    public float[] forward(int[] tokens, int off, int n, Mamba2State state) {
        final int d = c.dModel, dIn = c.dInProj(), dMlp = c.dMlp(), dSsm = c.dSsm, convDim = c.convDim();
        final int H = c.nheads, N = c.dState, G = c.ngroups;
        final Mamba2Config.InProjColumns col = c.inProjColumns();
        final int zOff = col.z(), xbcOff = col.xbc(), dtOff = col.dt();

        // the widest buffer is in_proj's [n][d_in_proj]; past 2^31 floats n * dIn would wrap around
        if ((long) n * dIn > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException("a forward pass of " + n + " tokens needs " + n + " x " + dIn
                    + " floats for in_proj, more than a Java array holds; lower the token budget or chunk tokens");
        float[] h = new float[n * d];                   // residual stream [n][d]
        for (int t = 0; t < n; t++) {
            int tok = tokens[off + t];
            if (tok < 0 || tok >= w.embeddingRows)
                throw new IllegalArgumentException("token id " + tok + " is outside the embedding [0, " + w.embeddingRows + ")");
            System.arraycopy(w.embedding, tok * d, h, t * d, d);
        }
        float[] xn = new float[n * d];                  // normed block input
        float[] proj = new float[n * dIn];              // in_proj output
        float[] xbc = new float[n * convDim];           // conv output: x | B | C
        float[] dt = new float[n * H];
        float[] y = new float[n * dSsm];                // SSD output
        float[] gated = new float[n * c.dInner];        // out_proj input: [mlp | gated y]
        float[] out = new float[n * d];

        for (int li = 0; li < c.nLayer; li++) {
            Mamba2Weights.Layer l = w.layers[li];
            RmsNorm.cpu(h, l.norm, c.normEps, n, d, xn);
            Gemm.matmul(gemmInput.apply(xn), n, inProj[li], proj);
            if (l.inProjBias != null) addBias(proj, l.inProjBias, n, dIn);

            CausalConv1d.cpu(proj, xbcOff, dIn, n, convDim, l.convWeight, l.convBias, c.dConv, state.conv[li], xbc);

            for (int t = 0; t < n; t++)
                for (int hh = 0; hh < H; hh++)
                    dt[t * H + hh] = SsdScan.discretizeDt(proj[t * dIn + dtOff + hh], l.dtBias[hh], c.dtMin, c.dtMax);

            SsdScan.chunked(dims, n, c.chunkSize, xbc, convDim, 0, dSsm, dSsm + G * N,
                    dt, negA[li], l.d, c.dHasHdim, state.ssm[li], y);

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
            for (int i = 0; i < n * d; i++) h[i] += out[i];
        }
        RmsNorm.cpu(h, w.normF, c.normEps, n, d, xn);
        return xn;
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
