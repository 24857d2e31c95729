package ssdspark.model.gpu;

import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2Weights;
import ssdspark.model.bench.RandomTensorSource;

import java.util.SplittableRandom;

/**
 * Random Mamba-2 models in memory (mamba_ssm layout) for the GPU tests: a config JSON parsed by
 * {@link Mamba2Config#parse} and {@link RandomTensorSource#perturbed} weights (mamba_ssm's families with noise on
 * every channel) loaded through {@link Mamba2Weights#load}; random documents.
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
        return Mamba2Weights.load(c, RandomTensorSource.perturbed(c, seed, embStd));
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
