package ssdspark.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.pipeline.DataFormat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class PreflightTest {
    @TempDir
    Path dir;

    private Path model() throws Exception {
        Path m = Files.createDirectories(dir.resolve("model"));
        Files.copy(Main.home().resolve(JobOptions.EXAMPLE_MODEL).resolve("config.json"), m.resolve("config.json"));
        Files.writeString(m.resolve("model.safetensors"), "");
        return m;
    }

    private Path input() throws Exception {
        return Files.writeString(dir.resolve("c.jsonl"), "{\"id\":1,\"tokens\":[1,2]}\n");
    }

    private String error(String... args) {
        return assertThrows(UsageException.class, () -> Preflight.check(JobOptions.parse(args, Main.home()))).getMessage();
    }

    @Test
    void resolvesAValidRun() throws Exception {
        Path m = model(), in = input();
        Preflight.Plan p = Preflight.check(JobOptions.parse(new String[] {"score", "--model", m.toString(), "--input", in.toString(),
                "--output", dir.resolve("out").toString()}, null));
        assertEquals(DataFormat.JSON, p.inputFormat());
        assertEquals(317, p.config().vocabSize);
        assertEquals(m.toString(), p.spec().modelPath());
    }

    @Test
    void modelProblems() throws Exception {
        Path in = input();
        assertTrue(error("score", "--model", dir.resolve("nope").toString(), "--input", in.toString()).contains("does not exist; check --model"));
        Path m = model();
        Files.delete(m.resolve("model.safetensors"));
        assertTrue(error("score", "--model", m.toString(), "--input", in.toString()).contains("has no weights"));
        Files.writeString(m.resolve("model.safetensors"), "");
        assertTrue(error("score", "--model", m.resolve("config.json").toString(), "--input", in.toString()).contains("is a file"));
        assertTrue(error("score", "--model", m.toString(), "--input", in.toString(), "--prepend-bos", "317").contains("[0, 317)"));
        Files.writeString(m.resolve("config.json"), "{\"d_model\": 8}");
        assertTrue(error("score", "--model", m.toString(), "--input", in.toString()).contains("unusable config.json"));
    }

    @Test
    void inputAndOutputProblems() throws Exception {
        String m = model().toString(), in = input().toString();
        assertTrue(error("score", "--model", m, "--input", dir.resolve("missing.jsonl").toString()).contains("does not exist; check --input"));
        Path noExt = Files.writeString(dir.resolve("corpus.txt"), "");
        assertTrue(error("score", "--model", m, "--input", noExt.toString()).contains("--format json"));
        Path out = Files.createDirectories(dir.resolve("out"));
        Files.writeString(out.resolve("keep.txt"), "precious");
        assertTrue(error("score", "--model", m, "--input", in, "--output", out.toString()).contains("--overwrite"));
        assertTrue(error("score", "--model", m, "--input", in, "--output", out.toString(), "--overwrite").contains("refusing"));
        assertTrue(error("score", "--model", m, "--input", in, "--output", dir.toString()).contains("overlaps"));
    }

    @Test
    void mainFailsFastWithStatus2AndNoSpark() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(err, true, StandardCharsets.UTF_8);
        int rc = Main.run(new String[] {"score", "--model", dir.resolve("none").toString(), "--input", "x.jsonl"}, ps, ps, null);
        assertEquals(2, rc);
        String s = err.toString(StandardCharsets.UTF_8);
        assertTrue(s.contains("check --model") && s.contains("--help"), s);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, Main.run(new String[] {"--help"}, new PrintStream(out, true, StandardCharsets.UTF_8), ps, null));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("--chunk-tokens"));
    }
}
