package ssdspark.model;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** A document's scores and embeddings do not depend on how it is cut into chunks. */
class ChunkingExactnessTest {
    static final double TOL = 1e-4;

    @ParameterizedTest
    @ValueSource(strings = {"mssm_g2_mlp_bin", "mssm_g4_bin_bf16", "hf_g1_safetensors", "mssm_hybrid_gqa_rotary",
            "mssm_hybrid_mqa_interleaved_bin_bf16"})
    void chunkSizeDoesNotChangeResults(String name) {
        Fixtures.Case fx = Fixtures.load(name);
        try (Engine e = Mamba2Model.cpu(fx.dir())) {
            DocumentRunner runner = new DocumentRunner(e);
            int[] tokens = fx.docs().get(fx.docs().size() - 1).tokens(); // the longest (45 > 5 × chunk_size)
            int n = tokens.length;
            int[] chunkSizes = {1, 7, e.config().chunkSize, n};
            DocumentRunner.ScoreResult whole = runner.score(tokens, new DocumentRunner.ScoreOptions(n, 3, true));
            DocumentRunner.EmbedResult wholeEmb = runner.embed(tokens, n);
            assertEquals(n, whole.numScored(), "with BOS every token is scored");
            for (int c : chunkSizes) {
                DocumentRunner.ScoreResult r = runner.score(tokens, new DocumentRunner.ScoreOptions(c, 3, true));
                assertEquals(whole.numScored(), r.numScored());
                assertEquals(whole.sumLogprob(), r.sumLogprob(), TOL * n, "chunk " + c);
                for (int i = 0; i < n; i++)
                    assertEquals(whole.tokenLogprobs()[i], r.tokenLogprobs()[i], TOL, "chunk " + c + " token " + i);
                DocumentRunner.EmbedResult emb = runner.embed(tokens, c);
                assertArrayEquals(wholeEmb.mean(), emb.mean(), (float) TOL, "mean pooling, chunk " + c);
                assertArrayEquals(wholeEmb.last(), emb.last(), (float) TOL, "last pooling, chunk " + c);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"mssm_g1_safetensors,1", "mssm_g1_safetensors,3", "mssm_g1_safetensors,8", "mssm_g1_safetensors,13",
            "mssm_hybrid_gqa_rotary,1", "mssm_hybrid_gqa_rotary,2", "mssm_hybrid_gqa_rotary,13",
            "mssm_hybrid_mqa_interleaved_bin_bf16,5"})
    void forwardWithCarriedStateEqualsOnePass(String name, int split) {
        Fixtures.Case fx = Fixtures.load(name);
        try (Engine e = Mamba2Model.cpu(fx.dir())) {
            int[] tokens = fx.docs().get(4).tokens(); // 21 tokens
            int n = tokens.length, d = e.config().dModel;
            float[] whole = e.forward(tokens, 0, n, e.newState());
            Mamba2State s = e.newState();
            float[] a = e.forward(tokens, 0, split, s);
            float[] b = e.forward(tokens, split, n - split, s);
            for (int i = 0; i < split * d; i++) assertEquals(whole[i], a[i], TOL);
            for (int i = 0; i < (n - split) * d; i++) assertEquals(whole[split * d + i], b[i], TOL);
        }
    }
}
