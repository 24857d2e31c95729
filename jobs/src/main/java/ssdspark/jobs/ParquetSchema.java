package ssdspark.jobs;

import org.apache.hadoop.fs.FileStatus;
import org.apache.parquet.hadoop.metadata.FileMetaData;
import org.apache.parquet.hadoop.metadata.ParquetMetadata;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.execution.datasources.HadoopFsRelation;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import org.apache.spark.sql.execution.datasources.PartitioningAwareFileIndex;
import org.apache.spark.sql.execution.datasources.parquet.ParquetFileFormat;
import org.apache.spark.sql.execution.datasources.parquet.ParquetToSparkSchemaConverter;
import org.apache.spark.sql.execution.datasources.parquet.ParquetToSparkSchemaConverter$;
import org.apache.spark.sql.internal.SQLConf;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ssdspark.pipeline.Corpus;
import ssdspark.pipeline.DataFormat;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Parquet input read with the schema Spark would infer, handed to Spark, so that it skips its schema job: without a
 * schema {@code spark.read().parquet(...)} runs a one-task job to read a footer (the step running it took 1.4–1.9 s of
 * the job's start on the H200 host; tools/pipeline/RESULTS.md).
 *
 * <p>What Spark 4.0 infers without schema merging (ParquetUtils.inferSchema, ParquetFileFormat.mergeSchemasInParallel):
 * the schema of one file of the listing: a {@code _common_metadata}, else a {@code _metadata} summary file, else the
 * first data file by path string; its footer's Spark schema ({@code org.apache.spark.sql.parquet.row.metadata}) if
 * it has one, else its Parquet schema converted under the session's settings; then made nullable. Partition columns come
 * from the folder names (col=value) either way. Here the same Spark function reads the footer Preflight already read
 * (no file is opened again), and the result is kept only if Spark's own listing for this read confirms it: Spark would
 * have inferred from that very file, no summary file, no partition column that is also a column of the file, and the
 * relation's data schema is the footer's schema made nullable. Anything else (another Spark version, schema merging on,
 * a glob, a remote input, a listing that disagrees, an error) reads the input as before: Spark infers, with its job.
 */
final class ParquetSchema {
    private static final Logger LOG = LoggerFactory.getLogger(ParquetSchema.class);

    /** The Spark whose inference this reproduces: another one infers as it always did. */
    static final String SPARK_LINE = "4.0.";

    /** -Dssdspark.parquetSchemaJob=true: let Spark infer the schema as before (its job), for measuring what this saves. */
    static final String INFER_PROPERTY = "ssdspark.parquetSchemaJob";

    /** The footer of one local Parquet file, as Preflight read it (the file: absolute, normalized). */
    record Footer(Path file, FileMetaData meta) {}

    /** The input as a DataFrame, and why Spark inferred its schema (null: it did not, the footer's schema was given). */
    record Read(Dataset<Row> rows, String inferredBecause) {}

    private ParquetSchema() {}

    /** The Parquet input at path (as Corpus.read gives it), with footer's schema when that is provably what Spark would infer. */
    static Read read(SparkSession spark, String path, Footer footer) {
        String why;
        try {
            why = reasonToInfer(spark, path, footer);
            if (why == null) {
                StructType schema = schemaOf(spark, footer);
                Dataset<Row> rows = Corpus.read(spark, path, DataFormat.PARQUET, schema);
                why = disagreement(rows, schema, footer.file());
                if (why == null) {
                    LOG.info("input schema from the footer of {} (no schema job)", footer.file());
                    return new Read(rows, null);
                }
            }
        } catch (Exception | LinkageError e) { // Spark's internals moved, or the read failed (Scala throws checked ones): as before, errors too
            why = "the footer's schema failed: " + e;
        }
        LOG.info("input schema inferred by Spark (its schema job): {}", why);
        return new Read(Corpus.read(spark, path, DataFormat.PARQUET), why);
    }

    /** Why the footer's schema cannot be given before looking at Spark's listing; null when it may. */
    private static String reasonToInfer(SparkSession spark, String path, Footer footer) {
        if (Boolean.getBoolean(INFER_PROPERTY)) return "-D" + INFER_PROPERTY + "=true";
        if (footer == null) return "no footer was read before the start (not a local input, or no data file found)";
        if (!spark.version().startsWith(SPARK_LINE)) return "Spark " + spark.version() + " (the schema given is Spark " + SPARK_LINE + "x's inference)";
        for (char c : "{}[]*?\\".toCharArray())
            if (path.indexOf(c) >= 0) return "the input path is a glob pattern for Spark";
        SQLConf conf = spark.sessionState().conf();
        if (conf.isParquetSchemaMergingEnabled()) return "spark.sql.parquet.mergeSchema is on (Spark merges every file's schema)";
        List<String> v1 = Arrays.stream(spark.conf().get("spark.sql.sources.useV1SourceList").split(","))
                .map(s -> s.trim().toLowerCase(Locale.ROOT)).toList();
        if (!v1.contains("parquet")) return "Parquet is read by the DataSource V2 reader (spark.sql.sources.useV1SourceList)";
        return null;
    }

    /** The schema Spark's inference reads from footer: its function, its converter settings (mergeSchemasInParallel's). */
    static StructType schemaOf(SparkSession spark, Footer footer) {
        SQLConf c = spark.sessionState().conf();
        ParquetToSparkSchemaConverter$ defaults = ParquetToSparkSchemaConverter$.MODULE$;
        ParquetToSparkSchemaConverter converter = new ParquetToSparkSchemaConverter(c.isParquetBinaryAsString(),
                c.isParquetINT96AsTimestamp(), defaults.$lessinit$greater$default$3(), c.parquetInferTimestampNTZEnabled(),
                c.legacyParquetNanosAsLong(), defaults.$lessinit$greater$default$6());
        org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(footer.file().toUri());
        return ParquetFileFormat.readSchemaFromFooter(new org.apache.parquet.hadoop.Footer(file, new ParquetMetadata(footer.meta(), List.of())), converter);
    }

    /**
     * Where the read Spark planned with schema would differ from its inference, from its own file listing; null when
     * nowhere: inference would read file's footer (the first data file by path string, no summary file), and the
     * schema needed no change.
     */
    static String disagreement(Dataset<Row> rows, StructType schema, Path file) {
        LogicalPlan plan = rows.queryExecution().analyzed();
        if (!(plan instanceof LogicalRelation lr) || !(lr.relation() instanceof HadoopFsRelation rel)
                || !(rel.location() instanceof PartitioningAwareFileIndex index))
            return "not a plain file relation: " + plan.nodeName();
        FileStatus first = null;
        for (FileStatus f : scala.jdk.javaapi.CollectionConverters.asJava(index.allFiles())) {
            String name = f.getPath().getName();
            if (name.equals("_metadata") || name.equals("_common_metadata")) return "the input has a summary file " + f.getPath();
            if (first == null || f.getPath().toString().compareTo(first.getPath().toString()) < 0) first = f;
        }
        if (first == null) return "Spark lists no data file";
        Path inferredFrom = Path.of(first.getPath().toUri()).toAbsolutePath().normalize();
        if (!inferredFrom.equals(file)) return "Spark infers from " + inferredFrom + ", not " + file + " (whose footer was read)";
        for (String p : rel.partitionSchema().fieldNames())
            for (StructField f : schema.fields())
                if (f.name().equalsIgnoreCase(p)) return "column " + p + " is in the files and in the folder names";
        if (!rel.dataSchema().equals(schema.asNullable())) return "Spark changed the schema given: " + rel.dataSchema().simpleString();
        return null;
    }
}
