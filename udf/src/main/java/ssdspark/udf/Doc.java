package ssdspark.udf;

/**
 * One input document on its way to the model: its id, its token ids, and the values of the input columns
 * carried to the output unchanged (--partition-by, --keep-cols; null when none). A document with an error
 * (no text, a tokenizer failure, tokens that are not integers) is not run: it becomes an output row with
 * the message in 'error'. Documents the model cannot take (empty, ids outside the vocabulary) are found by
 * the model and reported the same way.
 *
 * @param numBytes text input: the UTF-8 bytes of the text the score covers (all of it with a BOS; without one, the text
 *                 after the first token, which nothing predicts); -1 otherwise
 * @param spans    text input with --spans: the document's spans; null otherwise (token windows are cut by the job)
 */
public record Doc(Object id, int[] tokens, String error, Object[] carried, long numBytes, DocSpans spans) {
    private static final int[] NONE = new int[0];

    public static Doc of(Object id, int[] tokens, Object[] carried) { return new Doc(id, tokens == null ? NONE : tokens, null, carried, -1, null); }

    public static Doc failed(Object id, String error, Object[] carried) { return new Doc(id, NONE, error, carried, -1, null); }

    /** The document with what its text tells (UTF-8 bytes scored, spans). */
    public Doc withText(long numBytes, DocSpans spans) { return new Doc(id, tokens, error, carried, numBytes, spans); }

    /** Tokens the document brings to a batch (0 for a failed one). */
    public int length() { return error == null ? tokens.length : 0; }
}
