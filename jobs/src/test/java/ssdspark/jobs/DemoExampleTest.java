package ssdspark.jobs;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * README's first command, {@code bin/ssdspark score} with no flags, through Main in Spark local mode: the bundled
 * example (the trained demo model on the mixed corpus) and its per-kind report; the same run with small chunks and
 * batches gives the same scores.
 */
class DemoExampleTest {
    static SparkSession spark;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("ssdspark-demo-example-test").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    static String run(String... args) {
        return CliRun.ok(spark, args);
    }

    @Test
    void bundledExampleReportsPerplexityByKindAndChunkingChangesNothing() {
        Path out = tmp.resolve("example");
        String log = run("score", "--device", "cpu", "--progress", "0", "--output", out.toString());
        System.out.println(log);
        assertTrue(log.contains("running the bundled example"), log);
        assertTrue(log.contains("39 rows (2 with errors)"), log);

        // the report: "  kind  docs  errors  tokens  mean-ppl  token-ppl", lowest perplexity first, error-only kinds last
        Matcher m = Pattern.compile("(?m)^  (\\w+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\S+)\\s+(\\S+)$").matcher(log);
        Map<String, String[]> report = new LinkedHashMap<>();
        while (m.find()) report.put(m.group(1), new String[] {m.group(2), m.group(3), m.group(4), m.group(5), m.group(6)});
        assertTrue(log.contains("perplexity by kind"), log);
        assertEquals(List.of("long", "heldout", "shuffled", "random", "bad", "empty"), List.copyOf(report.keySet()), log);
        assertEquals("12", report.get("heldout")[0]);
        assertEquals("1", report.get("bad")[1]);
        assertEquals("-", report.get("empty")[4]);
        double held = Double.parseDouble(report.get("heldout")[4]), shuf = Double.parseDouble(report.get("shuffled")[4]),
                rand = Double.parseDouble(report.get("random")[4]);
        assertTrue(held * 4 < shuf && shuf * 4 < rand, log);

        // the kind column travels to the output, and every row of the report comes from it
        List<Row> rows = spark.read().parquet(out.toString()).orderBy("id").collectAsList();
        assertEquals(39, rows.size());
        Row bad = rows.stream().filter(r -> r.getString(0).equals("bad-01")).findFirst().orElseThrow();
        assertEquals("bad", bad.getAs("kind"));
        assertEquals("missing text", bad.getAs("error"));

        // small chunks (the long document in 79 pieces) and small batches: the same numbers
        Path small = tmp.resolve("small-chunks");
        run("score", "--input", Main.home().resolve(JobOptions.EXAMPLE_INPUT).toString(), "--device", "cpu", "--progress", "0",
                "--chunk-tokens", "100", "--token-budget", "500", "--max-batch-docs", "3", "--output", small.toString());
        List<Row> again = spark.read().parquet(small.toString()).orderBy("id").collectAsList();
        assertEquals(rows.size(), again.size());
        for (int i = 0; i < rows.size(); i++) {
            Row a = rows.get(i), b = again.get(i);
            assertEquals(a.getString(0), b.getString(0));
            assertEquals((Object) a.getAs("num_tokens"), b.getAs("num_tokens"));
            if (a.isNullAt(a.fieldIndex("sum_logprob"))) {
                assertTrue(b.isNullAt(b.fieldIndex("sum_logprob")), a.getString(0));
                continue;
            }
            double x = a.getAs("sum_logprob"), y = b.getAs("sum_logprob");
            assertEquals(x, y, 1e-5 * Math.abs(x) + 1e-4, a.getString(0));
        }
    }
}
