package ssdspark.jobs;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of a job in its own JVM while it writes an --overwrite: the earlier complete output survives untouched,
 * and the next --overwrite run completes and leaves nothing behind.
 */
class KilledRunTest {
    private static final Path MODEL = TinyModel.DIR;
    private static final Path CORPUS = TinyModel.TOKENS_CORPUS;
    private static SparkSession spark;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("ssdspark-killed-run").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    private static int run(PrintStream ps, String... args) { return Main.run(args, ps, ps, spark); }

    @Test
    void killDashNineDuringOverwriteKeepsTheEarlierOutput() throws Exception {
        Path out = tmp.resolve("out"), staging = tmp.resolve(".out.ssdspark-new");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(log, true, StandardCharsets.UTF_8);
        assertEquals(0, run(ps, "score", "--model", MODEL.toString(), "--input", CORPUS.toString(), "--output", out.toString(), "--progress", "0"), log.toString());
        long rows = spark.read().parquet(out.toString()).count();
        List<String> before = listing(out);

        // A job of many small tasks in a child JVM, killed with SIGKILL once it has started writing the replacement.
        List<String> lines = Files.readAllLines(CORPUS);
        List<String> big = new ArrayList<>();
        for (int i = 0; i < 20; i++) for (String l : lines) big.add(l.replaceFirst("\"id\":\"", "\"id\":\"" + i + "-"));
        Path input = Files.write(tmp.resolve("big.jsonl"), big);
        ChildJob.killWhen(tmp.resolve("child.log"), () -> ChildJob.files(staging, "part-") > 0,
                "score", "--model", MODEL.toString(), "--input", input.toString(), "--output", out.toString(), "--overwrite", "--master", "local[1]",
                "--progress", "0", "--conf", "spark.sql.files.maxPartitionBytes=8192", "--conf", "spark.sql.files.openCostInBytes=0",
                "--conf", "spark.ui.enabled=false");

        assertEquals(before, listing(out), "the earlier output is untouched");
        assertEquals(rows, spark.read().parquet(out.toString()).count());
        assertTrue(Files.isDirectory(staging), "the killed run's partial output stays beside it");

        // the next --overwrite clears the leftover and completes
        log.reset();
        assertEquals(0, run(ps, "score", "--model", MODEL.toString(), "--input", CORPUS.toString(), "--output", out.toString(),
                "--overwrite", "--progress", "0"), log.toString());
        assertEquals(rows, spark.read().parquet(out.toString()).count());
        assertFalse(Files.exists(staging) || Files.exists(tmp.resolve(".out.ssdspark-old")), "nothing left behind");
    }

    private static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            List<String> l = new ArrayList<>(s.map(p -> p.getFileName() + ":" + p.toFile().length()).toList());
            Collections.sort(l);
            return l;
        }
    }
}
