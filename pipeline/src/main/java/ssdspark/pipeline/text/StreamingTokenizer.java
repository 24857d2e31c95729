package ssdspark.pipeline.text;

import org.apache.spark.TaskContext;
import org.apache.spark.sql.Row;
import org.apache.spark.util.TaskCompletionListener;
import ssdspark.pipeline.CloseableIterator;
import ssdspark.udf.Doc;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Tokenizes (id, text) rows as they are pulled, so a partition is never held in memory, and hands out the
 * documents in input order. A row whose text is null or yields no tokens, or that the tokenizer fails on, becomes
 * a document with an error instead of failing the task. Columns after id and text (when both are the first two)
 * travel with the document as {@link Doc#carried()}. With a {@link TextMeasure} each document also gets the UTF-8
 * bytes its score covers and, when asked for, its spans.
 *
 * <p>With one thread each row is tokenized by the thread that pulls it. With more, the thread that pulls reads
 * the rows (Spark's iterator is used by that thread alone) in blocks of about {@link #BLOCK_CHARS} characters and
 * hands each block to one of {@code threads} tokenizing threads of this partition, keeping {@code 2 * threads}
 * blocks in flight and handing the documents out in input order: the same documents as with one thread, tokenized
 * threads times as fast while the cores are there. Close it (the batch sources do, and so does the end of its
 * Spark task) to end the threads; it also closes itself when the rows run out.
 */
public final class StreamingTokenizer implements CloseableIterator<Doc> {
    /** Error of a document whose text yields no tokens (empty, or only characters the tokenizer drops). */
    public static final String EMPTY = "empty document";
    /** Error of a document whose text is null (a missing field in JSON, a null in Parquet). */
    public static final String MISSING = "missing text";
    /** Characters of text per block handed to a tokenizing thread (a block ends after the document that reaches it). */
    public static final int BLOCK_CHARS = 32 * 1024;
    /** Documents per block at most (many short ones). */
    public static final int BLOCK_DOCS = 256;
    /** Names of the tokenizing threads start with this (thread dumps; tests check none outlives its task). */
    public static final String THREAD_PREFIX = "ssdspark-tokenize-";
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final Iterator<Row> rows;
    private final TextEncoder encoder;
    private final int idField;
    private final int textField;
    private final TextMeasure measure;
    private final ExecutorService pool;          // null: tokenized on the pulling thread
    private final int maxInFlight;
    private final ArrayDeque<Future<Doc[]>> inFlight = new ArrayDeque<>();
    private Doc[] block;                          // the oldest finished block, handed out from pos
    private int pos;
    private volatile boolean closed; // close() may come from the task's completion listener
    private final long task = org.apache.spark.TaskContext.get() == null ? -1 : org.apache.spark.TaskContext.get().taskAttemptId();

    /** Rows of (id, text), as {@link TextInput#read} gives them. */
    public StreamingTokenizer(Iterator<Row> rows, TextEncoder encoder) { this(rows, encoder, null); }

    /** Rows of (id, text), each document measured with measure (null: not measured). */
    public StreamingTokenizer(Iterator<Row> rows, TextEncoder encoder, TextMeasure measure) { this(rows, encoder, 0, 1, measure, 1); }

    /** Rows of (id, text, carried...), tokenized by threads threads (1: by the pulling thread). */
    public StreamingTokenizer(Iterator<Row> rows, TextEncoder encoder, TextMeasure measure, int threads) {
        this(rows, encoder, 0, 1, measure, threads);
    }

    public StreamingTokenizer(Iterator<Row> rows, TextEncoder encoder, int idField, int textField, TextMeasure measure, int threads) {
        if (threads < 1) throw new IllegalArgumentException("tokenizer threads must be at least 1, got " + threads);
        this.rows = rows;
        this.encoder = encoder;
        this.idField = idField;
        this.textField = textField;
        this.measure = measure;
        this.maxInFlight = 2 * threads;
        if (threads == 1) {
            pool = null;
        } else {
            pool = Executors.newFixedThreadPool(threads, r -> {
                Thread t = new Thread(r, THREAD_PREFIX + THREADS.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
            TaskContext task = TaskContext.get();
            if (task != null) task.addTaskCompletionListener((TaskCompletionListener) c -> close());
        }
    }

    @Override
    public boolean hasNext() {
        if (closed) return false;
        if (pool == null) return rows.hasNext();
        if (block != null && pos < block.length) return true;
        block = null;
        submit();
        if (inFlight.isEmpty()) {
            close();
            return false;
        }
        block = await(inFlight.poll());
        pos = 0;
        submit(); // keep the threads busy while this block is handed out
        return true;
    }

    @Override
    public Doc next() {
        if (!hasNext()) throw new NoSuchElementException();
        if (pool == null) return tokenize(rows.next());
        Doc d = block[pos];
        block[pos++] = null; // handed out: the batch holds it now
        return d;
    }

    /** Ends the tokenizing threads; nothing is handed out after. Idempotent. */
    @Override
    public void close() {
        closed = true;
        if (pool != null) pool.shutdownNow(); // the blocks in flight are dropped with this iterator
    }

    /** Reads blocks of rows and hands them to the threads until 2 * threads are in flight or the rows run out. */
    private void submit() {
        while (inFlight.size() < maxInFlight && rows.hasNext()) {
            List<Row> part = new ArrayList<>();
            long chars = 0;
            while (chars < BLOCK_CHARS && part.size() < BLOCK_DOCS && rows.hasNext()) {
                Row r = rows.next();
                part.add(r);
                if (!r.isNullAt(textField)) chars += r.getString(textField).length();
            }
            inFlight.add(pool.submit(() -> {
                Doc[] docs = new Doc[part.size()];
                for (int i = 0; i < docs.length; i++) docs[i] = tokenize(part.get(i));
                return docs;
            }));
        }
    }

    private static Doc[] await(Future<Doc[]> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for tokenized documents", e);
        } catch (ExecutionException e) {
            Throwable t = e.getCause();
            if (t instanceof RuntimeException) throw (RuntimeException) t;
            if (t instanceof Error) throw (Error) t;
            throw new IllegalStateException("tokenizing failed: " + t, t);
        }
    }

    private Doc tokenize(Row r) {
        Object id = r.get(idField);
        String bad = task < 0 ? null : Utf8.problem(task, id); // --strict-utf8: what the plain-text reader found (noted as it read r)
        if (bad != null) return Doc.failed(id, bad, carried(r));
        return tokenize(encoder, id, r.isNullAt(textField) ? null : r.getString(textField), carried(r), measure);
    }

    /** One document's text (null: missing) as a document, failed with the reason when it cannot be run. */
    public static Doc tokenize(TextEncoder encoder, Object id, String text, Object[] carried) {
        return tokenize(encoder, id, text, carried, null);
    }

    /** As above, the document measured with measure (null: not measured). */
    public static Doc tokenize(TextEncoder encoder, Object id, String text, Object[] carried, TextMeasure measure) {
        if (text == null) return Doc.failed(id, MISSING, carried);
        int[] tokens, ends = null;
        int firstEnd = -1;
        try {
            if (measure != null && measure.needsOffsets()) {
                TextEncoder.Encoded e = encoder.encodeWithEnds(text);
                tokens = e.ids();
                ends = e.ends();
                firstEnd = tokens.length == 0 ? -1 : ends[0];
            } else if (measure != null && measure.needsFirstEnd()) {
                TextEncoder.FirstEnd e = encoder.encodeWithFirstEnd(text);
                tokens = e.ids();
                firstEnd = e.firstEnd();
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
        return d.withText(measure.bytesScored(text, firstEnd), measure.spans() == null ? null : measure.spansOf(text, ends));
    }

    private Object[] carried(Row r) {
        int from = Math.max(idField, textField) + 1;
        if (Math.min(idField, textField) != 0 || from != 2 || r.length() <= from) return null;
        Object[] v = new Object[r.length() - from];
        for (int k = 0; k < v.length; k++) v[k] = r.get(from + k);
        return v;
    }
}
