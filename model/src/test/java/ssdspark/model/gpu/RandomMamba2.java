package ssdspark.model.gpu;

import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2Weights;
import ssdspark.model.checkpoint.TensorSource;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Random Mamba-2 models in memory (mamba_ssm layout): a config JSON parsed by {@link Mamba2Config#parse} and an
 * in-memory {@link TensorSource} loaded through {@link Mamba2Weights#load}. Weights follow mamba_ssm's
 * initialisation (uniform Linear init, dt from [1e-3, 1e-1] log-uniform, A in [1, 16], D = 1, unit norms), each
 * perturbed by noise so that no two channels are alike.
 */
final class RandomMamba2 {
    private RandomMamba2() {}

    static String config(int dModel, int nLayer, int vocab, int dState, int headdim, int ngroups, int chunk, String extra) {
        return "{\"d_model\": " + dModel + ", \"n_layer\": " + nLayer + ", \"vocab_size\": " + vocab
                + ", \"ssm_cfg\": {\"layer\": \"Mamba2\", \"d_state\": " + dState + ", \"headdim\": " + headdim
                + ", \"ngroups\": " + ngroups + ", \"chunk_size\": " + chunk + (extra.isEmpty() ? "" : ", " + extra)
                + "}, \"rms_norm\": true, \"pad_vocab_size_multiple\": 8, \"tie_embeddings\": true}";
    }

    /** The 130M shape: d_model 768, 24 layers, d_state 128, headdim 64, vocab 50277 padded to 50288 (x16). */
    static String config130m() {
        return "{\"d_model\": 768, \"n_layer\": 24, \"vocab_size\": 50277, \"ssm_cfg\": {\"layer\": \"Mamba2\"}, "
                + "\"rms_norm\": true, \"pad_vocab_size_multiple\": 16, \"tie_embeddings\": true}";
    }

    static Mamba2Weights weights(String configJson, long seed, double embStd) {
        Mamba2Config c = Mamba2Config.parse(configJson);
        return Mamba2Weights.load(c, new Source(c, seed, embStd));
    }

    static final class Source implements TensorSource {
        private final Map<String, long[]> shapes = new LinkedHashMap<>();
        private final Map<String, Long> seeds = new HashMap<>();
        private final Mamba2Config c;
        private final double embStd;

        Source(Mamba2Config c, long seed, double embStd) {
            this.c = c;
            this.embStd = embStd;
            put("backbone.embedding.weight", seed, c.paddedVocab, c.dModel);
            put("backbone.norm_f.weight", seed, c.dModel);
            for (int i = 0; i < c.nLayer; i++) {
                String p = "backbone.layers." + i + ".";
                put(p + "norm.weight", seed, c.dModel);
                put(p + "mixer.in_proj.weight", seed, c.dInProj(), c.dModel);
                if (c.projBias) put(p + "mixer.in_proj.bias", seed, c.dInProj());
                put(p + "mixer.conv1d.weight", seed, c.convDim(), 1, c.dConv);
                if (c.convBias) put(p + "mixer.conv1d.bias", seed, c.convDim());
                put(p + "mixer.dt_bias", seed, c.nheads);
                put(p + "mixer.A_log", seed, c.nheads);
                put(p + "mixer.D", seed, c.dHasHdim ? c.nheads * c.headdim : c.nheads);
                if (c.gatedNorm) put(p + "mixer.norm.weight", seed, c.dSsm);
                put(p + "mixer.out_proj.weight", seed, c.dModel, c.dInner);
                if (c.projBias) put(p + "mixer.out_proj.bias", seed, c.dModel);
            }
        }

        private void put(String name, long seed, long... shape) {
            shapes.put(name, shape);
            seeds.put(name, seed * 1_000_003L + name.hashCode());
        }

        @Override public Set<String> names() { return shapes.keySet(); }

        @Override public long[] shape(String name) {
            long[] s = shapes.get(name);
            if (s == null) throw new IllegalArgumentException("no tensor " + name);
            return s.clone();
        }

        @Override
        public float[] readFloats(String name) {
            long[] s = shape(name);
            long n = 1;
            for (long x : s) n *= x;
            float[] a = new float[(int) n];
            SplittableRandom r = new SplittableRandom(seeds.get(name));
            String leaf = name.substring(name.lastIndexOf("layers.") >= 0 ? name.indexOf('.', name.indexOf("layers.") + 7) + 1 : 0);
            switch (leaf.isEmpty() ? name : leaf) {
                case "backbone.embedding.weight":
                    for (int i = 0; i < a.length; i++) a[i] = (float) (gauss(r) * embStd);
                    break;
                case "backbone.norm_f.weight": case "norm.weight": case "mixer.norm.weight":
                    for (int i = 0; i < a.length; i++) a[i] = (float) (1 + 0.1 * gauss(r));
                    break;
                case "mixer.in_proj.weight": uniform(r, a, 1 / Math.sqrt(c.dModel)); break;
                case "mixer.out_proj.weight": uniform(r, a, 1 / Math.sqrt(c.dInner)); break;
                case "mixer.in_proj.bias": case "mixer.out_proj.bias": uniform(r, a, 0.05); break;
                case "mixer.conv1d.weight": case "mixer.conv1d.bias": uniform(r, a, 1 / Math.sqrt(c.dConv)); break;
                case "mixer.dt_bias":
                    for (int i = 0; i < a.length; i++) {
                        double dt = Math.max(1e-4, Math.exp(Math.log(1e-3) + r.nextDouble() * (Math.log(0.1) - Math.log(1e-3))));
                        a[i] = (float) (dt + Math.log(-Math.expm1(-dt))); // inverse softplus
                    }
                    break;
                case "mixer.A_log":
                    for (int i = 0; i < a.length; i++) a[i] = (float) Math.log(1 + 15 * r.nextDouble());
                    break;
                case "mixer.D":
                    for (int i = 0; i < a.length; i++) a[i] = (float) (1 + 0.1 * gauss(r));
                    break;
                default: throw new IllegalStateException("no init for " + name);
            }
            return a;
        }

        private static void uniform(SplittableRandom r, float[] a, double bound) {
            for (int i = 0; i < a.length; i++) a[i] = (float) ((2 * r.nextDouble() - 1) * bound * (1 + 0.1 * gauss(r)));
        }

        static double gauss(SplittableRandom r) {
            double u = r.nextDouble(), v = r.nextDouble();
            return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
        }

        @Override public String description() { return "random " + c; }

        @Override public void close() {}
    }

    static int[][] randomDocs(long seed, int vocab, int... lengths) {
        SplittableRandom r = new SplittableRandom(seed);
        int[][] d = new int[lengths.length][];
        for (int i = 0; i < lengths.length; i++) {
            d[i] = new int[lengths[i]];
            for (int t = 0; t < lengths[i]; t++) d[i][t] = r.nextInt(vocab);
        }
        return d;
    }
}
