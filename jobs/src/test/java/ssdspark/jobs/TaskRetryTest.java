package ssdspark.jobs;

import org.apache.spark.TaskContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.model.Engine;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2State;
import ssdspark.udf.ModelCache;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A task that fails on its first attempt (injected in the engine, which raises for attempt 0) is retried by Spark,
 * and the output holds every document exactly once with the values of a run without failures.
 */
class TaskRetryTest {
    private static final Path MODEL = TinyModel.DIR;
    private static final Path CORPUS = TinyModel.TOKENS_CORPUS;
    private static SparkSession spark;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        // local[N,F]: up to F attempts per task (plain local[N] never retries)
        spark = SparkSession.builder().master("local[2,3]").appName("ssdspark-task-retry").config("spark.ui.enabled", "false")
                .config("spark.sql.files.maxPartitionBytes", "12000").config("spark.sql.files.openCostInBytes", "0").getOrCreate();
        assertEquals("local[2,3]", spark.sparkContext().master(), "a session of another test class is still running");
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
        ModelCache.evict(MODEL.toString(), "cpu");
    }

    /** The real engine, failing the first attempt of every task at its first batch. */
    static final class FailsFirstAttempt implements Engine {
        static final AtomicInteger INJECTED = new AtomicInteger();
        private final Engine real;

        FailsFirstAttempt(Engine real) { this.real = real; }

        private void maybeFail() {
            TaskContext t = TaskContext.get();
            if (t != null && t.attemptNumber() == 0) {
                INJECTED.incrementAndGet();
                throw new IllegalStateException("injected failure of partition " + t.partitionId() + ", attempt 0");
            }
        }

        @Override public Mamba2Config config() { return real.config(); }

        @Override public String backend() { return real.backend(); }

        @Override public float[] forward(int[] tokens, int off, int n, Mamba2State state) {
            maybeFail();
            return real.forward(tokens, off, n, state);
        }

        @Override public float[] forwardPacked(int[] tokens, int[] cu, Mamba2State[] states) {
            maybeFail();
            return real.forwardPacked(tokens, cu, states);
        }

        @Override public void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff) {
            real.logProbs(hidden, n, targets, tOff, out, outOff);
        }

        @Override public void close() { real.close(); }
    }

    private static Map<String, Double> scores(Path out) {
        Map<String, Double> m = new HashMap<>();
        for (Row r : spark.read().parquet(out.toString()).collectAsList()) m.put(r.getString(0), r.isNullAt(3) ? null : r.getDouble(3));
        return m;
    }

    @Test
    void failedFirstAttemptsAreRetriedAndEveryDocumentIsWrittenOnce() throws Exception {
        String[] args = {"score", "--model", MODEL.toString(), "--input", CORPUS.toString(), "--progress", "0", "--device", "cpu", "--output"};
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(log, true, StandardCharsets.UTF_8);

        Path clean = tmp.resolve("clean");
        assertEquals(0, Main.run(concat(args, clean.toString()), ps, ps, spark), log.toString());

        Engine real = ModelCache.get(MODEL.toString(), "cpu");
        ModelCache.put(MODEL.toString(), "cpu", new FailsFirstAttempt(real));
        Path retried = tmp.resolve("retried");
        try {
            assertEquals(0, Main.run(concat(args, retried.toString()), ps, ps, spark), log.toString());
        } finally {
            ModelCache.put(MODEL.toString(), "cpu", real);
        }
        long parts;
        try (var files = Files.list(retried)) {
            parts = files.filter(f -> f.getFileName().toString().startsWith("part-")).count();
        }
        System.out.println("task retry: " + FailsFirstAttempt.INJECTED.get() + " first attempts failed, " + parts + " part files");
        assertTrue(parts > 1 && FailsFirstAttempt.INJECTED.get() >= parts, "every task failed its first attempt");

        List<Row> rows = spark.read().parquet(retried.toString()).collectAsList();
        long distinct = rows.stream().map(r -> r.getString(0)).distinct().count();
        assertEquals(rows.size(), distinct, "no document twice");
        Map<String, Double> a = scores(clean), b = scores(retried);
        assertEquals(Files.readAllLines(CORPUS).size(), b.size(), "every document once");
        assertEquals(a, b, "the same values as a run without failures");
    }

    private static String[] concat(String[] a, String last) {
        String[] out = java.util.Arrays.copyOf(a, a.length + 1);
        out[a.length] = last;
        return out;
    }
}
