package ssdspark.model.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static ssdspark.model.checkpoint.SafetensorsFileTest.resource;

/** Which file Checkpoints.open picks in a folder, and what it says when there is none. */
class CheckpointsTest {
    @TempDir Path tmp;

    private static String failure(Path dir) {
        return assertThrows(IllegalArgumentException.class, () -> Checkpoints.open(dir)).getMessage();
    }

    private static void safetensors(Path file, String tensor) throws IOException {
        new SafetensorsWriter().f32(tensor, new long[]{1}, 1f).write(file);
    }

    private static void bin(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        Files.copy(resource("torch_p2/pytorch_model.bin"), file);
    }

    @Test
    void prefersModelSafetensorsOverEverythingElse() throws IOException {
        safetensors(tmp.resolve("model.safetensors"), "main");
        safetensors(tmp.resolve("other.safetensors"), "other");
        Files.writeString(tmp.resolve("model.safetensors.index.json"), "{\"weight_map\": {\"other\": \"other.safetensors\"}}");
        bin(tmp.resolve("pytorch_model.bin"));
        try (TensorSource s = Checkpoints.open(tmp)) {
            assertEquals(List.of("main"), List.copyOf(s.names()));
        }
    }

    @Test
    void thenTheIndex() throws IOException {
        safetensors(tmp.resolve("a.safetensors"), "x");
        safetensors(tmp.resolve("b.safetensors"), "y");
        Files.writeString(tmp.resolve("model.safetensors.index.json"), "{\"weight_map\": {\"x\": \"a.safetensors\", \"y\": \"b.safetensors\"}}");
        bin(tmp.resolve("pytorch_model.bin"));
        try (TensorSource s = Checkpoints.open(tmp)) {
            assertInstanceOf(ShardedSource.class, s);
            assertEquals(List.of("x", "y"), List.copyOf(s.names()));
        }
    }

    @Test
    void thenASingleSafetensorsFileOfAnyName() throws IOException {
        safetensors(tmp.resolve("consolidated.safetensors"), "w");
        bin(tmp.resolve("pytorch_model.bin"));
        try (TensorSource s = Checkpoints.open(tmp)) {
            assertInstanceOf(SafetensorsFile.class, s);
            assertTrue(s.description().endsWith("consolidated.safetensors"));
        }
    }

    @Test
    void thenPytorchModelBin() throws IOException {
        bin(tmp.resolve("pytorch_model.bin"));
        Files.writeString(tmp.resolve("config.json"), "{}");
        try (TensorSource s = Checkpoints.open(tmp)) {
            assertInstanceOf(TorchCheckpoint.class, s);
            assertTrue(s.has("lm_head.weight"));
        }
    }

    @Test
    void shardedPytorchModelBin() throws IOException {
        bin(tmp.resolve("pytorch_model-00001-of-00002.bin"));
        Files.copy(resource("torch_p4_big/pytorch_model.bin"), tmp.resolve("pytorch_model-00002-of-00002.bin"));
        Files.writeString(tmp.resolve("pytorch_model.bin.index.json"), "{\"weight_map\": {"
                + "\"sliced\": \"pytorch_model-00001-of-00002.bin\", \"transposed\": \"pytorch_model-00002-of-00002.bin\"}}");
        try (TensorSource s = Checkpoints.open(tmp)) {
            assertEquals(List.of("sliced", "transposed"), List.copyOf(s.names()));
            assertArrayEquals(new float[]{1f, 1.5f, 2f}, s.readFloats("sliced"));
            assertArrayEquals(new float[]{1, 4, 2, 5, 3, 6}, s.readFloats("transposed"));
        }
    }

    @Test
    void aFilePathIsOpenedByItsName() throws IOException {
        Path f = tmp.resolve("weights.safetensors");
        safetensors(f, "w");
        try (TensorSource s = Checkpoints.open(f)) {
            assertEquals(List.of("w"), List.copyOf(s.names()));
        }
        Path b = tmp.resolve("ckpt.pt");
        bin(b);
        try (TensorSource s = Checkpoints.open(b)) {
            assertInstanceOf(TorchCheckpoint.class, s);
        }
    }

    @Test
    void nothingFoundListsWhatIsThereAndWhatIsExpected() throws IOException {
        String m = failure(tmp);
        assertTrue(m.contains("found nothing") && m.contains("model.safetensors") && m.contains("pytorch_model.bin"), m);
        Files.writeString(tmp.resolve("config.json"), "{}");
        Files.writeString(tmp.resolve("tokenizer.json"), "{}");
        m = failure(tmp);
        assertTrue(m.contains("[config.json, tokenizer.json]") && m.contains("expected model.safetensors"), m);
    }

    @Test
    void severalSafetensorsWithoutIndex() throws IOException {
        safetensors(tmp.resolve("a.safetensors"), "x");
        safetensors(tmp.resolve("b.safetensors"), "y");
        String m = failure(tmp);
        assertTrue(m.contains("several .safetensors files") && m.contains("a.safetensors") && m.contains("no index"), m);
    }

    @Test
    void missingFolder() {
        String m = failure(tmp.resolve("nope"));
        assertTrue(m.contains("nope") && m.contains("does not exist"), m);
    }
}
