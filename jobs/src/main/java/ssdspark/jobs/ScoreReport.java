package ssdspark.jobs;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import ssdspark.pipeline.DataFormat;
import ssdspark.pipeline.report.RunReport;
import ssdspark.pipeline.report.RunStats;
import ssdspark.udf.JobCounters;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * After a score job: the statistics of its output, read back from the output folder (two passes over three
 * columns), and the run report {@link RunReport#FILE} beside it, with the job's error counts.
 */
final class ScoreReport {
    private ScoreReport() {}

    /** The output as written; schema is the written Dataset's (nothing to infer, and an empty output reads as empty). */
    static RunStats stats(SparkSession spark, String output, DataFormat format, StructType schema) {
        Dataset<Row> written = spark.read().schema(schema).format(format.sparkName()).load(output);
        return RunStats.of(written);
    }

    static void write(String output, Configuration conf, String task, Preflight.Plan plan, String backends, JobCounters c,
                      double seconds, RunStats stats, List<RunReport.Sample> samples) {
        Map<String, String> facts = new LinkedHashMap<>();
        facts.put("model", plan.spec().modelPath());
        if (plan.tokenizer() != null) facts.put("tokenizer", plan.tokenizer().path());
        facts.put("input", plan.input());
        facts.put("output", output);
        facts.put("ran on", backends);
        facts.put("rows", String.format(Locale.ROOT, "%,d (%,d with errors)", c.rows(), c.errors()));
        facts.put("tokens", String.format(Locale.ROOT, "%,d in %.1f s, %,d tokens/s", c.tokens(), seconds, Math.round(c.tokens() / Math.max(seconds, 1e-9))));
        if (c.memorySplits() > 0) facts.put("GPU out of memory", String.format(Locale.ROOT, "%,d engine passes split and run again", c.memorySplits()));
        facts.put("BOS", plan.spec().bosId() >= 0 ? "token " + plan.spec().bosId() + " (every token scored)" : "none (each document's first token is not scored)");
        RunReport.write(output, conf, "ssdspark " + task, facts, stats, c.errorKinds(), samples);
    }
}
