package ssdspark.udf;

import org.apache.spark.sql.Row;

import java.io.Serializable;
import java.util.Iterator;
import java.util.List;

/**
 * Turns a partition's input rows into batches of documents, in input order, by {@link TokenBudgetBatcher}: at most
 * {@link JobSpec#tokenBudget()} tokens (unless one document alone is longer) and {@link JobSpec#maxBatchDocs()} documents. It may read
 * ahead on another thread (the pipeline's sources tokenize the next batch while the model runs this one);
 * then the iterator is {@link AutoCloseable} and is closed when the partition is done.
 */
@FunctionalInterface
public interface BatchSource extends Serializable {
    Iterator<List<Doc>> open(Iterator<Row> rows, JobSpec spec);

    /** Pre-tokenized rows (id, tokens, carried...), batched on the caller's thread. */
    static BatchSource tokenRows() {
        return (rows, spec) -> TokenBudgetBatcher.of(TokenRows.docs(rows), spec);
    }
}
