package ssdspark.jobs;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.model.DocumentRunner;
import ssdspark.model.DocumentRunner.EmbedResult;
import ssdspark.model.DocumentRunner.ScoreOptions;
import ssdspark.model.DocumentRunner.ScoreResult;
import ssdspark.udf.ModelCache;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The job end to end in Spark local mode on the bundled tiny model and corpus: every output row is
 * checked against DocumentRunner called directly on the same tokens.
 */
class EndToEndTest {
    private static final Path HOME = Main.home();
    private static final Path MODEL = TinyModel.DIR;
    private static final Path CORPUS = TinyModel.TOKENS_CORPUS;
    private static SparkSession spark;
    private static DocumentRunner runner;
    /** The corpus in file order: id → tokens (null for an empty array, to be kept apart from absent). */
    private static final Map<String, int[]> DOCS = new LinkedHashMap<>();

    @TempDir
    static Path tmp;
    /** The corpus's first 20 rows (one of them an error row), for the tests that only need a few. */
    private static Path smallCorpus;

    @BeforeAll
    static void start() throws IOException {
        Pattern line = Pattern.compile("\\{\"id\":\"([^\"]+)\",\"tokens\":\\[([0-9,]*)]}");
        for (String l : Files.readAllLines(CORPUS)) {
            Matcher m = line.matcher(l);
            assertTrue(m.matches(), l);
            int[] t = m.group(2).isEmpty() ? new int[0] : Stream.of(m.group(2).split(",")).mapToInt(Integer::parseInt).toArray();
            DOCS.put(m.group(1), t);
        }
        smallCorpus = Files.write(tmp.resolve("small.jsonl"), Files.readAllLines(CORPUS).subList(0, 20));
        runner = new DocumentRunner(ModelCache.get(MODEL.toString(), "cpu"));
        spark = SparkSession.builder().master("local[2]").appName("ssdspark-test")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2")
                // several input partitions from the 50 kB corpus, so order across partitions is tested too
                .config("spark.sql.files.maxPartitionBytes", "12000")
                .config("spark.sql.files.openCostInBytes", "0")
                .getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    private static String run(String... args) {
        return CliRun.ok(spark, args);
    }

    /** The output's rows in order: part files by name (Spark numbers them by partition), each read whole. */
    private static List<Row> readOrdered(Path dir, String ext) throws IOException {
        assertTrue(Files.exists(dir.resolve("_SUCCESS")));
        List<Path> parts;
        try (Stream<Path> s = Files.list(dir)) {
            parts = s.filter(p -> p.getFileName().toString().startsWith("part-") && p.toString().endsWith(ext)).sorted().toList();
        }
        assertTrue(parts.size() > 1, "expected several partitions, got " + parts);
        List<Row> rows = new ArrayList<>();
        for (Path p : parts)
            rows.addAll(ext.endsWith("parquet") ? spark.read().parquet(p.toString()).collectAsList()
                    : spark.read().schema(spark.read().json(p.toString()).schema()).json(p.toString()).collectAsList());
        return rows;
    }

    @Test
    void scoresEveryRowLikeDocumentRunner() throws IOException {
        Path out = tmp.resolve("score");
        String log = run("score", "--model", MODEL.toString(), "--input", CORPUS.toString(), "--output", out.toString(),
                "--per-token", "--chunk-tokens", "100");
        assertTrue(log.contains(DOCS.size() + " rows (2 with errors)"), log);
        assertTrue(Files.list(out).anyMatch(p -> p.toString().endsWith(".zstd.parquet")), "parquet with zstd");

        StructType schema = spark.read().parquet(out.toString()).schema();
        assertEquals("struct<id:string,num_tokens:int,num_scored:int,sum_logprob:double,mean_nll:double,perplexity:double,"
                + "token_logprobs:array<float>,error:string>", schema.simpleString());

        List<Row> rows = readOrdered(out, ".parquet");
        assertEquals(new ArrayList<>(DOCS.keySet()), rows.stream().map(r -> r.getString(0)).toList(), "one row per input row, in order");
        for (Row r : rows) {
            String id = r.getString(0);
            int[] tokens = DOCS.get(id);
            if (id.startsWith("err-")) {
                String e = r.getString(7);
                assertTrue(id.equals("err-empty") ? e.contains("empty") : e.contains("317") && e.contains("position 25"), e);
                for (int c = 1; c <= 6; c++) assertTrue(r.isNullAt(c), id + " column " + c);
                continue;
            }
            ScoreResult want = runner.score(tokens, new ScoreOptions(100, -1, true));
            assertTrue(r.isNullAt(7), id + ": " + r.get(7));
            assertEquals(want.numTokens(), r.getInt(1), id);
            assertEquals(want.numScored(), r.getInt(2), id);
            assertEquals(want.sumLogprob(), r.getDouble(3), 1e-9 * Math.abs(want.sumLogprob()), id);
            List<Float> lp = r.getList(6);
            assertEquals(want.numScored(), lp.size(), id);
            for (int i = 0; i < lp.size(); i++) assertEquals(want.tokenLogprobs()[i], lp.get(i), 1e-6f, id + " token " + (i + 1));
            if (want.numScored() == 0) {
                assertTrue(r.isNullAt(4) && r.isNullAt(5), id + ": mean_nll and perplexity are null when nothing is scored");
            } else {
                assertEquals(want.meanNll(), r.getDouble(4), 1e-9 * want.meanNll(), id);
                assertEquals(want.perplexity(), r.getDouble(5), 1e-9 * want.perplexity(), id);
                assertTrue(want.meanNll() > 0 && want.perplexity() > 1, id);
            }
        }
        assertEquals(0, rows.stream().filter(r -> r.getString(0).equals("doc-003")).findFirst().orElseThrow().getInt(2));
    }

    @Test
    void bosScoresEveryTokenAndTheChunkSizeDoesNotChangeTheResult() throws IOException {
        Path out = tmp.resolve("score-bos");
        run("score", "--model", MODEL.toString(), "--input", smallCorpus.toString(), "--output", out.toString(), "--prepend-bos", "0");
        List<Row> rows = readOrdered(out, ".parquet");
        assertEquals(20, rows.size());
        for (Row r : rows) {
            if (!r.isNullAt(6)) continue;
            assertEquals(r.getInt(1), r.getInt(2), "with a BOS every token is scored");
            ScoreResult want = runner.score(DOCS.get(r.getString(0)), new ScoreOptions(37, 0, false));
            assertEquals(want.sumLogprob(), r.getDouble(3), 1e-4 * Math.abs(want.sumLogprob()) + 1e-4, r.getString(0));
        }
    }

    @Test
    void embedsWithMeanAndLastPooling() throws IOException {
        Path mean = tmp.resolve("embed-mean"), last = tmp.resolve("embed-last");
        run("embed", "--model", MODEL.toString(), "--input", smallCorpus.toString(), "--output", mean.toString());
        run("embed", "--model", MODEL.toString(), "--input", smallCorpus.toString(), "--output", last.toString(),
                "--pooling", "last", "--output-format", "json", "--chunk-tokens", "50");
        List<Row> m = readOrdered(mean, ".parquet"), l = readOrdered(last, ".json");
        assertEquals(20, m.size());
        assertEquals(20, l.size());
        int dModel = runner.engine().config().dModel;
        for (int i = 0; i < m.size(); i++) {
            String id = m.get(i).getString(m.get(i).fieldIndex("id"));
            assertEquals(id, l.get(i).getString(l.get(i).fieldIndex("id")));
            if (id.startsWith("err-")) {
                assertTrue(m.get(i).isNullAt(2) && m.get(i).getString(3) != null);
                assertTrue(l.get(i).isNullAt(l.get(i).fieldIndex("embedding")) && l.get(i).getString(l.get(i).fieldIndex("error")) != null);
                continue;
            }
            EmbedResult want = runner.embed(DOCS.get(id), 2048);
            List<Float> gm = m.get(i).getList(2);
            List<Double> gl = l.get(i).getList(l.get(i).fieldIndex("embedding")); // JSON reads numbers back as double
            assertEquals(dModel, gm.size(), id);
            assertEquals(dModel, gl.size(), id);
            assertEquals(DOCS.get(id).length, m.get(i).getInt(1));
            for (int j = 0; j < dModel; j++) {
                assertEquals(want.mean()[j], gm.get(j), 1e-4f, id + " mean[" + j + "]");
                assertEquals(want.last()[j], gl.get(j), 1e-4, id + " last[" + j + "]");
            }
        }
    }

    @Test
    void parquetInputKeepsTheIdTypeAndCustomColumnNames() throws IOException {
        StructType schema = new StructType().add("doc", DataTypes.LongType)
                .add("ids", DataTypes.createArrayType(DataTypes.IntegerType)).add("text", DataTypes.StringType);
        List<Row> in = List.of(
                RowFactory.create(10L, new int[] {5, 6, 7}, "x"),
                RowFactory.create(11L, null, "y"),
                RowFactory.create(12L, new int[] {1, 400}, "z"),
                RowFactory.create(null, new int[] {8, 9}, "no id"));
        Path input = tmp.resolve("in.parquet"), out = tmp.resolve("score-parquet");
        spark.createDataFrame(in, schema).coalesce(1).write().parquet(input.toString());
        run("score", "--model", MODEL.toString(), "--input", input.toString(), "--output", out.toString(),
                "--id-col", "doc", "--tokens-col", "ids");
        List<Row> rows = spark.read().parquet(out.toString()).collectAsList();
        assertEquals(DataTypes.LongType, spark.read().parquet(out.toString()).schema().apply("id").dataType());
        assertEquals(4, rows.size());
        assertEquals(10L, rows.get(0).getLong(0));
        assertEquals(runner.score(new int[] {5, 6, 7}, new ScoreOptions(2048, -1, false)).sumLogprob(), rows.get(0).getDouble(3), 1e-9);
        assertTrue(rows.get(1).getString(6).contains("null"));
        assertTrue(rows.get(2).getString(6).contains("token id 400 at position 1"));
        assertTrue(rows.get(3).isNullAt(0) && rows.get(3).isNullAt(6));
    }

    /** A corpus that is text, not tokens: every row is an error row naming the position; --max-error-rate makes it fail. */
    @Test
    void textWhereTokensBelongGivesErrorRowsAndFailsByErrorRate() throws IOException {
        Path texts = Files.writeString(tmp.resolve("text.jsonl"), "{\"id\":1,\"tokens\":[\"a\",\"b\"]}\n");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
        Path out = tmp.resolve("kept");
        int rc = Main.run(new String[] {"score", "--model", MODEL.toString(), "--input", texts.toString(),
                "--output", out.toString(), "--max-error-rate", "0.5", "--progress", "0"}, ps, ps, spark);
        String log = buf.toString(StandardCharsets.UTF_8);
        assertEquals(1, rc, log);
        assertTrue(log.contains("1 of 1 rows (100.0%) have errors, more than --max-error-rate 0.5 allows; the output is kept"), log);
        Row r = spark.read().parquet(out.toString()).collectAsList().get(0);
        assertEquals("token at position 0 is \"a\", not an integer token id", r.getString(r.fieldIndex("error")));
    }

    /**
     * One bad row is that row's error, naming the position or the file, and never refuses the job; the summary
     * counts each kind; --on-error skip drops error rows, fail stops at the first.
     */
    @Test
    void badRowsAreTheirOwnErrors() throws IOException {
        Path in = Files.writeString(tmp.resolve("bad-rows.jsonl"), String.join("\n",
                "{\"id\":\"ok\",\"tokens\":[5,6,7]}",
                "{\"id\":\"float\",\"tokens\":[5,2.5,7]}",
                "{\"id\":\"text\",\"tokens\":[5,\"x\"]}",
                "{\"id\":\"scalar\",\"tokens\":\"abc\"}",
                "{\"id\": \"broken\", \"tokens\": [1, 2",
                "{\"id\":\"vocab\",\"tokens\":[5,400]}") + "\n");
        Path out = tmp.resolve("bad-rows-out");
        String log = run("score", "--model", MODEL.toString(), "--input", in.toString(), "--output", out.toString(), "--progress", "0");
        List<Row> rows = spark.read().parquet(out.toString()).collectAsList();
        assertEquals(6, rows.size(), "one output row per input line");
        Map<String, String> errors = new LinkedHashMap<>();
        for (Row r : rows) errors.put(r.isNullAt(0) ? null : r.getString(0), r.getString(r.fieldIndex("error")));
        assertNull(errors.get("ok"));
        Row ok = rows.stream().filter(r -> "ok".equals(r.getString(0))).findFirst().orElseThrow();
        assertEquals(runner.score(new int[] {5, 6, 7}, new ScoreOptions(2048, -1, false)).sumLogprob(), ok.getDouble(3), 1e-9);
        assertEquals("token at position 1 is 2.5, not an integer token id", errors.get("float"));
        assertEquals("token at position 1 is \"x\", not an integer token id", errors.get("text"));
        assertEquals("tokens is abc, not an array of integer token ids", errors.get("scalar"));
        assertTrue(errors.get("vocab").contains("token id 400 at position 1"), errors.get("vocab"));
        String broken = errors.get(null);
        assertTrue(broken != null && broken.startsWith("malformed JSON line in ") && broken.contains("bad-rows.jsonl")
                && broken.contains("{\"id\": \"broken\""), String.valueOf(broken));
        assertTrue(log.contains("6 rows (5 with errors)"), log);
        assertTrue(log.contains("1 x token at position N is N, not an integer token id"), log);
        assertTrue(log.contains("1 x token at position N is \"…\", not an integer token id"), log);
        assertTrue(log.contains("1 x malformed JSON line in PATH"), log);

        Path skipped = tmp.resolve("bad-rows-skip");
        run("score", "--model", MODEL.toString(), "--input", in.toString(), "--output", skipped.toString(), "--on-error", "skip", "--progress", "0");
        List<Row> kept = spark.read().parquet(skipped.toString()).collectAsList();
        assertEquals(1, kept.size());
        assertEquals("ok", kept.get(0).getString(0));

        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
        int rc = Main.run(new String[] {"score", "--model", MODEL.toString(), "--input", in.toString(), "--output",
                tmp.resolve("bad-rows-fail").toString(), "--on-error", "fail", "--progress", "0"}, ps, ps, spark);
        String failed = buf.toString(StandardCharsets.UTF_8);
        assertEquals(1, rc, failed);
        // the first error row in output order stops it, whichever that is; its id and message are named
        assertTrue(failed.contains("score stopped: document ") && failed.contains("--on-error fail stops the job"), failed);
        assertFalse(failed.contains("\tat "), "no stack trace: " + failed);
    }

    /** --overwrite builds beside the old output and swaps at the end: a failing run leaves the old output whole. */
    @Test
    void overwriteNeverLosesTheEarlierOutput() throws IOException {
        Path out = tmp.resolve("swap-out");
        run("score", "--model", MODEL.toString(), "--input", smallCorpus.toString(), "--output", out.toString(), "--progress", "0");
        long before = spark.read().parquet(out.toString()).count();
        // a leftover staging folder of a killed --overwrite run is cleared, not mixed in
        Path stale = Files.createDirectories(tmp.resolve(".swap-out.ssdspark-new"));
        Files.writeString(stale.resolve("part-stale.parquet"), "junk");

        Path bad = Files.writeString(tmp.resolve("one-bad.jsonl"), "{\"id\":\"a\",\"tokens\":[5,2.5]}\n");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
        int rc = Main.run(new String[] {"score", "--model", MODEL.toString(), "--input", bad.toString(), "--output", out.toString(),
                "--overwrite", "--on-error", "fail", "--progress", "0"}, ps, ps, spark);
        assertEquals(1, rc, buf.toString(StandardCharsets.UTF_8));
        assertEquals(before, spark.read().parquet(out.toString()).count(), "the failed --overwrite left the earlier output as it was");
        assertTrue(Files.exists(out.resolve("_SUCCESS")));

        run("score", "--model", MODEL.toString(), "--input", bad.toString(), "--output", out.toString(), "--overwrite", "--progress", "0");
        assertEquals(1, spark.read().parquet(out.toString()).count(), "replaced by the new output");
        assertTrue(Files.exists(out.resolve(Main.SIDE_FILE)));
        assertFalse(Files.exists(tmp.resolve(".swap-out.ssdspark-new")) || Files.exists(tmp.resolve(".swap-out.ssdspark-old")));
    }
}
