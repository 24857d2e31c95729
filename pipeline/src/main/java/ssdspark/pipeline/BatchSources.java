package ssdspark.pipeline;

import org.apache.spark.sql.Row;
import ssdspark.pipeline.text.StreamingTokenizer;
import ssdspark.pipeline.text.TextMeasure;
import ssdspark.pipeline.text.TokenizerSpec;
import ssdspark.pipeline.text.TokenizerThreads;
import ssdspark.udf.BatchSource;
import ssdspark.udf.Doc;
import ssdspark.udf.JobSpec;
import ssdspark.udf.TokenBudgetBatcher;
import ssdspark.udf.TokenRows;

import java.util.Iterator;
import java.util.List;

/**
 * Where the partition function's batches come from: the input's documents (token rows as they are, text rows
 * tokenized) batched by {@link TokenBudgetBatcher}, read ahead on a producer thread (a bounded queue of
 * {@code prefetch} batches, {@link Prefetcher#inTask}) so the engine never waits for Spark's reader or the
 * tokenizer while there is input left: with prefetch p, at most p + 2 batches of rows are in memory (p
 * queued, one being built, one being run), plus the batcher's one document of look-ahead, plus for text the
 * tokenizer's blocks in flight (2 per tokenizing thread, {@link StreamingTokenizer#BLOCK_CHARS} characters each).
 */
public final class BatchSources {
    private BatchSources() {}

    /** Pre-tokenized rows (id, tokens, carried...). prefetch 0: batched on the task's thread. */
    public static BatchSource tokens(int prefetch) { return new Tokens(checkPrefetch(prefetch)); }

    /** Text rows (id, text, carried...), tokenized with tokenizer by the auto number of threads ({@link TokenizerThreads}). */
    public static BatchSource text(TokenizerSpec tokenizer, int prefetch) { return text(tokenizer, prefetch, 0); }

    /**
     * Text rows (id, text, carried...), tokenized with tokenizer by tokenizerThreads threads per task (0: auto, see
     * {@link TokenizerThreads}; 1: by the thread that reads the rows). prefetch 0: rows read on the task's thread.
     */
    public static BatchSource text(TokenizerSpec tokenizer, int prefetch, int tokenizerThreads) {
        if (tokenizerThreads < 0) throw new IllegalArgumentException("tokenizer threads must be 0 (auto) or more, got " + tokenizerThreads);
        return new Text(tokenizer, checkPrefetch(prefetch), tokenizerThreads);
    }

    /**
     * docs in the job's batches ({@link TokenBudgetBatcher#of}), prefetch of them prepared ahead on a producer thread
     * that sees the Spark task (0: on the caller's thread). Close the result when done (Spark also closes it at task end).
     */
    public static CloseableIterator<List<Doc>> batches(Iterator<Doc> docs, JobSpec spec, int prefetch) {
        return batches(TokenBudgetBatcher.of(docs, spec), docs, prefetch);
    }

    /** docs in batches of tokenBudget tokens and maxDocs documents at most (one budget each), prefetched as above. */
    public static CloseableIterator<List<Doc>> batches(Iterator<Doc> docs, long tokenBudget, int maxDocs, int prefetch) {
        return batches(new TokenBudgetBatcher(docs, tokenBudget, maxDocs), docs, prefetch);
    }

    private static CloseableIterator<List<Doc>> batches(Iterator<List<Doc>> batches, Iterator<Doc> docs, int prefetch) {
        CloseableIterator<List<Doc>> ahead = checkPrefetch(prefetch) > 0 ? Prefetcher.inTask(batches, prefetch) : null;
        return new CloseableIterator<>() {
            @Override public boolean hasNext() { return ahead != null ? ahead.hasNext() : batches.hasNext(); }

            @Override public List<Doc> next() { return ahead != null ? ahead.next() : batches.next(); }

            /** The producer first (it alone uses docs), then docs (e.g. its tokenizing threads). */
            @Override public void close() {
                try {
                    if (ahead != null) ahead.close();
                } finally {
                    if (docs instanceof CloseableIterator<?> c) c.close();
                }
            }
        };
    }

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
            return batches(TokenRows.docs(rows), spec, prefetch);
        }
    }

    private static final class Text implements BatchSource {
        private static final long serialVersionUID = 1L;
        private final TokenizerSpec tokenizer;
        private final int prefetch;
        private final int threads; // 0: auto, resolved in the task

        Text(TokenizerSpec tokenizer, int prefetch, int threads) {
            this.tokenizer = tokenizer;
            this.prefetch = prefetch;
            this.threads = threads;
        }

        @Override
        public Iterator<List<Doc>> open(Iterator<Row> rows, JobSpec spec) {
            StreamingTokenizer docs = new StreamingTokenizer(rows, tokenizer.open(), TextMeasure.of(spec), TokenizerThreads.resolve(threads));
            return batches(docs, spec, prefetch);
        }
    }
}
