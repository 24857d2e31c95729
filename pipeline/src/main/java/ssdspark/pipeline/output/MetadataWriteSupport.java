package ssdspark.pipeline.output;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.execution.datasources.parquet.ParquetWriteSupport;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Spark's Parquet writer plus our key-value pairs in every file footer. Parquet builds it by class name
 * (parquet.write.support.class, set by {@link MetadataParquetFormat}); the pairs come through the
 * Hadoop configuration as {@link OutputMetadata#OPTION}. Spark's own keys are never replaced.
 */
public final class MetadataWriteSupport extends ParquetWriteSupport {
    @Override
    public WriteContext init(Configuration conf) {
        WriteContext spark = super.init(conf);
        String json = conf.get(OutputMetadata.OPTION);
        if (json == null) return spark;
        Map<String, String> kv = new LinkedHashMap<>(spark.getExtraMetaData());
        OutputMetadata.parse(json).forEach(kv::putIfAbsent);
        return new WriteContext(spark.getSchema(), kv);
    }
}
