package ssdspark.jobs;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Same input and settings give bit-identical output on the CPU engine (several tasks, packed batches, long documents
 * chunked), down to the bytes of every Parquet data page; other batch and chunk sizes give the same values too.
 */
class DeterminismTest {
    private static SparkSession spark;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("ssdspark-determinism").config("spark.ui.enabled", "false")
                .config("spark.sql.files.maxPartitionBytes", "16384").config("spark.sql.files.openCostInBytes", "0").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    private static Path run(String name, String... extra) {
        Path out = tmp.resolve(name);
        String[] base = {"score", "--model", TinyModel.DIR.toString(), "--input", TinyModel.TOKENS_CORPUS.toString(), "--output", out.toString(),
                "--device", "cpu", "--per-token", "--progress", "0"};
        String[] args = Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        CliRun.ok(spark, args);
        return out;
    }

    @Test
    void sameSettingsGiveTheSameBytesAndOtherBatchingTheSameValues() throws IOException {
        String[] packed = {"--chunk-tokens", "64", "--token-budget", "256"};
        Path a = run("a", packed), b = run("b", packed);
        List<Path> files = dataFiles(a);
        assertTrue(files.size() > 1, "several tasks: " + files);
        assertEquals(files.stream().map(Path::getFileName).toList(), dataFiles(b).stream().map(Path::getFileName).toList());
        for (Path f : files)
            assertArrayEquals(dataPages(f), dataPages(b.resolve(f.getFileName())), "data pages of " + f.getFileName()); // the footers name the output folder

        // Other packing (budget, documents per batch) with pieces still cut at multiples of the model's chunk_size (64):
        // the same bits. Pieces cut elsewhere (13, or a 97-token budget) move the SSD scan's chunk boundaries: float rounding.
        Map<String, Row> ref = byId(a);
        assertEquals(0.0, maxDifference(ref, "--token-budget", "16384", "--chunk-tokens", "2048"));
        assertEquals(0.0, maxDifference(ref, "--token-budget", "256", "--chunk-tokens", "64", "--max-batch-docs", "1"));
        // the CPU engine's thread count splits work items, not sums
        int threads = ssdspark.kernels.Parallel.threads();
        try {
            for (int t : new int[] {1, 3}) {
                ssdspark.kernels.Parallel.setThreads(t);
                Path c = run("threads" + t, packed);
                for (Path f : files) assertArrayEquals(dataPages(f), dataPages(c.resolve(f.getFileName())), t + " threads: " + f.getFileName());
            }
        } finally {
            ssdspark.kernels.Parallel.setThreads(threads);
        }
        double d = maxDifference(ref, "--token-budget", "97", "--chunk-tokens", "13");
        assertTrue(d <= 1e-3, "pieces cut off the model's chunk boundaries: " + d);
    }

    /** The largest |difference| of sum_logprob or of a token's log-prob between ref and a run with settings. */
    private static double maxDifference(Map<String, Row> ref, String... settings) {
        Map<String, Row> other = byId(run("c" + String.join("", settings).replace("-", ""), settings));
        assertEquals(ref.keySet(), other.keySet());
        double sum = 0, token = 0;
        for (Map.Entry<String, Row> e : ref.entrySet()) {
            Row x = e.getValue(), y = other.get(e.getKey());
            if (x.isNullAt(1)) continue; // an error row
            sum = Math.max(sum, Math.abs(x.getDouble(1) - y.getDouble(1)));
            List<Float> px = x.getList(2), py = y.getList(2);
            for (int i = 0; i < px.size(); i++) token = Math.max(token, Math.abs(px.get(i) - py.get(i)));
        }
        System.err.printf("DeterminismTest: %s: max |difference| of sum_logprob %.3g, of a token's log-prob %.3g%n",
                String.join(" ", settings), sum, token);
        return Math.max(sum, token);
    }

    private static Map<String, Row> byId(Path dir) {
        Map<String, Row> m = new HashMap<>();
        for (Row r : spark.read().parquet(dir.toString()).select("id", "sum_logprob", "token_logprobs").collectAsList()) m.put(r.getString(0), r);
        return m;
    }

    private static List<Path> dataFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("part-")).sorted().toList();
        }
    }

    /** A Parquet file's bytes before its footer: the column chunks, values and page statistics. */
    private static byte[] dataPages(Path parquet) throws IOException {
        byte[] all = Files.readAllBytes(parquet);
        int footer = ByteBuffer.wrap(all, all.length - 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        return Arrays.copyOf(all, all.length - 8 - footer);
    }
}
