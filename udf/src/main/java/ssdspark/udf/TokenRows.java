package ssdspark.udf;

import org.apache.spark.sql.Row;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import ssdspark.model.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

/**
 * Pre-tokenized input rows (id, tokens, carried...) as {@link Doc}s, one at a time as they are pulled. A row
 * whose tokens are null or not integers becomes a failed document; it never fails the partition.
 */
public final class TokenRows {
    private TokenRows() {}

    /** The documents of rows, lazily. */
    public static Iterator<Doc> docs(Iterator<Row> rows) {
        return new Iterator<>() {
            @Override public boolean hasNext() { return rows.hasNext(); }

            @Override public Doc next() { return toDoc(rows.next()); }
        };
    }

    /** One (id, tokens, carried...) row as a document. */
    public static Doc toDoc(Row r) {
        Object id = r.get(0);
        Object[] carried = carried(r, 2);
        try {
            return Doc.of(id, tokensOf(r, 1), carried);
        } catch (IllegalArgumentException e) {
            return Doc.failed(id, e.getMessage(), carried);
        }
    }

    /** Values of columns from..end, or null when there are none. */
    public static Object[] carried(Row r, int from) {
        int n = r.length() - from;
        if (n <= 0) return null;
        Object[] v = new Object[n];
        for (int i = 0; i < n; i++) v[i] = r.get(from + i);
        return v;
    }

    /**
     * The token ids of column i (array of integral numbers) as int[]. Ids beyond int range are
     * reported as outside the vocabulary, like any other too-large id.
     */
    public static int[] tokensOf(Row row, int i) {
        if (row.isNullAt(i)) throw new IllegalArgumentException("tokens is null: nothing to score or embed");
        if (row.get(i) instanceof String text) return tokensOfJson(text);
        return tokensOf(row.getList(i));
    }

    /** The token ids of a list of integral numbers as int[], with the same checks as {@link #tokensOf(Row, int)}. */
    public static int[] tokensOf(List<?> list) {
        int[] out = new int[list.size()];
        int p = 0;
        for (Object v : list) { // by iterator: indexing a Scala linked list would be quadratic
            if (v instanceof Integer) { out[p++] = (Integer) v; continue; }
            if (v == null) throw new IllegalArgumentException(nullToken(p));
            if (!(v instanceof Long || v instanceof Short || v instanceof Byte))
                throw new IllegalArgumentException("token at position " + p + " is a " + v.getClass().getSimpleName() + ", not an integer");
            long t = ((Number) v).longValue();
            if (t < Integer.MIN_VALUE || t > Integer.MAX_VALUE)
                throw new IllegalArgumentException("token id " + t + " at position " + p + " is outside the model's vocabulary");
            out[p++] = (int) t;
        }
        return out;
    }

    /** A row's error when its token at position (0-based) is NULL; every reader of token arrays says it so. */
    public static String nullToken(int position) { return "token at position " + position + " is null"; }

    /**
     * A tokens value the JSON reader kept as text (the column mixed integers with other values, so Spark could
     * not type it; see pipeline's Corpus): parsed here so each row gets its own verdict, naming the position.
     * Text starting with {@link #ROW_ERROR} is the reader's own message for the row (a malformed line).
     */
    static int[] tokensOfJson(String text) {
        if (text.startsWith(ROW_ERROR)) throw new IllegalArgumentException(text.substring(ROW_ERROR.length()));
        try (JsonParser p = Json.parser(text)) {
            JsonToken first;
            try {
                first = p.nextToken();
            } catch (JsonProcessingException e) {
                first = null; // a bare string: Spark hands over a JSON string's content without quotes
            }
            if (first != JsonToken.START_ARRAY)
                throw new IllegalArgumentException("tokens is " + shorten(text) + ", not an array of integer token ids");
            int[] out = new int[16];
            int n = 0;
            for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
                if (t == JsonToken.VALUE_NUMBER_INT) {
                    long v = p.getNumberType() == JsonParser.NumberType.BIG_INTEGER ? Long.MAX_VALUE : p.getLongValue(); // beyond long: too large too
                    if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE)
                        throw new IllegalArgumentException("token id " + shorten(p.getText()) + " at position " + n + " is outside the model's vocabulary");
                    if (n == out.length) out = Arrays.copyOf(out, 2 * n);
                    out[n++] = (int) v;
                    continue;
                }
                if (t == JsonToken.START_ARRAY || t == JsonToken.START_OBJECT) p.skipChildren();
                String what = t == JsonToken.VALUE_NULL ? "null" : t == JsonToken.START_ARRAY ? "an array"
                        : t == JsonToken.START_OBJECT ? "an object" : t == JsonToken.VALUE_STRING ? "\"" + shorten(p.getText()) + "\"" : shorten(p.getText());
                throw new IllegalArgumentException("token at position " + n + " is " + what + ", not an integer token id");
            }
            return Arrays.copyOf(out, n);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("tokens is not valid JSON (" + Json.error(e).getMessage() + ")");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Marks a tokens text that is the reader's message for the row instead of tokens. */
    public static final String ROW_ERROR = "\u0000ssdspark row error: ";

    private static String shorten(String s) { return s.length() > 40 ? s.substring(0, 40) + "…" : s; }
}
