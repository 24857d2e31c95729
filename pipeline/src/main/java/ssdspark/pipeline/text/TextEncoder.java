package ssdspark.pipeline.text;

/** Text to token ids. {@link HfTokenizer} is the real one; tests pass lambdas. Must be thread-safe. */
@FunctionalInterface
public interface TextEncoder {
    /** The ids of text; an empty array when the text yields no tokens (the document counts as empty). */
    int[] encode(String text);
}
