package ssdspark.rapids;

import ai.rapids.cudf.ColumnVector;
import com.nvidia.spark.RapidsUDF;
import ssdspark.pipeline.sql.ScoreTokensFunction;
import ssdspark.udf.JobSpec;

/**
 * mamba2_score with a columnar path: with the RAPIDS Accelerator active, Spark calls {@link #evaluateColumnar} with
 * a whole batch ({@link ColumnarDocuments}); without it, {@link #call} a row at a time. Both give the same values.
 */
public final class RapidsScoreTokensFunction extends ScoreTokensFunction implements RapidsUDF {
    private static final long serialVersionUID = 1L;

    public RapidsScoreTokensFunction(JobSpec spec) { super(spec); }

    @Override
    public ColumnVector evaluateColumnar(int numRows, ColumnVector... args) {
        return ColumnarDocuments.evaluate(spec, numRows, args);
    }
}
