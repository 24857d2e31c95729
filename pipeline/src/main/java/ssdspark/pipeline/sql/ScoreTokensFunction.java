package ssdspark.pipeline.sql;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF1;
import ssdspark.udf.JobSpec;

import java.util.Collections;

/**
 * mamba2_score(tokens ARRAY&lt;INT|BIGINT&gt;): the score struct of one document ({@link SqlDocuments#scoreType});
 * NULL for a NULL argument; a document the model cannot take (empty, ids outside the vocabulary) gives a struct
 * with only {@code error} set. Not final: the RAPIDS build adds a columnar GPU path in a subclass.
 */
public class ScoreTokensFunction implements UDF1<Object, Row> {
    private static final long serialVersionUID = 1L;
    protected final JobSpec spec;

    public ScoreTokensFunction(JobSpec spec) {
        if (spec.task() != JobSpec.Task.SCORE) throw new IllegalArgumentException("a score function needs a score spec, got " + spec.task());
        this.spec = spec;
    }

    public JobSpec spec() { return spec; }

    @Override
    public Row call(Object tokens) {
        return SqlDocuments.scoreStruct(spec, SqlDocuments.run(spec, Collections.singletonList(SqlDocuments.tokenDoc(tokens))).get(0));
    }
}
