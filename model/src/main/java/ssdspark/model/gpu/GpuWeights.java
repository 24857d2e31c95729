package ssdspark.model.gpu;

import ssdspark.kernels.Rotary;
import ssdspark.kernels.gpu.DType;
import ssdspark.kernels.gpu.DeviceBuffer;
import ssdspark.kernels.gpu.GpuGemm;
import ssdspark.kernels.gpu.GpuSsdScan;
import ssdspark.kernels.gpu.GpuDevice;
import ssdspark.kernels.gpu.GpuStream;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2Weights;

import java.util.ArrayList;
import java.util.List;

/**
 * A model's weights on one device, uploaded once and shared (read-only) by every task thread of the executor.
 * Matrices (in_proj, out_proj, embedding, LM head) are bf16 / fp16 rows padded to a multiple of 8, or plain fp32;
 * the small per-channel tensors are always fp32, and A = -exp(A_log) is precomputed. Hybrids' attention layers keep
 * their in_proj / conv / out_proj in the same fields; gated-MLP blocks add norm2, fc1 and fc2.
 */
final class GpuWeights implements AutoCloseable {
    final GpuDevice device;
    final Precision precision;
    final Mamba2Config cfg;
    /** Row strides (elements) of matrices whose rows have d_model / d_inner elements. */
    final int ldModel, ldInner;
    /** Row strides of an attention layer's out_proj (context | MLP part) and of a gated MLP's fc2 (0 when absent). */
    final int ldAttnOut, ldMlp;
    /** Rotary inverse frequencies of the attention layers (fp32, Rotary.inverseFrequencies); null without them. */
    final DeviceBuffer invFreq;
    final int embeddingRows, headRows;
    /**
     * The rows the residual stream starts from, [embeddingRows][ldEmbedding] of embeddingType: fp32 unless every value
     * is exact in the matrix type (a checkpoint stored in bf16), so that 16-bit matrices do not round the residual
     * stream where it starts. On the 130M bf16 check that one rounding was 0.0021 of the 0.0317 mean |Δ log-prob|
     * (Bf16ErrorProbe's G); the gather reads a row a token either way.
     */
    final DeviceBuffer embedding;
    final DType embeddingType;
    final int ldEmbedding;
    /** The LM head's rows in the matrix type (untiled path; null when {@link #tiled}), and the final norm's weight. */
    final DeviceBuffer head, normF;
    /** The LM head pre-tiled for GpuLmHead.logProbsTiled when {@link #tiled}; null otherwise. */
    final DeviceBuffer headTiled;
    final Layer[] layers;
    /**
     * Whether the Mamba-2 layers' in_proj and out_proj run pre-tiled (GpuGemm.tiledPays for d_model output columns):
     * their weights are kept only in the pre-tiled layout, and the norms before them write their outputs that way.
     */
    final boolean tiled;
    final long bytes;
    private final List<DeviceBuffer> all = new ArrayList<>();

    static final class Layer {
        /** Mamba-2 layers: their mixer; attention layers: in_proj (q|k|v|MLP), conv over q|k|v, out_proj. */
        DeviceBuffer norm, inProj, inProjBias, convWeight, convBias, gatedNorm, outProj, outProjBias;
        /** Mamba-2 in_proj / out_proj pre-tiled for GpuGemm.runTiled when {@link #tiled} (inProj / outProj are then null). */
        DeviceBuffer inProjTiled, outProjTiled;
        GpuSsdScan.Params ssm;  // dt_bias, A = -exp(A_log), D, the dt clamp (Mamba-2 layers)
        boolean attention;
        DeviceBuffer mlpNorm, fc1, fc2;  // the block's gated MLP (d_intermediate > 0)
    }

    GpuWeights(Mamba2Weights w, GpuDevice dev, Precision p) {
        this.device = dev;
        this.precision = p;
        this.cfg = w.cfg;
        Mamba2Config c = w.cfg;
        DType bf = p.matrixType;
        ldModel = bf.ld(c.dModel);
        ldInner = bf.ld(c.dInner);
        ldAttnOut = c.attn == null ? 0 : bf.ld(c.attn.outProjCols());
        ldMlp = c.dIntermediate == 0 ? 0 : bf.ld(c.dIntermediate);
        embeddingRows = w.embeddingRows;
        headRows = w.headRows;
        tiled = GpuGemm.tiledPays(dev, bf, c.dModel) && c.dModel % 4 == 0; // in_proj is wider than d_model
        try (GpuStream s = dev.newStream()) {
            embeddingType = exactIn(bf, w.embedding, w.embeddingRows * c.dModel) ? bf : DType.F32;
            ldEmbedding = embeddingType.ld(c.dModel);
            embedding = matrix(s, w.embedding, w.embeddingRows, c.dModel, embeddingType);
            DeviceBuffer headRows = w.lmHead == w.embedding && embeddingType == bf ? embedding
                    : matrix(s, w.lmHead, w.headRows, c.dModel, bf);
            // the tiled head needs no rows of its own afterwards (unless they are the gather's)
            headTiled = !tiled ? null : headRows == embedding ? tiledCopy(s, headRows, ldModel, w.headRows, c.dModel)
                    : pretiled(s, headRows, ldModel, w.headRows, c.dModel);
            head = tiled ? null : headRows;
            normF = vec(s, w.normF);
            invFreq = c.attn == null ? null : vec(s, Rotary.inverseFrequencies(c.attn.rotaryDim(), c.attn.rotaryBase()));
            layers = new Layer[c.nLayer];
            for (int i = 0; i < c.nLayer; i++) {
                Mamba2Weights.Layer l = w.layers[i];
                Layer g = new Layer();
                g.norm = vec(s, l.norm);
                if (l.mlp != null) {
                    g.mlpNorm = vec(s, l.mlp.norm());
                    g.fc1 = matrix(s, l.mlp.fc1(), 2 * c.dIntermediate, c.dModel, bf);
                    g.fc2 = matrix(s, l.mlp.fc2(), c.dModel, c.dIntermediate, bf);
                }
                if (l.attention != null) {
                    Mamba2Weights.Attention a = l.attention;
                    g.attention = true;
                    g.inProj = matrix(s, a.inProj(), c.attn.inProjRows(), c.dModel, bf);
                    g.inProjBias = vec(s, a.inProjBias());
                    g.convWeight = vec(s, a.convWeight());
                    g.convBias = vec(s, a.convBias());
                    g.outProj = matrix(s, a.outProj(), c.dModel, c.attn.outProjCols(), bf);
                    g.outProjBias = vec(s, a.outProjBias());
                    layers[i] = g;
                    s.sync();
                    continue;
                }
                g.inProj = matrix(s, l.inProj, c.dInProj(), c.dModel, bf);
                if (tiled) {
                    g.inProjTiled = pretiled(s, g.inProj, ldModel, c.dInProj(), c.dModel);
                    g.inProj = null;
                }
                g.inProjBias = vec(s, l.inProjBias);
                g.convWeight = vec(s, l.convWeight);
                g.convBias = vec(s, l.convBias);
                float[] negA = new float[c.nheads];
                for (int h = 0; h < c.nheads; h++) negA[h] = (float) -Math.exp(l.aLog[h]);
                g.ssm = new GpuSsdScan.Params(vec(s, l.dtBias).ptr(), vec(s, negA).ptr(), c.dtMin, c.dtMax, vec(s, l.d).ptr(), c.dHasHdim);
                g.gatedNorm = vec(s, l.gatedNorm);
                g.outProj = matrix(s, l.outProj, c.dModel, c.dInner, bf);
                if (tiled) {
                    g.outProjTiled = pretiled(s, g.outProj, ldInner, c.dModel, c.dInner);
                    g.outProj = null;
                }
                g.outProjBias = vec(s, l.outProjBias);
                layers[i] = g;
                s.sync(); // keep the host copies of one layer alive at a time
            }
            s.sync();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        long b = 0;
        for (DeviceBuffer d : all) b += d.bytes();
        bytes = b;
    }

    /** The same bytes as the bf16 matrix m [rows][ld], laid out for one bulk copy a tile; m is freed. */
    private DeviceBuffer pretiled(GpuStream s, DeviceBuffer m, int ld, int rows, int cols) {
        DeviceBuffer t = tiledCopy(s, m, ld, rows, cols);
        all.remove(m);
        m.close();
        return t;
    }

    private DeviceBuffer tiledCopy(GpuStream s, DeviceBuffer m, int ld, int rows, int cols) {
        DeviceBuffer t = device.alloc(GpuGemm.tiledBytes(rows, cols));
        all.add(t);
        GpuGemm.pretile(s, m.ptr(), ld, rows, cols, t.ptr());
        s.sync();
        return t;
    }

    /** Whether each of m's first n values is exactly representable in t. */
    private static boolean exactIn(DType t, float[] m, int n) {
        for (int i = 0; i < n; i++)
            if (t.round(m[i]) != m[i]) return false;
        return true;
    }

    private DeviceBuffer vec(GpuStream s, float[] v) {
        if (v == null) return null;
        DeviceBuffer b = device.alloc(4L * v.length);
        all.add(b);
        s.upload(v, b.ptr());
        return b;
    }

    private DeviceBuffer matrix(GpuStream s, float[] m, int rows, int cols, DType bf) {
        if (!bf.isHalf()) {
            DeviceBuffer b = device.alloc(4L * rows * cols);
            all.add(b);
            s.upload(m, 0, rows * cols, b.ptr());
            return b;
        }
        short[] h = bf.pack(m, 0, rows, cols);
        DeviceBuffer b = device.alloc(2L * h.length);
        all.add(b);
        s.upload(h, 0, h.length, b.ptr());
        return b;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : all) b.close();
        all.clear();
    }
}
