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

    private Mamba2Config(Layout layout, int dModel, int nLayer, int vocabSize, int paddedVocab, int dState, int headdim,
                         int ngroups, int dConv, int chunkSize, int dInner, int dSsm, boolean tie, boolean normBeforeGate,
                         boolean dHasHdim, boolean convBias, boolean projBias, boolean gatedNorm, float normEps,
                         float gatedNormEps, float dtMin, float dtMax) {
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
        check(dModel > 0, "d_model/hidden_size must be positive");
        check(nLayer > 0, "n_layer/num_hidden_layers must be positive");
        check(vocabSize > 0, "vocab_size must be positive");
        check(dSsm % headdim == 0, "d_ssm (" + dSsm + ") must be a multiple of headdim (" + headdim + ")");
        check(dSsm <= dInner, "d_ssm (" + dSsm + ") must not exceed d_inner (" + dInner + ")");
        check(nheads % ngroups == 0, "number of heads (" + nheads + ") must be a multiple of ngroups (" + ngroups + ")");
        check(dSsm % ngroups == 0, "d_ssm (" + dSsm + ") must be a multiple of ngroups (" + ngroups + ")");
        check(dConv >= 1, "d_conv must be >= 1");
        check(chunkSize >= 1, "chunk_size must be >= 1");
        check(dtMin <= dtMax, "time_step_limit/dt_limit lower bound exceeds upper bound");
    }

    private static void check(boolean ok, String msg) {
        if (!ok) throw new IllegalArgumentException("config.json: " + msg);
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

    public static Mamba2Config load(Path dir) {
        Path f = Files.isDirectory(dir) ? dir.resolve("config.json") : dir;
        try {
            return parse(Files.readString(f, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model config " + f + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(f + ": " + e.getMessage(), e);
        }
    }

    public static Mamba2Config parse(String json) {
        Map<String, Object> m = Json.parseObject(json);
        if (m.containsKey("d_model")) return fromMambaSsm(m);
        if ("mamba2".equals(m.get("model_type")) || m.containsKey("hidden_size")) return fromHf(m);
        if (m.containsKey("model_type"))
            throw new IllegalArgumentException("config.json: model_type '" + m.get("model_type") + "' is not supported; expected 'mamba2' or a mamba_ssm config with d_model");
        throw new IllegalArgumentException("config.json: neither a mamba_ssm config (no 'd_model') nor a Hugging Face Mamba-2 config (no 'hidden_size' / model_type 'mamba2')");
    }

    @SuppressWarnings("unchecked")
    private static Mamba2Config fromMambaSsm(Map<String, Object> m) {
        int dModel = positive(intField(m, "d_model", null), "d_model");
        int nLayer = intField(m, "n_layer", null);
        int vocab = intField(m, "vocab_size", null);
        int dIntermediate = intField(m, "d_intermediate", 0);
        if (dIntermediate != 0)
            throw new IllegalArgumentException("config.json: d_intermediate = " + dIntermediate + " asks for MLP blocks, which are not supported yet (only 0)");
        Object attn = m.get("attn_layer_idx");
        if (attn instanceof List && !((List<?>) attn).isEmpty())
            throw new IllegalArgumentException("config.json: attn_layer_idx " + attn + " asks for attention layers, which are not supported yet");
        if (!boolField(m, "rms_norm", true))
            throw new IllegalArgumentException("config.json: rms_norm = false (LayerNorm blocks) is not supported yet");
        Object cfgObj = m.getOrDefault("ssm_cfg", Map.of());
        if (!(cfgObj instanceof Map)) throw new IllegalArgumentException("config.json: ssm_cfg must be an object");
        Map<String, Object> s = (Map<String, Object>) cfgObj;
        String layer = String.valueOf(s.getOrDefault("layer", "Mamba1"));
        if (!"Mamba2".equals(layer))
            throw new IllegalArgumentException("config.json: ssm_cfg.layer = '" + layer + "' is not supported; only Mamba2 layers are");
        int dState = positive(intField(s, "d_state", 128), "ssm_cfg.d_state");
        int headdim = positive(intField(s, "headdim", 64), "ssm_cfg.headdim");
        int expand = positive(intField(s, "expand", 2), "ssm_cfg.expand");
        int ngroups = positive(intField(s, "ngroups", 1), "ssm_cfg.ngroups");
        int dConv = intField(s, "d_conv", 4);
        int chunk = intField(s, "chunk_size", 256);
        boolean gated = boolField(s, "rmsnorm", true);
        boolean nbg = boolField(s, "norm_before_gate", false);
        boolean dHasHdim = boolField(s, "D_has_hdim", false);
        boolean convBias = boolField(s, "conv_bias", true);
        boolean bias = boolField(s, "bias", false);
        int dInner = expand * dModel;
        Object dSsmObj = s.get("d_ssm");
        int dSsm = dSsmObj == null ? dInner : positive(intField(s, "d_ssm", null), "ssm_cfg.d_ssm");
        float[] limit = limits(s.get("dt_limit"), "ssm_cfg.dt_limit");
        int mult = intField(m, "pad_vocab_size_multiple", 8);
        int padded = mult <= 1 ? vocab : ((vocab + mult - 1) / mult) * mult;
        boolean tie = boolField(m, "tie_embeddings", true);
        return new Mamba2Config(Layout.MAMBA_SSM, dModel, nLayer, vocab, padded, dState, headdim, ngroups, dConv, chunk,
                dInner, dSsm, tie, nbg, dHasHdim, convBias, bias, gated, 1e-5f, 1e-5f, limit[0], limit[1]);
    }

    private static Mamba2Config fromHf(Map<String, Object> m) {
        Object mt = m.get("model_type");
        if (mt != null && !"mamba2".equals(mt))
            throw new IllegalArgumentException("config.json: model_type '" + mt + "' is not supported; expected 'mamba2'");
        int dModel = positive(intField(m, "hidden_size", null), "hidden_size");
        int nLayer = intField(m, "num_hidden_layers", null);
        int vocab = intField(m, "vocab_size", null);
        int dState = positive(intField(m, "state_size", 128), "state_size");
        int headdim = positive(intField(m, "head_dim", 64), "head_dim");
        int expand = positive(intField(m, "expand", 2), "expand");
        int dInner = expand * dModel;
        int nheads = positive(intField(m, "num_heads", dInner / headdim), "num_heads");
        int ngroups = positive(intField(m, "n_groups", 8), "n_groups");
        int dConv = intField(m, "conv_kernel", 4);
        int chunk = intField(m, "chunk_size", 256);
        if (nheads * headdim != dInner)
            throw new IllegalArgumentException("config.json: num_heads * head_dim = " + nheads * headdim
                    + " must equal expand * hidden_size = " + dInner);
        float eps = (float) numField(m, "layer_norm_epsilon", 1e-5);
        float[] limit = limits(m.get("time_step_limit"), "time_step_limit");
        boolean tie = boolField(m, "tie_word_embeddings", false);
        // HF's Mamba2 gates before normalising whatever the flag says (and normalises over all d_inner);
        // we follow the flag with mamba_ssm's group-wise semantics.
        boolean nbg = boolField(m, "norm_before_gate", false);
        boolean convBias = boolField(m, "use_conv_bias", true);
        boolean bias = boolField(m, "use_bias", false);
        if (!boolField(m, "rms_norm", true))
            throw new IllegalArgumentException("config.json: rms_norm = false is not supported yet");
        return new Mamba2Config(Layout.HF, dModel, nLayer, vocab, vocab, dState, headdim, ngroups, dConv, chunk,
                dInner, dInner, tie, nbg, false, convBias, bias, true, eps, eps, limit[0], limit[1]);
    }

    private static float[] limits(Object v, String field) {
        if (v == null) return new float[] {0f, Float.POSITIVE_INFINITY};
        if (!(v instanceof List) || ((List<?>) v).size() != 2)
            throw new IllegalArgumentException("config.json: " + field + " must be a pair [min, max], got " + v);
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
        throw new IllegalArgumentException("config.json: " + field + " must be a number, got " + v);
    }

    private static double numField(Map<String, Object> m, String key, Double dflt) {
        Object v = m.get(key);
        if (v == null) {
            if (dflt == null) throw new IllegalArgumentException("config.json: missing required field '" + key + "'");
            return dflt;
        }
        return number(v, key);
    }

    private static int intField(Map<String, Object> m, String key, Integer dflt) {
        Object v = m.get(key);
        if (v == null) {
            if (dflt == null) throw new IllegalArgumentException("config.json: missing required field '" + key + "'");
            return dflt;
        }
        if (v instanceof Long && (Long) v == ((Long) v).intValue()) return ((Long) v).intValue();
        if (v instanceof Double && (Double) v == Math.rint((Double) v) && Math.abs((Double) v) < 1e9) return (int) (double) (Double) v;
        throw new IllegalArgumentException("config.json: field '" + key + "' must be an integer, got " + v);
    }

    /** v, or a message naming the field when it is not positive (a 0 would divide by zero further on). */
    private static int positive(int v, String field) {
        if (v < 1) throw new IllegalArgumentException("config.json: " + field + " must be a positive integer, got " + v);
        return v;
    }

    private static boolean boolField(Map<String, Object> m, String key, boolean dflt) {
        Object v = m.get(key);
        if (v == null) return dflt;
        if (v instanceof Boolean) return (Boolean) v;
        throw new IllegalArgumentException("config.json: field '" + key + "' must be true or false, got " + v);
    }

    @Override
    public String toString() {
        return String.format("Mamba2Config[%s d_model=%d n_layer=%d vocab=%d(%d) d_state=%d headdim=%d nheads=%d ngroups=%d d_conv=%d chunk=%d d_inner=%d d_ssm=%d]",
                layout, dModel, nLayer, vocabSize, paddedVocab, dState, headdim, nheads, ngroups, dConv, chunkSize, dInner, dSsm);
    }
}
