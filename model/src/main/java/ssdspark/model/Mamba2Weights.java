package ssdspark.model;

import ssdspark.model.checkpoint.TensorSource;

import java.util.Arrays;

/**
 * A checkpoint's tensors checked against the config, in float32, under either naming scheme
 * (mamba_ssm: backbone.embedding; HF: backbone.embeddings). Layer tensors keep torch's layout.
 */
public final class Mamba2Weights {
    public final Mamba2Config cfg;
    /** [headRows][d_model]; headRows >= vocab_size (mamba_ssm pads it to pad_vocab_size_multiple). */
    public final float[] embedding;
    public final int embeddingRows;
    /** LM head [headRows][d_model]; the same array as embedding when tied. */
    public final float[] lmHead;
    public final int headRows;
    public final float[] normF;            // [d_model]
    public final Layer[] layers;

    /**
     * One block. A Mamba-2 layer has the mixer fields below and attention null; an attention layer (mamba_ssm
     * hybrids) has attention and null Mamba fields. mlp is the block's gated MLP when d_intermediate > 0, else null.
     */
    public static final class Layer {
        public final float[] norm;         // [d_model]
        public final float[] inProj;       // [d_in_proj][d_model]
        public final float[] inProjBias;   // [d_in_proj] or null
        public final float[] convWeight;   // [conv_dim][d_conv]
        public final float[] convBias;     // [conv_dim] or null
        public final float[] dtBias;       // [nheads]
        public final float[] aLog;         // [nheads]
        public final float[] d;            // [nheads] or [nheads*headdim]
        public final float[] gatedNorm;    // [d_ssm] or null when the config has no gated norm
        public final float[] outProj;      // [d_model][d_inner]
        public final float[] outProjBias;  // [d_model] or null
        public final Attention attention;  // attention layers only
        public final Mlp mlp;              // d_intermediate > 0 only

        Layer(float[] norm, float[] inProj, float[] inProjBias, float[] convWeight, float[] convBias, float[] dtBias,
              float[] aLog, float[] d, float[] gatedNorm, float[] outProj, float[] outProjBias, Mlp mlp) {
            this.norm = norm;
            this.inProj = inProj;
            this.inProjBias = inProjBias;
            this.convWeight = convWeight;
            this.convBias = convBias;
            this.dtBias = dtBias;
            this.aLog = aLog;
            this.d = d;
            this.gatedNorm = gatedNorm;
            this.outProj = outProj;
            this.outProjBias = outProjBias;
            this.attention = null;
            this.mlp = mlp;
        }

        Layer(float[] norm, Attention attention, Mlp mlp) {
            this.norm = norm;
            this.attention = attention;
            this.mlp = mlp;
            this.inProj = this.inProjBias = this.convWeight = this.convBias = this.dtBias = this.aLog = this.d = null;
            this.gatedNorm = this.outProj = this.outProjBias = null;
        }
    }

    /**
     * An attention layer's mixer (mamba_ssm's MHA, shapes from {@link Mamba2Config.AttnConfig}): in_proj [inProjRows][d_model]
     * and its bias (or null), the depthwise conv over q|k|v [qkvDim][d_conv] and its bias (both null without conv),
     * out_proj [d_model][outProjCols] and its bias (or null).
     */
    public record Attention(float[] inProj, float[] inProjBias, float[] convWeight, float[] convBias, float[] outProj, float[] outProjBias) {}

    /** A block's gated MLP (mamba_ssm's GatedMLP, no biases): norm2 [d_model], fc1 [2 × d_intermediate][d_model] (y | gate), fc2 [d_model][d_intermediate]. */
    public record Mlp(float[] norm, float[] fc1, float[] fc2) {}

    private Mamba2Weights(Mamba2Config cfg, float[] embedding, int embeddingRows, float[] lmHead, int headRows,
                          float[] normF, Layer[] layers) {
        this.cfg = cfg;
        this.embedding = embedding;
        this.embeddingRows = embeddingRows;
        this.lmHead = lmHead;
        this.headRows = headRows;
        this.normF = normF;
        this.layers = layers;
    }

    public static Mamba2Weights load(Mamba2Config c, TensorSource src) {
        Reader r = new Reader(src);
        String embName = r.first("backbone.embedding.weight", "backbone.embeddings.weight");
        long[] es = r.src.shape(embName);
        if (es.length != 2 || es[1] != c.dModel || es[0] < c.vocabSize)
            throw r.badShape(embName, es, "[>= vocab_size " + c.vocabSize + ", d_model " + c.dModel + "]");
        int embRows = (int) es[0];
        float[] emb = r.floats(embName, es);
        float[] head;
        int headRows;
        if (src.has("lm_head.weight") && !c.tieEmbeddings) {
            long[] hs = src.shape("lm_head.weight");
            if (hs.length != 2 || hs[1] != c.dModel || hs[0] < c.vocabSize)
                throw r.badShape("lm_head.weight", hs, "[>= vocab_size " + c.vocabSize + ", d_model " + c.dModel + "]");
            headRows = (int) hs[0];
            head = r.floats("lm_head.weight", hs);
        } else if (!c.tieEmbeddings) {
            throw new IllegalArgumentException(src.description() + ": config says embeddings are not tied but there is no lm_head.weight");
        } else {
            head = emb;
            headRows = embRows;
        }
        float[] normF = r.read(r.first("backbone.norm_f.weight"), c.dModel);
        Layer[] layers = new Layer[c.nLayer];
        int dInProj = c.dInProj(), convDim = c.convDim();
        for (int i = 0; i < c.nLayer; i++) {
            String p = "backbone.layers." + i + ".";
            String m = p + "mixer.";
            Mlp mlp = c.dIntermediate == 0 ? null : new Mlp(r.read(p + "norm2.weight", c.dModel),
                    r.read(p + "mlp.fc1.weight", 2L * c.dIntermediate, c.dModel), r.read(p + "mlp.fc2.weight", c.dModel, c.dIntermediate));
            if (mlp == null) r.absent(p + "mlp.fc1.weight", "d_intermediate is 0 (no MLP blocks)");
            else {
                r.absent(p + "mlp.fc1.bias", "MLP blocks have no biases (mamba_ssm's GatedMLP)");
                r.absent(p + "mlp.fc2.bias", "MLP blocks have no biases (mamba_ssm's GatedMLP)");
            }
            if (c.isAttention(i)) {
                layers[i] = new Layer(r.read(p + "norm.weight", c.dModel), attention(r, c.attn, m, c.dModel), mlp);
                continue;
            }
            float[] conv = r.read(m + "conv1d.weight", convDim, 1, c.dConv);
            layers[i] = new Layer(
                    r.read(p + "norm.weight", c.dModel),
                    r.read(m + "in_proj.weight", dInProj, c.dModel),
                    c.projBias ? r.read(m + "in_proj.bias", dInProj) : r.absent(m + "in_proj.bias", "bias/use_bias is false"),
                    conv,
                    c.convBias ? r.read(m + "conv1d.bias", convDim) : r.absent(m + "conv1d.bias", "conv_bias/use_conv_bias is false"),
                    r.read(m + "dt_bias", c.nheads),
                    r.read(m + "A_log", c.nheads),
                    c.dHasHdim ? r.read(m + "D", c.nheads * c.headdim) : r.read(m + "D", c.nheads),
                    c.gatedNorm ? r.read(m + "norm.weight", c.dSsm) : null,
                    r.read(m + "out_proj.weight", c.dModel, c.dInner),
                    c.projBias ? r.read(m + "out_proj.bias", c.dModel) : r.absent(m + "out_proj.bias", "bias/use_bias is false"),
                    mlp);
        }
        return new Mamba2Weights(c, emb, embRows, head, headRows, normF, layers);
    }

    private static Attention attention(Reader r, Mamba2Config.AttnConfig a, String m, int dModel) {
        if (r.src.has(m + "A_log"))
            throw new IllegalArgumentException(r.src.description() + ": has tensor " + m + "A_log (a Mamba-2 mixer) at a layer that attn_layer_idx"
                    + " makes an attention layer; fix the config");
        int rows = a.inProjRows(), qkv = a.qkvDim();
        return new Attention(
                r.read(m + "in_proj.weight", rows, dModel),
                a.qkvProjBias() ? r.read(m + "in_proj.bias", rows) : r.absent(m + "in_proj.bias", "attn_cfg.qkv_proj_bias is false"),
                a.dConv() > 0 ? r.read(m + "conv1d.weight", qkv, 1, a.dConv()) : r.absent(m + "conv1d.weight", "attn_cfg.d_conv is 0"),
                a.dConv() > 0 ? r.read(m + "conv1d.bias", qkv) : r.absent(m + "conv1d.bias", "attn_cfg.d_conv is 0"),
                r.read(m + "out_proj.weight", dModel, a.outProjCols()),
                a.outProjBias() ? r.read(m + "out_proj.bias", dModel) : r.absent(m + "out_proj.bias", "attn_cfg.out_proj_bias is false"));
    }

    private static final class Reader {
        final TensorSource src;

        Reader(TensorSource src) { this.src = src; }

        String first(String... names) {
            for (String n : names) if (src.has(n)) return n;
            throw new IllegalArgumentException(src.description() + ": missing tensor " + String.join(" or ", names));
        }

        float[] read(String name, long... shape) {
            if (!src.has(name))
                throw new IllegalArgumentException(src.description() + ": missing tensor " + name + " " + Arrays.toString(shape));
            long[] s = src.shape(name);
            if (!sameElements(s, shape)) throw badShape(name, s, Arrays.toString(shape));
            return floats(name, s);
        }

        /** The tensor's values, refused when any is NaN or infinite: such weights would score every document NaN. */
        float[] floats(String name, long[] shape) {
            float[] v = src.readFloats(name);
            for (int i = 0; i < v.length; i++) {
                if (!Float.isFinite(v[i]))
                    throw new IllegalArgumentException(src.description() + ": tensor " + name + " holds " + v[i] + " at element " + i
                            + " (index " + Arrays.toString(index(i, shape)) + " of shape " + Arrays.toString(shape)
                            + "); weights must be finite, so the checkpoint is corrupt or comes from a diverged training run");
            }
            return v;
        }

        /** Row-major flat index → per-dimension index. */
        private static long[] index(long flat, long[] shape) {
            long[] idx = new long[shape.length];
            for (int d = shape.length - 1; d >= 0; d--) {
                idx[d] = shape[d] == 0 ? 0 : flat % shape[d];
                flat = shape[d] == 0 ? 0 : flat / shape[d];
            }
            return idx;
        }

        float[] absent(String name, String why) {
            if (src.has(name))
                throw new IllegalArgumentException(src.description() + ": has tensor " + name + " but the config says " + why + "; fix the config");
            return null;
        }

        // [n] and [n,1] style shapes are the same tensor to us (conv1d is [c,1,k]; D may be [h] or [h,p]).
        private static boolean sameElements(long[] got, long[] want) {
            if (Arrays.equals(got, want)) return true;
            long[] g = Arrays.stream(got).filter(x -> x != 1).toArray();
            long[] w = Arrays.stream(want).filter(x -> x != 1).toArray();
            return Arrays.equals(g, w);
        }

        IllegalArgumentException badShape(String name, long[] got, String want) {
            return new IllegalArgumentException(src.description() + ": tensor " + name + " has shape " + Arrays.toString(got)
                    + " but the config implies " + want + "; the checkpoint and config.json do not match");
        }
    }
}
