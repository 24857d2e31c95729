package ssdspark.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.pipeline.output.PartCommitProtocol;
import ssdspark.pipeline.output.RunManifest;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of a job in its own JVM after some of its parts committed, then --resume: only the missing parts are
 * written, and the output holds every document once with the values of an uninterrupted run. A second --resume finds
 * nothing missing; a changed input or setting is refused (exit 2).
 */
class ResumeTest {
    private static final Path MODEL = TinyModel.DIR;
    private static SparkSession spark;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("ssdspark-resume").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    @Test
    void killedRunResumesToTheOutputOfAnUninterruptedOne() throws Exception {
        List<String> lines = Files.readAllLines(TinyModel.TOKENS_CORPUS);
        List<String> big = new ArrayList<>();
        for (int i = 0; i < 5; i++) for (String l : lines) big.add(l.replaceFirst("\"id\":\"", "\"id\":\"" + i + "-"));
        Path input = Files.write(tmp.resolve("big.jsonl"), big);
        Path out = tmp.resolve("out"), parts = out.resolve(PartCommitProtocol.PARTS);
        String[] job = {"score", "--model", MODEL.toString(), "--input", input.toString(), "--output", out.toString(), "--progress", "0"};
        String[] smallParts = {"--conf", "spark.sql.files.maxPartitionBytes=16384", "--conf", "spark.sql.files.openCostInBytes=0"};

        // many small parts, one task at a time, killed once three have committed
        ChildJob.killWhen(tmp.resolve("child.log"), () -> ChildJob.files(parts, "part-") >= 3,
                concat(job, "--master", "local[1]", "--conf", "spark.ui.enabled=false", smallParts[0], smallParts[1], smallParts[2], smallParts[3]));
        assertFalse(Files.exists(out.resolve("_SUCCESS")));
        int partCount = new ObjectMapper().readTree(out.resolve(RunManifest.FILE).toFile()).path("parts").size();
        long committed = ChildJob.files(parts, "part-");
        assertTrue(committed >= 3 && committed < partCount, committed + " of " + partCount + " parts committed when killed");

        String e = fails(2, job);
        assertTrue(e.contains("did not finish") && e.contains("--resume") && e.contains("--overwrite"), e);

        // resumed in this JVM (two task slots, no --conf): the manifest's way of cutting the input is used
        long t0 = System.nanoTime();
        String log = CliRun.ok(spark, concat(job, "--resume"));
        System.err.printf("ResumeTest: resumed in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        assertTrue(log.contains("resuming " + out + ": " + committed + " of " + partCount + " parts were written"), log);
        assertTrue(log.contains("score: " + big.size() + " rows"), "the summary counts the whole output:\n" + log);
        assertTrue(Files.exists(out.resolve("_SUCCESS")));
        // one data file per part (none for a split holding no line start), each named in the manifest with its rows
        JsonNode manifest = new ObjectMapper().readTree(out.resolve(RunManifest.FILE).toFile());
        long manifestRows = 0, manifestFiles = 0;
        for (JsonNode p : manifest.path("parts")) {
            assertTrue(p.has("rows") && p.path("files").size() == (p.path("rows").asLong() > 0 ? 1 : 0), p.toString());
            for (JsonNode f : p.path("files")) assertTrue(Files.exists(out.resolve(f.asText())), p.toString());
            manifestRows += p.path("rows").asLong();
            manifestFiles += p.path("files").size();
        }
        assertEquals(big.size(), manifestRows);
        assertEquals(manifestFiles, ChildJob.files(out, "part-") - ChildJob.files(parts, "part-"), "no stray data files");

        // every document once, with the values of an uninterrupted run cut the same way
        Path ref = tmp.resolve("ref");
        for (int k = 0; k < smallParts.length; k += 2) spark.conf().set(smallParts[k + 1].split("=")[0], smallParts[k + 1].split("=")[1]);
        try {
            CliRun.ok(spark, "score", "--model", MODEL.toString(), "--input", input.toString(), "--output", ref.toString(), "--progress", "0");
        } finally {
            spark.conf().unset("spark.sql.files.maxPartitionBytes");
            spark.conf().unset("spark.sql.files.openCostInBytes");
        }
        System.err.printf("ResumeTest: reference run done at %.1f s%n", (System.nanoTime() - t0) / 1e9);
        Map<String, Row> resumed = byId(out), uninterrupted = byId(ref);
        assertEquals(big.size(), spark.read().parquet(out.toString()).count(), "no document twice");
        assertEquals(uninterrupted.keySet(), resumed.keySet());
        for (Map.Entry<String, Row> r : uninterrupted.entrySet())
            assertEquals(r.getValue(), resumed.get(r.getKey()), "document " + r.getKey());

        // resumed again: nothing missing, no part rewritten
        List<String> listing = listing(out);
        log = CliRun.ok(spark, concat(job, "--resume"));
        assertTrue(log.contains(partCount + " of " + partCount + " parts were written") && log.contains("writing the other 0"), log);
        assertEquals(listing, listing(out));

        // a setting that changes values, or a changed input file: refused, the output kept
        e = fails(2, concat(job, "--resume", "--per-token"));
        assertTrue(e.contains("cannot --resume") && e.contains("--per-token was false and is now true") && e.contains("--overwrite"), e);
        Files.writeString(input, lines.get(0) + "\n", java.nio.file.StandardOpenOption.APPEND);
        e = fails(2, concat(job, "--resume"));
        assertTrue(e.contains("input file") && e.contains("big.jsonl changed since"), e);
        assertEquals(listing, listing(out));
    }

    private static Map<String, Row> byId(Path dir) {
        Map<String, Row> m = new HashMap<>();
        for (Row r : spark.read().parquet(dir.toString()).select("id", "num_tokens", "num_scored", "sum_logprob", "mean_nll", "perplexity", "error")
                .collectAsList())
            m.put(r.getString(0), r);
        return m;
    }

    private static String fails(int rc, String... args) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
        assertEquals(rc, Main.run(args, ps, ps, spark), buf.toString(StandardCharsets.UTF_8));
        return buf.toString(StandardCharsets.UTF_8);
    }

    private static String[] concat(String[] a, String... b) {
        String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** The data files and markers, with their sizes and modification times. */
    private static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> Files.isRegularFile(p) && p.getFileName().toString().startsWith("part-")).map(p -> dir.relativize(p) + ":" + p.toFile().length() + ":" + p.toFile().lastModified()).sorted().toList();
        }
    }
}
