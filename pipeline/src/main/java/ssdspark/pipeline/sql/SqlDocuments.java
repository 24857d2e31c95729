package ssdspark.pipeline.sql;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import ssdspark.model.DocumentRunner;
import ssdspark.udf.Doc;
import ssdspark.udf.DocumentFunction;
import ssdspark.udf.JobSpec;
import ssdspark.udf.OutputRows;
import ssdspark.udf.ModelCache;
import ssdspark.udf.TokenRows;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What the SQL functions compute, for one row (the JVM UDF path) or a whole columnar batch (the RAPIDS path):
 * the jobs' own {@link DocumentFunction#apply} over the documents, as one packed batch, so both paths and
 * the jobs give the same values. Results are the job's output row without the id:
 * score: a struct (num_tokens, num_scored, sum_logprob, mean_nll, perplexity, [token_logprobs,] error);
 * embed: the embedding, null when the document cannot be run.
 */
public final class SqlDocuments {
    private SqlDocuments() {}

    /** The STRUCT mamba2_score returns for spec: the job's output columns without id. */
    public static StructType scoreType(JobSpec spec) {
        StructField[] f = OutputRows.of(spec).schema(DataTypes.IntegerType, List.of()).fields();
        return DataTypes.createStructType(Arrays.copyOfRange(f, 1, f.length));
    }

    /**
     * A token argument as a document: null stays null (a SQL NULL in, NULL out); a value that is not a list of
     * integers becomes a failed document with the reason. Spark hands a Java UDF a Scala Seq; int[] and
     * java.util.List are taken too.
     */
    public static Doc tokenDoc(Object tokens) {
        if (tokens == null) return null;
        try {
            return Doc.of(null, toInts(tokens), null);
        } catch (IllegalArgumentException e) {
            return Doc.failed(null, e.getMessage(), null);
        }
    }

    private static int[] toInts(Object v) {
        if (v instanceof int[] a) return a;
        if (v instanceof List<?> l) return TokenRows.tokensOf(l);
        if (v instanceof scala.collection.Seq<?> s) return TokenRows.tokensOf(scala.jdk.javaapi.CollectionConverters.asJava(s));
        throw new IllegalArgumentException("tokens must be an array of integer ids, got a " + v.getClass().getSimpleName());
    }

    /** The job's output rows (id, ..., error) of docs, in order; null docs (SQL NULLs) give null. */
    public static List<Row> run(JobSpec spec, List<Doc> docs) {
        List<Doc> present = present(docs);
        DocumentRunner runner = present.stream().anyMatch(d -> d.error() == null) ? new DocumentRunner(ModelCache.forTask(spec), spec.maxAttentionTokens()) : null;
        return withNulls(docs, present.isEmpty() ? List.of() : new DocumentFunction(spec, null).apply(runner, present));
    }

    /**
     * As {@link #run}, for documents a runner has already run (the RAPIDS path, ids in device memory): outcomes.get(k)
     * belongs to the k-th non-null document; the rows are built by the same code.
     */
    public static List<Row> rows(JobSpec spec, List<Doc> docs, List<? extends DocumentRunner.Outcome<?>> outcomes) {
        return withNulls(docs, new DocumentFunction(spec, null).rows(present(docs), outcomes));
    }

    private static List<Doc> present(List<Doc> docs) {
        List<Doc> present = new ArrayList<>(docs.size());
        for (Doc d : docs) if (d != null) present.add(d);
        return present;
    }

    /** rows (one per non-null doc) spread over docs' positions, null where the doc is null. */
    private static List<Row> withNulls(List<Doc> docs, List<Row> rows) {
        List<Row> out = new ArrayList<>(docs.size());
        int k = 0;
        for (Doc d : docs) out.add(d == null ? null : rows.get(k++));
        return out;
    }

    /** The score struct of a job output row of spec (its id dropped), with its schema (so getAs by name works). */
    public static Row scoreStruct(JobSpec spec, Row jobRow) {
        if (jobRow == null) return null;
        Object[] v = new Object[jobRow.length() - 1];
        for (int i = 0; i < v.length; i++) v[i] = jobRow.get(i + 1);
        return new GenericRowWithSchema(v, scoreType(spec));
    }

    /** The embedding of a job output row (id, num_tokens, embedding, error); null for an error row. */
    public static float[] embedding(Row jobRow) {
        return jobRow == null ? null : (float[]) jobRow.get(2);
    }
}
