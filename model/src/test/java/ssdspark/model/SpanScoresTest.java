package ssdspark.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import ssdspark.model.DocumentRunner.ScoreOptions;
import ssdspark.model.DocumentRunner.ScoreResult;
import ssdspark.model.DocumentRunner.SpanScores;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Per-span scores: against the float64 reference, adding up to the document, and independent of chunking and packing. */
class SpanScoresTest {
    static final double LOGPROB_TOL = ReferenceFixtureTest.LOGPROB_TOL;
    static final double CHUNK_TOL = ChunkingExactnessTest.TOL;

    /** Spans of 1, 0 (empty), 4, 9, ... tokens: uneven, with an empty one, cutting across the chunk sizes used below. */
    static int[] ends(int n) {
        List<Integer> e = new ArrayList<>(List.of(1, 1));
        for (int len = 4; e.get(e.size() - 1) + len < n; len += 5) e.add(e.get(e.size() - 1) + len);
        e.add(n);
        return e.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void spanScoresEqualTheReferenceSumsOverTheirTokens() {
        Fixtures.Case fx = Fixtures.load("mssm_g1_safetensors");
        Fixtures.Doc doc = fx.docs().get(fx.docs().size() - 1);
        int n = doc.tokens().length;
        int[] ends = ends(n);
        try (Engine e = Mamba2Model.cpu(fx.dir())) {
            ScoreResult r = new DocumentRunner(e).scoreAll(List.of(doc.tokens()), List.of(ends), new ScoreOptions(7, -1, false), 1000)
                    .get(0).result();
            SpanScores s = r.spans();
            assertEquals(ends.length, s.size());
            for (int k = 0; k < s.size(); k++) {
                double ref = 0;
                int scored = 0;
                for (int j = Math.max(1, s.start(k)); j < ends[k]; j++) { // no BOS: the first token is not scored
                    ref += doc.logprobs()[j - 1];                        // reference element j-1 scores token j
                    scored++;
                }
                assertEquals(ends[k] - s.start(k), s.numTokens(k), "span " + k);
                assertEquals(scored, s.numScored()[k], "span " + k);
                assertEquals(ref, s.sumLogprob()[k], LOGPROB_TOL * Math.max(1, scored), "span " + k);
                if (scored == 0) assertTrue(Double.isNaN(s.meanNll(k)), "a span with nothing scored has no mean");
                else assertEquals(-ref / scored, s.meanNll(k), LOGPROB_TOL, "span " + k);
            }
            assertEquals(0, s.numScored()[0], "the first token is unscored without a BOS");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, 3})
    void spansAddUpToTheDocumentAndDoNotDependOnChunkSize(int bos) {
        Fixtures.Case fx = Fixtures.load("mssm_g2_mlp_bin");
        int[] tokens = fx.docs().get(fx.docs().size() - 1).tokens(); // 45 tokens
        int n = tokens.length;
        int[] ends = ends(n);
        try (Engine e = Mamba2Model.cpu(fx.dir())) {
            DocumentRunner runner = new DocumentRunner(e);
            ScoreResult whole = runner.scoreAll(List.of(tokens), List.of(ends), new ScoreOptions(n, bos, true), n + 1).get(0).result();
            for (int chunk : new int[] {1, 7, n}) {
                ScoreResult r = runner.scoreAll(List.of(tokens), List.of(ends), new ScoreOptions(chunk, bos, true), n + 1).get(0).result();
                SpanScores s = r.spans();
                double total = 0;
                int scored = 0;
                for (int k = 0; k < s.size(); k++) {
                    total += s.sumLogprob()[k];
                    scored += s.numScored()[k];
                    assertEquals(whole.spans().numScored()[k], s.numScored()[k], "chunk " + chunk + " span " + k);
                    assertEquals(whole.spans().sumLogprob()[k], s.sumLogprob()[k], CHUNK_TOL * Math.max(1, s.numTokens(k)),
                            "chunk " + chunk + " span " + k);
                    // the span is the sum of its own tokens' log-probs (per-token output of the same run)
                    double own = 0;
                    for (int j = s.start(k); j < ends[k]; j++) if (j + (bos >= 0 ? 0 : -1) >= 0) own += r.tokenLogprobs()[j + (bos >= 0 ? 0 : -1)];
                    assertEquals(own, s.sumLogprob()[k], 1e-9 * Math.max(1, Math.abs(own)), "chunk " + chunk + " span " + k);
                }
                assertEquals(r.numScored(), scored, "every scored token is in one span");
                assertEquals(r.sumLogprob(), total, 1e-9 * Math.abs(r.sumLogprob()), "chunk " + chunk + ": spans add up to the document");
            }
        }
    }

    @Test
    void packedDocumentsKeepTheirOwnSpansAndDocumentsWithoutSpansHaveNone() {
        Fixtures.Case fx = Fixtures.load("mssm_g2_mlp_bin");
        List<int[]> docs = new ArrayList<>();
        List<int[]> spans = new ArrayList<>();
        for (Fixtures.Doc d : fx.docs()) {
            docs.add(d.tokens());
            spans.add(docs.size() % 2 == 0 ? null : ends(d.tokens().length));
        }
        try (Engine e = Mamba2Model.cpu(fx.dir())) {
            DocumentRunner runner = new DocumentRunner(e);
            var packed = runner.scoreAll(docs, spans, new ScoreOptions(5, -1, false), 16);
            for (int i = 0; i < docs.size(); i++) {
                SpanScores s = packed.get(i).result().spans();
                if (spans.get(i) == null) { assertNull(s); continue; }
                SpanScores alone = runner.scoreAll(List.of(docs.get(i)), List.of(spans.get(i)), new ScoreOptions(1000, -1, false), 1000)
                        .get(0).result().spans();
                assertEquals(Arrays.toString(alone.numScored()), Arrays.toString(s.numScored()));
                for (int k = 0; k < s.size(); k++)
                    assertEquals(alone.sumLogprob()[k], s.sumLogprob()[k], CHUNK_TOL * Math.max(1, s.numTokens(k)), "doc " + i + " span " + k);
            }
        }
    }

    @Test
    void spansThatDoNotCoverTheDocumentAreRefused() {
        Fixtures.Case fx = Fixtures.load("mssm_g1_safetensors");
        int[] tokens = fx.docs().get(4).tokens();
        try (Engine e = Mamba2Model.cpu(fx.dir())) {
            DocumentRunner runner = new DocumentRunner(e);
            ScoreOptions o = new ScoreOptions(8, -1, false);
            assertThrows(IllegalArgumentException.class, () -> runner.scoreAll(List.of(tokens), List.of(new int[] {3, 2, tokens.length}), o, 100));
            assertThrows(IllegalArgumentException.class, () -> runner.scoreAll(List.of(tokens), List.of(new int[] {3}), o, 100));
            assertThrows(IllegalArgumentException.class, () -> runner.scoreAll(List.of(tokens), List.of(), o, 100));
        }
    }
}
