package ssdspark.model.gpu;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import ssdspark.model.Json;
import ssdspark.model.Mamba2Model;
import ssdspark.model.Mamba2Weights;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The GPU engine against the float64 token-by-token reference (tools/reference/mamba2_ref.py) on every fixture:
 * fp32 within the CPU engine's tolerance, fp16 / bf16 within theirs; all documents of a fixture in one packed batch.
 */
class GpuReferenceFixtureTest {
    /** The fixtures' tiny random models have large weights: bf16 rounding alone moves log-probs by up to ~0.16. */
    static final double FP32_TOL = 2e-3, FP16_TOL = 0.05, BF16_TOL = 0.3;

    record Doc(int[] tokens, double[] logprobs) {}

    static Stream<Path> fixtures() throws IOException, URISyntaxException {
        var url = GpuReferenceFixtureTest.class.getResource("/fixtures");
        if (url == null) return Stream.empty();
        Path root;
        if ("jar".equals(url.getProtocol())) { // tests packed into a jar (the GPU bundle): copy the fixtures out
            root = Files.createTempDirectory("ssd-fixtures");
            try (java.nio.file.FileSystem fs = java.nio.file.FileSystems.newFileSystem(url.toURI(), Map.of());
                 Stream<Path> all = Files.walk(fs.getPath("/fixtures"))) {
                for (Path p : all.toList()) {
                    Path dst = root.resolve(fs.getPath("/fixtures").relativize(p).toString());
                    if (Files.isDirectory(p)) Files.createDirectories(dst);
                    else Files.copy(p, dst);
                }
            }
        } else {
            root = Path.of(url.toURI());
        }
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(Files::isDirectory).sorted().toList().stream();
        }
    }

    @SuppressWarnings("unchecked")
    static List<Doc> docs(Path dir) {
        try {
            Map<String, Object> m = Json.parseObject(Files.readString(dir.resolve("reference.json")));
            return ((List<Object>) m.get("docs")).stream().map(o -> {
                Map<String, Object> d = (Map<String, Object>) o;
                int[] t = ((List<Object>) d.get("tokens")).stream().mapToInt(x -> ((Number) x).intValue()).toArray();
                double[] lp = ((List<Object>) d.get("logprobs")).stream().mapToDouble(x -> ((Number) x).doubleValue()).toArray();
                return new Doc(t, lp);
            }).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void gpuMatchesFloat64Reference(Path dir) {
        int dev = GpuEngineTest.device();
        Mamba2Weights w = Mamba2Model.loadWeights(dir);
        List<Doc> docs = docs(dir);
        int[][] toks = docs.stream().map(Doc::tokens).toArray(int[][]::new);
        for (Precision p : Precision.values())
            try (GpuEngine gpu = GpuEngine.create(w, dev, p)) {
                float[][] lp = gpu.logProbsBatch(toks, GpuEngine.nextTokenTargets(toks), null);
                double worst = 0;
                for (int i = 0; i < docs.size(); i++)
                    for (int t = 0; t < toks[i].length - 1; t++)
                        worst = Math.max(worst, Math.abs(lp[i][t] - docs.get(i).logprobs()[t]));
                System.out.printf("  reference %-28s %s: max |Δ log-prob| %.2e%n", dir.getFileName(), p, worst);
                double tol = p == Precision.FP32 ? FP32_TOL : p == Precision.FP16 ? FP16_TOL : BF16_TOL;
                assertTrue(worst <= tol, dir.getFileName() + " " + p + ": " + worst);
            }
    }
}
