package ssdspark.model.bench;

import ssdspark.model.Mamba2Config;
import ssdspark.model.checkpoint.TensorSource;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A checkpoint made up in memory: every tensor a Mamba-2 model of the given config needs, under
 * mamba_ssm's names and shapes, filled the way mamba_ssm initialises them (small normal-ish
 * projections, A_log = log U(1, 16), dt_bias = softplus⁻¹ of a log-uniform dt in [1e-3, 0.1], D = 1,
 * norms 1). Values are generated on read from a per-tensor seed, so nothing is held twice.
 */
public final class RandomTensorSource implements TensorSource {
    private record Spec(long[] shape, Fill fill, float a, float b) {}

    private enum Fill { UNIFORM, CONST, A_LOG, DT_BIAS }

    private final Map<String, Spec> specs = new LinkedHashMap<>();
    private final long seed;

    public RandomTensorSource(Mamba2Config c, long seed) {
        this.seed = seed;
        int d = c.dModel, rows = c.paddedVocab;
        // a uniform on [-a, a] has standard deviation a / sqrt(3): these match mamba_ssm's std 0.02 init
        float std = 0.02f, u = (float) (std * Math.sqrt(3));
        float uOut = (float) (u / Math.sqrt(2.0 * c.nLayer)); // out_proj rescaled by 1/sqrt(2 n_layer)
        put("backbone.embedding.weight", Fill.UNIFORM, u, 0, rows, d);
        if (!c.tieEmbeddings) put("lm_head.weight", Fill.UNIFORM, u, 0, rows, d);
        put("backbone.norm_f.weight", Fill.CONST, 1, 0, d);
        int dIn = c.dInProj(), conv = c.convDim();
        float convBound = (float) (1.0 / Math.sqrt(c.dConv)); // torch's Conv1d default init, fan_in = d_conv
        for (int i = 0; i < c.nLayer; i++) {
            String p = "backbone.layers." + i + ".", m = p + "mixer.";
            put(p + "norm.weight", Fill.CONST, 1, 0, d);
            put(m + "in_proj.weight", Fill.UNIFORM, u, 0, dIn, d);
            if (c.projBias) put(m + "in_proj.bias", Fill.CONST, 0, 0, dIn);
            put(m + "conv1d.weight", Fill.UNIFORM, convBound, 0, conv, 1, c.dConv);
            if (c.convBias) put(m + "conv1d.bias", Fill.UNIFORM, convBound, 0, conv);
            put(m + "dt_bias", Fill.DT_BIAS, 1e-3f, 0.1f, c.nheads);
            put(m + "A_log", Fill.A_LOG, 1, 16, c.nheads);
            if (c.dHasHdim) put(m + "D", Fill.CONST, 1, 0, c.nheads * c.headdim);
            else put(m + "D", Fill.CONST, 1, 0, c.nheads);
            if (c.gatedNorm) put(m + "norm.weight", Fill.CONST, 1, 0, c.dSsm);
            put(m + "out_proj.weight", Fill.UNIFORM, uOut, 0, d, c.dInner);
            if (c.projBias) put(m + "out_proj.bias", Fill.CONST, 0, 0, d);
        }
    }

    private void put(String name, Fill f, float a, float b, long... shape) { specs.put(name, new Spec(shape, f, a, b)); }

    @Override public Set<String> names() { return specs.keySet(); }

    @Override
    public long[] shape(String name) {
        Spec s = specs.get(name);
        if (s == null) throw new IllegalArgumentException(description() + ": no tensor " + name);
        return s.shape.clone();
    }

    @Override
    public float[] readFloats(String name) {
        Spec s = specs.get(name);
        if (s == null) throw new IllegalArgumentException(description() + ": no tensor " + name);
        long n = 1;
        for (long x : s.shape) n *= x;
        float[] out = new float[Math.toIntExact(n)];
        long state = seed * 0x9E3779B97F4A7C15L ^ name.hashCode() * 0xBF58476D1CE4E5B9L;
        for (int i = 0; i < out.length; i++) {
            // splitmix64 → a float in [0, 1)
            state += 0x9E3779B97F4A7C15L;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            float r = (z >>> 40) * 0x1.0p-24f;
            out[i] = switch (s.fill) {
                case UNIFORM -> (2 * r - 1) * s.a;
                case CONST -> s.a;
                case A_LOG -> (float) Math.log(s.a + r * (s.b - s.a));
                case DT_BIAS -> {
                    double dt = Math.exp(Math.log(s.a) + r * (Math.log(s.b) - Math.log(s.a)));
                    yield (float) (dt + Math.log(-Math.expm1(-dt))); // softplus⁻¹(dt)
                }
            };
        }
        return out;
    }

    @Override public String description() { return "random weights (seed " + seed + ")"; }

    @Override public void close() {}
}
