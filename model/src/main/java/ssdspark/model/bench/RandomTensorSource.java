package ssdspark.model.bench;

import ssdspark.model.Mamba2Config;
import ssdspark.model.checkpoint.TensorSource;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * A checkpoint made up in memory: every tensor a Mamba-2 model of the given config needs (hybrids' attention layers
 * and gated MLPs included), under mamba_ssm's names and shapes. Values are generated on read from a per-tensor seed, so nothing is held twice, in one of two
 * ways ({@link Init}): as mamba_ssm initialises a model (benchmarks), or that with noise on every channel (tests).
 */
public final class RandomTensorSource implements TensorSource {
    /** How the values are drawn. */
    public enum Init {
        /**
         * mamba_ssm's initialisation: projections and embedding uniform with std 0.02 (out_proj rescaled by
         * 1/sqrt(2 n_layer)), torch's Conv1d init, dt_bias = softplus⁻¹ of a log-uniform dt in [1e-3, 0.1],
         * A_log = log U(1, 16), D = 1, norms 1, biases 0.
         */
        MAMBA_SSM,
        /**
         * For tests: the same families with noise so that no two channels are alike (a swapped index shows): norms
         * and D are 1 + 0.1 N(0,1), projections uniform with bound 1/sqrt(fan_in) scaled by 1 + 0.1 N(0,1) per value,
         * biases uniform, the embedding normal with the given standard deviation.
         */
        PERTURBED
    }

    private final Map<String, long[]> shapes = new LinkedHashMap<>();
    private final Mamba2Config c;
    private final long seed;
    private final Init init;
    private final double embStd;

    /** mamba_ssm's initialisation. */
    public RandomTensorSource(Mamba2Config c, long seed) { this(c, seed, Init.MAMBA_SSM, 0.02); }

    /** {@link Init#PERTURBED} values with an embedding of standard deviation embStd. */
    public static RandomTensorSource perturbed(Mamba2Config c, long seed, double embStd) {
        return new RandomTensorSource(c, seed, Init.PERTURBED, embStd);
    }

    private RandomTensorSource(Mamba2Config c, long seed, Init init, double embStd) {
        this.c = c;
        this.seed = seed;
        this.init = init;
        this.embStd = embStd;
        shapes.put("backbone.embedding.weight", new long[] {c.paddedVocab, c.dModel});
        if (!c.tieEmbeddings) shapes.put("lm_head.weight", new long[] {c.paddedVocab, c.dModel});
        shapes.put("backbone.norm_f.weight", new long[] {c.dModel});
        for (int i = 0; i < c.nLayer; i++) {
            String p = "backbone.layers." + i + ".";
            shapes.put(p + "norm.weight", new long[] {c.dModel});
            if (c.isAttention(i)) { // mamba_ssm's MHA
                Mamba2Config.AttnConfig a = c.attn;
                shapes.put(p + "mixer.in_proj.weight", new long[] {a.inProjRows(), c.dModel});
                if (a.qkvProjBias()) shapes.put(p + "mixer.in_proj.bias", new long[] {a.inProjRows()});
                if (a.dConv() > 0) {
                    shapes.put(p + "mixer.conv1d.weight", new long[] {a.qkvDim(), 1, a.dConv()});
                    shapes.put(p + "mixer.conv1d.bias", new long[] {a.qkvDim()});
                }
                shapes.put(p + "mixer.out_proj.weight", new long[] {c.dModel, a.outProjCols()});
                if (a.outProjBias()) shapes.put(p + "mixer.out_proj.bias", new long[] {c.dModel});
            } else {
                shapes.put(p + "mixer.in_proj.weight", new long[] {c.dInProj(), c.dModel});
                if (c.projBias) shapes.put(p + "mixer.in_proj.bias", new long[] {c.dInProj()});
                shapes.put(p + "mixer.conv1d.weight", new long[] {c.convDim(), 1, c.dConv});
                if (c.convBias) shapes.put(p + "mixer.conv1d.bias", new long[] {c.convDim()});
                shapes.put(p + "mixer.dt_bias", new long[] {c.nheads});
                shapes.put(p + "mixer.A_log", new long[] {c.nheads});
                shapes.put(p + "mixer.D", new long[] {c.dHasHdim ? (long) c.nheads * c.headdim : c.nheads});
                if (c.gatedNorm) shapes.put(p + "mixer.norm.weight", new long[] {c.dSsm});
                shapes.put(p + "mixer.out_proj.weight", new long[] {c.dModel, c.dInner});
                if (c.projBias) shapes.put(p + "mixer.out_proj.bias", new long[] {c.dModel});
            }
            if (c.dIntermediate > 0) { // GatedMLP
                shapes.put(p + "norm2.weight", new long[] {c.dModel});
                shapes.put(p + "mlp.fc1.weight", new long[] {2L * c.dIntermediate, c.dModel});
                shapes.put(p + "mlp.fc2.weight", new long[] {c.dModel, c.dIntermediate});
            }
        }
    }

    @Override public Set<String> names() { return shapes.keySet(); }

    @Override
    public long[] shape(String name) {
        long[] s = shapes.get(name);
        if (s == null) throw new IllegalArgumentException(description() + ": no tensor " + name);
        return s.clone();
    }

    @Override
    public float[] readFloats(String name) {
        long n = 1;
        for (long x : shape(name)) n *= x;
        float[] a = new float[Math.toIntExact(n)];
        SplittableRandom r = new SplittableRandom(seed * 1_000_003L + name.hashCode());
        // the name within a layer ("mixer.in_proj.weight"), or the whole name outside the layers
        int layer = -1;
        String leaf = name;
        if (name.contains("layers.")) {
            int from = name.indexOf("layers.") + 7, dot = name.indexOf('.', from);
            layer = Integer.parseInt(name.substring(from, dot));
            leaf = name.substring(dot + 1);
        }
        // fan-ins of the layer's projections and conv: an attention layer's differ from a Mamba-2 layer's
        boolean attn = layer >= 0 && c.isAttention(layer);
        int outFanIn = attn ? c.attn.outProjCols() : c.dInner, convWidth = attn ? c.attn.dConv() : c.dConv;
        if (init == Init.MAMBA_SSM) mambaSsm(leaf, r, a, convWidth);
        else perturbed(leaf, r, a, outFanIn, convWidth);
        return a;
    }

    private void mambaSsm(String leaf, SplittableRandom r, float[] a, int convWidth) {
        double u = 0.02 * Math.sqrt(3); // a uniform on [-u, u] has standard deviation u / sqrt(3) = 0.02
        switch (leaf) {
            case "backbone.embedding.weight", "lm_head.weight", "mixer.in_proj.weight", "mlp.fc1.weight" -> uniform(r, a, u);
            case "mixer.out_proj.weight", "mlp.fc2.weight" -> uniform(r, a, u / Math.sqrt(2.0 * c.nLayer));
            case "mixer.conv1d.weight", "mixer.conv1d.bias" -> uniform(r, a, 1 / Math.sqrt(convWidth)); // torch's Conv1d, fan_in = d_conv
            case "backbone.norm_f.weight", "norm.weight", "norm2.weight", "mixer.norm.weight", "mixer.D" -> java.util.Arrays.fill(a, 1f);
            case "mixer.in_proj.bias", "mixer.out_proj.bias" -> java.util.Arrays.fill(a, 0f);
            case "mixer.dt_bias" -> dtBias(r, a);
            case "mixer.A_log" -> aLog(r, a);
            default -> throw new IllegalStateException("no init for " + leaf);
        }
    }

    private void perturbed(String leaf, SplittableRandom r, float[] a, int outFanIn, int convWidth) {
        switch (leaf) {
            case "backbone.embedding.weight", "lm_head.weight" -> { for (int i = 0; i < a.length; i++) a[i] = (float) (gauss(r) * embStd); }
            case "backbone.norm_f.weight", "norm.weight", "norm2.weight", "mixer.norm.weight", "mixer.D" -> {
                for (int i = 0; i < a.length; i++) a[i] = (float) (1 + 0.1 * gauss(r));
            }
            case "mixer.in_proj.weight", "mlp.fc1.weight" -> noisyUniform(r, a, 1 / Math.sqrt(c.dModel));
            case "mixer.out_proj.weight" -> noisyUniform(r, a, 1 / Math.sqrt(outFanIn));
            case "mlp.fc2.weight" -> noisyUniform(r, a, 1 / Math.sqrt(c.dIntermediate));
            case "mixer.in_proj.bias", "mixer.out_proj.bias" -> noisyUniform(r, a, 0.05);
            case "mixer.conv1d.weight", "mixer.conv1d.bias" -> noisyUniform(r, a, 1 / Math.sqrt(convWidth));
            case "mixer.dt_bias" -> dtBias(r, a);
            case "mixer.A_log" -> aLog(r, a);
            default -> throw new IllegalStateException("no init for " + leaf);
        }
    }

    /** softplus⁻¹ of dt drawn log-uniformly from [1e-3, 0.1] (mamba_ssm's dt_min, dt_max). */
    private static void dtBias(SplittableRandom r, float[] a) {
        for (int i = 0; i < a.length; i++) {
            double dt = Math.max(1e-4, Math.exp(Math.log(1e-3) + r.nextDouble() * (Math.log(0.1) - Math.log(1e-3))));
            a[i] = (float) (dt + Math.log(-Math.expm1(-dt)));
        }
    }

    /** A = -exp(A_log) uniform in [-16, -1]. */
    private static void aLog(SplittableRandom r, float[] a) {
        for (int i = 0; i < a.length; i++) a[i] = (float) Math.log(1 + 15 * r.nextDouble());
    }

    private static void uniform(SplittableRandom r, float[] a, double bound) {
        for (int i = 0; i < a.length; i++) a[i] = (float) ((2 * r.nextDouble() - 1) * bound);
    }

    private static void noisyUniform(SplittableRandom r, float[] a, double bound) {
        for (int i = 0; i < a.length; i++) a[i] = (float) ((2 * r.nextDouble() - 1) * bound * (1 + 0.1 * gauss(r)));
    }

    /** A standard normal (Box-Muller). */
    private static double gauss(SplittableRandom r) {
        double u = r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    @Override public String description() { return "random weights (" + init.name().toLowerCase(java.util.Locale.ROOT) + ", seed " + seed + ")"; }

    @Override public void close() {}
}
