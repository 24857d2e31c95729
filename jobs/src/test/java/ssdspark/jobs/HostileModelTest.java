package ssdspark.jobs;

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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Broken and hostile model folders through the CLI: exit status 2, the file and the problem named, no stack
 * trace, in seconds, nothing written, and no Spark session left (local mode loads the model while the session starts
 * beside it; a refusal stops that session).
 */
class HostileModelTest {
    @TempDir Path tmp;

    private Path exampleModelCopy() throws IOException {
        Path src = TinyModel.DIR, dst = Files.createDirectories(tmp.resolve("model"));
        for (String f : new String[] {"config.json", "model.safetensors"}) Files.copy(src.resolve(f), dst.resolve(f));
        return dst;
    }

    /** Runs score on the example corpus with this model; returns stderr after checking the status is 2. */
    private String refused(Path model) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(err, true, StandardCharsets.UTF_8);
        int rc = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> Main.run(new String[] {"score", "--model", model.toString(),
                "--input", TinyModel.TOKENS_CORPUS.toString(), "--output", tmp.resolve("out").toString(),
                "--device", "cpu"}, ps, ps, null));
        String s = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, rc, s);
        assertFalse(s.contains("\tat ") || s.contains("Exception"), "no stack trace or exception class: " + s);
        assertFalse(Files.exists(tmp.resolve("out")), "nothing written");
        assertTrue(org.apache.spark.sql.SparkSession.getDefaultSession().isEmpty(), "the session started beside the model load is stopped");
        return s;
    }

    @Test
    void nanWeightNamesTheTensor() throws IOException {
        Path m = exampleModelCopy();
        Path st = m.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(st);
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        // the last tensor's last float: whatever the tensor order, the final 4 bytes of the file are one element
        b.putFloat(all.length - 4, Float.NaN);
        Files.write(st, all);
        String s = refused(m);
        assertTrue(s.contains("model.safetensors") && s.contains("holds NaN at element"), s);
    }

    @Test
    void deeplyNestedConfigIsRefused() throws IOException {
        Path m = exampleModelCopy();
        Files.writeString(m.resolve("config.json"), "{\"d_model\":" + "[".repeat(200_000));
        String s = refused(m);
        assertTrue(s.contains("config.json") && s.contains("nested deeper than"), s);
    }

    @Test
    void overlappingSafetensorsOffsetsAreRefused() throws IOException {
        Path m = exampleModelCopy();
        Path st = m.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(st);
        int n = (int) ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        String header = new String(all, 8, n, StandardCharsets.UTF_8);
        // point the first tensor that does not start at 0 one float back, into its neighbour; keep the header length
        java.util.regex.Matcher x = java.util.regex.Pattern.compile("\"data_offsets\":\\s*\\[(\\d+),\\s*(\\d+)\\]").matcher(header);
        String changed = null;
        while (x.find()) {
            long begin = Long.parseLong(x.group(1)), end = Long.parseLong(x.group(2));
            if (begin >= 4) {
                String now = x.group(), then = now.replace("[" + begin, "[" + (begin - 4)).replace(end + "]", (end - 4) + "]");
                changed = header.substring(0, x.start()) + then + " ".repeat(now.length() - then.length()) + header.substring(x.end());
                break;
            }
        }
        assertTrue(changed != null && changed.length() == header.length());
        System.arraycopy(changed.getBytes(StandardCharsets.UTF_8), 0, all, 8, n);
        Files.write(st, all);
        String s = refused(m);
        assertTrue(s.contains("model.safetensors") && (s.contains("overlap") || s.contains("unaccounted")), s);
    }

    @Test
    void absurdConfigSizeIsRefused() throws IOException {
        Path m = exampleModelCopy();
        String c = Files.readString(m.resolve("config.json"));
        Files.writeString(m.resolve("config.json"), c.replaceFirst("\"n_layer\":\\s*\\d+", "\"n_layer\": 4294967298"));
        String s = refused(m);
        assertTrue(s.contains("n_layer = 4294967298"), s);
    }
}
