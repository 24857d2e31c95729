package ssdspark.pipeline;

import org.apache.spark.sql.Row;
import ssdspark.pipeline.text.CloseableIterator;
import ssdspark.pipeline.text.Prefetcher;
import ssdspark.pipeline.text.TextBatches;
import ssdspark.pipeline.text.TokenBatch;
import ssdspark.pipeline.text.TokenizedDoc;
import ssdspark.pipeline.text.TokenizerSpec;
import ssdspark.udf.BatchSource;
import ssdspark.udf.Doc;
import ssdspark.udf.JobSpec;
import ssdspark.udf.TokenRowBatcher;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Where the partition function's batches come from. Both read ahead on a producer thread (a bounded queue of
 * {@code prefetch} batches, {@link Prefetcher#inTask}) so the engine never waits for Spark's reader or the
 * tokenizer while there is input left: with prefetch p, at most p + 2 batches of rows are in memory (p
 * queued, one being built, one being run).
 */
public final class BatchSources {
    private BatchSources() {}

    /** Pre-tokenized rows (id, tokens, carried...). prefetch 0: batched on the task's thread. */
    public static BatchSource tokens(int prefetch) { return new Tokens(checkPrefetch(prefetch)); }

    /** Text rows (id, text, carried...), tokenized with tokenizer. prefetch 0: tokenized on the task's thread. */
    public static BatchSource text(TokenizerSpec tokenizer, int prefetch) { return new Text(tokenizer, checkPrefetch(prefetch)); }

    private static int checkPrefetch(int p) {
        if (p < 0) throw new IllegalArgumentException("prefetch must be 0 (off) or more batches, got " + p);
        return p;
    }

    private static final class Tokens implements BatchSource {
        private static final long serialVersionUID = 1L;
        private final int prefetch;

        Tokens(int prefetch) { this.prefetch = prefetch; }

        @Override
        public Iterator<List<Doc>> open(Iterator<Row> rows, JobSpec spec) {
            Iterator<List<Doc>> batches = new TokenRowBatcher(rows, spec.tokenBudget(), spec.maxBatchDocs());
            return prefetch == 0 ? batches : Prefetcher.inTask(batches, prefetch);
        }
    }

    private static final class Text implements BatchSource {
        private static final long serialVersionUID = 1L;
        private final TokenizerSpec tokenizer;
        private final int prefetch;

        Text(TokenizerSpec tokenizer, int prefetch) {
            this.tokenizer = tokenizer;
            this.prefetch = prefetch;
        }

        @Override
        public Iterator<List<Doc>> open(Iterator<Row> rows, JobSpec spec) {
            CloseableIterator<TokenBatch> batches = TextBatches.open(rows, tokenizer, spec.tokenBudget(), spec.maxBatchDocs(), prefetch);
            return new CloseableIterator<>() {
                @Override public boolean hasNext() { return batches.hasNext(); }

                @Override public List<Doc> next() { return docs(batches.next()); }

                @Override public void close() { batches.close(); }
            };
        }
    }

    static List<Doc> docs(TokenBatch b) {
        List<Doc> out = new ArrayList<>(b.size());
        for (TokenizedDoc d : b.docs())
            out.add(d.error() != null ? Doc.failed(d.id(), d.error(), d.carried()) : Doc.of(d.id(), d.tokens(), d.carried()));
        return out;
    }
}
