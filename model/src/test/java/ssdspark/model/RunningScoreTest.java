package ssdspark.model;

import org.junit.jupiter.api.Test;
import ssdspark.model.DocumentRunner.ScoreResult;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The per-document score reduction shared by DocumentRunner and the RAPIDS device path, against hand sums. */
class RunningScoreTest {
    // Log-probs of rows 0..4 of a 6-token sequence; powers of two so every sum is exact.
    private static final float[] LP = {-0.5f, -1f, -2f, -0.25f, -4f};

    @Test
    void piecesInAnySplitGiveTheSameSumsPerTokenAndSpans() {
        // A 5-token document with a BOS: row p predicts document token p (bosShift 1). Spans: tokens [0,2) [2,2) [2,5).
        int[] ends = {2, 2, 5};
        ScoreResult whole = score(new int[] {5}, ends);
        ScoreResult split = score(new int[] {1, 0, 3, 1}, ends);
        for (ScoreResult r : new ScoreResult[] {whole, split}) {
            assertEquals(5, r.numTokens());
            assertEquals(5, r.numScored());
            assertEquals(-7.75, r.sumLogprob());
            assertArrayEquals(LP, r.tokenLogprobs());
            assertArrayEquals(new int[] {2, 0, 3}, r.spans().numScored());
            assertArrayEquals(new double[] {-1.5, 0, -6.25}, r.spans().sumLogprob());
        }
    }

    private static ScoreResult score(int[] pieces, int[] ends) {
        RunningScore s = new RunningScore(5, 6, true, ends);
        int off = 0;
        for (int m : pieces) {
            s.add(LP, off, m);
            off += m;
        }
        return s.result();
    }

    @Test
    void withoutBosTheFirstTokensSpanHasOneScoredTokenLess() {
        RunningScore s = new RunningScore(6, 6, false, new int[] {2, 6});
        s.add(LP, 0, 5);
        ScoreResult r = s.result();
        assertNull(r.tokenLogprobs());
        assertArrayEquals(new int[] {1, 4}, r.spans().numScored());
        assertArrayEquals(new double[] {-0.5, -7.25}, r.spans().sumLogprob());
    }

    @Test
    void aOneTokenDocumentWithoutBosHasNothingToScore() {
        ScoreResult r = new RunningScore(1, 1, false, null).result();
        assertEquals(0, r.numScored());
        assertEquals(Double.NaN, r.meanNll());
    }

    @Test
    void missingOrExtraRowsAreRefused() {
        RunningScore s = new RunningScore(3, 3, false, null);
        s.add(LP, 0, 1);
        assertThrows(IllegalStateException.class, s::result);
        assertThrows(IllegalArgumentException.class, () -> s.add(LP, 1, 2));
        assertThrows(IllegalArgumentException.class, () -> new RunningScore(3, 5, false, null));
    }
}
