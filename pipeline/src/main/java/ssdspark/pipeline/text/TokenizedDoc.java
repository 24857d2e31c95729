package ssdspark.pipeline.text;

/**
 * One document after tokenization: its id, its position in the partition, its ids, and why it cannot
 * be run (null when it can). A document with an error has no tokens and still becomes an output row.
 */
public final class TokenizedDoc {
    /** Error of a document whose text yields no tokens (empty, or only characters the tokenizer drops). */
    public static final String EMPTY = "empty document";
    /** Error of a document whose text is null (a missing field in JSON, a null in Parquet). */
    public static final String MISSING = "missing text";

    private static final int[] NONE = new int[0];

    private final Object id;
    private final long index;
    private final int[] tokens;
    private final String error;
    private final Object[] carried;

    private TokenizedDoc(Object id, long index, int[] tokens, String error, Object[] carried) {
        this.id = id;
        this.index = index;
        this.tokens = tokens;
        this.error = error;
        this.carried = carried;
    }

    /** A tokenized document; no tokens makes it an {@link #EMPTY} one. */
    public static TokenizedDoc of(Object id, long index, int[] tokens) { return of(id, index, tokens, null); }

    /** A tokenized document with input values carried to its output row (null: none). */
    public static TokenizedDoc of(Object id, long index, int[] tokens, Object[] carried) {
        return tokens == null || tokens.length == 0 ? failed(id, index, EMPTY, carried) : new TokenizedDoc(id, index, tokens, null, carried);
    }

    public static TokenizedDoc failed(Object id, long index, String error) { return failed(id, index, error, null); }

    public static TokenizedDoc failed(Object id, long index, String error, Object[] carried) {
        return new TokenizedDoc(id, index, NONE, error, carried);
    }

    public Object id() { return id; }

    /** 0-based position of the document in its partition's input. */
    public long index() { return index; }

    /** The ids (not copied: do not modify). */
    public int[] tokens() { return tokens; }

    public int length() { return tokens.length; }

    /** Why the document is not run, or null. */
    public String error() { return error; }

    /** Values of the input columns after id and text, carried to the output row unchanged; null when none. */
    public Object[] carried() { return carried; }

    @Override
    public String toString() { return "doc " + id + " (#" + index + ", " + tokens.length + " tokens" + (error == null ? ")" : ", " + error + ")"); }
}
