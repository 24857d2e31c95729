package ssdspark.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Broken models and documents fail with a message that says what is wrong. */
class BadInputTest {
    @TempDir Path tmp;

    private Path copyOf(String fixture) throws IOException {
        Path src = Fixtures.load(fixture).dir(), dst = tmp.resolve(fixture);
        Files.createDirectories(dst);
        try (var files = Files.list(src)) {
            for (Path f : files.toList()) Files.copy(f, dst.resolve(f.getFileName()));
        }
        return dst;
    }

    private static void editConfig(Path dir, String from, String to) throws IOException {
        Path c = dir.resolve("config.json");
        String s = Files.readString(c);
        assertTrue(s.contains(from), "fixture config contains " + from);
        Files.writeString(c, s.replace(from, to));
    }

    private static String failure(Path dir) {
        return assertThrows(RuntimeException.class, () -> Mamba2Model.cpu(dir)).getMessage();
    }

    @Test
    void malformedConfig() throws IOException {
        Path d = copyOf("mssm_g1_safetensors");
        Files.writeString(d.resolve("config.json"), "{\"d_model\": 64, \"n_layer\": ");
        String m = failure(d);
        assertTrue(m.contains("config.json") && m.contains("malformed JSON"), m);
    }

    @Test
    void missingTensor() throws IOException {
        Path d = copyOf("mssm_g1_safetensors");
        editConfig(d, "\"n_layer\": 2", "\"n_layer\": 3");
        String m = failure(d);
        assertTrue(m.contains("missing tensor backbone.layers.2."), m);
    }

    @Test
    void wrongShape() throws IOException {
        Path d = copyOf("hf_g1_safetensors");
        editConfig(d, "\"state_size\": 16", "\"state_size\": 32");
        String m = failure(d);
        assertTrue(m.contains("backbone.layers.0.mixer.") && m.contains("has shape") && m.contains("do not match"), m);
    }

    @Test
    void missingWeights() throws IOException {
        Path d = copyOf("mssm_g1_safetensors");
        Files.delete(d.resolve("model.safetensors"));
        String m = failure(d);
        assertTrue(m.contains("safetensors") && m.contains("pytorch_model.bin"), m);
    }

    @Test
    void notAFolder() {
        String m = failure(tmp.resolve("nope"));
        assertTrue(m.contains("--model"), m);
    }

    @Test
    void badDocuments() {
        try (Engine e = Mamba2Model.cpu(Fixtures.load("mssm_g1_safetensors").dir())) {
            DocumentRunner r = new DocumentRunner(e);
            var opts = new DocumentRunner.ScoreOptions(16, -1, false);
            String m = assertThrows(IllegalArgumentException.class, () -> r.score(new int[0], opts)).getMessage();
            assertTrue(m.contains("empty token array"), m);
            // 317 is the tokenizer vocabulary; 317..319 are padding rows that exist in the embedding but are not tokens
            m = assertThrows(IllegalArgumentException.class, () -> r.score(new int[] {5, 317}, opts)).getMessage();
            assertTrue(m.contains("token id 317 at position 1") && m.contains("[0, 317)"), m);
            m = assertThrows(IllegalArgumentException.class, () -> r.embed(new int[] {-1}, 16)).getMessage();
            assertTrue(m.contains("token id -1"), m);
            m = assertThrows(IllegalArgumentException.class, () -> r.score(new int[] {1}, new DocumentRunner.ScoreOptions(16, 400, false))).getMessage();
            assertTrue(m.contains("BOS id 400"), m);
        }
    }

    @Test
    void batchTooLargeForJavaArraysIsRefusedBeforeSizesWrapAround() throws IOException {
        Fixtures.Case fx = Fixtures.load("mssm_g1_safetensors");
        try (Engine e = Mamba2Model.cpu(fx.dir())) {
            Mamba2Config c = e.config();
            // n * d_model overflows int (so does n * d_in_proj): the sizes must not wrap to a negative or small array
            int n = Integer.MAX_VALUE / c.dModel + 1;
            String m = assertThrows(IllegalArgumentException.class, () -> e.forward(new int[1], 0, n, e.newState())).getMessage();
            assertTrue(m.contains(n + " tokens") && m.contains("token budget"), m);
            m = assertThrows(IllegalArgumentException.class, () -> e.forwardPacked(new int[1], new int[] {0, n}, new Mamba2State[1])).getMessage();
            assertTrue(m.contains(n + " tokens") && m.contains("token budget"), m);
        }
    }

    /** Overwrites element i of a tensor in a safetensors file (F32 or BF16), finding it through the header. */
    private static void poke(Path st, String tensor, int i, float value) throws IOException {
        byte[] all = Files.readAllBytes(st);
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        int n = (int) b.getLong(0);
        Map<?, ?> info = (Map<?, ?>) Json.parseObject(new String(all, 8, n, StandardCharsets.UTF_8)).get(tensor);
        int at = 8 + n + (int) (long) (Long) ((List<?>) info.get("data_offsets")).get(0);
        switch ((String) info.get("dtype")) {
            case "F32" -> b.putFloat(at + 4 * i, value);
            case "BF16" -> b.putShort(at + 2 * i, (short) (Float.floatToRawIntBits(value) >>> 16));
            default -> throw new IllegalStateException("fixture dtype " + info.get("dtype"));
        }
        Files.write(st, all);
    }

    /** NaN or infinite weights would score every document NaN with no error: refused at load, naming where. */
    @Test
    void nonFiniteWeightsAreRefusedNamingTensorAndIndex() throws IOException {
        Path d = copyOf("mssm_g1_safetensors");
        poke(d.resolve("model.safetensors"), "backbone.layers.1.mixer.in_proj.weight", 3 * 64 + 5, Float.NaN);
        String m = failure(d);
        assertTrue(m.contains("model.safetensors") && m.contains("tensor backbone.layers.1.mixer.in_proj.weight holds NaN at element 197")
                && m.contains("index [3, 5]"), m);

        Path h = copyOf("hf_g2_safetensors_bf16");
        poke(h.resolve("model.safetensors"), "backbone.embeddings.weight", 64 + 1, Float.NEGATIVE_INFINITY);
        m = failure(h);
        assertTrue(m.contains("tensor backbone.embeddings.weight holds -Infinity at element 65") && m.contains("index [1, 1]"), m);

        Path a = copyOf("hf_g1_safetensors");
        poke(a.resolve("model.safetensors"), "backbone.layers.0.mixer.A_log", 0, Float.POSITIVE_INFINITY);
        m = failure(a);
        assertTrue(m.contains("backbone.layers.0.mixer.A_log holds Infinity at element 0"), m);
    }
}
