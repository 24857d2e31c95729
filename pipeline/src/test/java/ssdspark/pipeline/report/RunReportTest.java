package ssdspark.pipeline.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/** Statistics of an output against sorted values and hand counts, and the report file that shows them. */
class RunReportTest {
    static SparkSession spark;
    static final StructType SCHEMA = DataTypes.createStructType(List.of(
            DataTypes.createStructField("id", DataTypes.LongType, false),
            DataTypes.createStructField("num_tokens", DataTypes.IntegerType, true),
            DataTypes.createStructField("perplexity", DataTypes.DoubleType, true),
            DataTypes.createStructField("bits_per_byte", DataTypes.DoubleType, true),
            DataTypes.createStructField("error", DataTypes.StringType, true)));

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("ssdspark-report-tests").config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2").config("spark.driver.host", "127.0.0.1").getOrCreate();
    }

    /** 2000 scored rows with log-normal perplexity, 3 error rows of two kinds, one row with an infinite perplexity. */
    static List<Row> rows(double[] ppl, double[] bpb, int[] tokens) {
        Random rnd = new Random(7);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < ppl.length; i++) {
            ppl[i] = Math.exp(2 + rnd.nextGaussian());
            bpb[i] = 0.5 + rnd.nextDouble();
            tokens[i] = 1 + i % 100;
            rows.add(RowFactory.create((long) i, tokens[i], ppl[i], bpb[i], null));
        }
        rows.add(RowFactory.create(-1L, null, null, null, "token id 999 at position 1 is outside the model's vocabulary [0, 317)"));
        rows.add(RowFactory.create(-2L, null, null, null, "token id 4000 at position 17 is outside the model's vocabulary [0, 317)"));
        rows.add(RowFactory.create(-3L, null, null, null, "empty document"));
        rows.add(RowFactory.create(-4L, 5, Double.POSITIVE_INFINITY, null, null));
        return rows;
    }

    @Test
    void quantilesAndHistograms() {
        int n = 2000;
        double[] ppl = new double[n], bpb = new double[n];
        int[] tokens = new int[n];
        Dataset<Row> out = spark.createDataFrame(rows(ppl, bpb, tokens), SCHEMA).repartition(3);
        RunStats s = RunStats.of(out);
        assertEquals(n + 4, s.rows());

        double[] sorted = ppl.clone();
        Arrays.sort(sorted);
        double[] q = s.quantiles().get("perplexity");
        for (int i = 0; i < RunStats.PROBS.length; i++) {
            // within one rank of the exact p-quantile (1e-4 relative error of 2000 rows is under one rank)
            int rank = (int) Math.ceil(RunStats.PROBS[i] * n) - 1;
            assertTrue(q[i] >= sorted[Math.max(0, rank - 1)] && q[i] <= sorted[Math.min(n - 1, rank + 1)],
                    "p" + RunStats.PROBS[i] + ": " + q[i] + " vs sorted[" + rank + "] = " + sorted[rank]);
        }
        assertNotNull(s.quantiles().get("bits_per_byte"));

        RunStats.Histogram ht = s.histograms().get("num_tokens");
        assertEquals(n + 1, ht.total(), "every row with a length, errors excluded");
        assertEquals(1.0, ht.edges()[0], 1e-9);
        assertEquals(100.0, ht.edges()[RunStats.BINS], 1e-9);
        // log bins over [1, 100]: bin 0 is [1, 10^0.05) = {1}, 20 rows of length 1
        assertEquals(n / 100, ht.counts()[0]);
        // the last bin is [10^1.95, 100] = lengths 90..100 (the maximum included)
        assertEquals(11 * n / 100, ht.counts()[RunStats.BINS - 1]);
        assertEquals(n, s.histograms().get("perplexity").total(), "the infinite perplexity is left out");
        assertEquals(n, s.histograms().get("bits_per_byte").total());

    }

    @Test
    void theReportHoldsTheQuantilesOfTheSideFile() throws Exception {
        int n = 500;
        Dataset<Row> out = spark.createDataFrame(rows(new double[n], new double[n], new int[n]), SCHEMA);
        RunStats s = RunStats.of(out);
        Map<String, String> facts = new LinkedHashMap<>();
        facts.put("model", "/models/<tiny>");
        List<RunReport.Sample> samples = List.of(new RunReport.Sample(0, 0), new RunReport.Sample(5, 1000), new RunReport.Sample(10, 3000));
        Map<String, Long> kinds = new LinkedHashMap<>();
        kinds.put("token id N at position N is outside the model's vocabulary [N, N)", 2L);
        kinds.put("empty document", 1L);
        RunReport.write(tmp.toString(), spark.sparkContext().hadoopConfiguration(), "ssdspark score", facts, s, kinds, samples);
        String html = Files.readString(tmp.resolve(RunReport.FILE));

        Matcher m = Pattern.compile("<script type=\"application/json\" id=\"" + RunReport.QUANTILES_ID + "\">(.*?)</script>").matcher(html);
        assertTrue(m.find(), "the quantiles as JSON");
        JsonNode embedded = new ObjectMapper().readTree(m.group(1));
        JsonNode expected = new ObjectMapper().valueToTree(s.quantilesJson());
        assertEquals(expected, embedded);
        for (String c : List.of("perplexity", "bits_per_byte"))
            for (double p : RunStats.PROBS) {
                double v = embedded.get(c).get(RunStats.label(p)).asDouble();
                assertTrue(html.contains("<td>" + RunReport.number(v) + "</td>"), c + " " + p + " shown as " + RunReport.number(v));
            }
        assertEquals(5, html.split("<svg", -1).length - 1, "three histograms, the errors and the throughput");
        assertTrue(html.contains("Error rows by kind (3)") && html.contains("empty document"), "the error chart");
        assertTrue(html.contains("/models/&lt;tiny&gt;"), "text is escaped");
        assertFalse(html.contains("/models/<tiny>"));
    }

    @Test
    void anOutputWithoutScoresGivesAReportWithoutDistributions() {
        Dataset<Row> out = spark.createDataFrame(List.of(RowFactory.create(1L, null, null, null, "empty document")), SCHEMA)
                .drop("bits_per_byte");
        RunStats s = RunStats.of(out);
        assertTrue(s.quantiles().isEmpty());
        assertTrue(s.histograms().isEmpty());
        String html = RunReport.html("t", Map.of(), s, Map.of("empty document", 1L), List.of());
        assertTrue(html.contains("No scored document"));
        assertEquals(1, html.split("<svg", -1).length - 1, "only the error chart");
        assertTrue(RunReport.html("t", Map.of(), s, Map.of(), List.of()).contains("No error rows"));
        assertEquals("{}", Pattern.compile("id=\"" + RunReport.QUANTILES_ID + "\">(.*?)</script>").matcher(html).results().findFirst().orElseThrow().group(1));
    }

    /** A JVM that cannot draw text (seen on a bare GPU host: libfontmanager.so needs libharfbuzz.so.0) loses the chart only. */
    @Test
    void aChartThatCannotBeDrawnBecomesANote() {
        String note = RunReport.svg(() -> {
            throw new UnsatisfiedLinkError("libfontmanager.so: libharfbuzz.so.0: cannot open shared object file");
        });
        assertTrue(note.contains("Chart not drawn") && note.contains("libharfbuzz.so.0") && note.contains("class=\"none\""), note);
        assertFalse(note.contains("<svg"), note);
        String chart = RunReport.svg(() -> org.jfree.chart.ChartFactory.createXYLineChart("t", "x", "y", null));
        assertTrue(chart.contains("<svg"), "a drawable chart is drawn");
    }

    @Test
    void numbersHaveFourSignificantDigits() {
        assertEquals("12.35", RunReport.number(12.3456));
        assertEquals("0.001235", RunReport.number(0.00123456));
        assertEquals("123500", RunReport.number(123456.0));
        assertEquals("2", RunReport.number(2.0));
    }
}
