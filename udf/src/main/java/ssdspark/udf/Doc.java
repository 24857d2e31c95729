package ssdspark.udf;

/**
 * One input document on its way to the model: its id, its token ids, and the values of the input columns
 * carried to the output unchanged (--partition-by, --keep-cols; null when none). A document with an error
 * (no text, a tokenizer failure, tokens that are not integers) is not run: it becomes an output row with
 * the message in 'error'. Documents the model cannot take (empty, ids outside the vocabulary) are found by
 * the model and reported the same way.
 */
public record Doc(Object id, int[] tokens, String error, Object[] carried) {
    private static final int[] NONE = new int[0];

    public static Doc of(Object id, int[] tokens, Object[] carried) { return new Doc(id, tokens == null ? NONE : tokens, null, carried); }

    public static Doc failed(Object id, String error, Object[] carried) { return new Doc(id, NONE, error, carried); }

    /** Tokens the document brings to a batch (0 for a failed one). */
    public int length() { return error == null ? tokens.length : 0; }
}
