package ssdspark.pipeline.text;

import org.apache.spark.sql.Row;

import java.util.Iterator;

/** The text path of one partition: rows of (id, text) → tokenized, packed batches, prepared ahead of the consumer. */
public final class TextBatches {
    private TextBatches() {}

    /**
     * Batches of the partition's rows. With prefetch ≥ 1 a producer thread tokenizes up to prefetch
     * batches ahead (see {@link Prefetcher#inTask}); with 0 everything happens on the caller's thread.
     * Close the result when done (Spark also closes it at task end).
     */
    public static CloseableIterator<TokenBatch> open(Iterator<Row> rows, TokenizerSpec tokenizer, long tokenBudget, int maxDocs, int prefetch) {
        return open(rows, tokenizer.open(), tokenBudget, maxDocs, prefetch);
    }

    public static CloseableIterator<TokenBatch> open(Iterator<Row> rows, TextEncoder encoder, long tokenBudget, int maxDocs, int prefetch) {
        if (prefetch < 0) throw new IllegalArgumentException("prefetch must be 0 (off) or more, got " + prefetch);
        Iterator<TokenBatch> batches = new TokenBudgetBatcher(new StreamingTokenizer(rows, encoder), tokenBudget, maxDocs);
        if (prefetch > 0) return Prefetcher.inTask(batches, prefetch);
        return new CloseableIterator<>() {
            @Override public boolean hasNext() { return batches.hasNext(); }
            @Override public TokenBatch next() { return batches.next(); }
            @Override public void close() {}
        };
    }
}
