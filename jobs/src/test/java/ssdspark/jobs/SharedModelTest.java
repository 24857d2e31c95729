package ssdspark.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.model.Engine;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2State;
import ssdspark.udf.ModelCache;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Eight tasks of one executor share one model: local[8] runs eight task threads at once through the one CPU engine of
 * the executor's ModelCache (the test holds them at their first engine call until all eight are in), and every row,
 * per-token log-probs included, is bit-identical to a run with a single task thread.
 */
class SharedModelTest {
    private static final Path MODEL = TinyModel.DIR;
    private static final int THREADS = 8;

    @TempDir
    static Path tmp;

    @AfterAll
    static void drop() { ModelCache.evict(MODEL.toString(), "cpu"); }

    /** The shared engine, recording which threads call it and holding each new thread until THREADS are inside at once. */
    static final class Rendezvous implements Engine {
        final Engine real;
        final Set<Thread> callers = ConcurrentHashMap.newKeySet();
        final CountDownLatch allIn = new CountDownLatch(THREADS);
        final AtomicInteger inside = new AtomicInteger();
        volatile int maxInside;

        Rendezvous(Engine real) { this.real = real; }

        @Override public Mamba2Config config() { return real.config(); }

        @Override public String backend() { return real.backend(); }

        @Override public float[] forward(int[] tokens, int off, int n, Mamba2State state) { return real.forward(tokens, off, n, state); }

        @Override public float[] forwardPacked(int[] tokens, int[] cu, Mamba2State[] states) {
            int now = inside.incrementAndGet();
            synchronized (this) { maxInside = Math.max(maxInside, now); }
            try {
                if (callers.add(Thread.currentThread())) {
                    allIn.countDown();
                    if (!allIn.await(120, TimeUnit.SECONDS)) throw new IllegalStateException("only " + callers.size() + " task threads came");
                }
                return real.forwardPacked(tokens, cu, states);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            } finally {
                inside.decrementAndGet();
            }
        }

        @Override public void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff) {
            real.logProbs(hidden, n, targets, tOff, out, outOff);
        }

        @Override public void close() { real.close(); }
    }

    private static Map<String, JsonNode> run(String master, Path out) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
        // 16 partitions of the corpus; pieces of 64 tokens, so long documents carry their state across passes too
        int rc = Main.run(new String[] {"score", "--model", MODEL.toString(), "--input", TinyModel.TOKENS_CORPUS.toString(),
                "--output", out.toString(), "--output-format", "json", "--device", "cpu", "--per-token", "--spans", "tokens:50",
                "--chunk-tokens", "64", "--token-budget", "512", "--progress", "0", "--master", master,
                "--conf", "spark.sql.files.maxPartitionBytes=" + Files.size(TinyModel.TOKENS_CORPUS) / 16,
                "--conf", "spark.sql.files.openCostInBytes=0", "--conf", "spark.ui.enabled=false"}, ps, ps, null);
        assertEquals(0, rc, buf.toString(StandardCharsets.UTF_8));
        Map<String, JsonNode> rows = new TreeMap<>();
        try (Stream<Path> s = Files.list(out)) {
            for (Path p : s.filter(f -> f.getFileName().toString().startsWith("part-")).toList())
                for (String line : Files.readAllLines(p)) {
                    JsonNode r = new ObjectMapper().readTree(line);
                    if (rows.put(r.path("id").asText(), r) != null) fail("document " + r.path("id") + " twice");
                }
        }
        return rows;
    }

    @Test
    void eightTaskThreadsShareOneEngineAndGiveTheOneThreadResults() throws Exception {
        Engine cpu = ModelCache.get(MODEL.toString(), "cpu");
        Map<String, JsonNode> oneThread = run("local[1]", tmp.resolve("one"));

        Rendezvous shared = new Rendezvous(cpu);
        ModelCache.put(MODEL.toString(), "cpu", shared);
        Map<String, JsonNode> eight;
        try {
            eight = run("local[" + THREADS + "]", tmp.resolve("eight"));
            assertSame(shared, ModelCache.get(MODEL.toString(), "cpu"), "no task loaded a model of its own");
        } finally {
            ModelCache.put(MODEL.toString(), "cpu", cpu);
        }
        assertTrue(shared.callers.size() >= THREADS && shared.maxInside >= THREADS,
                shared.callers.size() + " task threads used the engine, at most " + shared.maxInside + " at once");
        assertEquals(Files.readAllLines(TinyModel.TOKENS_CORPUS).size(), eight.size(), "every document once");
        assertEquals(oneThread.keySet(), eight.keySet());
        for (String id : oneThread.keySet())
            assertEquals(oneThread.get(id), eight.get(id), id + ": the same row as with one task thread");
    }
}
