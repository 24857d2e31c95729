package ssdspark.jobs;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.model.DocumentRunner;
import ssdspark.model.DocumentRunner.ScoreOptions;
import ssdspark.model.DocumentRunner.ScoreResult;
import ssdspark.model.Engine;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2Model;
import ssdspark.model.Mamba2State;
import ssdspark.pipeline.text.HfTokenizer;
import ssdspark.pipeline.text.TokenizerSpec;
import ssdspark.udf.ModelCache;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A document of over a million tokens (one plain-text file) through the whole job: it runs chunk by chunk with
 * its state carried, in engine calls no larger than the token budget (the memory of a short document), and its
 * scores are the engine's: each token's log-prob equals the one the CPU engine gives on the same prefix.
 */
class LongDocumentTest {
    @TempDir
    static Path tmp;
    static SparkSession spark;
    static Path model;
    static Counting engine;

    /** The CPU engine, with the largest call it got recorded. */
    static final class Counting implements Engine {
        final Engine inner;
        final AtomicInteger largest = new AtomicInteger(), calls = new AtomicInteger(), states = new AtomicInteger();

        Counting(Engine inner) { this.inner = inner; }

        @Override public Mamba2Config config() { return inner.config(); }

        @Override public String backend() { return inner.backend(); }

        @Override public Mamba2State newState() {
            states.incrementAndGet();
            return inner.newState();
        }

        @Override public float[] forward(int[] tokens, int off, int n, Mamba2State state) { return inner.forward(tokens, off, n, state); }

        @Override public float[] forwardPacked(int[] tokens, int[] cu, Mamba2State[] st) {
            calls.incrementAndGet();
            largest.accumulateAndGet(cu[st.length], Math::max);
            return inner.forwardPacked(tokens, cu, st);
        }

        @Override public void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff) {
            inner.logProbs(hidden, n, targets, tOff, out, outOff);
        }

        @Override public void close() { inner.close(); }
    }

    @BeforeAll
    static void start() throws IOException {
        // a copy of the tiny model under its own path, so the counting engine is this test's cache entry alone
        model = Files.createDirectories(tmp.resolve("model"));
        Path ex = TinyModel.DIR;
        for (String f : List.of("config.json", "model.safetensors")) Files.copy(ex.resolve(f), model.resolve(f));
        engine = new Counting(Mamba2Model.cpu(model));
        ModelCache.put(model.toString(), "cpu", engine);
        spark = SparkSession.builder().master("local[2]").appName("ssdspark-long-doc-test").config("spark.ui.enabled", "false")
                .config("spark.executor.heartbeatInterval", "1s").getOrCreate(); // running tasks' counts every second, for the progress line
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
        ModelCache.evict(model.toString(), "cpu");
    }

    @Test
    void aMillionTokenDocumentRunsInTheMemoryOfAShortOne() throws IOException {
        Path tokPath = TinyModel.TOKENIZER;
        HfTokenizer tok = TokenizerSpec.read(tokPath.toString(), null).open();
        String[] words = TextJobTest.WORDS;
        Random r = new Random(1);
        StringBuilder sb = new StringBuilder();
        while (sb.length() < 2_000_000) sb.append(words[r.nextInt(words.length)]).append(r.nextInt(20) == 0 ? '\n' : ' ');
        String text = sb.toString();
        int[] tokens = tok.encode(text);
        assertTrue(tokens.length >= 1_000_000, "the document has " + tokens.length + " tokens");
        Path in = Files.createDirectories(tmp.resolve("in"));
        Files.writeString(in.resolve("long.txt"), text);
        Files.writeString(in.resolve("short.txt"), "hello world, the mamba and spark");

        Path out = tmp.resolve("out");
        int budget = 4096;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
        long t0 = System.nanoTime();
        int rc = Main.run(new String[] {"score", "--model", model.toString(), "--input", in.toString(), "--tokenizer", tokPath.toString(),
                "--device", "cpu", "--chunk-tokens", "1024", "--token-budget", Integer.toString(budget), "--per-token",
                "--output", out.toString(), "--progress", "1"}, ps, ps, spark);
        assertEquals(0, rc, buf.toString(StandardCharsets.UTF_8));
        // progress inside the document: lines while it runs (no document done yet) with a share of the input below 100%
        // (the short file is its own task and may be done first; reading the long file whole is not progress)
        assertTrue(buf.toString(StandardCharsets.UTF_8).lines().anyMatch(l -> l.matches("score: [01] docs, .*, [1-9]\\d?% of input.*")),
                "progress lines during the long document:\n" + buf);
        System.out.printf("LongDocumentTest: %d tokens in %.1f s (%d engine calls, largest %d tokens)%n", tokens.length,
                (System.nanoTime() - t0) / 1e9, engine.calls.get(), engine.largest.get());

        List<Row> rows = spark.read().parquet(out.toString()).orderBy("id").collectAsList();
        assertEquals(2, rows.size(), "one row per file");
        Row big = rows.get(0);
        assertTrue(big.getString(0).endsWith("long.txt"));
        int error = big.fieldIndex("error");
        assertTrue(big.isNullAt(error), String.valueOf(big.get(error)));
        assertEquals(tokens.length, big.getInt(1));
        assertEquals(tokens.length - 1, big.getInt(2));
        List<Float> lp = big.getList(big.fieldIndex("token_logprobs"));
        assertEquals(tokens.length - 1, lp.size());

        // memory: no engine call saw more than the token budget, and the long document held one carried state
        assertTrue(engine.largest.get() <= budget, "largest engine call " + engine.largest.get() + " > budget " + budget);
        assertTrue(engine.calls.get() >= tokens.length / budget, "the document went through in pieces");
        assertTrue(engine.states.get() <= 2, "one carried state for the long document, not one per chunk: " + engine.states.get());

        // exactness: the log-probs of the first 5000 tokens (five chunks, four state hand-overs) agree with the engine on
        // the same prefix (a token's log-prob depends only on the tokens before it); chunk-size invariance over whole
        // documents is TextJobTest's

        DocumentRunner runner = new DocumentRunner(ModelCache.get(TinyModel.DIR.toString(), "cpu"));
        ScoreResult head = runner.score(java.util.Arrays.copyOf(tokens, 5001), new ScoreOptions(2048, -1, true));
        for (int i = 0; i < 5000; i++) assertEquals(head.tokenLogprobs()[i], lp.get(i), 1e-4f, "token " + (i + 1));
        double sum = 0;
        for (float x : lp) {
            assertTrue(Float.isFinite(x) && x <= 0);
            sum += x;
        }
        assertEquals(sum, big.getDouble(3), 1e-6 * Math.abs(sum), "sum_logprob is the sum of the per-token log-probs");
        assertEquals(-sum / (tokens.length - 1), big.getDouble(4), 1e-9);
    }
}
