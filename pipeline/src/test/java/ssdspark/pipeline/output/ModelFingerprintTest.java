package ssdspark.pipeline.output;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class ModelFingerprintTest {
    static String sha(byte[] b) throws Exception {
        return java.util.HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    /** The documented recipe, computed from whole-file reads: one "NAME\tSIZE\tSHA\n" line per file, by name. */
    static String expected(Path dir, List<String> names) throws Exception {
        StringBuilder lines = new StringBuilder();
        for (String n : names) {
            byte[] b = Files.readAllBytes(dir.resolve(n));
            lines.append(n).append('\t').append(b.length).append('\t').append(sha(b)).append('\n');
        }
        return sha(lines.toString().getBytes(StandardCharsets.UTF_8));
    }

    static Path shardedModel(Path dir) throws Exception {
        Random r = new Random(42);
        byte[] a = new byte[3 * (1 << 20) + 17]; // crosses the 1 MiB read buffer
        byte[] b = new byte[5000];
        r.nextBytes(a);
        r.nextBytes(b);
        Files.writeString(dir.resolve("config.json"), "{\"d_model\": 8}");
        Files.write(dir.resolve("model-00001-of-00002.safetensors"), a);
        Files.write(dir.resolve("model-00002-of-00002.safetensors"), b);
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\": {}}");
        Files.writeString(dir.resolve("README.md"), "not hashed");
        Files.writeString(dir.resolve("tokenizer.json"), "{}");
        return dir;
    }

    @Test
    void hashesConfigAndWeightsOnly(@TempDir Path dir) throws Exception {
        shardedModel(dir);
        ModelFingerprint f = ModelFingerprint.of(dir);
        List<String> hashed = List.of("config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json");
        assertEquals(hashed, List.copyOf(f.files().keySet()));
        assertEquals(expected(dir, hashed), f.sha256());
        assertEquals(sha(Files.readAllBytes(dir.resolve("model-00001-of-00002.safetensors"))), f.files().get("model-00001-of-00002.safetensors"));
        assertEquals(3 * (1 << 20) + 17 + 5000 + 14 + 18, f.bytes());

        Files.writeString(dir.resolve("README.md"), "edited");
        assertEquals(f.sha256(), ModelFingerprint.of(dir).sha256(), "other files do not matter");
        byte[] b = Files.readAllBytes(dir.resolve("model-00002-of-00002.safetensors"));
        b[4999] ^= 1;
        Files.write(dir.resolve("model-00002-of-00002.safetensors"), b);
        assertNotEquals(f.sha256(), ModelFingerprint.of(dir).sha256(), "one flipped bit in a weight changes it");
    }

    @Test
    void theExampleModel() throws Exception {
        Path dir = Path.of("..", "examples", "tiny-mamba2");
        Assumptions.assumeTrue(Files.isDirectory(dir), "run from the pipeline module");
        ModelFingerprint f = ModelFingerprint.of(dir);
        assertEquals(List.of("config.json", "model.safetensors"), List.copyOf(f.files().keySet()));
        assertEquals(expected(dir, List.of("config.json", "model.safetensors")), f.sha256());
    }

    @Test
    void saysWhatIsMissing(@TempDir Path dir) throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelFingerprint.of(dir.resolve("nope")));
        assertTrue(e.getMessage().contains("not a folder"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ModelFingerprint.of(dir));
        assertTrue(e.getMessage().contains("no config.json"), e.getMessage());
        Files.writeString(dir.resolve("config.json"), "{}");
        e = assertThrows(IllegalArgumentException.class, () -> ModelFingerprint.of(dir));
        assertTrue(e.getMessage().contains("no weights"), e.getMessage());
    }
}
