package ssdspark.pipeline;

import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import ssdspark.udf.JobSpec;

import java.util.ArrayList;
import java.util.List;

/** Columns of a job's output; the order matches the rows {@link ssdspark.udf.DocumentFunction} builds. */
public final class OutputSchema {
    private OutputSchema() {}

    public static StructType of(JobSpec spec, DataType idType) { return of(spec, idType, List.of()); }

    /** The columns of spec's output, then carried: input columns passed through unchanged (--partition-by, --keep-cols). */
    public static StructType of(JobSpec spec, DataType idType, List<StructField> carried) {
        List<StructField> f = new ArrayList<>();
        f.add(DataTypes.createStructField("id", idType, true));
        f.add(DataTypes.createStructField("num_tokens", DataTypes.IntegerType, true));
        if (spec.task() == JobSpec.Task.SCORE) {
            f.add(DataTypes.createStructField("num_scored", DataTypes.IntegerType, true));
            f.add(DataTypes.createStructField("sum_logprob", DataTypes.DoubleType, true));
            f.add(DataTypes.createStructField("mean_nll", DataTypes.DoubleType, true));
            f.add(DataTypes.createStructField("perplexity", DataTypes.DoubleType, true));
            if (spec.perToken())
                f.add(DataTypes.createStructField("token_logprobs", DataTypes.createArrayType(DataTypes.FloatType, false), true));
        } else {
            f.add(DataTypes.createStructField("embedding", DataTypes.createArrayType(DataTypes.FloatType, false), true));
        }
        f.add(DataTypes.createStructField("error", DataTypes.StringType, true));
        for (StructField c : carried) {
            if (f.stream().anyMatch(x -> x.name().equals(c.name())))
                throw new IllegalArgumentException("input column '" + c.name() + "' cannot be kept: the output already has a column of that name");
            f.add(DataTypes.createStructField(c.name(), c.dataType(), true, c.metadata()));
        }
        return DataTypes.createStructType(f);
    }
}
