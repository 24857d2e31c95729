package ssdspark.pipeline.output;

import org.apache.hadoop.mapreduce.Job;
import org.apache.parquet.hadoop.ParquetOutputFormat;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.execution.datasources.OutputWriterFactory;
import org.apache.spark.sql.execution.datasources.parquet.ParquetFileFormat;
import org.apache.spark.sql.types.StructType;
import scala.Option;

/**
 * Spark's Parquet file format, writing with {@link MetadataWriteSupport}. Spark has no API for footer
 * key-value metadata, so {@link OutputMetadata#configure} names this class as the writer's format;
 * everything else (compression, schema, options) is Spark's Parquet.
 */
public final class MetadataParquetFormat extends ParquetFileFormat {
    private static final long serialVersionUID = 1L;

    @Override
    public OutputWriterFactory prepareWrite(SparkSession spark, Job job, scala.collection.immutable.Map<String, String> options, StructType schema) {
        OutputWriterFactory f = super.prepareWrite(spark, job, options, schema); // sets Spark's write support...
        job.getConfiguration().setClass(ParquetOutputFormat.WRITE_SUPPORT_CLASS, MetadataWriteSupport.class, WriteSupport.class); // ...which we replace
        Option<String> kv = options.get(OutputMetadata.OPTION);
        if (kv.isDefined()) job.getConfiguration().set(OutputMetadata.OPTION, kv.get());
        return f;
    }

    @Override
    public String toString() { return "Parquet+metadata"; }
}
