package ssdspark.jobs;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g"));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments())
            if (a.startsWith("--add-opens") || a.startsWith("-Djdk.reflect")) cmd.add(a);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "score", "--model", MODEL.toString(),
                "--input", input.toString(), "--output", out.toString(), "--overwrite", "--master", "local[1]", "--progress", "0",
                "--conf", "spark.sql.files.maxPartitionBytes=8192", "--conf", "spark.sql.files.openCostInBytes=0", "--conf", "spark.ui.enabled=false"));
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("child.log").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
            while (!writing(staging) && child.isAlive() && System.nanoTime() < deadline) Thread.sleep(50);
            assertTrue(writing(staging) && child.isAlive(), "the child should be writing when killed; log:\n" + Files.readString(tmp.resolve("child.log")));
        } finally {
            child.destroyForcibly(); // SIGKILL on Linux
            child.waitFor(60, TimeUnit.SECONDS);
        }
        assertEquals(137, child.exitValue(), "killed by SIGKILL");

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

    /** Spark has begun writing the replacement: a file under its _temporary folder. */
    private static boolean writing(Path staging) throws IOException {
        Path t = staging.resolve("_temporary");
        if (!Files.isDirectory(t)) return false;
        try (Stream<Path> s = Files.walk(t)) {
            return s.anyMatch(Files::isRegularFile);
        } catch (IOException | java.io.UncheckedIOException e) {
            return false; // files come and go while Spark commits
        }
    }

    private static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            List<String> l = new ArrayList<>(s.map(p -> p.getFileName() + ":" + p.toFile().length()).toList());
            Collections.sort(l);
            return l;
        }
    }
}
