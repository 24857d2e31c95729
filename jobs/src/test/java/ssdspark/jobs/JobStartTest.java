package ssdspark.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The job's start with the Spark session, the input's planning and the model's fingerprint beside the model load
 * (local mode, the job's own session) against the same job one step after another (-Dssdspark.serialStart=true,
 * the order before): the same output and manifest, the same errors and exit statuses, and no Spark session or
 * start-up thread left behind when the model does not load.
 */
class JobStartTest {
    @TempDir Path tmp;

    @AfterEach
    void serialOff() {
        System.clearProperty("ssdspark.serialStart");
    }

    private record Run(int rc, String out, String err) {}

    private static Run run(boolean serial, String... args) {
        if (serial) System.setProperty("ssdspark.serialStart", "true");
        else System.clearProperty("ssdspark.serialStart");
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8); PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            int rc = assertTimeoutPreemptively(Duration.ofSeconds(180), () -> Main.run(args, o, e, null));
            return new Run(rc, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.clearProperty("ssdspark.serialStart");
        }
    }

    /** No Spark session is left (default or this thread's), and no start-up thread still runs. */
    private static void nothingLeftRunning() {
        assertTrue(SparkSession.getDefaultSession().isEmpty(), "the job's session was stopped");
        assertTrue(SparkSession.getActiveSession().isEmpty(), "no active session on the caller's thread");
        List<String> left = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("ssdspark-start")).toList();
        assertTrue(left.isEmpty(), "start-up threads still running: " + left);
    }

    private String[] score(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("score", "--model", TinyModel.DIR.toString(), "--input", TinyModel.TOKENS_CORPUS.toString(),
                "--output", out.toString(), "--output-format", "json", "--device", "cpu", "--master", "local[2]", "--progress", "0",
                "--conf", "spark.ui.enabled=false"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void overlappedStartWritesWhatTheSerialOneDoes() throws IOException {
        Path a = tmp.resolve("serial"), b = tmp.resolve("overlapped");
        Run serial = run(true, score(a));
        assertEquals(0, serial.rc(), serial.err());
        assertNotEquals("ssdspark-start", JobStart.lastThread, "serial: the start ran on the job's thread");
        nothingLeftRunning();
        Run overlapped = run(false, score(b));
        assertEquals(0, overlapped.rc(), overlapped.err());
        assertEquals("ssdspark-start", JobStart.lastThread, "the start ran beside the model load");
        nothingLeftRunning();

        assertEquals(parts(a), parts(b), "the same part files");
        for (String part : parts(a)) assertEquals(Files.readString(a.resolve(part)), Files.readString(b.resolve(part)), part);
        ObjectMapper json = new ObjectMapper();
        JsonNode ma = json.readTree(a.resolve("_ssdspark_manifest.json").toFile()), mb = json.readTree(b.resolve("_ssdspark_manifest.json").toFile());
        for (String key : new String[] {"splitting", "parts"}) assertEquals(ma.get(key), mb.get(key), "manifest " + key);
        assertEquals(ma.get("settings").toString().replace(a.toString(), "OUT"), mb.get("settings").toString().replace(b.toString(), "OUT"),
                "manifest settings (the output's metadata: model fingerprint, backend, options)");
        JsonNode sa = json.readTree(a.resolve(Main.SIDE_FILE).toFile()), sb = json.readTree(b.resolve(Main.SIDE_FILE).toFile());
        assertEquals(sa.get("ssdspark.model.sha256"), sb.get("ssdspark.model.sha256"), "the same model fingerprint");
        assertEquals(sa.get("ssdspark.summary").get("rows"), sb.get("ssdspark.summary").get("rows"));
        assertEquals(sa.get("ssdspark.summary").get("tokens"), sb.get("ssdspark.summary").get("tokens"));
        assertEquals(masked(serial.out(), a), masked(overlapped.out(), b), "the same messages, in the same order");
    }

    @Test
    void modelThatDoesNotLoadFailsAsBeforeAndStopsTheSession() throws IOException {
        Path m = Files.createDirectories(tmp.resolve("model"));
        for (String f : new String[] {"config.json", "model.safetensors"}) Files.copy(TinyModel.DIR.resolve(f), m.resolve(f));
        byte[] all = Files.readAllBytes(m.resolve("model.safetensors"));
        ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).putFloat(all.length - 4, Float.NaN); // the last tensor's last element
        Files.write(m.resolve("model.safetensors"), all);
        String[] args = {"score", "--model", m.toString(), "--input", TinyModel.TOKENS_CORPUS.toString(), "--output", tmp.resolve("out").toString(),
                "--device", "cpu", "--master", "local[2]", "--conf", "spark.ui.enabled=false"};
        Run serial = run(true, args);
        Run overlapped = run(false, args);
        assertEquals("ssdspark-start", JobStart.lastThread, "the session started beside the model load: " + overlapped);
        nothingLeftRunning();
        assertEquals(2, overlapped.rc(), overlapped.err());
        assertTrue(overlapped.err().contains("error: cannot load model " + m) && overlapped.err().contains("holds NaN at element"), overlapped.err());
        assertEquals(serial.rc(), overlapped.rc());
        assertEquals(serial.err(), overlapped.err(), "the same message");
        assertEquals(serial.out(), overlapped.out());
        assertFalse(Files.exists(tmp.resolve("out")), "nothing written");
    }

    @Test
    void sessionThatCannotStartFailsAsBefore() {
        // a local master Spark cannot parse: the session fails on the start-up thread while the model loads fine
        String[] args = {"score", "--model", TinyModel.DIR.toString(), "--input", TinyModel.TOKENS_CORPUS.toString(),
                "--output", tmp.resolve("out").toString(), "--device", "cpu", "--master", "local[two]", "--conf", "spark.ui.enabled=false"};
        Run serial = run(true, args);
        Run overlapped = run(false, args);
        assertEquals("ssdspark-start", JobStart.lastThread, "the session started beside the model load: " + overlapped);
        nothingLeftRunning();
        assertEquals(1, overlapped.rc(), overlapped.err());
        assertTrue(overlapped.err().startsWith("error: score failed: SparkException: Could not parse Master URL: 'local[two]'"), overlapped.err());
        assertEquals(serial.rc(), overlapped.rc());
        assertEquals(serial.err().lines().findFirst(), overlapped.err().lines().findFirst(), "the same message (the stack traces differ by thread)");
        assertFalse(Files.exists(tmp.resolve("out")), "nothing written");
    }

    private static List<String> parts(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("part-")).sorted().toList();
        }
    }

    /** The job's messages with the run's own times, rates and output folder taken out. */
    private static String masked(String out, Path dir) {
        return out.replace(dir.toString(), "OUT").replaceAll("in [0-9.]+ s, [0-9,.]+[KM]? tok/s", "in T s, R tok/s");
    }
}
