package ssdspark.udf;

/**
 * A document cut into consecutive spans that cover it: span k runs from ends[k-1] (0 for k = 0) to ends[k],
 * exclusive, in Unicode code points of the text (tokens for token windows), and holds the tokens
 * [tokenEnds[k-1], tokenEnds[k]). Not copied: do not modify the arrays.
 */
public record DocSpans(int[] ends, int[] tokenEnds) {
    public DocSpans {
        if (ends.length != tokenEnds.length) throw new IllegalArgumentException(ends.length + " span ends but " + tokenEnds.length + " token ends");
    }

    public int size() { return ends.length; }

    public int start(int k) { return k == 0 ? 0 : ends[k - 1]; }

    /** Windows of a pre-tokenized document: offsets are token positions. */
    public static DocSpans windows(int[] tokenEnds) { return new DocSpans(tokenEnds, tokenEnds); }
}
