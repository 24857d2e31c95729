package ssdspark.model;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Packing documents into batches, whatever the budget, gives each document its own results. */
class PackedBatchTest {
    static final double TOL = 1e-4;

    @ParameterizedTest
    @CsvSource({"mssm_g2_mlp_bin,1", "mssm_g2_mlp_bin,5", "mssm_g2_mlp_bin,16", "mssm_g2_mlp_bin,50", "mssm_g2_mlp_bin,10000",
            "mssm_hybrid_gqa_rotary,1", "mssm_hybrid_gqa_rotary,16", "mssm_hybrid_gqa_rotary,10000",
            "mssm_hybrid_mqa_interleaved_bin_bf16,5", "mssm_hybrid_mqa_interleaved_bin_bf16,50"})
    void batchCompositionDoesNotChangeResults(String name, int budget) {
        Fixtures.Case fx = Fixtures.load(name);
        try (Engine e = Mamba2Model.cpu(fx.dir())) {
            DocumentRunner runner = new DocumentRunner(e);
            List<int[]> docs = new ArrayList<>();
            for (Fixtures.Doc d : fx.docs()) docs.add(d.tokens());
            docs.add(2, new int[0]);              // an error row in the middle
            docs.add(4, new int[] {3, 999, 4});   // and a token outside the vocabulary
            var opts = new DocumentRunner.ScoreOptions(7, -1, true);
            var scores = runner.scoreAll(docs, opts, budget);
            var embeds = runner.embedAll(docs, 7, budget);
            assertEquals(docs.size(), scores.size());
            for (int i = 0; i < docs.size(); i++) {
                int[] doc = docs.get(i);
                if (doc.length == 0 || doc.length == 3) {
                    assertTrue(scores.get(i).error().contains(doc.length == 0 ? "empty token array" : "token id 999 at position 1"));
                    assertNull(embeds.get(i).result());
                    continue;
                }
                var alone = runner.score(doc, new DocumentRunner.ScoreOptions(doc.length, -1, true));
                var packed = scores.get(i).result();
                assertEquals(alone.numScored(), packed.numScored());
                assertEquals(alone.sumLogprob(), packed.sumLogprob(), TOL * doc.length, "doc " + i + " budget " + budget);
                for (int t = 0; t < alone.numScored(); t++)
                    assertEquals(alone.tokenLogprobs()[t], packed.tokenLogprobs()[t], TOL);
                var embAlone = runner.embed(doc, doc.length);
                assertArrayEquals(embAlone.mean(), embeds.get(i).result().mean(), (float) TOL);
                assertArrayEquals(embAlone.last(), embeds.get(i).result().last(), (float) TOL);
            }
        }
    }

    @org.junit.jupiter.api.Test
    void longestDocumentsStartFirstSoShortOnesFillTheirPasses() {
        Fixtures.Case fx = Fixtures.load("mssm_g2_mlp_bin");
        try (Engine e = Mamba2Model.cpu(fx.dir())) {
            int v = e.config().vocabSize;
            List<int[]> docs = new ArrayList<>();
            for (int len : new int[] {4, 4, 4, 4, 16}) {
                int[] d = new int[len];
                for (int i = 0; i < len; i++) d[i] = (len * 7 + i * 13) % v;
                docs.add(d);
            }
            // pieces of 4, passes of 8: in input order 2 passes of short documents, then 4 of the long one alone;
            // longest first, the long one's 4 pieces each share a pass with a short document: 4 passes, all full
            List<Integer> passes = new ArrayList<>();
            DocumentRunner runner = new DocumentRunner(e).onPass(passes::add);
            var scores = runner.scoreAll(docs, new DocumentRunner.ScoreOptions(4, -1, false), 8);
            assertEquals(List.of(8, 8, 8, 8), passes);
            for (int i = 0; i < docs.size(); i++) // results still come back in input order
                assertEquals(docs.get(i).length, scores.get(i).result().numTokens());
        }
    }
}
