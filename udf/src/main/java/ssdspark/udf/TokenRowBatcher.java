package ssdspark.udf;

import org.apache.spark.sql.Row;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * Batches of pre-tokenized rows (id, tokens, carried columns...): consecutive rows, in order, until their
 * tokens reach the token budget or the batch holds maxDocs documents. Lazy: a batch pulls only its own
 * rows, so at most one batch of rows is held. A row whose tokens are null or not integers becomes a
 * failed {@link Doc}; it never fails the partition.
 */
public final class TokenRowBatcher implements Iterator<List<Doc>> {
    private final Iterator<Row> rows;
    private final long tokenBudget;
    private final int maxDocs;

    public TokenRowBatcher(Iterator<Row> rows, long tokenBudget, int maxDocs) {
        if (tokenBudget < 1) throw new IllegalArgumentException("token budget must be at least 1, got " + tokenBudget);
        if (maxDocs < 1) throw new IllegalArgumentException("documents per batch must be at least 1, got " + maxDocs);
        this.rows = rows;
        this.tokenBudget = tokenBudget;
        this.maxDocs = maxDocs;
    }

    @Override
    public boolean hasNext() { return rows.hasNext(); }

    @Override
    public List<Doc> next() {
        if (!rows.hasNext()) throw new NoSuchElementException();
        List<Doc> batch = new ArrayList<>();
        long sum = 0;
        // A batch closes once it is full, before the next row is pulled, so nothing is read ahead.
        while (rows.hasNext() && sum < tokenBudget && batch.size() < maxDocs) {
            Doc d = toDoc(rows.next());
            batch.add(d);
            sum += d.length();
        }
        return batch;
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
        List<Object> list = row.getList(i);
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
