package ssdspark.jobs;

import org.apache.spark.SparkContext;
import org.apache.spark.Success$;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import scala.Tuple4;
import scala.jdk.javaapi.CollectionConverters;
import ssdspark.pipeline.report.RunReport;
import ssdspark.udf.JobCounters;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The driver's progress line: documents and tokens done, tokens/s, and an ETA when the input size is known.
 * Finished tasks' counts come from the accumulators they returned; running tasks' partial counts from the
 * executors' heartbeats (which carry every accumulator of a running task), so a long partition shows progress
 * before it ends. A daemon thread prints a line every interval while the job runs; {@link #close()} stops it.
 */
final class Progress implements AutoCloseable {
    /** Spark's input-metrics accumulator: bytes its file readers read. */
    static final String BYTES_READ = "internal.metrics.input.bytesRead";

    /** What "done" is measured in for the ETA. */
    enum Measure { NONE, ROWS, SPARK_BYTES, OWN_BYTES }

    private final SparkContext sc;
    private final JobCounters counters;
    private final PrintStream out;
    private final String task;
    private final long intervalMs;
    private final Listener listener = new Listener();
    private final Thread thread;
    private final long t0 = System.nanoTime();
    private volatile Measure measure = Measure.NONE;
    private volatile long total = -1;
    private volatile boolean closed;
    private long lastRows = -1, lastTokens = -1, lastDone = -1;
    /** Tokens done over time, one sample per interval, for the run report's throughput chart. */
    private final List<RunReport.Sample> samples = new ArrayList<>();

    /**
     * Counts of one task (or a sum): rows, errors, tokens, our input bytes, Spark's input bytes, rows the batch source
     * pulled from the input, and rows done in fractions (a batch's rows spread over its engine passes).
     */
    static final class Counts {
        long rows, errors, tokens, ownBytes, sparkBytes, rowsRead;
        double rowsDone;
        /** Input done: bytes read (or rows) of finished tasks, and of running ones the share of their bytes read that is done. */
        double doneBytes, doneOwnBytes, doneRows;

        void add(Counts c) {
            rows += c.rows;
            errors += c.errors;
            tokens += c.tokens;
            ownBytes += c.ownBytes;
            sparkBytes += c.sparkBytes;
            rowsRead += c.rowsRead;
            rowsDone += c.rowsDone;
            doneBytes += c.doneBytes;
            doneOwnBytes += c.doneOwnBytes;
            doneRows += c.doneRows;
        }

        /** This task's input done, finished or not: a running task has read ahead of what it has scored. */
        Counts estimate(boolean finished) {
            double share = finished ? 1 : rowsRead == 0 ? 0 : Math.min(1, rowsDone / rowsRead);
            doneBytes = sparkBytes * share;
            doneOwnBytes = ownBytes * share;
            doneRows = finished ? rows : Math.min(rowsDone, rowsRead);
            return this;
        }
    }

    /**
     * Counts of finished tasks, and the latest heartbeat counts of running ones, of the jobs started after {@link #begin}
     * only: the jobs before it (JSON schema inference, Parquet footers) read the input too, but score nothing.
     */
    private final class Listener extends SparkListener {
        private final Counts finished = new Counts();
        private final Map<Long, Counts> running = new HashMap<>();
        private final java.util.Set<Integer> stages = new java.util.HashSet<>();
        private boolean begun;

        @Override
        public synchronized void onJobStart(SparkListenerJobStart e) {
            if (begun) for (Object id : CollectionConverters.asJava(e.stageIds())) stages.add((Integer) id);
        }

        @Override
        public synchronized void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate e) {
            for (Tuple4<Object, Object, Object, scala.collection.immutable.Seq<AccumulableInfo>> t : CollectionConverters.asJava(e.accumUpdates())) {
                if (!stages.contains((Integer) t._2())) continue;
                Counts c = counts(t._4());
                if (c != null) running.put((Long) t._1(), c.estimate(false));
            }
        }

        @Override
        public synchronized void onTaskEnd(SparkListenerTaskEnd e) {
            running.remove(e.taskInfo().taskId());
            if (e.reason() != Success$.MODULE$ || !stages.contains(e.stageId())) return;
            Counts c = counts(e.taskInfo().accumulables());
            if (c == null) c = new Counts();
            if (e.taskMetrics() != null) c.sparkBytes = e.taskMetrics().inputMetrics().bytesRead();
            finished.add(c.estimate(true));
        }

        /** Our accumulators in a task's list; null when none of them is there. */
        private Counts counts(scala.collection.Seq<AccumulableInfo> infos) {
            Counts c = new Counts();
            boolean ours = false;
            for (AccumulableInfo a : CollectionConverters.asJava(infos)) {
                Object v = a.update().isDefined() ? a.update().get() : null;
                if (v instanceof Double d && a.id() == counters.rowsDoneId()) { c.rowsDone = d; ours = true; continue; }
                if (!(v instanceof Long)) continue;
                long n = (Long) v;
                if (a.id() == counters.rowsId()) { c.rows = n; ours = true; }
                else if (a.id() == counters.errorsId()) { c.errors = n; ours = true; }
                else if (a.id() == counters.tokensId()) { c.tokens = n; ours = true; }
                else if (a.id() == counters.inputBytesId()) { c.ownBytes = n; ours = true; }
                else if (a.id() == counters.rowsReadId()) { c.rowsRead = n; ours = true; }
                else if (a.name().isDefined() && BYTES_READ.equals(a.name().get())) c.sparkBytes = n;
            }
            return ours ? c : null;
        }

        synchronized void begin() { begun = true; }

        synchronized Counts now() {
            Counts c = new Counts();
            c.add(finished);
            for (Counts r : running.values()) c.add(r);
            return c;
        }
    }

    /** Starts reporting; intervalSeconds 0 registers nothing and prints nothing. */
    Progress(SparkContext sc, JobCounters counters, PrintStream out, String task, int intervalSeconds) {
        this.sc = sc;
        this.counters = counters;
        this.out = out;
        this.task = task;
        this.intervalMs = intervalSeconds * 1000L;
        if (intervalSeconds <= 0) {
            thread = null;
            return;
        }
        sc.addSparkListener(listener);
        thread = new Thread(this::loop, "ssdspark-progress");
        thread.setDaemon(true);
        thread.start();
    }

    /** The counts so far (what the next line would show). */
    Counts now() { return listener.now(); }

    /** From now on, jobs that start are the ones whose tasks count (call it right before the write). */
    void begin() { listener.begin(); }

    /** Sets what the ETA compares against: the input's rows, Spark-read bytes, or bytes our text reader reads. */
    void total(Measure m, long total) {
        this.total = total;
        this.measure = total > 0 ? m : Measure.NONE;
    }

    private void loop() {
        try {
            while (!closed) {
                Thread.sleep(intervalMs);
                if (!closed) print();
            }
        } catch (InterruptedException e) {
            // closed
        }
    }

    private synchronized void print() {
        Counts c = listener.now();
        samples.add(new RunReport.Sample((System.nanoTime() - t0) / 1e9, c.tokens));
        long doneMilli = Math.round(c.doneRows * 1000);
        if (c.rows == lastRows && c.tokens == lastTokens && doneMilli == lastDone) return; // nothing new (a task between heartbeats)
        if (c.rows == 0 && c.tokens == 0 && doneMilli == 0) return; // still starting
        lastRows = c.rows;
        lastTokens = c.tokens;
        lastDone = doneMilli;
        out.println(line(c, (System.nanoTime() - t0) / 1e9));
    }

    String line(Counts c, double seconds) {
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "%s: %s docs, %s tokens, %s tok/s", task, count(c.rows),
                count(c.tokens), count(Math.round(c.tokens / Math.max(seconds, 1e-9)))));
        if (c.errors > 0) s.append(", ").append(count(c.errors)).append(" with errors");
        double done = switch (measure) {
            case ROWS -> c.doneRows;
            case SPARK_BYTES -> c.doneBytes;
            case OWN_BYTES -> c.doneOwnBytes;
            default -> -1;
        };
        if (done > 0 && total > 0) {
            double f = Math.min(1.0, done / total);
            s.append(String.format(Locale.ROOT, ", %.0f%% of input", 100 * f));
            if (f >= 0.01 && f < 1) s.append(", ETA ").append(duration(seconds * (1 - f) / f)); // too early to tell below 1%
        }
        return s.toString();
    }

    /** 1234 → "1,234"; 12_345_678 → "12.3M". */
    static String count(long n) {
        if (n < 1_000_000) return String.format(Locale.ROOT, "%,d", n);
        if (n < 1_000_000_000) return String.format(Locale.ROOT, "%.1fM", n / 1e6);
        return String.format(Locale.ROOT, "%.2fG", n / 1e9);
    }

    static String duration(double s) {
        long t = Math.round(s);
        if (t < 60) return t + "s";
        if (t < 3600) return (t / 60) + "m" + String.format(Locale.ROOT, "%02d", t % 60) + "s";
        return (t / 3600) + "h" + String.format(Locale.ROOT, "%02d", (t % 3600) / 60) + "m";
    }

    /** The samples so far: (0, 0), one per interval, and the end of the run once closed; none with progress off. */
    synchronized List<RunReport.Sample> samples() {
        List<RunReport.Sample> all = new ArrayList<>();
        if (thread != null) all.add(new RunReport.Sample(0, 0));
        all.addAll(samples);
        return all;
    }

    @Override
    public void close() {
        if (thread == null || closed) return;
        closed = true;
        synchronized (this) {
            samples.add(new RunReport.Sample((System.nanoTime() - t0) / 1e9, counters.tokens())); // exact once the job is done
        }
        thread.interrupt();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sc.removeSparkListener(listener);
    }
}
