package ssdspark.jobs.bench;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import ssdspark.pipeline.BatchSources;
import ssdspark.pipeline.CloseableIterator;
import ssdspark.pipeline.text.HfTokenizer;
import ssdspark.pipeline.text.StreamingTokenizer;
import ssdspark.pipeline.text.TextEncoder;
import ssdspark.pipeline.text.TextMeasure;
import ssdspark.pipeline.text.TokenizerSpec;
import ssdspark.udf.Doc;
import ssdspark.udf.SpanMode;

import java.io.BufferedReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The text side of a job alone, no Spark and no model: documents through what each task runs before the engine
 * (StreamingTokenizer with --tokenizer-threads, TokenBudgetBatcher, the prefetching producer), the batches taken
 * as fast as they come (an engine that never waits), and tokens/s per thread count. The yardstick for whether
 * tokenizing keeps up with a GPU: a task slot's engine share must not outrun its producer.
 *
 * <pre>java -cp JOBS_JAR:SPARK_CLASSPATH ssdspark.jobs.bench.TokenizerBench TOKENIZER CORPUS.jsonl [--threads 1,2,4]
 *     [--measure first-end|all-ends|ids|spans] [--token-budget 16384] [--max-batch-docs 1024] [--prefetch 2]
 *     [--max-docs N] [--native-batch]</pre>
 *
 * CORPUS.jsonl: one {"id": ..., "text": ...} per line (tools/pipeline/make_text_corpus.py). --measure says what a
 * document needs besides its ids: first-end (a score job without --prepend-bos: bits per byte needs the first
 * token's end; the default), all-ends (the same from every token's offsets, as before the head was used), ids
 * (embed, or score with --prepend-bos), spans (score with --spans sentence). --native-batch also times DJL's
 * batchEncode (one native call per block of documents, spread over the Rust library's own thread pool) against
 * one call per document, in CPU seconds per token.
 */
public final class TokenizerBench {
    private TokenizerBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: TokenizerBench TOKENIZER CORPUS.jsonl [--threads 1,2,4] [--measure first-end|all-ends|ids|spans]"
                    + " [--token-budget N] [--max-batch-docs N] [--prefetch N] [--max-docs N] [--native-batch]");
            System.exit(2);
        }
        String tokenizerPath = args[0];
        Path corpus = Path.of(args[1]);
        String threadList = "1,2,4", measureName = "first-end";
        int budget = 16384, maxDocs = 1024, prefetch = 2, limit = Integer.MAX_VALUE;
        boolean nativeBatch = false;
        for (int i = 2; i < args.length; i++) {
            switch (args[i]) {
                case "--threads" -> threadList = args[++i];
                case "--measure" -> measureName = args[++i];
                case "--token-budget" -> budget = Integer.parseInt(args[++i]);
                case "--max-batch-docs" -> maxDocs = Integer.parseInt(args[++i]);
                case "--prefetch" -> prefetch = Integer.parseInt(args[++i]);
                case "--max-docs" -> limit = Integer.parseInt(args[++i]);
                case "--native-batch" -> nativeBatch = true;
                default -> throw new IllegalArgumentException("unknown flag " + args[i]);
            }
        }
        long t0 = System.nanoTime();
        List<Row> rows = read(corpus, limit);
        long chars = 0;
        for (Row r : rows) chars += r.isNullAt(1) ? 0 : r.getString(1).length();
        System.out.printf(Locale.ROOT, "tokenizer-bench: %d docs, %.1f M chars read in %.1f s; %d cores%n", rows.size(), chars / 1e6,
                (System.nanoTime() - t0) / 1e9, Runtime.getRuntime().availableProcessors());
        TokenizerSpec spec = TokenizerSpec.read(tokenizerPath, null);
        HfTokenizer tok = spec.open();
        TextEncoder encoder = tok;
        TextMeasure measure = switch (measureName) {
            case "first-end" -> new TextMeasure(false, null);
            case "all-ends" -> {
                encoder = new TextEncoder() { // the interface's default: the first end from every token's offsets
                    @Override public int[] encode(String text) { return tok.encode(text); }

                    @Override public Encoded encodeWithEnds(String text) { return tok.encodeWithEnds(text); }
                };
                yield new TextMeasure(false, null);
            }
            case "ids" -> null;
            case "spans" -> new TextMeasure(false, SpanMode.parse("sentence"));
            default -> throw new IllegalArgumentException("--measure first-end, all-ends, ids or spans, got " + measureName);
        };
        System.out.printf(Locale.ROOT, "tokenizer-bench: %s, measure %s, token budget %d, max batch docs %d, prefetch %d%n",
                spec, measureName, budget, maxDocs, prefetch);

        // warm-up (JIT, the tokenizer's word cache) on the first documents, not timed
        run(rows.subList(0, Math.min(rows.size(), 2000)), encoder, measure, 2, budget, maxDocs, prefetch);

        double base = 0;
        for (String s : threadList.split(",")) {
            int threads = Integer.parseInt(s.trim());
            long cpu0 = processCpuNanos();
            long start = System.nanoTime();
            long[] got = run(rows, encoder, measure, threads, budget, maxDocs, prefetch);
            double sec = (System.nanoTime() - start) / 1e9, cpu = (processCpuNanos() - cpu0) / 1e9;
            double tps = got[0] / sec;
            if (base == 0) base = tps;
            System.out.printf(Locale.ROOT, "TOKENIZER-BENCH threads=%d measure=%s: %d docs (%d errors), %d tokens, %d batches in %.2f s = %.0f tok/s,"
                            + " %.2f M chars/s, %.2f chars/token; process CPU %.1f s (%.0f tok per CPU-s); x%.2f of the first%n",
                    threads, measureName, rows.size(), got[2], got[0], got[1], sec, tps, chars / sec / 1e6, (double) chars / got[0], cpu,
                    got[0] / cpu, tps / base);
        }
        if (nativeBatch) nativeBatch(rows, Path.of(tokenizerPath));
    }

    /** tokens, batches, error documents of the documents through the task's producer. */
    static long[] run(List<Row> rows, TextEncoder encoder, TextMeasure measure, int threads, int budget, int maxDocs, int prefetch) {
        long tokens = 0, batches = 0, errors = 0;
        StreamingTokenizer docs = new StreamingTokenizer(rows.iterator(), encoder, measure, threads);
        try (CloseableIterator<List<Doc>> it = BatchSources.batches(docs, budget, maxDocs, prefetch)) {
            while (it.hasNext()) {
                for (Doc d : it.next()) {
                    tokens += d.length();
                    if (d.error() != null) errors++;
                }
                batches++;
            }
        }
        return new long[] {tokens, batches, errors};
    }

    /** One native call per document (this thread) against batchEncode per block of 256 (the Rust library's threads). */
    private static void nativeBatch(List<Row> rows, Path tokenizerJson) throws java.io.IOException {
        List<String> texts = new ArrayList<>();
        for (Row r : rows) if (!r.isNullAt(1) && !r.getString(1).isEmpty()) texts.add(r.getString(1));
        TokenizersLibrary lib = TokenizersLibrary.LIB;
        if (Files.isDirectory(tokenizerJson)) tokenizerJson = tokenizerJson.resolve("tokenizer.json");
        HuggingFaceTokenizer own = HuggingFaceTokenizer.newInstance(tokenizerJson, java.util.Map.of("addSpecialTokens", "false", "truncation", "false",
                "padding", "false")); // as HfTokenizer builds it
        long handle = own.getHandle();
        for (int mode = 0; mode < 2; mode++) {
            long cpu0 = processCpuNanos(), start = System.nanoTime(), tokens = 0;
            if (mode == 0) {
                for (String t : texts) {
                    long e = lib.encode(handle, t, false);
                    tokens += lib.getTokenIds(e).length;
                    lib.deleteEncoding(e);
                }
            } else {
                for (int i = 0; i < texts.size(); i += 256) {
                    long[] es = lib.batchEncode(handle, texts.subList(i, Math.min(texts.size(), i + 256)).toArray(new String[0]), false);
                    for (long e : es) {
                        tokens += lib.getTokenIds(e).length;
                        lib.deleteEncoding(e);
                    }
                }
            }
            double sec = (System.nanoTime() - start) / 1e9, cpu = (processCpuNanos() - cpu0) / 1e9;
            System.out.printf(Locale.ROOT, "NATIVE %s: %d tokens in %.2f s = %.0f tok/s; process CPU %.1f s (%.0f tok per CPU-s)%n",
                    mode == 0 ? "encode, one call per document, 1 thread" : "batchEncode, 256 documents per call, Rust threads",
                    tokens, sec, tokens / sec, cpu, tokens / cpu);
        }
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Rows (id, text) of a JSON-lines file, the first limit of them; a missing text is null. */
    static List<Row> read(Path file, int limit) throws java.io.IOException {
        ObjectMapper json = new ObjectMapper();
        List<Row> rows = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            for (String line = in.readLine(); line != null && rows.size() < limit; line = in.readLine()) {
                if (line.isBlank()) continue;
                JsonNode n = json.readTree(line);
                JsonNode text = n.get("text");
                rows.add(RowFactory.create(n.path("id").asText(), text == null || text.isNull() ? null : text.asText()));
            }
        }
        return rows;
    }
}
