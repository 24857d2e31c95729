package ssdspark.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.pipeline.text.TextInputOptions;

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
        assertEquals(TextInputOptions.Format.JSON, p.inputFormat());
        assertFalse(p.isText());
        assertEquals("tokens", p.tokensCol());
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
        Path noExt = Files.writeString(dir.resolve("corpus.dat"), "");
        assertTrue(error("score", "--model", m, "--input", noExt.toString()).contains("--format json"));
        Path txt = Files.writeString(dir.resolve("corpus.txt"), "hello");
        assertTrue(error("score", "--model", m, "--input", txt.toString()).contains("needs a tokenizer: pass --tokenizer"));
        assertTrue(error("score", "--model", m, "--input", txt.toString(), "--tokenizer", dir.resolve("none.json").toString())
                .contains("tokenizer file not found"));
        assertTrue(error("score", "--model", m, "--input", txt.toString(), "--tokenizer", in).contains("--tokenizer"), "not a tokenizer.json");
        assertTrue(error("score", "--model", m, "--input", txt.toString(), "--tokenizer", tokenizer().toString(), "--partition-by", "lang")
                .contains("plain-text input has no columns"));
        assertTrue(error("score", "--model", m, "--input", in, "--doc-per", "line", "--tokenizer", tokenizer().toString())
                .contains("for plain-text input"));
        // column flags have no meaning for plain text: refused, not silently ignored
        for (String flag : new String[] {"--id-col", "--text-col"})
            assertTrue(error("score", "--model", m, "--input", txt.toString(), "--tokenizer", tokenizer().toString(), flag, "doc")
                    .contains(flag + " names a column of JSON/Parquet input"), flag);
        Path out = Files.createDirectories(dir.resolve("out"));
        Files.writeString(out.resolve("keep.txt"), "precious");
        assertTrue(error("score", "--model", m, "--input", in, "--output", out.toString()).contains("--overwrite"));
        assertTrue(error("score", "--model", m, "--input", in, "--output", out.toString(), "--overwrite").contains("refusing"));
        assertTrue(error("score", "--model", m, "--input", in, "--output", dir.toString()).contains("overlaps"));
    }

    private Path tokenizer() {
        return Main.home().resolve(JobOptions.EXAMPLE_TOKENIZER);
    }

    @Test
    void textInputReadsAndChecksTheTokenizer() throws Exception {
        Path m = model();
        Path corpus = Files.createDirectories(dir.resolve("texts"));
        Files.writeString(corpus.resolve("a.txt"), "hello world");
        Preflight.Plan p = Preflight.check(JobOptions.parse(new String[] {"score", "--model", m.toString(), "--input", corpus.toString(),
                "--tokenizer", tokenizer().toString(), "--doc-per", "line", "--prepend-bos", "<|endoftext|>"}, null));
        assertTrue(p.isText());
        assertEquals(TextInputOptions.Format.TEXT, p.inputFormat(), "a folder of .txt files is plain text");
        assertEquals(TextInputOptions.Unit.LINE, p.text().unit());
        assertEquals(317, p.tokenizer().vocabSize());
        assertEquals(p.tokenizer().addedTokens().get("<|endoftext|>"), p.spec().bosId(), "a BOS given by name");
        assertTrue(error("score", "--model", m.toString(), "--input", corpus.toString(), "--tokenizer", tokenizer().toString(),
                "--prepend-bos", "<nope>").contains("no such added token"));
        // a tokenizer whose ids do not fit the model's vocabulary
        Files.writeString(m.resolve("config.json"), Files.readString(m.resolve("config.json")).replace("\"vocab_size\": 317", "\"vocab_size\": 300"));
        assertTrue(error("score", "--model", m.toString(), "--input", corpus.toString(), "--tokenizer", tokenizer().toString())
                .contains("the model's vocabulary is [0, 300)"));
        // the bundled text example needs neither --model nor --tokenizer
        Preflight.Plan ex = Preflight.check(JobOptions.parse(new String[] {"score", "--input",
                Main.home().resolve(JobOptions.EXAMPLE_TEXT).toString(), "--output", dir.resolve("o").toString()}, Main.home()));
        assertTrue(ex.isText());
        assertEquals(tokenizer().toAbsolutePath().toString(), ex.tokenizer().path());
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
