package ssdspark.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.model.DocumentRunner;
import ssdspark.model.DocumentRunner.ScoreOptions;
import ssdspark.pipeline.report.RunReport;
import ssdspark.pipeline.report.RunStats;
import ssdspark.pipeline.text.HfTokenizer;
import ssdspark.pipeline.text.TokenizerSpec;
import ssdspark.udf.ModelCache;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The curation outputs through the CLI on the tiny test model and its tokenizer: bits per byte against a hand
 * computation on the CPU engine, span offsets that Spark SQL's substring cuts the right text with (CJK, emoji),
 * span scores that add up to the document and do not depend on the chunk size, token windows, and the run report
 * with the quantiles of _ssdspark.json.
 */
class CurationJobTest {
    static final Path MODEL = TinyModel.DIR;
    static final Path TOKENIZER = TinyModel.TOKENIZER;
    static final int BOS = 316; // the tiny tokenizer's <|endoftext|>
    static final int HELLO = 259; // "hello" is one token (HfTokenizerTest)

    /** Every text starts with "hello" (5 bytes, one token), so the bytes scored without a BOS are known by hand. */
    static final Map<String, String> TEXTS = new LinkedHashMap<>();
    /** Hand-cut sentences (ICU rules: a break after each newline, none after "Mr.") of the first text. */
    static final List<String> SENTENCES = List.of("hello 東京は大きい。", "次の文です！\n", "\n", "Second 🚀 paragraph by Mr. Smith. ",
            "It has two sentences.\n");
    static final List<String> PARAGRAPHS = List.of("hello 東京は大きい。次の文です！\n\n", "Second 🚀 paragraph by Mr. Smith. It has two sentences.\n");

    static {
        TEXTS.put("zh", String.join("", SENTENCES));
        TEXTS.put("emoji", "hello 🚀🚀 rockets 😀. Next line\nand more text without a stop");
        TEXTS.put("long", "hello world. " + "The mamba reads a document token by token. Spark carries its state over chunks.\n".repeat(6));
        TEXTS.put("one", "hello");
    }

    static SparkSession spark;
    static DocumentRunner runner;
    static HfTokenizer tok;
    static Path input;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() throws IOException {
        runner = new DocumentRunner(ModelCache.get(MODEL.toString(), "cpu"));
        tok = TokenizerSpec.read(TOKENIZER.toString(), null).open();
        spark = SparkSession.builder().master("local[2]").appName("ssdspark-curation-test").config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2").getOrCreate();
        List<String> lines = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (var e : TEXTS.entrySet()) lines.add("{\"id\":\"" + e.getKey() + "\",\"text\":" + json.writeValueAsString(e.getValue()) + "}");
        lines.add("{\"id\":\"empty\",\"text\":\"\"}");
        input = Files.write(tmp.resolve("texts.jsonl"), lines);
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    static String run(String... args) {
        return CliRun.ok(spark, args);
    }

    static Path score(String name, String... flags) {
        Path out = tmp.resolve(name);
        List<String> args = new ArrayList<>(List.of("score", "--model", MODEL.toString(), "--input", input.toString(),
                "--tokenizer", TOKENIZER.toString(), "--output", out.toString(), "--device", "cpu"));
        args.addAll(Arrays.asList(flags));
        String log = run(args.toArray(new String[0]));
        assertTrue(log.contains("report: " + out.resolve(RunReport.FILE)), log);
        return out;
    }

    static Map<String, Row> rows(Path out) {
        Map<String, Row> m = new HashMap<>();
        for (Row r : spark.read().parquet(out.toString()).collectAsList()) m.put(r.getString(0), r);
        return m;
    }

    /** Each span's text as Spark SQL's substring cuts it from the input, by id, in span order. */
    static Map<String, List<String>> spanTexts(Path out) {
        spark.read().parquet(out.toString()).createOrReplaceTempView("scored");
        spark.read().json(input.toString()).createOrReplaceTempView("texts");
        Map<String, List<String>> m = new HashMap<>();
        for (Row r : spark.sql("SELECT s.id, pos, substring(t.text, span.start + 1, span.end - span.start) AS piece"
                + " FROM scored s JOIN texts t ON s.id = t.id LATERAL VIEW posexplode(s.spans) AS pos, span ORDER BY s.id, pos").collectAsList())
            m.computeIfAbsent(r.getString(0), k -> new ArrayList<>()).add(r.getString(2));
        return m;
    }

    @Test
    void bitsPerByteIsTheHandComputationWithAndWithoutBos() {
        Map<String, Row> bos = rows(score("bpb-bos", "--prepend-bos", "<|endoftext|>"));
        Map<String, Row> none = rows(score("bpb-none"));
        for (var e : TEXTS.entrySet()) {
            int[] tokens = tok.encode(e.getValue());
            assertEquals(HELLO, tokens[0], e.getKey() + " starts with the token 'hello'");
            long bytes = e.getValue().getBytes(StandardCharsets.UTF_8).length;

            double sumBos = runner.score(tokens, new ScoreOptions(2048, BOS, false)).sumLogprob();
            Row b = bos.get(e.getKey());
            assertEquals(bytes, b.getLong(b.fieldIndex("num_bytes")), e.getKey() + ": with a BOS every byte is scored");
            assertEquals(-sumBos / Math.log(2) / bytes, b.getDouble(b.fieldIndex("bits_per_byte")), 1e-9, e.getKey());

            Row n = none.get(e.getKey());
            assertEquals(bytes - 5, n.getLong(n.fieldIndex("num_bytes")), e.getKey() + ": without a BOS 'hello' is context only");
            if (bytes == 5) {
                assertTrue(n.isNullAt(n.fieldIndex("bits_per_byte")), "nothing scored: no bits per byte");
                continue;
            }
            double sum = runner.score(tokens, new ScoreOptions(2048, -1, false)).sumLogprob();
            assertEquals(-sum / Math.log(2) / (bytes - 5), n.getDouble(n.fieldIndex("bits_per_byte")), 1e-9, e.getKey());
        }
        Row empty = none.get("empty");
        assertEquals("empty document", empty.getString(empty.fieldIndex("error")));
        assertTrue(empty.isNullAt(empty.fieldIndex("num_bytes")) && empty.isNullAt(empty.fieldIndex("bits_per_byte")));
    }

    @Test
    void sentenceSpansCutTheTextInCodePointsAddUpAndDoNotDependOnChunkSize() {
        Map<Integer, Map<String, Row>> byChunk = new LinkedHashMap<>();
        Path whole = null;
        for (int chunk : new int[] {1, 7, 100_000}) {
            Path out = score("sentences-" + chunk, "--spans", "sentence", "--prepend-bos", "316", "--chunk-tokens", "" + chunk,
                    "--token-budget", "64");
            byChunk.put(chunk, rows(out));
            whole = out;
        }
        Map<String, List<String>> pieces = spanTexts(whole);
        assertEquals(SENTENCES, pieces.get("zh"), "Spark SQL substring(text, start + 1, end - start) gives each sentence");
        for (var e : TEXTS.entrySet())
            assertEquals(e.getValue(), String.join("", pieces.get(e.getKey())), e.getKey() + ": the spans cover the text");
        assertEquals(List.of("hello 🚀🚀 rockets 😀. ", "Next line\n", "and more text without a stop"), pieces.get("emoji"));

        Map<String, Row> ref = byChunk.get(100_000);
        for (String id : TEXTS.keySet()) {
            Row doc = ref.get(id);
            List<Row> spans = doc.getList(doc.fieldIndex("spans"));
            double sum = 0;
            int tokens = 0, scored = 0;
            for (Row s : spans) {
                sum += s.getDouble(s.fieldIndex("sum_logprob"));
                tokens += s.getInt(s.fieldIndex("num_tokens"));
                scored += s.getInt(s.fieldIndex("num_scored"));
                int n = s.getInt(s.fieldIndex("num_scored"));
                if (n > 0) assertEquals(-s.getDouble(s.fieldIndex("sum_logprob")) / n, s.getDouble(s.fieldIndex("mean_nll")), 1e-12);
            }
            assertEquals(doc.getDouble(doc.fieldIndex("sum_logprob")), sum, 1e-9 * Math.abs(sum), id + ": spans add up to the document");
            assertEquals(doc.getInt(doc.fieldIndex("num_tokens")), tokens, id);
            assertEquals(doc.getInt(doc.fieldIndex("num_scored")), scored, id);
            for (int chunk : new int[] {1, 7}) {
                List<Row> other = byChunk.get(chunk).get(id).getList(doc.fieldIndex("spans"));
                assertEquals(spans.size(), other.size());
                for (int k = 0; k < spans.size(); k++) {
                    Row a = spans.get(k), b = other.get(k);
                    assertEquals(List.of(a.get(0), a.get(1), a.get(2), a.get(3)), List.of(b.get(0), b.get(1), b.get(2), b.get(3)), id);
                    assertEquals(a.getDouble(4), b.getDouble(4), 1e-4 * Math.max(1, a.getInt(2)), id + " span " + k + " chunk " + chunk);
                }
            }
        }
        // and the engine agrees: the span of the first sentence of "zh" is the sum of its tokens' log-probs
        int[] zh = tok.encode(TEXTS.get("zh"));
        float[] lp = runner.score(zh, new ScoreOptions(2048, BOS, true)).tokenLogprobs();
        Row first = ref.get("zh").<Row>getList(ref.get("zh").fieldIndex("spans")).get(0);
        double want = 0;
        for (int i = 0; i < first.getInt(2); i++) want += lp[i];
        assertEquals(want, first.getDouble(4), 1e-4 * first.getInt(2));
    }

    @Test
    void paragraphSpansAndTheReportHoldingTheSideFilesQuantiles() throws IOException {
        Path out = score("paragraphs", "--spans", "paragraph");
        assertEquals(PARAGRAPHS, spanTexts(out).get("zh"));
        List<Row> zh = rows(out).get("zh").getList(rows(out).get("zh").fieldIndex("spans"));
        assertEquals(0, zh.get(0).getInt(0));
        assertEquals(PARAGRAPHS.get(0).codePointCount(0, PARAGRAPHS.get(0).length()), zh.get(0).getInt(1), "end in code points");
        assertEquals(zh.get(0).getInt(2) - 1, zh.get(0).getInt(3), "without a BOS the first token is not scored");

        JsonNode side = new ObjectMapper().readTree(out.resolve(Main.SIDE_FILE).toFile());
        JsonNode q = side.get(Main.QUANTILES_KEY);
        assertNotNull(q, side.toString());
        // 3 documents with a perplexity ("one" has nothing scored): p1 is the smallest, p99 the largest, p50 the middle one
        double[] ppl = rows(out).values().stream().filter(r -> !r.isNullAt(r.fieldIndex("perplexity")))
                .mapToDouble(r -> r.getDouble(r.fieldIndex("perplexity"))).sorted().toArray();
        assertEquals(3, ppl.length);
        assertEquals(ppl[0], q.get("perplexity").get("p1").asDouble());
        assertEquals(ppl[1], q.get("perplexity").get("p50").asDouble());
        assertEquals(ppl[2], q.get("perplexity").get("p99").asDouble());
        assertEquals(RunStats.PROBS.length, q.get("bits_per_byte").size());

        String html = Files.readString(out.resolve(RunReport.FILE));
        Matcher m = Pattern.compile("id=\"" + RunReport.QUANTILES_ID + "\">(.*?)</script>").matcher(html);
        assertTrue(m.find());
        assertEquals(q, new ObjectMapper().readTree(m.group(1)), "the report states the quantiles of _ssdspark.json");
        for (double p : RunStats.PROBS)
            assertTrue(html.contains("<td>" + RunReport.number(q.get("bits_per_byte").get(RunStats.label(p)).asDouble()) + "</td>"));
        assertTrue(html.contains("<svg"), "charts");
        assertTrue(html.contains("empty document"), "the error chart names the error kind");
    }

    @Test
    void tokenWindowsOnPreTokenizedInput() throws IOException {
        Path in = Files.write(tmp.resolve("tokens.jsonl"), List.of("{\"id\":1,\"tokens\":[1,2,3,4,5,6,7]}", "{\"id\":2,\"tokens\":[9]}"));
        Path out = tmp.resolve("windows");
        run("score", "--model", MODEL.toString(), "--input", in.toString(), "--output", out.toString(), "--spans", "tokens:3",
                "--chunk-tokens", "2", "--output-format", "json");
        Map<Long, Row> rows = new HashMap<>();
        for (Row r : spark.read().json(out.toString()).collectAsList()) rows.put(r.getLong(r.fieldIndex("id")), r);
        Row r = rows.get(1L);
        assertFalse(Arrays.asList(r.schema().fieldNames()).contains("bits_per_byte"), "no text, no bytes");
        List<Row> w = r.getList(r.fieldIndex("spans"));
        assertEquals(3, w.size());
        float[] lp = runner.score(new int[] {1, 2, 3, 4, 5, 6, 7}, new ScoreOptions(2048, -1, true)).tokenLogprobs();
        double[] want = {lp[0] + lp[1], lp[2] + lp[3] + lp[4], lp[5]}; // window [0,3) scores tokens 1, 2; [3,6) 3..5; [6,7) 6
        long[][] bounds = {{0, 3}, {3, 6}, {6, 7}};
        for (int k = 0; k < 3; k++) {
            Row s = w.get(k);
            assertEquals(bounds[k][0], s.getLong(s.fieldIndex("start")));
            assertEquals(bounds[k][1], s.getLong(s.fieldIndex("end")));
            assertEquals(want[k], s.getDouble(s.fieldIndex("sum_logprob")), 1e-4, "window " + k);
        }
        Row single = rows.get(2L).<Row>getList(rows.get(2L).fieldIndex("spans")).get(0);
        assertEquals(0, single.getLong(single.fieldIndex("num_scored")), "one token, nothing scored");
    }

    @Test
    void spansThatDoNotFitTheInputOrTaskAreRefused() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
        String[][] bad = {
                {"--spans", "tokens:4"},                                  // text input
                {"--spans", "words"},
                {"--spans", "tokens:0"}};
        for (String[] flags : bad) {
            List<String> args = new ArrayList<>(List.of("score", "--model", MODEL.toString(), "--input", input.toString(),
                    "--tokenizer", TOKENIZER.toString(), "--output", tmp.resolve("refused").toString()));
            args.addAll(Arrays.asList(flags));
            assertEquals(2, Main.run(args.toArray(new String[0]), ps, ps, spark), Arrays.toString(flags));
        }
        String log = buf.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("text input takes --spans line, paragraph or sentence"), log);
        assertTrue(log.contains("--spans must be line, paragraph, sentence or tokens:N, got 'words'"), log);
        assertEquals(2, Main.run(new String[] {"embed", "--model", MODEL.toString(), "--input", input.toString(), "--tokenizer",
                TOKENIZER.toString(), "--spans", "line"}, ps, ps, spark));
        assertEquals(2, Main.run(new String[] {"score", "--model", MODEL.toString(), "--input", TinyModel.TOKENS_CORPUS.toString(),
                "--spans", "sentence", "--output", tmp.resolve("refused2").toString()}, ps, ps, spark), "pre-tokenized input has no sentences");
    }
}
