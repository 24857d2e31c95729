package ssdspark.pipeline.report;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;


/**
 * What the run report shows, computed with Spark from the job's output as written: quantiles of perplexity and
 * bits per byte, and histograms of them and of document lengths: two passes over three columns of the output
 * (Parquet reads only those), run on the cluster after the job, with small results.
 *
 * @param quantiles  per column ("perplexity", "bits_per_byte" when the output has it): the values at {@link #PROBS},
 *                   approximate to {@link #RELATIVE_ERROR} in rank; absent when the column has no value
 * @param histograms perplexity (log bins), bits per byte, tokens per document (log bins), between the column's smallest
 *                   and largest value (as approxQuantile finds them: a value outside counts in the edge bin); absent when no value
 */
public record RunStats(long rows, Map<String, double[]> quantiles, Map<String, Histogram> histograms) {
    /** The quantiles reported: 1, 5, 25, 50, 75, 95, 99 %. */
    public static final double[] PROBS = {0.01, 0.05, 0.25, 0.50, 0.75, 0.95, 0.99};
    /** Rank error of Spark's approxQuantile (Greenwald-Khanna): 1e-4 = within 0.01 % of the rows. */
    public static final double RELATIVE_ERROR = 1e-4;
    public static final int BINS = 40;

    /** Counts of values in [edges[i], edges[i+1]); the last bin also holds the maximum. */
    public record Histogram(String column, boolean logBins, double[] edges, long[] counts) {
        public long total() { return Arrays.stream(counts).sum(); }
    }

    /** "p1", "p5", ... "p99": the names of {@link #PROBS} in _ssdspark.json and the report. */
    public static String label(double p) { return "p" + Math.round(p * 100); }

    /** The statistics of a score job's output (columns perplexity, num_tokens; bits_per_byte when text). */
    public static RunStats of(Dataset<Row> out) {
        boolean text = Arrays.asList(out.columns()).contains("bits_per_byte");
        Dataset<Row> fin = out.select(finite("perplexity"), text ? finite("bits_per_byte") : lit(null).cast("double").as("bits_per_byte"),
                col("num_tokens").cast("double").as("num_tokens"));

        // Pass 1: quantiles, and each column's minimum and maximum (p0, p100) for the histogram bins.
        String[] measured = text ? new String[] {"perplexity", "bits_per_byte", "num_tokens"} : new String[] {"perplexity", "num_tokens"};
        double[] probs = new double[PROBS.length + 2];
        System.arraycopy(PROBS, 0, probs, 1, PROBS.length);
        probs[probs.length - 1] = 1;
        double[][] q = fin.stat().approxQuantile(measured, probs, RELATIVE_ERROR);
        Map<String, double[]> quantiles = new LinkedHashMap<>();
        double[][] ranges = new double[HISTOGRAMS.length][];
        for (int i = 0; i < measured.length; i++) {
            if (q[i] == null || q[i].length != probs.length) continue; // no value
            if (!measured[i].equals("num_tokens")) quantiles.put(measured[i], Arrays.copyOfRange(q[i], 1, probs.length - 1));
            int h = Arrays.asList(HISTOGRAMS).indexOf(measured[i]);
            ranges[h] = binRange(LOG_BINS[h], q[i][0], q[i][probs.length - 1]);
        }

        // Pass 2: rows and histogram counts; per partition, then merged (no shuffle).
        Counts zero = new Counts(ranges);
        Counts c = fin.javaRDD().treeAggregate(zero, Counts::add, Counts::merge);
        Map<String, Histogram> histograms = new LinkedHashMap<>();
        for (int h = 0; h < HISTOGRAMS.length; h++) {
            if (ranges[h] == null) continue;
            double[] edges = new double[BINS + 1];
            for (int b = 0; b <= BINS; b++) edges[b] = LOG_BINS[h] ? Math.pow(10, ranges[h][0] + b * ranges[h][1]) : ranges[h][0] + b * ranges[h][1];
            histograms.put(HISTOGRAMS[h], new Histogram(HISTOGRAMS[h], LOG_BINS[h], edges, c.bins[h]));
        }
        return new RunStats(c.rows, quantiles, histograms);
    }

    /** The histograms, in the column order of the select in {@link #of}, and their binning. */
    private static final String[] HISTOGRAMS = {"perplexity", "bits_per_byte", "num_tokens"};
    private static final boolean[] LOG_BINS = {true, false, true};
    /** Rows of (perplexity, bits_per_byte, num_tokens) counted into bins; mergeable partial results. */
    private static final class Counts implements java.io.Serializable {
        final double[][] ranges;
        final long[][] bins = new long[HISTOGRAMS.length][BINS];
        long rows;

        Counts(double[][] ranges) { this.ranges = ranges; }

        Counts add(Row r) {
            rows++;
            for (int h = 0; h < HISTOGRAMS.length; h++) {
                if (ranges[h] == null || r.isNullAt(h)) continue;
                double v = r.getDouble(h);
                if (LOG_BINS[h] && !(v > 0)) continue;
                double x = LOG_BINS[h] ? Math.log10(v) : v;
                bins[h][(int) Math.max(0, Math.min(BINS - 1, Math.floor((x - ranges[h][0]) / ranges[h][1])))]++;
            }
            return this;
        }

        Counts merge(Counts o) {
            rows += o.rows;
            for (int h = 0; h < bins.length; h++) for (int b = 0; b < BINS; b++) bins[h][b] += o.bins[h][b];
            return this;
        }
    }

    /** The column with infinities and NaN as null (exp overflows to infinity for a mean NLL above ~709). */
    private static Column finite(String c) {
        return when(col(c).isNaN().or(col(c).equalTo(Double.POSITIVE_INFINITY)), lit(null)).otherwise(col(c)).as(c);
    }

    /** The first bin's lower edge and the bin width, in log10 units for log bins. */
    private static double[] binRange(boolean logBins, double min, double max) {
        if (logBins && min <= 0) min = 1e-12; // perplexity and lengths are positive; guard anyway
        double lo = logBins ? Math.log10(min) : min, hi = logBins ? Math.log10(max) : max;
        if (!(hi > lo)) hi = lo + (logBins ? 0.1 : Math.max(1e-9, Math.abs(lo) * 0.01)); // all values equal: one visible bin
        return new double[] {lo, (hi - lo) / BINS};
    }

    /** The quantiles for _ssdspark.json: {"perplexity": {"p1": ..., ...}, ...}. */
    public Map<String, Object> quantilesJson() {
        Map<String, Object> out = new LinkedHashMap<>();
        quantiles.forEach((c, q) -> {
            Map<String, Double> m = new LinkedHashMap<>();
            for (int i = 0; i < PROBS.length; i++) m.put(label(PROBS[i]), q[i]);
            out.put(c, m);
        });
        return out;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "RunStats[%d rows, quantiles of %s]", rows, quantiles.keySet());
    }
}
