package ssdspark.udf;

import org.apache.spark.SparkContext;
import org.apache.spark.util.LongAccumulator;

import java.io.Serializable;

/**
 * Rows, error rows and tokens seen by the partition function, for the job summary. Accumulators
 * updated inside a transformation can over-count when Spark retries a task, so these are for
 * reporting only.
 */
public final class JobCounters implements Serializable {
    private final LongAccumulator rows, errors, tokens;

    public JobCounters(SparkContext sc) {
        rows = sc.longAccumulator("ssdspark rows");
        errors = sc.longAccumulator("ssdspark error rows");
        tokens = sc.longAccumulator("ssdspark tokens");
    }

    void add(int numTokens, boolean error) {
        rows.add(1);
        if (error) errors.add(1);
        else tokens.add(numTokens);
    }

    public long rows() { return rows.value(); }

    public long errors() { return errors.value(); }

    /** Tokens of the rows without errors. */
    public long tokens() { return tokens.value(); }
}
