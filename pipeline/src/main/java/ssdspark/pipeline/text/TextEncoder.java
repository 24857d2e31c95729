package ssdspark.pipeline.text;

/** Text to token ids. {@link HfTokenizer} is the real one; tests pass lambdas. Must be thread-safe. */
@FunctionalInterface
public interface TextEncoder {
    /** The ids of text; an empty array when the text yields no tokens (the document counts as empty). */
    int[] encode(String text);

    /**
     * The ids of text and where each token's text ends: ends[i] is the exclusive end of token i in Unicode code
     * points of text, 0 for a token without text (a special token the tokenizer adds).
     */
    default Encoded encodeWithEnds(String text) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not report token offsets");
    }

    /** Ids with their end offsets (same length; null when not asked for). */
    record Encoded(int[] ids, int[] ends) {
        public Encoded {
            if (ends != null && ids.length != ends.length) throw new IllegalArgumentException(ids.length + " ids but " + ends.length + " offsets");
        }
    }
}
