package ssdspark.udf;

import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ssdspark.model.DocumentRunner;
import ssdspark.model.DocumentRunner.Outcome;
import ssdspark.model.Engine;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Scores or embeds a partition, one output row per input row, in input order. Rows come in batches from a
 * {@link BatchSource} (about {@link JobSpec#tokenBudget()} tokens each; the pipeline's sources tokenize the
 * next batch on another thread while the model runs this one); each batch goes through
 * {@link DocumentRunner#scoreAll}/{@link DocumentRunner#embedAll} as packed variable-length engine batches,
 * documents longer than {@link JobSpec#chunkTokens()} in pieces with their state carried. It streams: a batch
 * is read when Spark asks for a row beyond the previous one, so a partition is never held in memory, and the
 * model comes from the executor's {@link ModelCache} with the first batch that has something to run.
 *
 * <p>Rows are built by {@link OutputRows}, which also gives their schema. A document the model cannot take (null
 * or empty tokens, ids outside the vocabulary, no text, a piece that does not fit in GPU memory even alone) becomes
 * a row with the message in error and nulls elsewhere; a pass that runs out of GPU memory is split and run again
 * (counted in {@link JobCounters#memorySplits()}); anything else (a broken model, the JVM's heap) fails the task.
 */
public final class DocumentFunction implements MapPartitionsFunction<Row, Row> {
    private static final Logger LOG = LoggerFactory.getLogger(DocumentFunction.class);
    /** The first task in this JVM logs how it started: where a cold job's first seconds go. */
    private static final AtomicBoolean FIRST_TASK = new AtomicBoolean(true);

    private final JobSpec spec;
    private final JobCounters counters; // null: no accounting
    private final BatchSource source;
    private transient OutputRows output; // built on the executor

    /** Pre-tokenized (id, tokens, carried...) rows, batched on the task's thread. */
    public DocumentFunction(JobSpec spec, JobCounters counters) { this(spec, counters, BatchSource.tokenRows()); }

    public DocumentFunction(JobSpec spec, JobCounters counters, BatchSource source) {
        this.spec = spec;
        this.counters = counters;
        this.source = source;
    }

    public JobSpec spec() { return spec; }

    private OutputRows output() {
        if (output == null) output = OutputRows.of(spec);
        return output;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        org.apache.spark.TaskContext task = org.apache.spark.TaskContext.get();
        if (counters != null && task != null) counters.bindTo(task); // the output commit records the part's counts
        StartLog start = FIRST_TASK.compareAndSet(true, false) ? new StartLog() : null;
        return rows(source.open(counters == null ? rows : new CountingRows(rows, counters), spec), start);
    }

    /** Output rows of batches of documents, computed a batch at a time as they are asked for. */
    public Iterator<Row> rows(Iterator<List<Doc>> batches) { return rows(batches, null); }

    private Iterator<Row> rows(Iterator<List<Doc>> batches, StartLog start) {
        return new Iterator<>() {
            private final ArrayDeque<Row> ready = new ArrayDeque<>();
            private DocumentRunner runner; // on the first batch with a runnable document: an empty partition loads nothing
            private boolean done;
            private StartLog first = start; // logged, then dropped, with the first batch's rows

            @Override
            public boolean hasNext() {
                while (ready.isEmpty()) {
                    if (done) return false;
                    if (!batches.hasNext()) {
                        done = true;
                        close(batches);
                        return false;
                    }
                    List<Doc> batch = batches.next();
                    long read = System.nanoTime();
                    if (runner == null && batch.stream().anyMatch(d -> d.error() == null)) {
                        Engine engine = ModelCache.forTask(spec);
                        runner = new DocumentRunner(engine, spec.maxAttentionTokens())
                                .onPass(n -> credit(n * rowsPerToken));
                        if (counters != null) counters.noteBackend(engine.backend());
                    }
                    long engineReady = System.nanoTime();
                    ready.addAll(apply(runner, batch));
                    if (first != null) {
                        first.log(batch, read, engineReady, System.nanoTime());
                        first = null;
                    }
                }
                return true;
            }

            @Override
            public Row next() {
                if (!hasNext()) throw new NoSuchElementException();
                return ready.poll();
            }
        };
    }

    /** When the first task of a JVM started, and how long its first batch took to read, to get an engine and to run. */
    private static final class StartLog {
        final long started = System.nanoTime();
        final long uptimeMs = java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime();

        void log(List<Doc> batch, long read, long engineReady, long ran) {
            long tokens = 0;
            for (Doc d : batch) if (d.tokens() != null) tokens += d.tokens().length;
            LOG.info("first task in this JVM (started {} ms after the JVM): first batch of {} documents, {} tokens read in {} ms,"
                    + " engine ready {} ms later, batch run in {} ms", uptimeMs, batch.size(), tokens, ms(read - started),
                    ms(engineReady - read), ms(ran - engineReady));
        }

        private static long ms(long nanos) { return nanos / 1_000_000; }
    }

    private static void close(Object it) {
        if (it instanceof AutoCloseable) {
            try {
                ((AutoCloseable) it).close();
            } catch (Exception e) {
                throw new IllegalStateException("closing the batch source failed: " + e, e);
            }
        }
    }

    /** Input rows per engine token of the batch being run: engine passes count as that many rows done (progress). */
    private double rowsPerToken;
    /** Rows of the batch being run credited so far. */
    private double credited;

    private void credit(double rows) {
        credited += rows;
        if (counters != null) counters.addRowsDone(rows);
    }

    /** Counts the rows a batch source pulls from the input (the reader's position, read-ahead included). */
    private static final class CountingRows implements Iterator<Row> {
        private final Iterator<Row> rows;
        private final JobCounters counters;

        CountingRows(Iterator<Row> rows, JobCounters counters) {
            this.rows = rows;
            this.counters = counters;
        }

        @Override public boolean hasNext() { return rows.hasNext(); }

        @Override
        public Row next() {
            Row r = rows.next();
            counters.addRowRead();
            return r;
        }
    }

    /** One batch of documents to its output rows, in order. runner may be null when every document failed. */
    public List<Row> apply(DocumentRunner runner, List<Doc> batch) {
        List<int[]> run = new ArrayList<>(batch.size());
        List<int[]> spanEnds = spec.spans() == null ? null : new ArrayList<>(batch.size());
        for (Doc d : batch) {
            if (d.error() != null) continue;
            run.add(d.tokens());
            if (spanEnds != null) spanEnds.add(spec.spans().spansOf(d).tokenEnds());
        }
        // --prepend-bos adds a token per document: widen the budget so the batch still goes in one pass.
        int budget = spec.bosId() >= 0 ? spec.tokenBudget() + run.size() : spec.tokenBudget();
        long splitsBefore = runner == null ? 0 : runner.memorySplits();
        long engineTokens = spec.bosId() >= 0 ? run.size() : 0;
        for (int[] t : run) engineTokens += t.length;
        rowsPerToken = engineTokens == 0 ? 0 : (double) batch.size() / engineTokens;
        credited = 0;
        List<? extends Outcome<?>> outcomes = run.isEmpty() ? List.of()
                : spec.task() == JobSpec.Task.SCORE
                ? runner.scoreAll(run, spanEnds, spec.scoreOptions(), budget)
                : runner.embedAll(run, spec.chunkTokens(), budget);
        if (counters != null && runner != null) counters.addMemorySplits(runner.memorySplits() - splitsBefore);
        credit(batch.size() - credited); // rows no engine pass ran (errors) and rounding: the batch is done
        return rows(batch, outcomes);
    }

    /**
     * The output rows of a batch the model has run: outcomes.get(k) is the k-th document without an error of its own
     * (the RAPIDS columnar path runs documents whose ids stay in device memory, then builds its rows here too).
     */
    public List<Row> rows(List<Doc> batch, List<? extends Outcome<?>> outcomes) {
        List<Row> out = new ArrayList<>(batch.size());
        long errors = 0, tokens = 0;
        int k = 0;
        for (Doc d : batch) {
            String error = d.error();
            Object result = null;
            if (error == null) {
                Outcome<?> o = outcomes.get(k++);
                error = o.error();
                result = o.result();
            }
            if (error != null) {
                errors++;
                if (counters != null) counters.noteError(error);
                out.add(output().errorRow(d, error));
            } else {
                tokens += d.tokens().length;
                out.add(output().row(d, result));
            }
        }
        if (counters != null) counters.addBatch(batch.size(), errors, tokens);
        return out;
    }
}
