package ssdspark.pipeline.text;

import org.apache.spark.sql.Row;
import ssdspark.udf.Doc;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * Tokenizes (id, text) rows one at a time as they are pulled, so a partition is never held in memory.
 * A row whose text is null or yields no tokens, or that the tokenizer fails on, becomes a document
 * with an error instead of failing the task. Columns after id and text (when both are the first two)
 * travel with the document as {@link Doc#carried()}. With a {@link TextMeasure} each document also gets the UTF-8
 * bytes its score covers and, when asked for, its spans.
 */
public final class StreamingTokenizer implements Iterator<Doc> {
    /** Error of a document whose text yields no tokens (empty, or only characters the tokenizer drops). */
    public static final String EMPTY = "empty document";
    /** Error of a document whose text is null (a missing field in JSON, a null in Parquet). */
    public static final String MISSING = "missing text";

    private final Iterator<Row> rows;
    private final TextEncoder encoder;
    private final int idField;
    private final int textField;
    private final TextMeasure measure;

    /** Rows of (id, text), as {@link TextInput#read} gives them. */
    public StreamingTokenizer(Iterator<Row> rows, TextEncoder encoder) { this(rows, encoder, null); }

    /** Rows of (id, text), each document measured with measure (null: not measured). */
    public StreamingTokenizer(Iterator<Row> rows, TextEncoder encoder, TextMeasure measure) { this(rows, encoder, 0, 1, measure); }

    public StreamingTokenizer(Iterator<Row> rows, TextEncoder encoder, int idField, int textField, TextMeasure measure) {
        this.rows = rows;
        this.encoder = encoder;
        this.idField = idField;
        this.textField = textField;
        this.measure = measure;
    }

    @Override
    public boolean hasNext() { return rows.hasNext(); }

    @Override
    public Doc next() {
        if (!rows.hasNext()) throw new NoSuchElementException();
        Row r = rows.next();
        Object id = r.get(idField);
        Object[] carried = carried(r);
        return tokenize(encoder, id, r.isNullAt(textField) ? null : r.getString(textField), carried, measure);
    }

    /** One document's text (null: missing) as a document, failed with the reason when it cannot be run. */
    public static Doc tokenize(TextEncoder encoder, Object id, String text, Object[] carried) {
        return tokenize(encoder, id, text, carried, null);
    }

    /** As above, the document measured with measure (null: not measured). */
    public static Doc tokenize(TextEncoder encoder, Object id, String text, Object[] carried, TextMeasure measure) {
        if (text == null) return Doc.failed(id, MISSING, carried);
        int[] tokens, ends = null;
        try {
            if (measure != null && measure.needsOffsets()) {
                TextEncoder.Encoded e = encoder.encodeWithEnds(text);
                tokens = e.ids();
                ends = e.ends();
            } else {
                tokens = encoder.encode(text);
            }
        } catch (RuntimeException e) {
            // One odd document should not fail a partition of millions; its row carries the reason.
            return Doc.failed(id, "tokenizer failed: " + e, carried);
        }
        if (tokens == null || tokens.length == 0) return Doc.failed(id, EMPTY, carried);
        Doc d = Doc.of(id, tokens, carried);
        if (measure == null) return d;
        return d.withText(measure.bytesScored(text, ends), measure.spans() == null ? null : measure.spansOf(text, ends));
    }

    private Object[] carried(Row r) {
        int from = Math.max(idField, textField) + 1;
        if (Math.min(idField, textField) != 0 || from != 2 || r.length() <= from) return null;
        Object[] v = new Object[r.length() - from];
        for (int k = 0; k < v.length; k++) v[k] = r.get(from + k);
        return v;
    }
}
