package ssdspark.jobs;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import ssdspark.pipeline.DataFormat;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

import static org.apache.spark.sql.functions.avg;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;

/**
 * The end-of-job table of {@code --report-by COL}: per value of COL, documents, error rows, tokens, the mean of the
 * documents' perplexities and the token-weighted perplexity exp(−Σ sum_logprob / Σ num_scored). Read back from the
 * written output (one pass over its numeric columns), ordered from the lowest perplexity up.
 */
final class PerplexityReport {
    /** One group of the table. */
    record Group(String value, long docs, long errors, long tokens, Double meanPpl, Double tokenPpl) {}

    private PerplexityReport() {}

    static List<Group> groups(SparkSession spark, String output, DataFormat format, String column) {
        Dataset<Row> d = spark.read().format(format.sparkName()).load(output);
        Column key = col("`" + column.replace("`", "``") + "`");
        List<Row> rows = d.groupBy(key.cast("string").as("value"))
                .agg(count(lit(1)).as("docs"), count(col("error")).as("errors"), sum("num_tokens").as("tokens"),
                        avg("perplexity").as("mean_ppl"), sum("sum_logprob").as("lp"), sum("num_scored").as("scored"))
                .collectAsList();
        List<Group> out = new ArrayList<>();
        for (Row r : rows) { // value, docs, errors, tokens, mean_ppl, lp, scored
            long scored = r.isNullAt(6) ? 0 : r.getLong(6);
            Double tokenPpl = scored > 0 ? Math.exp(-r.getDouble(5) / scored) : null;
            out.add(new Group(r.isNullAt(0) ? "(null)" : r.getString(0), r.getLong(1), r.getLong(2), r.isNullAt(3) ? 0 : r.getLong(3),
                    r.isNullAt(4) ? null : r.getDouble(4), tokenPpl));
        }
        out.sort(Comparator.comparing((Group g) -> g.tokenPpl() == null ? Double.POSITIVE_INFINITY : g.tokenPpl())
                .thenComparing(Group::value));
        return out;
    }

    /** The table as lines for the console. */
    static List<String> format(String column, List<Group> groups) {
        int w = Math.max(column.length(), groups.stream().mapToInt(g -> g.value().length()).max().orElse(0));
        List<String> lines = new ArrayList<>();
        lines.add("perplexity by " + column + " (lower: the model finds the text more predictable):");
        lines.add(String.format(Locale.ROOT, "  %-" + w + "s %6s %7s %9s %10s %10s", column, "docs", "errors", "tokens", "mean ppl", "token ppl"));
        for (Group g : groups)
            lines.add(String.format(Locale.ROOT, "  %-" + w + "s %6d %7d %9d %10s %10s", g.value(), g.docs(), g.errors(), g.tokens(),
                    ppl(g.meanPpl()), ppl(g.tokenPpl())));
        return lines;
    }

    private static String ppl(Double p) {
        if (p == null) return "-";
        return p < 1e5 ? String.format(Locale.ROOT, "%.2f", p) : String.format(Locale.ROOT, "%.3g", p);
    }
}
