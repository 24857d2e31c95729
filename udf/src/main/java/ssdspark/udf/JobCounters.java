package ssdspark.udf;

import org.apache.spark.SparkContext;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;

import java.io.Serializable;
import java.util.List;
import java.util.TreeSet;

/**
 * Rows, error rows, tokens, input bytes and backends seen by the partition functions, for the progress line
 * and the summary. Accumulators updated inside a transformation can over-count when Spark retries a task, so
 * these are for reporting only. Running tasks report their partial values with executor heartbeats, which
 * is what the driver's progress line reads.
 */
public final class JobCounters implements Serializable {
    private final LongAccumulator rows, errors, tokens, inputBytes, memorySplits, invalidUtf8Docs, invalidUtf8Sequences;
    private final CollectionAccumulator<String> backends;
    private final LongAccumulator rowsRead;
    private final org.apache.spark.util.DoubleAccumulator rowsDone;
    private final ErrorKinds errorKinds = new ErrorKinds();

    public JobCounters(SparkContext sc) {
        rows = sc.longAccumulator("ssdspark rows");
        errors = sc.longAccumulator("ssdspark error rows");
        tokens = sc.longAccumulator("ssdspark tokens");
        inputBytes = sc.longAccumulator("ssdspark input bytes");
        memorySplits = sc.longAccumulator("ssdspark GPU out-of-memory splits");
        invalidUtf8Docs = sc.longAccumulator("ssdspark documents with invalid UTF-8");
        invalidUtf8Sequences = sc.longAccumulator("ssdspark malformed UTF-8 sequences");
        backends = sc.collectionAccumulator("ssdspark backends");
        rowsRead = sc.longAccumulator("ssdspark rows read");
        rowsDone = sc.doubleAccumulator("ssdspark rows done");
        sc.register(errorKinds, "ssdspark error kinds");
    }

    /** One batch's rows, of which errors failed, and the tokens of the others. */
    void addBatch(long rowCount, long errorCount, long tokenCount) {
        rows.add(rowCount);
        if (errorCount > 0) errors.add(errorCount);
        if (tokenCount > 0) tokens.add(tokenCount);
    }

    /** Engine passes that ran out of GPU memory and were split (see DocumentRunner). */
    void addMemorySplits(long n) { if (n > 0) memorySplits.add(n); }

    /** One error row's message, counted by kind (see {@link ErrorKinds}). */
    void noteError(String message) { errorKinds.add(message); }

    /** Error rows by kind, most frequent first. */
    public java.util.Map<String, Long> errorKinds() { return errorKinds.value(); }

    /** Bytes of input read by readers that Spark's input metrics do not see (the plain-text reader). */
    public void addInputBytes(long n) { inputBytes.add(n); }

    /** A document whose text had this many malformed UTF-8 byte sequences (each read as U+FFFD, or the document an error row). */
    public void addInvalidUtf8(long sequences) {
        invalidUtf8Docs.add(1);
        invalidUtf8Sequences.add(sequences);
    }

    /** Documents read with invalid UTF-8, and their malformed byte sequences. */
    public long invalidUtf8Docs() { return invalidUtf8Docs.value(); }

    public long invalidUtf8Sequences() { return invalidUtf8Sequences.value(); }

    void noteBackend(String backend) { backends.add(backend); }

    public long rows() { return rows.value(); }

    public long errors() { return errors.value(); }

    /** Tokens of the rows without errors. */
    public long tokens() { return tokens.value(); }

    public long inputBytes() { return inputBytes.value(); }

    /** Engine passes that ran out of GPU memory and were run again split in smaller ones. */
    public long memorySplits() { return memorySplits.value(); }

    /** The engines the tasks ran on ("cpu", "gpu:0 (NVIDIA H200) bf16", ...), each once, sorted. */
    public List<String> backends() { return List.copyOf(new TreeSet<>(backends.value())); }

    /** Accumulator ids, for reading running tasks' partial values from heartbeats. */
    public long rowsId() { return rows.id(); }

    public long errorsId() { return errors.id(); }

    public long tokensId() { return tokens.id(); }

    public long inputBytesId() { return inputBytes.id(); }

    /** A row pulled from the input by a batch source (read-ahead included). */
    void addRowRead() { rowsRead.add(1); }

    /** Rows done, in fractions: a batch's rows spread over its engine passes, so a long document advances as its pieces run. */
    void addRowsDone(double rows) { rowsDone.add(rows); }

    public long rowsReadId() { return rowsRead.id(); }

    public long rowsDoneId() { return rowsDone.id(); }

    /** One task's own counts (inside a task the accumulators hold only that task's values). */
    public record TaskCounts(long rows, long errors, long tokens, java.util.Map<String, Long> errorKinds) {}

    /** The counters of running tasks by task attempt id: what a task's output commit records (see {@link #ofTask}). */
    private static final java.util.concurrent.ConcurrentHashMap<Long, JobCounters> TASKS = new java.util.concurrent.ConcurrentHashMap<>();

    /** Makes this (the task's deserialized copy) findable by {@link #ofTask} until the task ends. */
    void bindTo(org.apache.spark.TaskContext task) {
        long id = task.taskAttemptId();
        TASKS.put(id, this);
        task.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) c -> TASKS.remove(id, this));
    }

    /** The counts so far of the running task attempt id; zeros when its partition function keeps no counts. */
    public static TaskCounts ofTask(long taskAttemptId) {
        JobCounters c = TASKS.get(taskAttemptId);
        return c == null ? new TaskCounts(0, 0, 0, java.util.Map.of())
                : new TaskCounts(c.rows.value(), c.errors.value(), c.tokens.value(), c.errorKinds.value());
    }

    /** On the driver: adds the counts of output parts an earlier, interrupted run committed (--resume), so totals cover the whole output. */
    public void addEarlier(TaskCounts earlier) {
        rows.add(earlier.rows());
        errors.add(earlier.errors());
        tokens.add(earlier.tokens());
        earlier.errorKinds().forEach(errorKinds::addCount);
    }
}
