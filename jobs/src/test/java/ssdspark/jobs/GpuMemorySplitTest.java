package ssdspark.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jcuda.CudaException;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.model.Engine;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2State;
import ssdspark.udf.ModelCache;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GPU out-of-memory through the whole job, on the CPU engine behind a stand-in for a small GPU (it fails a pass of
 * more tokens than it has room for with JCuda's CUDA_ERROR_OUT_OF_MEMORY, as the GPU engine's allocation does):
 * passes are split and run again, the output equals a run that never ran out, and the summary and _ssdspark.json
 * count the splits; a document whose one piece does not fit alone is an error row naming the limit, not a failed job.
 */
class GpuMemorySplitTest {
    private static final Path MODEL = TinyModel.DIR;
    private static final Path CORPUS = TinyModel.TOKENS_CORPUS;
    private static SparkSession spark;
    private static Engine real;

    @TempDir
    static Path tmp;

    private static Path clean; // the run that never runs out of memory

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("ssdspark-gpu-memory").config("spark.ui.enabled", "false").getOrCreate();
        real = ModelCache.get(MODEL.toString(), "cpu");
        clean = tmp.resolve("clean");
        run(clean, real);
    }

    @AfterEach
    void restore() { ModelCache.put(MODEL.toString(), "cpu", real); }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
        ModelCache.evict(MODEL.toString(), "cpu");
    }

    /** The CPU engine, out of "GPU memory" for a forward pass of more than maxTokens tokens. */
    private record SmallGpu(Engine real, int maxTokens) implements Engine {
        @Override public Mamba2Config config() { return real.config(); }

        @Override public String backend() { return real.backend(); }

        @Override public float[] forward(int[] tokens, int off, int n, Mamba2State state) { return real.forward(tokens, off, n, state); }

        @Override public float[] forwardPacked(int[] tokens, int[] cu, Mamba2State[] states) {
            int n = cu[states.length] - cu[0];
            if (n > maxTokens)
                throw new CudaException("cannot allocate " + n + " tokens' workspace on gpu:0: CUDA_ERROR_OUT_OF_MEMORY");
            return real.forwardPacked(tokens, cu, states);
        }

        @Override public void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff) {
            real.logProbs(hidden, n, targets, tOff, out, outOff);
        }

        @Override public void close() {}
    }

    private static String run(Path out, Engine engine) {
        ModelCache.put(MODEL.toString(), "cpu", engine);
        return CliRun.ok(spark, "score", "--model", MODEL.toString(), "--input", CORPUS.toString(), "--output", out.toString(),
                "--device", "cpu", "--progress", "0", "--per-token", "--chunk-tokens", "256", "--token-budget", "4096");
    }

    private static Map<String, Row> rows(Path out) {
        Map<String, Row> m = new HashMap<>();
        for (Row r : spark.read().parquet(out.toString()).collectAsList()) m.put(r.getString(0), r);
        return m;
    }

    private static long splitsInSideFile(Path out) throws Exception {
        JsonNode side = new ObjectMapper().readTree(Files.readString(out.resolve(Main.SIDE_FILE)));
        return side.path("ssdspark.summary").path("gpu_memory_splits").asLong(-1);
    }

    @Test
    void passesThatRunOutOfMemoryAreSplitWithTheSameResultsAndCounted() throws Exception {
        Path split = tmp.resolve("split");
        String log = run(split, new SmallGpu(real, 300)); // a 4096-token pass does not fit, pieces of 256 do
        assertEquals(0, splitsInSideFile(clean));
        long splits = splitsInSideFile(split);
        assertTrue(splits > 0, "splits counted in _ssdspark.json: " + splits);
        assertTrue(log.contains(String.format("  %,d engine passes ran out of GPU memory and were split", splits)), log);

        Map<String, Row> a = rows(clean), b = rows(split);
        assertEquals(a.keySet(), b.keySet());
        for (String id : a.keySet()) {
            Row x = a.get(id), y = b.get(id);
            for (String col : List.of("num_tokens", "num_scored", "sum_logprob", "mean_nll", "perplexity", "token_logprobs", "error"))
                assertEquals(String.valueOf(x.<Object>getAs(col)), String.valueOf(y.<Object>getAs(col)), // exact: Java's shortest repr
                        id + " " + col + ": the same value as without running out of memory");
        }
    }

    @Test
    void aDocumentThatDoesNotFitAloneIsAnErrorRowNotAFailedJob() {
        Path small = tmp.resolve("too-small");
        String log = run(small, new SmallGpu(real, 200)); // documents of more than 200 tokens cannot run at all
        Map<String, Row> a = rows(clean), b = rows(small);
        int failed = 0;
        for (String id : a.keySet()) {
            Row x = a.get(id), y = b.get(id);
            Integer n = x.getAs("num_tokens");
            if (n != null && n > 200) {
                failed++;
                String e = y.getAs("error");
                assertTrue(e != null && e.startsWith("out of GPU memory: a piece of " + Math.min(n, 256) + " tokens of this document does not fit even alone")
                        && e.contains("lower --chunk-tokens"), id + ": " + e);
                assertNull(y.getAs("sum_logprob"));
            } else {
                assertEquals(String.valueOf(x.<Object>getAs("sum_logprob")), String.valueOf(y.<Object>getAs("sum_logprob")), id);
            }
        }
        assertTrue(failed > 0, "the corpus has documents longer than 200 tokens");
        assertTrue(log.contains(failed + " x out of GPU memory: a piece of N tokens of this document does not fit even alone"), log);
    }
}
