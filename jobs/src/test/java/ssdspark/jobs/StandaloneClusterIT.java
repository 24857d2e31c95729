package ssdspark.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The text job on a real multi-JVM cluster: a Spark standalone master and two workers on this machine, each worker
 * with one executor JVM (1 core, 512 MB) that gets the job jar through spark-submit, as on a real cluster. Nothing
 * in local mode proves that the partition function and the tokenizer serialize and ship, or that each executor
 * loads its own model; this does. Then kill -9 of one executor mid-job: its tasks rerun elsewhere and the output
 * still holds every document exactly once with the same values.
 *
 * <p>Needs the packaged jar, so it runs in the integration-test phase with {@code -Pcluster} (CI does): about 14 minutes
 * (796-832 s) on the 2-core build machine while other builds ran (load 14-19).
 * {@code mvn -B -ntp -pl jobs -am verify -Pcluster -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false}
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StandaloneClusterIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int FILES = 6;
    private static final long JOB_TIMEOUT_S = 600;

    @TempDir
    static Path tmp;
    private static StandaloneCluster cluster;
    private static Path jobJar, corpus;
    private static Map<String, JsonNode> local; // id -> output row of the local-mode run
    private static long fileBytes;

    @BeforeAll
    static void start() throws Exception {
        jobJar = Path.of(required("ssdspark.jobs.jar"));
        Path sparkClasspath = Path.of(required("ssdspark.spark.classpath"));
        assertTrue(Files.isRegularFile(jobJar) && Files.isRegularFile(sparkClasspath), "no " + jobJar + " or " + sparkClasspath
                + ": this test runs after package (mvn verify -Pcluster)");
        corpus = writeCorpus(tmp.resolve("corpus"));
        List<String> sparkJars = List.of(Files.readString(sparkClasspath).trim().split(java.io.File.pathSeparator));
        List<String> opens = List.of(required("ssdspark.jvm.opens").trim().split("\\s+"));
        cluster = StandaloneCluster.start(tmp.resolve("cluster"), sparkJars, opens, 2, 1, "1g");
        local = readOutput(runLocal(tmp.resolve("out-local")));
    }

    @AfterAll
    static void stop() {
        if (cluster != null) cluster.close();
    }

    private static String required(String property) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank()) fail("system property " + property + " is not set: run through Maven with -Pcluster");
        return v;
    }

    /**
     * FILES JSON-lines files of the bundled demo corpus (text of every kind, errors included; without its one long
     * document, which would make a task take a minute on a busy 2-core machine), ids made unique per file.
     */
    private static Path writeCorpus(Path dir) throws IOException {
        Files.createDirectories(dir);
        List<String> lines = demoDocuments();
        for (int f = 0; f < FILES; f++) {
            List<String> out = new ArrayList<>();
            for (String l : lines) out.add(l.replaceFirst("\"id\": \"", "\"id\": \"f" + f + "-"));
            Files.write(dir.resolve("part-" + f + ".jsonl"), out);
            fileBytes = Files.size(dir.resolve("part-" + f + ".jsonl"));
        }
        return dir;
    }

    private static List<String> demoDocuments() throws IOException {
        return Files.readAllLines(Main.home().resolve("examples/demo-corpus.jsonl")).stream()
                .filter(l -> !l.contains("\"kind\": \"long\"")).toList();
    }

    /** The job's flags, the same for every run: one partition per input file (all are the same size). */
    private static List<String> jobArgs(Path out) {
        return List.of("score", "--model", TinyModel.DIR.toString(), "--tokenizer", TinyModel.TOKENIZER.toString(),
                "--input", corpus.toString(), "--output", out.toString(), "--output-format", "json", "--device", "cpu",
                "--progress", "0", "--conf", "spark.sql.files.maxPartitionBytes=" + (fileBytes + 1),
                "--conf", "spark.sql.files.openCostInBytes=0", "--conf", "spark.ui.enabled=false");
    }

    private static Path runLocal(Path out) {
        List<String> args = new ArrayList<>(jobArgs(out));
        args.addAll(List.of("--master", "local[2]"));
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
        int rc = Main.run(args.toArray(String[]::new), ps, ps, null);
        assertEquals(0, rc, "the local-mode run failed:\n" + buf.toString(StandardCharsets.UTF_8));
        return out;
    }

    /** spark-submit of the job jar to the cluster, in its own driver JVM (client mode), with an event log. */
    private static Process submit(Path out, Path events, Path log) throws IOException {
        Files.createDirectories(events);
        List<String> args = new ArrayList<>(List.of("--master", cluster.masterUrl(), "--class", Main.class.getName(),
                "--conf", "spark.executor.memory=512m", "--conf", "spark.executor.cores=1", "--conf", "spark.cores.max=2",
                // start scoring only when both executors are up, so both get tasks
                "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
                "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=300s",
                "--conf", "spark.eventLog.enabled=true", "--conf", "spark.eventLog.dir=" + events.toUri(),
                "--conf", "spark.eventLog.compress=false", "--conf", "spark.eventLog.rolling.enabled=false",
                "--conf", "spark.ui.enabled=false",
                jobJar.toString()));
        args.addAll(jobArgs(out));
        return cluster.startChild("org.apache.spark.deploy.SparkSubmit", args, log, "768m");
    }

    private static void awaitSuccess(Process driver, Path log) throws Exception {
        if (!driver.waitFor(JOB_TIMEOUT_S, TimeUnit.SECONDS)) {
            driver.descendants().forEach(ProcessHandle::destroyForcibly);
            driver.destroyForcibly();
            fail("the cluster job did not finish in " + JOB_TIMEOUT_S + " s; driver log:\n" + StandaloneCluster.tail(log));
        }
        assertEquals(0, driver.exitValue(), "the cluster job failed; driver log:\n" + StandaloneCluster.tail(log));
    }

    @Test
    @Order(1)
    void textJobOnTwoExecutorsGivesTheLocalModeOutput() throws Exception {
        Set<String> appsBefore = apps();
        Path out = tmp.resolve("out-cluster"), log = tmp.resolve("driver-1.log");
        awaitSuccess(submit(out, tmp.resolve("events-1"), log), log);
        assertSameAsLocal(out);

        // Each worker ran an executor of this application, and each of them loaded the model itself.
        for (int w = 0; w < cluster.workers(); w++) {
            List<Path> logs = cluster.executorLogs(w, app -> !appsBefore.contains(app));
            assertFalse(logs.isEmpty(), "worker " + w + " launched no executor for the job");
            boolean loaded = false;
            for (Path p : logs) loaded |= Files.readString(p).contains("ModelCache: loaded model " + TinyModel.DIR);
            assertTrue(loaded, "the executor on worker " + w + " did not load the model; its log:\n" + StandaloneCluster.tail(logs.get(0)));
        }
    }

    @Test
    @Order(2)
    void killDashNineOfAnExecutorMidJobRerunsItsTasksElsewhere() throws Exception {
        Set<String> appsBefore = apps();
        Path out = tmp.resolve("out-killed"), events = tmp.resolve("events-2"), log = tmp.resolve("driver-2.log");
        Process driver = submit(out, events, log);

        // The first executor to load the model is in the middle of its first scoring task: kill it there.
        String killedId = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(JOB_TIMEOUT_S);
        while (killedId == null) {
            if (!driver.isAlive()) fail("the job ended before an executor started scoring; driver log:\n" + StandaloneCluster.tail(log));
            if (System.nanoTime() > deadline) fail("no executor started scoring in " + JOB_TIMEOUT_S + " s; driver log:\n" + StandaloneCluster.tail(log));
            for (int w = 0; w < cluster.workers() && killedId == null; w++) {
                for (Path stderr : cluster.executorLogs(w, app -> !appsBefore.contains(app))) {
                    if (!Files.readString(stderr).contains("ModelCache: loaded model")) continue;
                    Optional<ProcessHandle> executor = cluster.executorOf(w);
                    assertTrue(executor.isPresent(), "worker " + w + " has no executor JVM although its log says it is scoring");
                    executor.get().destroyForcibly(); // SIGKILL
                    assertTrue(executor.get().onExit().get(30, TimeUnit.SECONDS) != null, "the executor JVM did not die");
                    killedId = stderr.getParent().getFileName().toString();
                    break;
                }
            }
            Thread.sleep(100);
        }
        awaitSuccess(driver, log);
        assertSameAsLocal(out);

        // The event log: the killed executor lost at least one running task, and every task it lost succeeded on another executor.
        List<JsonNode> ends = taskEnds(events);
        List<JsonNode> lost = new ArrayList<>();
        for (JsonNode e : ends)
            if (e.path("Task End Reason").path("Reason").asText().equals("ExecutorLostFailure")
                    && e.path("Task Info").path("Executor ID").asText().equals(killedId)) lost.add(e);
        assertFalse(lost.isEmpty(), "executor " + killedId + " was killed mid-job but lost no running task; driver log:\n" + StandaloneCluster.tail(log));
        for (JsonNode l : lost) {
            int stage = l.path("Stage ID").asInt(), index = l.path("Task Info").path("Index").asInt();
            List<String> succeededOn = new ArrayList<>();
            for (JsonNode e : ends)
                if (e.path("Stage ID").asInt() == stage && e.path("Task Info").path("Index").asInt() == index
                        && e.path("Task End Reason").path("Reason").asText().equals("Success"))
                    succeededOn.add(e.path("Task Info").path("Executor ID").asText());
            assertEquals(1, succeededOn.size(), "task " + index + " of stage " + stage + " succeeded once");
            assertFalse(succeededOn.contains(killedId), "task " + index + " of stage " + stage + " reran on another executor");
        }
        System.out.println("cluster: killed executor " + killedId + " lost " + lost.size() + " running task(s); rerun on executor(s) "
                + ends.stream().filter(e -> e.path("Task End Reason").path("Reason").asText().equals("Success"))
                .filter(e -> lost.stream().anyMatch(l -> l.path("Stage ID").equals(e.path("Stage ID"))
                        && l.path("Task Info").path("Index").equals(e.path("Task Info").path("Index"))))
                .map(e -> e.path("Task Info").path("Executor ID").asText()).toList());
    }

    /** Every document exactly once, with the same values as the local-mode run (JSON numbers compared exactly). */
    private static void assertSameAsLocal(Path out) throws IOException {
        Map<String, JsonNode> rows = readOutput(out);
        assertEquals(local.keySet(), rows.keySet(), "the same documents as the local-mode run");
        for (Map.Entry<String, JsonNode> e : local.entrySet())
            assertEquals(e.getValue(), rows.get(e.getKey()), "document " + e.getKey() + ": the same values as in local mode");
    }

    /** The output rows by id; fails on a document written twice. */
    private static Map<String, JsonNode> readOutput(Path out) throws IOException {
        Map<String, JsonNode> rows = new TreeMap<>();
        List<Path> parts;
        try (Stream<Path> s = Files.list(out)) {
            parts = s.filter(p -> p.getFileName().toString().startsWith("part-")).sorted().toList();
        }
        for (Path p : parts)
            for (String line : Files.readAllLines(p)) {
                JsonNode row = JSON.readTree(line);
                String id = row.path("id").asText();
                if (rows.put(id, row) != null) fail("document " + id + " is in the output of " + out + " twice");
            }
        assertEquals(FILES * demoDocuments().size(), rows.size(),
                "every document of the corpus in " + out);
        return rows;
    }

    private static List<JsonNode> taskEnds(Path events) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        List<Path> files;
        try (Stream<Path> s = Files.list(events)) {
            files = s.toList();
        }
        assertEquals(1, files.size(), "one event log in " + events + ": " + files);
        for (String line : Files.readAllLines(files.get(0))) {
            JsonNode e = JSON.readTree(line);
            if (e.path("Event").asText().equals("SparkListenerTaskEnd")) out.add(e);
        }
        return out;
    }

    /** Application folders the workers have now. */
    private static Set<String> apps() throws IOException {
        Set<String> s = new HashSet<>();
        for (int w = 0; w < cluster.workers(); w++)
            try (Stream<Path> l = Files.list(cluster.workDir(w))) {
                l.forEach(p -> s.add(p.getFileName().toString()));
            }
        return s;
    }
}
