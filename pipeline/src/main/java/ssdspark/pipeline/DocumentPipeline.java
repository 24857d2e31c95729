package ssdspark.pipeline;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import ssdspark.udf.DocumentFunction;
import ssdspark.udf.JobCounters;
import ssdspark.udf.JobSpec;

import java.util.Locale;

/** read → select (id, tokens) → score or embed each partition → write. */
public final class DocumentPipeline {
    private DocumentPipeline() {}

    /**
     * The output of spec over an input with columns idCol and tokensCol. A narrow transformation (no
     * shuffle): output partition i holds input partition i's rows in their order, one for one.
     */
    public static Dataset<Row> transform(Dataset<Row> input, String idCol, String tokensCol, JobSpec spec, JobCounters counters) {
        Dataset<Row> pairs = Corpus.select(input, idCol, tokensCol);
        StructType schema = OutputSchema.of(spec, pairs.schema().fields()[0].dataType());
        return pairs.mapPartitions(new DocumentFunction(spec, counters), Encoders.row(schema));
    }

    /** Parquet with zstd, or JSON lines with every column present (nulls written out, not dropped). */
    public static void write(Dataset<Row> out, String path, DataFormat format, boolean overwrite) {
        var w = out.write().mode(overwrite ? SaveMode.Overwrite : SaveMode.ErrorIfExists).format(format.sparkName());
        if (format == DataFormat.PARQUET) w = w.option("compression", "zstd");
        else w = w.option("ignoreNullFields", "false");
        w.save(path);
    }

    /** Reads, transforms and writes; returns nothing, counters say what happened. */
    public static void run(SparkSession spark, String input, DataFormat inFormat, String idCol, String tokensCol,
                           JobSpec spec, JobCounters counters, String output, DataFormat outFormat, boolean overwrite) {
        Dataset<Row> in = Corpus.read(spark, input, inFormat);
        Dataset<Row> out = transform(in, idCol, tokensCol, spec, counters);
        spark.sparkContext().setJobDescription("ssdspark " + spec.task().name().toLowerCase(Locale.ROOT) + " " + input + " -> " + output);
        write(out, output, outFormat, overwrite);
    }
}
