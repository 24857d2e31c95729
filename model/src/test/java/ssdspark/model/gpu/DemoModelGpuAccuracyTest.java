package ssdspark.model.gpu;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import ssdspark.model.Json;
import ssdspark.model.Mamba2Model;
import ssdspark.model.Mamba2Weights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GPU engine's accuracy on a trained model: examples/demo-mamba2 (tools/demo) on held-out English (the 50
 * documents and the 4,096-token stretch of examples/demo-mamba2/heldout-reference.json), bf16, fp16 and fp32
 * against the fp32 CPU engine. Prints mean and p99 |Δ log-prob| and the worst per-document perplexity error; this,
 * not a random model, is the accuracy claim. Skipped without a CUDA device.
 */
class DemoModelGpuAccuracyTest {
    /** The demo model folder: -Dssd.demo.model, else examples/demo-mamba2 from the repository root or a module folder. */
    static Path demoModel() {
        String p = System.getProperty("ssd.demo.model");
        for (Path c : p != null ? List.of(Path.of(p)) : List.of(Path.of("examples/demo-mamba2"), Path.of("../examples/demo-mamba2")))
            if (Files.isRegularFile(c.resolve("heldout-reference.json"))) return c.toAbsolutePath().normalize();
        Assumptions.assumeTrue(false, "examples/demo-mamba2 not found from " + Path.of("").toAbsolutePath() + " (set -Dssd.demo.model=DIR)");
        throw new IllegalStateException("unreachable");
    }

    /** Held-out token sequences: the reference documents (of two tokens or more), then the long stretch. */
    @SuppressWarnings("unchecked")
    static int[][] heldOutDocs(Path model) throws IOException {
        Map<String, Object> ref = Json.parseObject(Files.readString(model.resolve("heldout-reference.json")));
        List<int[]> docs = new ArrayList<>();
        for (Object o : (List<Object>) ref.get("docs")) {
            int[] t = ((List<Object>) ((Map<String, Object>) o).get("tokens")).stream().mapToInt(x -> ((Number) x).intValue()).toArray();
            if (t.length >= 2) docs.add(t);
        }
        docs.add(((List<Object>) ref.get("long")).stream().mapToInt(x -> ((Number) x).intValue()).toArray());
        return docs.toArray(new int[0][]);
    }

    @Test
    void bf16AndFp16OnHeldOutTextAgainstCpuFp32() throws IOException {
        int dev = GpuEngineTest.device();
        Path dir = demoModel();
        Mamba2Weights w = Mamba2Model.loadWeights(dir);
        int[][] docs = heldOutDocs(dir);
        int[][] targets = GpuEngine.nextTokenTargets(docs);
        float[][] ref = Gpu130mTest.cpuLogProbs(w, docs);
        System.out.printf("  demo model %s: %d held-out documents, %d tokens%n", dir, docs.length,
                java.util.Arrays.stream(docs).mapToInt(d -> d.length).sum());
        double[] fp32, fp16, bf16;
        try (GpuEngine gpu = GpuEngine.create(w, dev, Precision.FP32)) {
            fp32 = Gpu130mTest.stats("demo GPU fp32 vs CPU fp32", gpu.logProbsBatch(docs, targets, null), ref);
        }
        try (GpuEngine gpu = GpuEngine.create(w, dev, Precision.FP16)) {
            fp16 = Gpu130mTest.stats("demo GPU fp16 vs CPU fp32", gpu.logProbsBatch(docs, targets, null), ref);
        }
        try (GpuEngine gpu = GpuEngine.create(w, dev, Precision.BF16)) {
            bf16 = Gpu130mTest.stats("demo GPU bf16 vs CPU fp32", gpu.logProbsBatch(docs, targets, null), ref);
        }
        // {mean, p99, max, worst per-doc perplexity relative error}
        assertTrue(fp32[2] < 5e-3, "fp32 GPU vs CPU max |Δ log-prob| " + fp32[2]);
        assertTrue(fp16[0] <= 0.02 && fp16[3] <= 0.01, "fp16: mean |Δ log-prob| " + fp16[0] + ", worst per-doc ppl rel err " + fp16[3]);
        assertTrue(bf16[0] <= 0.05 && bf16[3] <= 0.03, "bf16: mean |Δ log-prob| " + bf16[0] + ", worst per-doc ppl rel err " + bf16[3]);
    }
}
