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
    private final LongAccumulator rows, errors, tokens, inputBytes, memorySplits;
    private final CollectionAccumulator<String> backends;
    private final ErrorKinds errorKinds = new ErrorKinds();

    public JobCounters(SparkContext sc) {
        rows = sc.longAccumulator("ssdspark rows");
        errors = sc.longAccumulator("ssdspark error rows");
        tokens = sc.longAccumulator("ssdspark tokens");
        inputBytes = sc.longAccumulator("ssdspark input bytes");
        memorySplits = sc.longAccumulator("ssdspark GPU out-of-memory splits");
        backends = sc.collectionAccumulator("ssdspark backends");
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
}
