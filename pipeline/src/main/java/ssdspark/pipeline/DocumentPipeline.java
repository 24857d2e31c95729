package ssdspark.pipeline;

import org.apache.spark.sql.DataFrameWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import ssdspark.pipeline.output.OutputMetadata;
import ssdspark.pipeline.output.PartCommitProtocol;
import ssdspark.pipeline.text.TokenizerSpec;
import ssdspark.udf.BatchSource;
import ssdspark.udf.DocumentFunction;
import ssdspark.udf.JobCounters;
import ssdspark.udf.JobSpec;
import ssdspark.udf.OutputRows;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * read → select (id, tokens or text, carried...) → tokenize, batch and score or embed each partition → write.
 * Every step is narrow (no shuffle): output partition i holds input partition i's rows in their order, one
 * for one.
 */
public final class DocumentPipeline {
    private DocumentPipeline() {}

    /** Batches prepared ahead of the engine by default (see {@link BatchSources}). */
    public static final int DEFAULT_PREFETCH = 2;

    /**
     * The output of spec over a pre-tokenized input with columns idCol and tokensCol, batched on the task's
     * thread (no prefetch).
     */
    public static Dataset<Row> transform(Dataset<Row> input, String idCol, String tokensCol, JobSpec spec, JobCounters counters) {
        return transformTokens(input, idCol, tokensCol, List.of(), spec, counters, 0);
    }

    /**
     * The output of spec over a pre-tokenized input: columns idCol and tokensCol, plus carried input columns
     * passed through to the output; prefetch batches read ahead on a producer thread (0: none).
     */
    public static Dataset<Row> transformTokens(Dataset<Row> input, String idCol, String tokensCol, List<String> carried,
                                               JobSpec spec, JobCounters counters, int prefetch) {
        Dataset<Row> rows = Corpus.select(input, idCol, tokensCol, carried);
        return map(rows, spec, counters, BatchSources.tokens(prefetch));
    }

    /**
     * The output of spec over rows of (id, text, carried...) as {@link ssdspark.pipeline.text.TextInput#read}
     * gives them, tokenized with tokenizer on the executors; prefetch batches are tokenized ahead on a
     * producer thread while the engine runs (0: tokenized on the task's thread), by tokenizerThreads threads per
     * task (0: auto, see {@link ssdspark.pipeline.text.TokenizerThreads}).
     */
    public static Dataset<Row> transformText(Dataset<Row> idText, TokenizerSpec tokenizer, JobSpec spec, JobCounters counters, int prefetch,
                                             int tokenizerThreads) {
        return map(idText, spec.textInput() ? spec : spec.withInput(true, spec.spans()), counters,
                BatchSources.text(tokenizer, prefetch, tokenizerThreads));
    }

    /**
     * The output of spec over rows of (id, tokens or text, carried...) with batches from source: what every entry
     * point (the jobs, the ML Transformers) runs.
     */
    public static Dataset<Row> map(Dataset<Row> rows, JobSpec spec, JobCounters counters, BatchSource source) {
        StructField[] in = rows.schema().fields();
        List<StructField> carried = Arrays.asList(in).subList(2, in.length);
        StructType schema = OutputRows.of(spec).schema(in[0].dataType(), carried);
        return rows.mapPartitions(new DocumentFunction(spec, counters, source), Encoders.row(schema));
    }

    /** Parquet with zstd, or JSON lines with every column present (nulls written out, not dropped). */
    public static void write(Dataset<Row> out, String path, DataFormat format, boolean overwrite) {
        write(out, path, format, overwrite, List.of(), null);
    }

    /**
     * As {@link #write(Dataset, String, DataFormat, boolean)}, in folders per value of partitionBy (col=value/,
     * Hive style; the column leaves the files), and for Parquet with metadata in every file footer (see
     * {@link OutputMetadata}; null: none).
     */
    public static void write(Dataset<Row> out, String path, DataFormat format, boolean overwrite, List<String> partitionBy,
                             Map<String, String> metadata) {
        writer(out, format, partitionBy, metadata).mode(overwrite ? SaveMode.Overwrite : SaveMode.ErrorIfExists).save(path);
    }

    /**
     * As {@link #write(Dataset, String, DataFormat, boolean, List, Map)}, into path (which may exist, holding a
     * manifest and earlier parts) with one commit per task ({@link PartCommitProtocol}): partition i is written as
     * part partNumbers[i] ("3,7,9"; null: part i).
     */
    public static void writeParts(Dataset<Row> out, String path, DataFormat format, List<String> partitionBy,
                                  Map<String, String> metadata, String partNumbers) {
        DataFrameWriter<Row> w = writer(out, format, partitionBy, metadata).mode(SaveMode.Append);
        if (partNumbers != null) w = w.option(PartCommitProtocol.PART_NUMBERS, partNumbers);
        org.apache.spark.sql.RuntimeConfig conf = out.sparkSession().conf();
        String before = conf.get(PartCommitProtocol.SETTING, null);
        conf.set(PartCommitProtocol.SETTING, PartCommitProtocol.class.getName());
        try {
            w.save(path);
        } finally {
            if (before == null) conf.unset(PartCommitProtocol.SETTING);
            else conf.set(PartCommitProtocol.SETTING, before);
        }
    }

    private static DataFrameWriter<Row> writer(Dataset<Row> out, DataFormat format, List<String> partitionBy, Map<String, String> metadata) {
        DataFrameWriter<Row> w = out.write().format(format.sparkName());
        if (format == DataFormat.PARQUET) {
            if (metadata != null) w = OutputMetadata.configure(w, metadata);
            w = w.option("compression", "zstd");
        } else {
            w = w.option("ignoreNullFields", "false");
        }
        if (!partitionBy.isEmpty()) w = w.partitionBy(partitionBy.toArray(new String[0]));
        return w;
    }
}
