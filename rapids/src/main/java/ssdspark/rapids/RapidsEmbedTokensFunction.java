package ssdspark.rapids;

import ai.rapids.cudf.ColumnVector;
import com.nvidia.spark.RapidsUDF;
import ssdspark.pipeline.sql.EmbedTokensFunction;
import ssdspark.udf.JobSpec;

/** mamba2_embed with a columnar path; see {@link RapidsScoreTokensFunction}. */
public final class RapidsEmbedTokensFunction extends EmbedTokensFunction implements RapidsUDF {
    private static final long serialVersionUID = 1L;

    public RapidsEmbedTokensFunction(JobSpec spec) { super(spec); }

    @Override
    public ColumnVector evaluateColumnar(int numRows, ColumnVector... args) {
        return ColumnarDocuments.evaluate(spec, numRows, args);
    }
}
