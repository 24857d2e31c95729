package ssdspark.model;

import ssdspark.model.DocumentRunner.ScoreResult;
import ssdspark.model.DocumentRunner.SpanScores;

/**
 * One document's score built up as its log-probs come back from an engine, piece by piece in order: the sum,
 * optionally every token's log-prob, and per-span sums. The one place where log-probs become a {@link ScoreResult}:
 * {@link DocumentRunner} (tokens on the host) and the RAPIDS columnar path (tokens in device memory) both use it,
 * so their results are built the same way.
 *
 * <p>Rows are positions of the scored sequence (the document, after the BOS when one was prepended): row p holds
 * log p(token p+1 | tokens 0..p), so a sequence of n tokens has n-1 rows to add.
 */
public final class RunningScore {
    private final int numTokens, rows, bosShift;
    private final float[] perToken;     // null unless every token's log-prob is kept
    private final SpanScores spans;     // null unless spans were asked for
    private int next;                   // the row the next added log-prob belongs to
    private int span;                   // the span of the token row `next` predicts
    private double sum;

    /**
     * @param docLength the document's own tokens (without the BOS), at least 1
     * @param seqLength tokens of the scored sequence: docLength, or docLength + 1 with a BOS
     * @param perToken  keep every row's log-prob
     * @param spanEnds  cumulative token ends of the document's spans (see {@link SpanScores}); null for none
     */
    public RunningScore(int docLength, int seqLength, boolean perToken, int[] spanEnds) {
        if (docLength < 1 || seqLength < docLength || seqLength > docLength + 1)
            throw new IllegalArgumentException("a scored sequence of " + seqLength + " tokens cannot hold a document of " + docLength);
        this.numTokens = docLength;
        this.rows = seqLength - 1;
        this.bosShift = seqLength - docLength;
        this.perToken = perToken ? new float[rows] : null;
        if (spanEnds != null) {
            SpanScores.check(spanEnds, docLength);
            this.spans = new SpanScores(spanEnds.clone(), new int[spanEnds.length], new double[spanEnds.length]);
        } else {
            this.spans = null;
        }
    }

    /** Rows not yet added. */
    public int remaining() { return rows - next; }

    /** Adds lp[off, off+m): the log-probs of the next m rows. */
    public void add(float[] lp, int off, int m) {
        if (m < 0 || m > remaining())
            throw new IllegalArgumentException(m + " log-probs added to a document with " + remaining() + " rows left");
        for (int i = 0; i < m; i++) sum += lp[off + i];
        if (perToken != null) System.arraycopy(lp, off, perToken, next, m);
        if (spans != null) {
            int[] ends = spans.tokenEnds();
            for (int i = 0; i < m; i++) {
                int token = next + i + 1 - bosShift; // the document token this row predicts
                while (token >= ends[span]) span++;
                spans.numScored()[span]++;
                spans.sumLogprob()[span] += lp[off + i];
            }
        }
        next += m;
    }

    /** The document's score; every row must have been added. */
    public ScoreResult result() {
        if (remaining() != 0) throw new IllegalStateException(remaining() + " of " + rows + " rows were never added");
        return new ScoreResult(numTokens, rows, sum, perToken, spans);
    }
}
