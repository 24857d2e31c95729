package ssdspark.pipeline.sql;

import org.apache.spark.sql.api.java.UDF1;
import ssdspark.udf.JobSpec;

import java.util.Collections;

/**
 * mamba2_embed(tokens ARRAY&lt;INT|BIGINT&gt;): the document's embedding (ARRAY&lt;FLOAT&gt;, d_model values, pooled as the
 * options say); NULL for a NULL argument or a document the model cannot take (empty, ids outside the vocabulary).
 * Not final: the RAPIDS build adds a columnar GPU path in a subclass.
 */
public class EmbedTokensFunction implements UDF1<Object, float[]> {
    private static final long serialVersionUID = 1L;
    protected final JobSpec spec;

    public EmbedTokensFunction(JobSpec spec) {
        if (spec.task() != JobSpec.Task.EMBED) throw new IllegalArgumentException("an embed function needs an embed spec, got " + spec.task());
        this.spec = spec;
    }

    public JobSpec spec() { return spec; }

    @Override
    public float[] call(Object tokens) {
        return SqlDocuments.embedding(SqlDocuments.run(spec, Collections.singletonList(SqlDocuments.tokenDoc(tokens))).get(0));
    }
}
