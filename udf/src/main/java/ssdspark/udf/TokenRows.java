package ssdspark.udf;

import org.apache.spark.sql.Row;

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
        return tokensOf(row.getList(i));
    }

    /** The token ids of a list of integral numbers as int[], with the same checks as {@link #tokensOf(Row, int)}. */
    public static int[] tokensOf(List<?> list) {
        int[] out = new int[list.size()];
        int p = 0;
        for (Object v : list) { // by iterator: indexing a Scala linked list would be quadratic
            if (v instanceof Integer) { out[p++] = (Integer) v; continue; }
            if (v == null) throw new IllegalArgumentException("token at position " + p + " is null");
            if (!(v instanceof Long || v instanceof Short || v instanceof Byte))
                throw new IllegalArgumentException("token at position " + p + " is a " + v.getClass().getSimpleName() + ", not an integer");
            long t = ((Number) v).longValue();
            if (t < Integer.MIN_VALUE || t > Integer.MAX_VALUE)
                throw new IllegalArgumentException("token id " + t + " at position " + p + " is outside the model's vocabulary");
            out[p++] = (int) t;
        }
        return out;
    }
}
