package ssdspark.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import ssdspark.pipeline.text.HfTokenizer;
import ssdspark.pipeline.output.ModelFingerprint;
import ssdspark.pipeline.output.OutputMetadata;
import ssdspark.pipeline.text.TokenizerSpec;
import ssdspark.udf.ModelCache;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Text in, Parquet out, through the CLI in Spark local mode on the bundled tiny model and tokenizer: every row is
 * checked against the tokenizer and the CPU engine called directly. Plain text (a document per file and per line,
 * an empty file), JSON lines and Parquet text, kept and partition columns, footer metadata, chunk-size and
 * batch-composition invariance, the progress line and the summary.
 */
class TextJobTest {
    static final Path HOME = Main.home();
    static final Path MODEL = TinyModel.DIR;
    static final Path TOKENIZER = TinyModel.TOKENIZER;
    static final String[] WORDS = ("hello world the mamba and spark state space model reads a document token by token "
            + "café naïve 東京 🚀 carries its state over chunks").split(" ");
    static SparkSession spark;
    static DocumentRunner runner;
    static HfTokenizer tok;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        runner = new DocumentRunner(ModelCache.get(MODEL.toString(), "cpu"));
        tok = TokenizerSpec.read(TOKENIZER.toString(), null).open();
        spark = SparkSession.builder().master("local[2]").appName("ssdspark-text-job-test")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2")
                .config("spark.sql.files.maxPartitionBytes", "3000")
                .config("spark.sql.files.openCostInBytes", "0")
                .getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    static String run(String... args) {
        return CliRun.ok(spark, args);
    }

    static String text(Random r, int words) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < words; i++) s.append(i == 0 ? "" : r.nextInt(9) == 0 ? "\n" : " ").append(WORDS[r.nextInt(WORDS.length)]);
        return s.toString();
    }

    /** Output rows in order: part files by name (numbered by partition), each read whole. */
    static List<Row> readOrdered(Path dir) throws IOException {
        List<Path> parts;
        try (Stream<Path> s = Files.list(dir)) {
            parts = s.filter(p -> p.getFileName().toString().startsWith("part-")).sorted().collect(Collectors.toList());
        }
        List<Row> rows = new ArrayList<>();
        for (Path p : parts) rows.addAll(spark.read().parquet(p.toString()).collectAsList());
        return rows;
    }

    static Map<String, Row> byId(List<Row> rows) {
        Map<String, Row> m = new LinkedHashMap<>();
        for (Row r : rows) m.put(String.valueOf(r.get(r.fieldIndex("id"))), r);
        return m;
    }

    static void assertScores(String id, int[] tokens, Row r, int bos, double tol) {
        ScoreResult want = runner.score(tokens, new ScoreOptions(2048, bos, true));
        assertTrue(r.isNullAt(r.fieldIndex("error")), id + ": " + r);
        assertEquals(tokens.length, r.getInt(r.fieldIndex("num_tokens")), id);
        assertEquals(want.numScored(), r.getInt(r.fieldIndex("num_scored")), id);
        assertEquals(want.sumLogprob(), r.getDouble(r.fieldIndex("sum_logprob")), tol * (1 + Math.abs(want.sumLogprob())), id);
        if (r.schema().getFieldIndex("token_logprobs").isDefined()) {
            List<Float> lp = r.getList(r.fieldIndex("token_logprobs"));
            assertEquals(want.numScored(), lp.size(), id);
            for (int i = 0; i < lp.size(); i++) assertEquals(want.tokenLogprobs()[i], lp.get(i), 1e-4f, id + " token " + i);
        }
    }

    @Test
    void plainTextByFileAndByLineAgainstTheEngine() throws IOException {
        Path in = Files.createDirectories(tmp.resolve("plain"));
        Random r = new Random(7);
        Map<String, String> files = new LinkedHashMap<>();
        for (int i = 0; i < 6; i++) files.put("doc-" + i + ".txt", text(r, 20 + 40 * i));
        files.put("empty.txt", "");
        files.put("blank-lines.txt", "hello world\n\n   \nthe mamba and spark\n");
        for (var e : files.entrySet()) Files.writeString(in.resolve(e.getKey()), e.getValue());

        // a document per file (the default): one row per file, sorted by path; the empty file is an error row
        Path out = tmp.resolve("plain-by-file");
        String log = run("score", "--model", MODEL.toString(), "--input", in.toString(), "--tokenizer", TOKENIZER.toString(),
                "--output", out.toString(), "--per-token");
        assertTrue(log.contains("8 rows (1 with errors)"), log);
        List<Row> rows = readOrdered(out);
        List<String> names = new ArrayList<>(files.keySet());
        names.sort(null);
        assertEquals(names.stream().map(n -> in.resolve(n).toString()).collect(Collectors.toList()),
                rows.stream().map(x -> x.getString(0)).collect(Collectors.toList()), "a row per file, in path order");
        for (Row row : rows) {
            String name = Path.of(row.getString(0)).getFileName().toString();
            if (name.equals("empty.txt")) {
                assertEquals("empty document", row.getString(row.fieldIndex("error")));
                assertTrue(row.isNullAt(1) && row.isNullAt(3));
                continue;
            }
            assertScores(name, tok.encode(files.get(name)), row, -1, 1e-9);
        }

        // a document per line, blank lines skipped: ids PATH:LINE, the empty file gives no row
        Path lines = tmp.resolve("plain-by-line");
        run("score", "--model", MODEL.toString(), "--input", in.toString(), "--tokenizer", TOKENIZER.toString(),
                "--output", lines.toString(), "--doc-per", "line", "--skip-blank-lines", "--output-format", "json");
        List<Row> lr = spark.read().json(lines.toString()).collectAsList();
        Map<String, Row> got = byId(lr);
        int expected = 0;
        for (var e : files.entrySet()) {
            String[] ls = e.getValue().split("\n", -1);
            for (int i = 0; i < ls.length; i++) {
                if (ls[i].isBlank()) continue;
                String id = in.resolve(e.getKey()) + ":" + (i + 1);
                Row row = got.get(id);
                assertNotNull(row, id + " in " + got.keySet());
                ScoreResult want = runner.score(tok.encode(ls[i]), new ScoreOptions(2048, -1, false));
                assertEquals(want.sumLogprob(), row.getDouble(row.fieldIndex("sum_logprob")), 1e-9 * (1 + Math.abs(want.sumLogprob())), id);
                expected++;
            }
        }
        assertEquals(expected, lr.size());
        assertTrue(got.keySet().stream().noneMatch(k -> k.contains("empty.txt")), "an empty file has no lines");
        JsonNode side = new ObjectMapper().readTree(lines.resolve(Main.SIDE_FILE).toFile());
        assertEquals(tok.sha256(), side.get("ssdspark.tokenizer.sha256").asText(), "JSON output: the metadata is in the side file");
        assertEquals(expected, side.get("ssdspark.summary").get("rows").asInt());
        assertEquals("[\"cpu\"]", side.get("ssdspark.summary").get("backends").toString());
    }

    @Test
    void jsonTextWithKeptAndPartitionColumnsAndFooterMetadata() throws IOException {
        Random r = new Random(11);
        List<String> lines = new ArrayList<>();
        Map<Integer, String> texts = new HashMap<>();
        for (int i = 0; i < 30; i++) {
            String t = text(r, 5 + r.nextInt(120));
            texts.put(i, t);
            lines.add(String.format("{\"doc\":%d,\"body\":%s,\"lang\":\"%s\",\"src\":\"s%d\"}", i,
                    new ObjectMapper().writeValueAsString(t), i % 3 == 0 ? "de" : "en", i));
        }
        lines.add("{\"doc\":100,\"lang\":\"en\",\"src\":\"no body\"}");
        lines.add("{\"doc\":101,\"body\":\"\",\"lang\":\"de\",\"src\":\"empty body\"}");
        Path in = Files.write(tmp.resolve("texts.jsonl"), lines);
        Path out = tmp.resolve("json-embed");
        String log = run("embed", "--model", MODEL.toString(), "--input", in.toString(), "--tokenizer", TOKENIZER.toString(),
                "--id-col", "doc", "--text-col", "body", "--keep-cols", "src", "--partition-by", "lang", "--output", out.toString(),
                "--token-budget", "300", "--chunk-tokens", "100");
        assertTrue(log.contains("32 rows (2 with errors)"), log);
        assertTrue(Files.isDirectory(out.resolve("lang=en")) && Files.isDirectory(out.resolve("lang=de")), "Hive-style partition folders");

        List<Row> rows = spark.read().parquet(out.toString()).collectAsList();
        assertEquals(32, rows.size());
        assertEquals("struct<id:bigint,num_tokens:int,embedding:array<float>,error:string,src:string,lang:string>",
                spark.read().parquet(out.toString()).schema().simpleString());
        for (Row row : rows) {
            long id = row.getLong(0);
            String lang = row.getString(row.fieldIndex("lang")), src = row.getString(row.fieldIndex("src"));
            if (id == 100) {
                assertEquals("missing text", row.getString(3));
                assertEquals("no body", src);
                continue;
            }
            if (id == 101) {
                assertEquals("empty document", row.getString(3));
                assertEquals("de", lang);
                continue;
            }
            assertEquals(id % 3 == 0 ? "de" : "en", lang);
            assertEquals("s" + id, src);
            int[] tokens = tok.encode(texts.get((int) id));
            EmbedResult want = runner.embed(tokens, 2048);
            List<Float> e = row.getList(2);
            assertEquals(tokens.length, row.getInt(1));
            for (int j = 0; j < e.size(); j++) assertEquals(want.mean()[j], e.get(j), 1e-4f, id + " [" + j + "]");
        }

        // every Parquet file says what produced it
        String fingerprint = ModelFingerprint.of(MODEL).sha256();
        List<Path> parts;
        try (Stream<Path> s = Files.walk(out)) {
            parts = s.filter(p -> p.toString().endsWith(".parquet")).collect(Collectors.toList());
        }
        assertFalse(parts.isEmpty());
        for (Path p : parts) {
            Map<String, String> kv = OutputMetadata.read(p.toString(), spark.sparkContext().hadoopConfiguration());
            assertEquals(fingerprint, kv.get("ssdspark.model.sha256"), p.toString());
            assertEquals(MODEL.toString(), kv.get("ssdspark.model.path"));
            assertEquals(tok.sha256(), kv.get("ssdspark.tokenizer.sha256"));
            assertEquals(TOKENIZER.toString(), kv.get("ssdspark.tokenizer.path"));
            assertEquals("cpu", kv.get("ssdspark.backend"));
            JsonNode opts = new ObjectMapper().readTree(kv.get("ssdspark.options"));
            assertEquals("embed", opts.get("task").asText());
            assertEquals("body", opts.get("--text-col").asText());
            assertEquals("300", opts.get("--token-budget").asText());
            assertEquals("100", opts.get("--chunk-tokens").asText());
            assertEquals("auto", opts.get("--device").asText());
            assertEquals("lang", opts.get("--partition-by").asText());
        }
        assertTrue(Files.isRegularFile(out.resolve(Main.SIDE_FILE)));
    }

    @Test
    void parquetTextWithABosNamedByTheTokenizer() throws IOException {
        StructType schema = new StructType().add("id", DataTypes.LongType).add("text", DataTypes.StringType);
        Random r = new Random(3);
        List<Row> in = new ArrayList<>();
        for (long i = 0; i < 12; i++) in.add(RowFactory.create(i, i == 5 ? null : text(r, 3 + r.nextInt(60))));
        Path input = tmp.resolve("text.parquet"), out = tmp.resolve("parquet-bos");
        spark.createDataFrame(in, schema).coalesce(2).write().parquet(input.toString());
        run("score", "--model", MODEL.toString(), "--input", input.toString(), "--tokenizer", TOKENIZER.toString(),
                "--prepend-bos", "<|endoftext|>", "--output", out.toString());
        Map<String, Row> got = byId(readOrdered(out));
        assertEquals(12, got.size());
        for (Row x : in) {
            Row row = got.get(String.valueOf(x.getLong(0)));
            if (x.isNullAt(1)) {
                assertEquals("missing text", row.getString(row.fieldIndex("error")));
                continue;
            }
            int[] tokens = tok.encode(x.getString(1));
            assertEquals(tokens.length, row.getInt(row.fieldIndex("num_scored")), "with a BOS every token is scored");
            assertScores(String.valueOf(x.getLong(0)), tokens, row, 316, 1e-9);
        }
    }

    /** The same corpus, whatever the chunk size, token budget, batch size, prefetch or tokenizing threads: the same numbers. */
    @Test
    void chunkSizeAndBatchCompositionDoNotChangeTheResults() throws IOException {
        Random r = new Random(5);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 40; i++) lines.add(text(r, 1 + r.nextInt(i % 10 == 0 ? 400 : 60)).replace('\n', ' '));
        Path in = Files.write(tmp.resolve("invariance.txt"), lines);
        String[][] settings = {
                {"--chunk-tokens", "2048", "--token-budget", "16384"},
                {"--chunk-tokens", "7", "--token-budget", "40", "--max-batch-docs", "3", "--tokenizer-threads", "3"},
                {"--chunk-tokens", "64", "--token-budget", "100", "--prefetch", "0", "--tokenizer-threads", "2"},
                {"--chunk-tokens", "1", "--token-budget", "1", "--prefetch", "5", "--tokenizer-threads", "1"}};
        List<Map<String, Row>> scores = new ArrayList<>(), embeds = new ArrayList<>();
        for (int k = 0; k < settings.length; k++) {
            Path s = tmp.resolve("inv-score-" + k), e = tmp.resolve("inv-embed-" + k);
            List<String> a = new ArrayList<>(List.of("score", "--model", MODEL.toString(), "--input", in.toString(), "--tokenizer",
                    TOKENIZER.toString(), "--doc-per", "line", "--per-token", "--output", s.toString()));
            a.addAll(List.of(settings[k]));
            run(a.toArray(new String[0]));
            scores.add(byId(readOrdered(s)));
            if (k < 3) {
                List<String> b = new ArrayList<>(List.of("embed", "--model", MODEL.toString(), "--input", in.toString(), "--tokenizer",
                        TOKENIZER.toString(), "--doc-per", "line", "--pooling", "last", "--output", e.toString()));
                b.addAll(List.of(settings[k]));
                run(b.toArray(new String[0]));
                embeds.add(byId(readOrdered(e)));
            }
        }
        Map<String, Row> base = scores.get(0);
        assertEquals(40, base.size());
        for (int k = 1; k < scores.size(); k++) {
            assertEquals(base.keySet(), scores.get(k).keySet());
            for (String id : base.keySet()) {
                Row a = base.get(id), b = scores.get(k).get(id);
                assertEquals(a.getInt(1), b.getInt(1), id);
                double want = a.getDouble(3);
                assertEquals(want, b.getDouble(3), 1e-4 * (1 + Math.abs(want)), id + " with " + String.join(" ", settings[k]));
                List<Float> pa = a.getList(a.fieldIndex("token_logprobs")), pb = b.getList(b.fieldIndex("token_logprobs"));
                for (int i = 0; i < pa.size(); i++) assertEquals(pa.get(i), pb.get(i), 1e-4f, id + " token " + i);
            }
        }
        for (int k = 1; k < embeds.size(); k++)
            for (String id : base.keySet()) {
                List<Float> a = embeds.get(0).get(id).getList(2), b = embeds.get(k).get(id).getList(2);
                for (int j = 0; j < a.size(); j++) assertEquals(a.get(j), b.get(j), 1e-4f, id + " [" + j + "]");
            }
        // and they are the engine's numbers for the whole document
        for (int i = 0; i < lines.size(); i++) {
            String id = in + ":" + (i + 1);
            assertScores(id, tok.encode(lines.get(i)), scores.get(1).get(id), -1, 1e-4);
        }
    }

    @Test
    void progressLinesAndASummaryWithTheBackend() throws IOException {
        Random r = new Random(9);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 400; i++) lines.add(text(r, 30 + r.nextInt(60)).replace('\n', ' '));
        Path in = Files.createDirectories(tmp.resolve("progress"));
        for (int f = 0; f < 4; f++) Files.write(in.resolve("part-" + f + ".txt"), lines.subList(100 * f, 100 * (f + 1)));
        String log = run("score", "--model", MODEL.toString(), "--input", in.toString(), "--tokenizer", TOKENIZER.toString(),
                "--doc-per", "line", "--output", tmp.resolve("progress-out").toString(), "--progress", "1", "--token-budget", "512");
        assertTrue(log.lines().anyMatch(l -> l.matches("score: [0-9,]+ docs, [0-9.,M]+ tokens, [0-9,]+ tok/s, \\d+% of input(, ETA \\S+)?")),
                "a progress line with the share of input read: " + log);
        assertTrue(log.lines().anyMatch(l -> l.matches("score: 400 rows \\(0 with errors\\), \\d+ tokens in [0-9.]+ s, [0-9,.M]+ tok/s on cpu -> .*")),
                "the summary: " + log);
    }

    @Test
    void invalidUtf8IsCountedOrWithStrictUtf8AnErrorRow() throws IOException {
        Path in = Files.createDirectories(tmp.resolve("utf8"));
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        b.writeBytes("hello world\nspark ".getBytes(StandardCharsets.UTF_8));
        b.write(0xe2); // a three-byte sequence cut short: one malformed sequence
        b.write(0x82);
        b.writeBytes(" mamba\nthe state\n".getBytes(StandardCharsets.UTF_8));
        Path file = Files.write(in.resolve("a.txt"), b.toByteArray());
        String id = file + ":2";

        Path lenient = tmp.resolve("utf8-lenient");
        String log = run("score", "--model", MODEL.toString(), "--input", in.toString(), "--tokenizer", TOKENIZER.toString(),
                "--doc-per", "line", "--per-token", "--output", lenient.toString(), "--progress", "0");
        assertTrue(log.contains("1 documents had invalid UTF-8 (1 malformed byte sequences): scored with U+FFFD"), log);
        Map<String, Row> rows = byId(readOrdered(lenient));
        assertScores(id, tok.encode("spark \uFFFD mamba"), rows.get(id), -1, 1e-4); // as Java's replacing decoder reads it
        String side = Files.readString(lenient.resolve(Main.SIDE_FILE));
        assertTrue(side.contains("\"invalid_utf8_documents\" : 1") && side.contains("\"invalid_utf8_sequences\" : 1"), side);

        Path strict = tmp.resolve("utf8-strict");
        log = run("score", "--model", MODEL.toString(), "--input", in.toString(), "--tokenizer", TOKENIZER.toString(),
                "--doc-per", "line", "--strict-utf8", "--output", strict.toString(), "--progress", "0");
        rows = byId(readOrdered(strict));
        Row bad = rows.get(id);
        assertEquals("invalid UTF-8: 1 malformed byte sequence, the first at byte 6 of " + file + " line 2 (without --strict-utf8"
                + " they are scored as U+FFFD)", bad.getString(bad.fieldIndex("error")));
        assertTrue(bad.isNullAt(bad.fieldIndex("sum_logprob")));
        assertTrue(rows.get(file + ":1").isNullAt(bad.fieldIndex("error")) && rows.get(file + ":3").isNullAt(bad.fieldIndex("error")));
        assertTrue(log.contains("score: 3 rows (1 with errors)") && log.contains("1 x invalid UTF-8: N malformed byte sequence, the first at byte N of PATH"), log);
    }
}
