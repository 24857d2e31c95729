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

    /**
     * The ids of text and the end of the first token's text, in Unicode code points (0 for a token without text; -1
     * when there are no ids): all that bits per byte needs without spans. The default takes it from
     * {@link #encodeWithEnds}; {@link HfTokenizer} finds it without asking for every token's offsets.
     */
    default FirstEnd encodeWithFirstEnd(String text) {
        Encoded e = encodeWithEnds(text);
        return new FirstEnd(e.ids(), e.ids().length == 0 ? -1 : e.ends()[0]);
    }

    /** Ids and where the first token's text ends (see {@link #encodeWithFirstEnd}). */
    record FirstEnd(int[] ids, int firstEnd) {}

    /** Ids with their end offsets (same length; null when not asked for). */
    record Encoded(int[] ids, int[] ends) {
        public Encoded {
            if (ends != null && ids.length != ends.length) throw new IllegalArgumentException(ids.length + " ids but " + ends.length + " offsets");
        }
    }
}
