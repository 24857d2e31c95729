package ssdspark.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A Mamba-2 language model's shape, read from either mamba_ssm's {@code config.json} (d_model,
 * n_layer, ssm_cfg{...}) or Hugging Face's (model_type mamba2, hidden_size, ...). Anything this
 * engine cannot run yet is refused with the field that asked for it.
 *
 * <p>mamba_ssm hybrids: layers listed in {@code attn_layer_idx} are multi-head attention layers configured by
 * {@code attn_cfg} ({@link AttnConfig}) instead of Mamba-2 mixers, and {@code d_intermediate} > 0 gives every block
 * a second norm and a gated MLP. Hugging Face's Mamba-2 layout has neither.
 */
public final class Mamba2Config {
    public enum Layout { MAMBA_SSM, HF }

    public final Layout layout;
    public final int dModel, nLayer;
    /** Vocabulary of the tokenizer (token ids must be below this) and rows of the embedding matrix. */
    public final int vocabSize, paddedVocab;
    public final int dState, headdim, ngroups, dConv, chunkSize;
    public final int dInner, dSsm, nheads;
    public final boolean tieEmbeddings, normBeforeGate, dHasHdim, convBias, projBias, gatedNorm;
    public final float normEps, gatedNormEps;
    public final float dtMin, dtMax;
    /** The attention layers' shape (one for all of them, as mamba_ssm's attn_cfg); null when there are none. */
    public final AttnConfig attn;
    /** Hidden width of every block's gated MLP, d_intermediate rounded up to a multiple of 128 as mamba_ssm's GatedMLP does; 0: no MLP. */
    public final int dIntermediate;
    private final boolean[] attentionLayer;

    private Mamba2Config(Layout layout, int dModel, int nLayer, int vocabSize, int paddedVocab, int dState, int headdim,
                         int ngroups, int dConv, int chunkSize, int dInner, int dSsm, boolean tie, boolean normBeforeGate,
                         boolean dHasHdim, boolean convBias, boolean projBias, boolean gatedNorm, float normEps,
                         float gatedNormEps, float dtMin, float dtMax, boolean[] attentionLayer, AttnConfig attn, int dIntermediate) {
        this.layout = layout;
        this.dModel = dModel;
        this.nLayer = nLayer;
        this.vocabSize = vocabSize;
        this.paddedVocab = paddedVocab;
        this.dState = dState;
        this.headdim = headdim;
        this.ngroups = ngroups;
        this.dConv = dConv;
        this.chunkSize = chunkSize;
        this.dInner = dInner;
        this.dSsm = dSsm;
        this.nheads = dSsm / headdim;
        this.tieEmbeddings = tie;
        this.normBeforeGate = normBeforeGate;
        this.dHasHdim = dHasHdim;
        this.convBias = convBias;
        this.projBias = projBias;
        this.gatedNorm = gatedNorm;
        this.normEps = normEps;
        this.gatedNormEps = gatedNormEps;
        this.dtMin = dtMin;
        this.dtMax = dtMax;
        this.attentionLayer = attentionLayer;
        this.attn = attn;
        this.dIntermediate = dIntermediate;
        check(dSsm % headdim == 0, "d_ssm (" + dSsm + ") must be a multiple of headdim (" + headdim + ")");
        check(dSsm <= dInner, "d_ssm (" + dSsm + ") must not exceed d_inner (" + dInner + ")");
        check(nheads % ngroups == 0, "number of heads (" + nheads + ") must be a multiple of ngroups (" + ngroups + ")");
        check(dSsm % ngroups == 0, "d_ssm (" + dSsm + ") must be a multiple of ngroups (" + ngroups + ")");
        check(dConv >= 1, "d_conv must be >= 1");
        check(chunkSize >= 1, "chunk_size must be >= 1");
        check(dtMin <= dtMax, "time_step_limit/dt_limit [" + dtMin + ", " + dtMax + "] must be numbers, lower <= upper");
    }

    private static void check(boolean ok, String msg) {
        if (!ok) throw new IllegalArgumentException("config.json: " + msg);
    }

    /** Whether layer i is an attention layer (mamba_ssm's MHA) rather than a Mamba-2 mixer. */
    public boolean isAttention(int layer) { return attentionLayer[layer]; }

    /** Number of attention layers. */
    public int attentionLayers() {
        int n = 0;
        for (boolean a : attentionLayer) if (a) n++;
        return n;
    }

    /** Whether the model has attention layers or MLP blocks (mamba_ssm's hybrids), beyond plain Mamba-2 blocks. */
    public boolean isHybrid() { return attn != null || dIntermediate > 0; }

    /**
     * Bytes the attention layers' KV caches hold per token of a document (keys and values after rotary, float32, every
     * attention layer); 0 without attention. A document's cache grows by this much with every token it has seen.
     */
    public long kvCacheBytesPerToken() { return attn == null ? 0 : 4L * attentionLayers() * 2 * attn.kvDim(); }

    /**
     * mamba_ssm's MHA as attn_cfg configures it. in_proj rows: [q (numHeads × headDim) | k (numHeadsKv × headDim) |
     * v (numHeadsKv × headDim) | mlp up (mlpDim/2) | mlp gate (mlpDim/2)]; the optional depthwise causal conv (dConv > 0,
     * no activation) runs over the q|k|v part; rotary embeddings turn the first rotaryDim channels of every q and k head
     * (interleaved pairs or the two halves); kv heads are shared by numHeads/numHeadsKv query heads (GQA); out_proj
     * reads [context (numHeads × headDim) | up · silu(gate) (mlpDim/2)]. Attention is always causal here.
     *
     * @param mlpDim       mlp_dim rounded up to a multiple of 256, as mamba_ssm rounds it (0: no MLP part)
     * @param softmaxScale the configured softmax_scale, or 1/sqrt(headDim) when absent
     * @param rotaryDim    rotary_emb_dim: 0 (none) or an even number up to headDim
     * @param dConv        conv width; 0: no conv
     */
    public record AttnConfig(int numHeads, int numHeadsKv, int headDim, int mlpDim, boolean qkvProjBias, boolean outProjBias,
                             float softmaxScale, int rotaryDim, double rotaryBase, boolean rotaryInterleaved, int dConv) {
        /** Width of the q part of in_proj's output (numHeads × headDim), also the attention context's width. */
        public int qDim() { return numHeads * headDim; }

        /** Width of the k part, and of the v part (numHeadsKv × headDim). */
        public int kvDim() { return numHeadsKv * headDim; }

        /** Width of q|k|v: the conv's channels. */
        public int qkvDim() { return qDim() + 2 * kvDim(); }

        /** Rows of in_proj: q|k|v and the MLP part. */
        public int inProjRows() { return qkvDim() + mlpDim; }

        /** Columns of out_proj: the context and the MLP part's output. */
        public int outProjCols() { return qDim() + mlpDim / 2; }
    }

    /** MLP channels that in_proj produces beside the SSM (mamba_ssm's d_mlp; 0 for every released checkpoint). */
    public int dMlp() { return dInner - dSsm; }

    /** Channels that go through the causal conv: x, B and C. */
    public int convDim() { return dSsm + 2 * ngroups * dState; }

    /** Output rows of in_proj: [z0, x0] (MLP part), z, xBC, dt. */
    public int dInProj() { return 2 * dInner + 2 * ngroups * dState + nheads; }

    /**
     * Where each part starts in one in_proj output row, mamba_ssm's order [z0 | x0 | z | xBC | dt] (z0, x0: the MLP
     * part, d_mlp wide; z: d_ssm; xBC: the conv's input, x | B | C; dt: one per head), and the row's width.
     */
    public record InProjColumns(int z0, int x0, int z, int xbc, int dt, int width) {}

    public InProjColumns inProjColumns() {
        int mlp = dMlp(), z = 2 * mlp, xbc = z + dSsm, dt = xbc + convDim();
        return new InProjColumns(0, mlp, z, xbc, dt, dInProj());
    }

    /*
     * Sanity bounds, far above any released Mamba-2 (2.7B: d_model 2560, 64 layers; Codestral 7B: d_model 4096,
     * vocab 32768). A config beyond them is corrupt or hostile; refusing it here, in long arithmetic, keeps every
     * size computed later within int and stops absurd sizes before anything is allocated.
     */
    static final long MAX_D_MODEL = 1 << 16, MAX_LAYERS = 1 << 10, MAX_VOCAB = 1 << 24, MAX_D_STATE = 1 << 12,
            MAX_HEADDIM = 1 << 12, MAX_EXPAND = 16, MAX_GROUPS = 1 << 12, MAX_D_CONV = 64, MAX_CHUNK = 1 << 16,
            MAX_PAD_MULTIPLE = 1 << 16, MAX_HEADS = 1 << 12, MAX_MLP = 1 << 20;
    /** The keys attn_cfg may hold: mamba_ssm's MHA arguments (layer_idx, device and dtype are set by mamba_ssm itself). */
    static final List<String> ATTN_KEYS = List.of("num_heads", "num_heads_kv", "head_dim", "mlp_dim", "qkv_proj_bias",
            "out_proj_bias", "softmax_scale", "causal", "d_conv", "rotary_emb_dim", "rotary_emb_base", "rotary_emb_interleaved");
    /** Elements of one weight matrix: what a Java array holds. */
    static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    public static Mamba2Config load(Path dir) {
        Path f = Files.isDirectory(dir) ? dir.resolve("config.json") : dir;
        try {
            return from(Json.parseObjectFile(f));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model config " + f + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(f + ": " + e.getMessage(), e);
        }
    }

    public static Mamba2Config parse(String json) {
        return from(Json.parseObject(json));
    }

    private static Mamba2Config from(Map<String, Object> m) {
        if (m.containsKey("d_model")) return fromMambaSsm(m);
        if ("mamba2".equals(m.get("model_type")) || m.containsKey("hidden_size")) return fromHf(m);
        if (m.containsKey("model_type"))
            throw new IllegalArgumentException("config.json: model_type '" + m.get("model_type") + "' is not supported; expected 'mamba2' or a mamba_ssm config with d_model");
        throw new IllegalArgumentException("config.json: neither a mamba_ssm config (no 'd_model') nor a Hugging Face Mamba-2 config (no 'hidden_size' / model_type 'mamba2')");
    }

    @SuppressWarnings("unchecked")
    private static Mamba2Config fromMambaSsm(Map<String, Object> m) {
        long dModel = size(m, "d_model", null, MAX_D_MODEL);
        long nLayer = size(m, "n_layer", null, MAX_LAYERS);
        long vocab = size(m, "vocab_size", null, MAX_VOCAB);
        long dIntermediate = longField(m, "d_intermediate", 0L);
        if (dIntermediate < 0 || dIntermediate > MAX_MLP)
            throw new IllegalArgumentException("config.json: d_intermediate = " + dIntermediate + " is outside [0, " + MAX_MLP + "]");
        dIntermediate = roundUp(dIntermediate, 128); // GatedMLP's multiple_of
        boolean[] attnLayers = attentionLayers(m.get("attn_layer_idx"), nLayer);
        AttnConfig attn = null;
        for (boolean a : attnLayers) if (a) { attn = attnConfig(m.get("attn_cfg"), dModel); break; }
        if (!boolField(m, "rms_norm", true))
            throw new IllegalArgumentException("config.json: rms_norm = false (LayerNorm blocks) is not supported yet");
        Object cfgObj = m.getOrDefault("ssm_cfg", Map.of());
        if (!(cfgObj instanceof Map)) throw new IllegalArgumentException("config.json: ssm_cfg must be an object");
        Map<String, Object> s = (Map<String, Object>) cfgObj;
        Object layer = s.getOrDefault("layer", "Mamba1");
        if (!"Mamba2".equals(layer))
            throw new IllegalArgumentException("config.json: ssm_cfg.layer = '" + shortText(layer) + "' is not supported; only Mamba2 layers are");
        long dState = size(s, "d_state", 128L, MAX_D_STATE, "ssm_cfg.");
        long headdim = size(s, "headdim", 64L, MAX_HEADDIM, "ssm_cfg.");
        long expand = size(s, "expand", 2L, MAX_EXPAND, "ssm_cfg.");
        long ngroups = size(s, "ngroups", 1L, MAX_GROUPS, "ssm_cfg.");
        long dConv = size(s, "d_conv", 4L, MAX_D_CONV, "ssm_cfg.");
        long chunk = size(s, "chunk_size", 256L, MAX_CHUNK, "ssm_cfg.");
        boolean gated = boolField(s, "rmsnorm", true);
        boolean nbg = boolField(s, "norm_before_gate", false);
        boolean dHasHdim = boolField(s, "D_has_hdim", false);
        boolean convBias = boolField(s, "conv_bias", true);
        boolean bias = boolField(s, "bias", false);
        long dInner = expand * dModel;
        long dSsm = s.get("d_ssm") == null ? dInner : size(s, "d_ssm", null, dInner, "ssm_cfg.");
        float[] limit = limits(s.get("dt_limit"), "ssm_cfg.dt_limit");
        long mult = longField(m, "pad_vocab_size_multiple", 8L);
        if (mult > MAX_PAD_MULTIPLE)
            throw new IllegalArgumentException("config.json: pad_vocab_size_multiple = " + mult + " is beyond " + MAX_PAD_MULTIPLE);
        long padded = mult <= 1 ? vocab : ((vocab + mult - 1) / mult) * mult;
        boolean tie = boolField(m, "tie_embeddings", true);
        checkSizes(dModel, dInner, dSsm, headdim, ngroups, dState, padded, dConv);
        if (dIntermediate > 0) {
            fits("mlp.fc1", 2 * dIntermediate, dModel);
            fits("mlp.fc2", dModel, dIntermediate);
        }
        return new Mamba2Config(Layout.MAMBA_SSM, (int) dModel, (int) nLayer, (int) vocab, (int) padded, (int) dState, (int) headdim,
                (int) ngroups, (int) dConv, (int) chunk, (int) dInner, (int) dSsm, tie, nbg, dHasHdim, convBias, bias, gated,
                1e-5f, 1e-5f, limit[0], limit[1], attnLayers, attn, (int) dIntermediate);
    }

    private static long roundUp(long v, long multiple) { return (v + multiple - 1) / multiple * multiple; }

    /** attn_layer_idx: a list of distinct layer indices in [0, n_layer) (absent or null: none). */
    private static boolean[] attentionLayers(Object v, long nLayer) {
        boolean[] attn = new boolean[(int) nLayer];
        if (v == null) return attn;
        if (!(v instanceof List<?> l))
            throw new IllegalArgumentException("config.json: attn_layer_idx must be a list of layer indices, got " + shortText(v));
        for (int i = 0; i < l.size(); i++) {
            Object o = l.get(i);
            if (!(o instanceof Long idx) || idx < 0 || idx >= nLayer)
                throw new IllegalArgumentException("config.json: attn_layer_idx[" + i + "] = " + shortText(o)
                        + " must be a layer index in [0, n_layer " + nLayer + ")");
            if (attn[(int) (long) idx])
                throw new IllegalArgumentException("config.json: attn_layer_idx lists layer " + idx + " twice");
            attn[(int) (long) idx] = true;
        }
        return attn;
    }

    /** attn_cfg with mamba_ssm MHA's defaults; every size bounded, unknown keys refused. */
    @SuppressWarnings("unchecked")
    private static AttnConfig attnConfig(Object v, long dModel) {
        if (v == null) v = Map.of();
        if (!(v instanceof Map))
            throw new IllegalArgumentException("config.json: attn_cfg must be an object, got " + shortText(v));
        Map<String, Object> a = (Map<String, Object>) v;
        for (String k : a.keySet())
            if (!ATTN_KEYS.contains(k))
                throw new IllegalArgumentException("config.json: attn_cfg." + shortText(k) + " is not a key this engine knows; it reads "
                        + String.join(", ", ATTN_KEYS));
        String p = "attn_cfg.";
        if (!boolField(a, "causal", false, p))
            throw new IllegalArgumentException("config.json: attn_cfg.causal is " + (a.containsKey("causal") ? "false" : "absent (mamba_ssm's default: false)")
                    + "; a language model is scored token by token and needs causal attention: set \"causal\": true");
        long heads = size(a, "num_heads", null, MAX_HEADS, p);
        long kvHeads = size(a, "num_heads_kv", heads, heads, p);
        if (heads % kvHeads != 0)
            throw new IllegalArgumentException("config.json: attn_cfg.num_heads (" + heads + ") must be a multiple of num_heads_kv (" + kvHeads + ")");
        Long defaultHeadDim = a.get("head_dim") == null && dModel % heads != 0 ? null : dModel / heads;
        if (defaultHeadDim == null)
            throw new IllegalArgumentException("config.json: attn_cfg has no head_dim and d_model (" + dModel + ") is not a multiple of num_heads (" + heads + ")");
        long headDim = size(a, "head_dim", defaultHeadDim, MAX_HEADDIM, p);
        long mlpDim = longField(a, "mlp_dim", 0L, p);
        if (mlpDim < 0 || mlpDim > MAX_MLP)
            throw new IllegalArgumentException("config.json: attn_cfg.mlp_dim = " + mlpDim + " is outside [0, " + MAX_MLP + "]");
        mlpDim = roundUp(mlpDim, 256); // MHA rounds it up
        long dConv = longField(a, "d_conv", 0L, p);
        if (dConv < 0 || dConv > MAX_D_CONV)
            throw new IllegalArgumentException("config.json: attn_cfg.d_conv = " + dConv + " is outside [0, " + MAX_D_CONV + "]");
        long rotary = longField(a, "rotary_emb_dim", 0L, p);
        if (rotary < 0 || rotary > headDim || rotary % 2 != 0)
            throw new IllegalArgumentException("config.json: attn_cfg.rotary_emb_dim = " + rotary + " must be even and in [0, head_dim " + headDim + "]");
        double base = numField(a, "rotary_emb_base", 10000.0, p);
        if (!(base > 0 && Double.isFinite(base)))
            throw new IllegalArgumentException("config.json: attn_cfg.rotary_emb_base = " + base + " must be a positive number");
        double scale = a.get("softmax_scale") == null ? 1 / Math.sqrt(headDim) : numField(a, "softmax_scale", null, p);
        if (!(scale > 0 && Float.isFinite((float) scale)))
            throw new IllegalArgumentException("config.json: attn_cfg.softmax_scale = " + scale + " must be a positive number");
        long qkv = headDim * (heads + 2 * kvHeads);
        fits("attention in_proj", qkv + mlpDim, dModel);
        fits("attention out_proj", dModel, headDim * heads + mlpDim / 2);
        fits("attention conv1d", qkv, Math.max(1, dConv));
        return new AttnConfig((int) heads, (int) kvHeads, (int) headDim, (int) mlpDim, boolField(a, "qkv_proj_bias", true, p),
                boolField(a, "out_proj_bias", true, p), (float) scale, (int) rotary, base, boolField(a, "rotary_emb_interleaved", false, p),
                (int) dConv);
    }

    private static Mamba2Config fromHf(Map<String, Object> m) {
        Object mt = m.get("model_type");
        if (mt != null && !"mamba2".equals(mt))
            throw new IllegalArgumentException("config.json: model_type '" + shortText(mt) + "' is not supported; expected 'mamba2'");
        long dModel = size(m, "hidden_size", null, MAX_D_MODEL);
        long nLayer = size(m, "num_hidden_layers", null, MAX_LAYERS);
        long vocab = size(m, "vocab_size", null, MAX_VOCAB);
        long dState = size(m, "state_size", 128L, MAX_D_STATE);
        long headdim = size(m, "head_dim", 64L, MAX_HEADDIM);
        long expand = size(m, "expand", 2L, MAX_EXPAND);
        long dInner = expand * dModel;
        long nheads = size(m, "num_heads", Math.max(1, dInner / headdim), dInner);
        long ngroups = size(m, "n_groups", 8L, MAX_GROUPS);
        long dConv = size(m, "conv_kernel", 4L, MAX_D_CONV);
        long chunk = size(m, "chunk_size", 256L, MAX_CHUNK);
        if (nheads * headdim != dInner)
            throw new IllegalArgumentException("config.json: num_heads * head_dim = " + nheads * headdim
                    + " must equal expand * hidden_size = " + dInner);
        float eps = (float) numField(m, "layer_norm_epsilon", 1e-5);
        if (!(eps >= 0 && eps < 1)) // NaN too: it would turn every score into NaN
            throw new IllegalArgumentException("config.json: layer_norm_epsilon = " + eps + " must be in [0, 1)");
        float[] limit = limits(m.get("time_step_limit"), "time_step_limit");
        boolean tie = boolField(m, "tie_word_embeddings", false);
        // HF's Mamba2 gates before normalising whatever the flag says (and normalises over all d_inner);
        // we follow the flag with mamba_ssm's group-wise semantics.
        boolean nbg = boolField(m, "norm_before_gate", false);
        boolean convBias = boolField(m, "use_conv_bias", true);
        boolean bias = boolField(m, "use_bias", false);
        if (!boolField(m, "rms_norm", true))
            throw new IllegalArgumentException("config.json: rms_norm = false is not supported yet");
        for (String k : List.of("attn_layer_idx", "attn_cfg", "d_intermediate")) {
            Object v = m.get(k);
            boolean asks = v != null && !(v instanceof List<?> l && l.isEmpty()) && !(v instanceof Map<?, ?> o && o.isEmpty())
                    && !(v instanceof Long n && n == 0);
            if (asks)
                throw new IllegalArgumentException("config.json: " + k + " in a Hugging Face layout config: transformers' Mamba-2 has no attention"
                        + " layers or MLP blocks, so a hybrid must come in mamba_ssm's layout (config.json with d_model, attn_layer_idx, attn_cfg,"
                        + " d_intermediate and backbone.layers.N.mixer.* weights)");
        }
        checkSizes(dModel, dInner, dInner, headdim, ngroups, dState, vocab, dConv);
        return new Mamba2Config(Layout.HF, (int) dModel, (int) nLayer, (int) vocab, (int) vocab, (int) dState, (int) headdim,
                (int) ngroups, (int) dConv, (int) chunk, (int) dInner, (int) dInner, tie, nbg, false, convBias, bias, true,
                eps, eps, limit[0], limit[1], new boolean[(int) nLayer], null, 0);
    }

    /**
     * Every weight matrix must fit one Java array (the engines index them with int). Inputs are bounded above,
     * so these long products cannot overflow.
     */
    private static void checkSizes(long dModel, long dInner, long dSsm, long headdim, long ngroups, long dState, long headRows, long dConv) {
        long nheads = dSsm / headdim;
        long dInProj = 2 * dInner + 2 * ngroups * dState + nheads, convDim = dSsm + 2 * ngroups * dState;
        fits("in_proj", dInProj, dModel);
        fits("out_proj", dModel, dInner);
        fits("embedding / lm_head", headRows, dModel);
        fits("conv1d", convDim, dConv);
    }

    private static void fits(String matrix, long rows, long cols) {
        if (rows * cols > MAX_ARRAY)
            throw new IllegalArgumentException("config.json: " + matrix + " would be " + rows + " x " + cols + " = " + rows * cols
                    + " weights, more than one Java array holds (" + MAX_ARRAY + "); this engine cannot run a model this wide");
    }

    private static float[] limits(Object v, String field) {
        if (v == null) return new float[] {0f, Float.POSITIVE_INFINITY};
        if (!(v instanceof List) || ((List<?>) v).size() != 2)
            throw new IllegalArgumentException("config.json: " + field + " must be a pair [min, max], got " + shortText(v));
        List<?> l = (List<?>) v;
        return new float[] {(float) number(l.get(0), field), (float) number(l.get(1), field)};
    }

    /** A number, or transformers 5's {"__float__": "Infinity"} encoding of one. */
    private static double number(Object v, String field) {
        if (v instanceof Number) return ((Number) v).doubleValue();
        if (v instanceof Map && ((Map<?, ?>) v).containsKey("__float__")) {
            String t = String.valueOf(((Map<?, ?>) v).get("__float__"));
            switch (t) {
                case "Infinity": case "inf": return Double.POSITIVE_INFINITY;
                case "-Infinity": case "-inf": return Double.NEGATIVE_INFINITY;
                case "NaN": case "nan": return Double.NaN;
                default:
                    try { return Double.parseDouble(t); } catch (NumberFormatException e) { /* below */ }
            }
        }
        if (v instanceof String) {
            String t = (String) v;
            if (t.equalsIgnoreCase("infinity") || t.equalsIgnoreCase("inf")) return Double.POSITIVE_INFINITY;
        }
        throw new IllegalArgumentException("config.json: " + field + " must be a number, got " + shortText(v));
    }

    private static double numField(Map<String, Object> m, String key, Double dflt) { return numField(m, key, dflt, ""); }

    private static double numField(Map<String, Object> m, String key, Double dflt, String prefix) {
        Object v = m.get(key);
        if (v == null) {
            if (dflt == null) throw new IllegalArgumentException("config.json: missing required field '" + prefix + key + "'");
            return dflt;
        }
        return number(v, prefix + key);
    }

    private static long size(Map<String, Object> m, String key, Long dflt, long max) { return size(m, key, dflt, max, ""); }

    /** A size field in [1, max]: absent takes dflt (null: required); prefix names the enclosing object in messages. */
    private static long size(Map<String, Object> m, String key, Long dflt, long max, String prefix) {
        long v = longField(m, key, dflt, prefix);
        if (v < 1 || v > max)
            throw new IllegalArgumentException("config.json: " + prefix + key + " = " + v + " is outside [1, " + max + "]"
                    + (v < 1 ? "" : "; no Mamba-2 is this large, so the config is corrupt"));
        return v;
    }

    private static long longField(Map<String, Object> m, String key, Long dflt) { return longField(m, key, dflt, ""); }

    private static long longField(Map<String, Object> m, String key, Long dflt, String prefix) {
        Object v = m.get(key);
        if (v == null) {
            if (dflt == null) throw new IllegalArgumentException("config.json: missing required field '" + prefix + key + "'");
            return dflt;
        }
        if (v instanceof Long) return (Long) v;
        if (v instanceof Double && (Double) v == Math.rint((Double) v) && Math.abs((Double) v) < 1e15) return (long) (double) (Double) v;
        throw new IllegalArgumentException("config.json: field '" + prefix + key + "' must be an integer, got " + shortText(v));
    }

    /** A value for a message, cut short: a hostile config may put megabytes where a number belongs. */
    private static String shortText(Object v) {
        String t = v instanceof Map || v instanceof List ? (v instanceof Map ? "an object" : "a list") : String.valueOf(v);
        return t.length() > 60 ? t.substring(0, 60) + "..." : t;
    }

    private static boolean boolField(Map<String, Object> m, String key, boolean dflt) { return boolField(m, key, dflt, ""); }

    private static boolean boolField(Map<String, Object> m, String key, boolean dflt, String prefix) {
        Object v = m.get(key);
        if (v == null) return dflt;
        if (v instanceof Boolean) return (Boolean) v;
        throw new IllegalArgumentException("config.json: field '" + prefix + key + "' must be true or false, got " + shortText(v));
    }

    @Override
    public String toString() {
        String hybrid = "";
        if (attn != null) {
            StringBuilder idx = new StringBuilder();
            for (int i = 0; i < nLayer; i++) if (attentionLayer[i]) idx.append(idx.length() == 0 ? "" : ",").append(i);
            hybrid += String.format(" attention@[%s] heads=%d kv_heads=%d head_dim=%d rotary=%d%s mlp_dim=%d attn_d_conv=%d",
                    idx, attn.numHeads(), attn.numHeadsKv(), attn.headDim(), attn.rotaryDim(), attn.rotaryInterleaved() ? "i" : "",
                    attn.mlpDim(), attn.dConv());
        }
        if (dIntermediate > 0) hybrid += " d_intermediate=" + dIntermediate;
        return String.format("Mamba2Config[%s d_model=%d n_layer=%d vocab=%d(%d) d_state=%d headdim=%d nheads=%d ngroups=%d d_conv=%d chunk=%d d_inner=%d d_ssm=%d%s]",
                layout, dModel, nLayer, vocabSize, paddedVocab, dState, headdim, nheads, ngroups, dConv, chunkSize, dInner, dSsm, hybrid);
    }
}
