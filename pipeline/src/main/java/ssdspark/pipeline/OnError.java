package ssdspark.pipeline;

import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import ssdspark.udf.OutputRows;

import java.util.Iterator;
import java.util.Locale;
import java.util.NoSuchElementException;

/**
 * What a row the model cannot take (its message in the output's 'error' column) does to the output: stays as
 * an error row (RECORD: one output row per input row), is dropped (SKIP), or fails the job at the first one
 * (FAIL: the task fails with the row's id and message). Errors are counted in every mode.
 */
public enum OnError {
    RECORD, SKIP, FAIL;

    public static OnError parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("must be record, skip or fail, got '" + s + "'");
        }
    }

    public String cliName() { return name().toLowerCase(Locale.ROOT); }

    /** The output rows under this policy; output has the pipeline's 'id' and 'error' columns. */
    public Dataset<Row> apply(Dataset<Row> output) {
        switch (this) {
            case SKIP: return output.filter(functions.col(OutputRows.ERROR).isNull());
            case FAIL: return output.mapPartitions(new FailOnError(output.schema().fieldIndex(OutputRows.ID),
                    output.schema().fieldIndex(OutputRows.ERROR)), Encoders.row(output.schema()));
            default: return output;
        }
    }

    /** Thrown in a task by --on-error fail; its message is the one the user sees. */
    public static final class RowFailed extends RuntimeException {
        public RowFailed(String message) { super(message); }
    }

    private static final class FailOnError implements MapPartitionsFunction<Row, Row> {
        private final int id, error;

        FailOnError(int id, int error) {
            this.id = id;
            this.error = error;
        }

        @Override
        public Iterator<Row> call(Iterator<Row> rows) {
            return new Iterator<>() {
                @Override public boolean hasNext() { return rows.hasNext(); }

                @Override public Row next() {
                    if (!rows.hasNext()) throw new NoSuchElementException();
                    Row r = rows.next();
                    if (!r.isNullAt(error))
                        throw new RowFailed("document " + r.get(id) + ": " + r.getString(error)
                                + " (--on-error fail stops the job at the first such row; record or skip keep going)");
                    return r;
                }
            };
        }
    }
}
