package ssdspark.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.pipeline.text.TextInputOptions;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class PreflightTest {
    @TempDir
    Path dir;

    private Path model() throws Exception {
        Path m = Files.createDirectories(dir.resolve("model"));
        Files.copy(TinyModel.DIR.resolve("config.json"), m.resolve("config.json"));
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
        return TinyModel.TOKENIZER;
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
        assertEquals(Main.home().resolve(JobOptions.EXAMPLE_TOKENIZER).toAbsolutePath().normalize().toString(), ex.tokenizer().path());
    }

    @Test
    void columnsAndJsonLinesAreCheckedBeforeSparkAndTheModel() throws Exception {
        // model() has an empty weights file: a check that passed only after loading the model could not pass here
        String m = model().toString(), tk = tokenizer().toString();
        Path text = Files.writeString(dir.resolve("t.jsonl"), "{\"id\":1,\"body\":\"hello\"}\n\n{\"id\":2,\"body\":\"x\",\"lang\":\"en\"}\n");
        String e = error("score", "--model", m, "--input", text.toString(), "--tokenizer", tk);
        assertTrue(e.contains("no column 'text'") && e.contains("pass --text-col NAME") && e.contains("id, body, lang"), e);
        e = error("score", "--model", m, "--input", text.toString(), "--tokenizer", tk, "--text-col", "txt");
        assertTrue(e.contains("no column 'txt'"), e);
        e = error("score", "--model", m, "--input", text.toString(), "--tokenizer", tk, "--text-col", "body", "--id-col", "doc");
        assertTrue(e.contains("no column 'doc'") && e.contains("--id-col"), e);
        e = error("score", "--model", m, "--input", text.toString(), "--tokenizer", tk, "--text-col", "body", "--keep-cols", "source");
        assertTrue(e.contains("no column 'source'") && e.contains("--keep-cols"), e);
        e = error("score", "--model", m, "--input", text.toString(), "--tokenizer", tk, "--text-col", "body", "--report-by", "source");
        assertTrue(e.contains("no column 'source' to report by"), e);
        Preflight.Plan ok = Preflight.check(JobOptions.parse(new String[] {"score", "--model", m, "--input", text.toString(), "--tokenizer", tk,
                "--text-col", "body", "--report-by", "lang", "--output", dir.resolve("o1").toString()}, null));
        assertEquals(List.of("lang"), ok.carried(), "the report's column travels to the output");
        // pre-tokenized input: the token column, with a hint when the input has text instead
        e = error("score", "--model", m, "--input", input().toString(), "--tokens-col", "ids");
        assertTrue(e.contains("no column 'ids'") && e.contains("--tokens-col"), e);
        Path plain = Files.writeString(dir.resolve("p.jsonl"), "{\"id\":1,\"text\":\"hello\"}\n");
        e = error("score", "--model", m, "--input", plain.toString());
        assertTrue(e.contains("no column 'tokens'") && e.contains("--tokenizer PATH to tokenize its text column 'text'"), e);
        // a file that is not JSON lines (Spark would read it as one _corrupt_record column)
        Path notJson = Files.writeString(dir.resolve("n.jsonl"), "just some words\nand more\n");
        e = error("score", "--model", m, "--input", notJson.toString(), "--tokenizer", tk);
        assertTrue(e.contains("is not JSON lines") && e.contains("line 1: 'just some words'") && e.contains("--format text"), e);
        // a folder of part files: the first data file is read (not _SUCCESS or .crc), and col=value folders are columns
        Path parts = Files.createDirectories(dir.resolve("parts").resolve("lang=en"));
        Files.writeString(dir.resolve("parts").resolve("_SUCCESS"), "");
        Files.writeString(parts.resolve(".part-0.json.crc"), "binary");
        Files.writeString(parts.resolve("part-0.json"), "{\"id\":1,\"tokens\":[1,2]}\n");
        Preflight.Plan p = Preflight.check(JobOptions.parse(new String[] {"score", "--model", m, "--input", dir.resolve("parts").toString(),
                "--format", "json", "--report-by", "lang", "--output", dir.resolve("o2").toString()}, null));
        assertEquals(List.of("lang"), p.carried());
        // and Main stops at once with status 2, before any Spark session or model load
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(new String[] {"score", "--model", m, "--input", notJson.toString(), "--tokenizer", tk}, new PrintStream(err, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), null);
        assertEquals(2, rc);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("is not JSON lines"));
    }

    @Test
    void bundledExamplesGetTheExampleTokenizerAlsoForABosGivenByName() throws Exception {
        String exTok = Main.home().resolve(JobOptions.EXAMPLE_TOKENIZER).toAbsolutePath().normalize().toString();
        JobOptions o = JobOptions.parse(new String[] {"score", "--output", dir.resolve("a").toString()}, Main.home());
        Preflight.Plan p = Preflight.check(o);
        assertTrue(o.example && p.isText());
        assertEquals(exTok, p.tokenizer().path());
        assertEquals(JobOptions.EXAMPLE_REPORT_BY, o.reportBy, "the bundled example reports by kind");
        assertEquals(List.of("kind"), p.carried());
        for (String in : new String[] {JobOptions.EXAMPLE_INPUT, JobOptions.EXAMPLE_TEXT}) {
            // issue 9: --prepend-bos TOKEN used to demand --tokenizer although the example tokenizer is the default
            Preflight.Plan b = Preflight.check(JobOptions.parse(new String[] {"score", "--input", Main.home().resolve(in).toString(),
                    "--prepend-bos", "<|endoftext|>", "--output", dir.resolve("b").toString()}, Main.home()));
            assertEquals(exTok, b.tokenizer().path(), in);
            assertEquals(0, b.spec().bosId(), in);
        }
        // the pre-tokenized example stays pre-tokenized, and there a BOS name has no tokenizer to look it up in
        Preflight.Plan t = Preflight.check(JobOptions.parse(new String[] {"score", "--input", TinyModel.TOKENS_CORPUS.toString(),
                "--output", dir.resolve("c").toString()}, Main.home()));
        assertFalse(t.isText());
        assertTrue(error("score", "--input", TinyModel.TOKENS_CORPUS.toString(), "--prepend-bos", "<|endoftext|>").contains("needs --tokenizer"));
        assertTrue(error("score", "--input", TinyModel.TOKENS_CORPUS.toString(), "--text-col", "body").contains("--text-col names the text"));
        assertTrue(assertThrows(UsageException.class, () -> JobOptions.parse(new String[] {"embed", "--report-by", "kind"}, Main.home()))
                .getMessage().contains("--report-by"));
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

    /** Spark leaves _temporary/ without _SUCCESS when a run is killed: said so (naming --resume), and --overwrite may run into it. */
    @Test
    void folderOfAKilledRunIsNamedAsSuch() throws Exception {
        Path m = model(), in = input();
        Path out = Files.createDirectories(dir.resolve("killed").resolve("_temporary").resolve("0")).getParent().getParent();
        String e = error("score", "--model", m.toString(), "--input", in.toString(), "--output", out.toString());
        assertTrue(e.contains("left by a run that did not finish") && e.contains("--resume") && e.contains("--overwrite"), e);
        Preflight.check(JobOptions.parse(new String[] {"score", "--model", m.toString(), "--input", in.toString(),
                "--output", out.toString(), "--overwrite"}, null));
    }
}
