package ssdspark.jobs;

import org.junit.jupiter.api.Test;
import ssdspark.pipeline.DataFormat;
import ssdspark.udf.JobSpec;

import ssdspark.pipeline.text.TextInputOptions;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class JobOptionsTest {
    private static final Path HOME = Main.home(); // the checkout root (surefire sets ssdspark.home)

    private static JobOptions parse(String... args) { return JobOptions.parse(args, HOME); }

    private static String error(String... args) {
        return assertThrows(UsageException.class, () -> JobOptions.parse(args, HOME)).getMessage();
    }

    @Test
    void noModelOrInputRunsTheBundledExample() {
        JobOptions o = parse("score");
        assertTrue(o.example);
        assertEquals(HOME.resolve(JobOptions.EXAMPLE_MODEL).toString(), o.model);
        assertEquals(HOME.resolve(JobOptions.EXAMPLE_INPUT).toString(), o.input);
        assertEquals("out/score", o.output);
        assertEquals(2048, o.chunkTokens);
        assertEquals(-1, o.bosId());
        assertNull(o.format);
        assertEquals(DataFormat.PARQUET, o.outputFormat);
        assertEquals("id", o.idCol);
        assertEquals("tokens", o.tokensCol);
        assertEquals("auto", o.device);
        assertEquals("bf16", o.precision);
        assertEquals(16384, o.tokenBudget);
        assertEquals(1024, o.maxBatchDocs);
        assertEquals(2, o.prefetch);
        assertEquals(0, o.tokenizerThreads, "auto");
        assertEquals(5, o.progressSeconds);
        assertNull(o.tokenizer);
        assertNull(o.master);
        assertTrue(o.partitionBy.isEmpty() && o.keepCols.isEmpty());
        assertEquals("out/embed", parse("embed").output);
    }

    @Test
    void readsEveryFlagInBothSpellings() {
        JobOptions o = parse("score", "--model", "/m", "--input=/in.parquet", "--format", "parquet", "--id-col", "doc",
                "--tokens-col=ids", "--output", "/o", "--output-format", "json", "--per-token", "--chunk-tokens", "64",
                "--prepend-bos=0", "--device", "CPU", "--master", "local[2]", "--conf", "spark.a=b=c", "--conf", "spark.x=1",
                "--overwrite", "--token-budget", "4096", "--max-batch-docs=64", "--prefetch", "0", "--partition-by", "lang,year",
                "--keep-cols", "src", "--progress", "0");
        assertEquals(JobSpec.Task.SCORE, o.task);
        assertEquals("/m", o.model);
        assertEquals("/in.parquet", o.input);
        assertEquals(TextInputOptions.Format.PARQUET, o.format);
        assertEquals("doc", o.idCol);
        assertEquals("ids", o.tokensCol);
        assertEquals("/o", o.output);
        assertEquals(DataFormat.JSON, o.outputFormat);
        assertTrue(o.perToken && o.overwrite && !o.example);
        assertEquals(64, o.chunkTokens);
        assertEquals(0, o.bosId());
        assertEquals("cpu", o.device);
        assertEquals("local[2]", o.master);
        assertEquals(2, o.conf.size());
        assertEquals(new JobOptions.Setting("spark.a", "b=c"), o.conf.get(0));
        assertEquals(4096, o.tokenBudget);
        assertEquals(64, o.maxBatchDocs);
        assertEquals(0, o.prefetch);
        assertEquals(0, o.progressSeconds);
        assertEquals(List.of("lang", "year"), o.partitionBy);
        assertEquals(List.of("src"), o.keepCols);
        assertEquals("4096", o.given.get("--token-budget"));
        assertEquals("", o.given.get("--overwrite"));
        assertEquals(JobSpec.Pooling.LAST, parse("embed", "--pooling", "last", "--model", "/m", "--input", "/i").pooling);
        JobOptions t = parse("embed", "--model", "/m", "--input", "/c", "--tokenizer", "hdfs:///t/tokenizer.json", "--text-col", "body",
                "--format", "text", "--doc-per", "line", "--skip-blank-lines", "--special-tokens", "--device", "gpu", "--precision", "fp32",
                "--tokenizer-threads", "3");
        assertEquals("hdfs:///t/tokenizer.json", t.tokenizer);
        assertEquals("body", t.textCol);
        assertEquals(TextInputOptions.Format.TEXT, t.format);
        assertEquals(TextInputOptions.Unit.LINE, t.docPer);
        assertTrue(t.skipBlankLines && t.specialTokens);
        assertEquals(3, t.tokenizerThreads);
        assertEquals("gpu", t.device);
        assertEquals("fp32", t.precision);
        JobOptions named = parse("score", "--model", "/m", "--input", "/c", "--tokenizer", "t.json", "--prepend-bos", "<|endoftext|>");
        assertEquals("<|endoftext|>", named.bosToken());
        assertEquals(-1, named.bosId());
    }

    @Test
    void badFlagsSayWhatToFix() {
        assertTrue(error("score", "--modle", "/m").contains("unknown flag --modle"));
        assertTrue(error("score", "--model").contains("--model needs a value"));
        assertTrue(error("score", "--model", "--input", "x").contains("--model needs a value"));
        assertTrue(error("score", "--model", "--bogus").contains("--model needs a value"));
        assertTrue(error("score", "--modle", "/m").contains("did you mean --model?"));
        assertTrue(error("score", "--chunk-tokens", "abc").contains("--chunk-tokens expects an integer, got 'abc'"));
        assertTrue(error("score", "--chunk-tokens", "0").contains("at least 1"));
        assertTrue(error("score", "--prepend-bos", "-3").contains(">= 0"));
        assertTrue(error("score", "--format", "csv").contains("json, parquet or text"));
        assertTrue(error("score", "--output-format", "text").contains("json or parquet"));
        assertTrue(error("embed", "--pooling", "max").contains("mean or last"));
        assertTrue(error("score", "--pooling", "last").contains("for embed"));
        assertTrue(error("embed", "--per-token").contains("for score"));
        assertTrue(error("embed", "--prepend-bos", "0").contains("for score"));
        assertTrue(error("score", "--device", "tpu").contains("--device cpu, gpu or auto"));
        assertTrue(error("score", "--device", "gpu:1").contains("Spark assigned"));
        assertTrue(error("score", "--device", "cpu", "--precision", "fp32").contains("--precision is for the GPU"));
        assertTrue(error("score", "--precision", "int4").contains("bf16, fp16 or fp32"));
        assertTrue(error("score", "--token-budget", "0").contains("at least 1"));
        assertTrue(error("score", "--prefetch", "-1").contains("at least 0"));
        assertTrue(error("score", "--tokenizer-threads", "-2").contains("at least 0"));
        assertTrue(error("score", "--tokenizer", "t.json", "--tokens-col", "ids").contains("give one of them"));
        // (outside examples/: a bundled example may still get the example tokenizer, which Preflight decides)
        String[] own = {"--model", "/m", "--input", "/c.jsonl"};
        assertTrue(error(cat(own, "score", "--text-col", "body")).contains("add --tokenizer"));
        assertTrue(error(cat(own, "score", "--special-tokens")).contains("--tokenizer"));
        assertTrue(error(cat(own, "score", "--tokenizer-threads", "4")).contains("--tokenizer-threads is for text input: add --tokenizer"));
        assertTrue(error(cat(own, "score", "--prepend-bos", "<s>")).contains("needs --tokenizer"));
        assertTrue(error("embed", "--report-by", "kind").contains("--report-by"));
        assertTrue(error("score", "--format", "json", "--doc-per", "line").contains("plain-text input"));
        assertTrue(error("score", "--tokenizer", "t.json", "--skip-blank-lines").contains("--doc-per line"));
        assertTrue(error("score", "--doc-per", "page").contains("file or line"));
        assertTrue(error("score", "--partition-by", "a,,b").contains("separated by commas"));
        assertTrue(error("score", "--per-token=yes").contains("takes no value"));
        assertTrue(error("score", "--chunk-tokens", "8", "--chunk-tokens", "9").contains("given twice"));
        assertTrue(error("score", "--conf", "novalue").contains("KEY=VALUE"));
        assertTrue(error("score", "--model", "/m").contains("give both"));
        assertTrue(error("score", "--input", "/i").contains("give both"));
        JobOptions ex = parse("score", "--input", HOME.resolve("examples/corpus-text").toString());
        assertTrue(ex.exampleModel, "an input under examples/ defaults to the example model");
        assertEquals(HOME.resolve(JobOptions.EXAMPLE_MODEL).toString(), ex.model);
        assertTrue(error("--model", "/m", "--input", "/i").contains("score or embed"));
        assertTrue(error("rank").contains("unknown command 'rank'"));
        assertTrue(error("score", "embed").contains("unexpected argument 'embed'"));
        String noExample = assertThrows(UsageException.class, () -> JobOptions.parse(new String[] {"score"}, Path.of("/nonexistent"))).getMessage();
        assertTrue(noExample.contains("--model DIR and --input PATH are required"), noExample);
    }

    @Test
    void helpListsEveryFlagWithItsDefault() {
        assertTrue(parse("score", "--bogus", "--help").help);
        assertTrue(parse("-h").help);
        // "help" as a flag's value is that value, not a request for help
        JobOptions v = parse("score", "--model", "/m", "--input", "/in.jsonl", "--id-col", "help");
        assertFalse(v.help);
        assertEquals("help", v.idCol);
        String u = JobOptions.usage("bin/ssdspark");
        String[] flags = {"--model", "--input", "--format", "--id-col", "--tokens-col", "--tokenizer", "--text-col", "--doc-per",
                "--skip-blank-lines", "--special-tokens", "--tokenizer-threads", "--device", "--precision", "--chunk-tokens", "--token-budget",
                "--max-batch-docs", "--prefetch", "--per-token", "--prepend-bos", "--pooling", "--output", "--output-format",
                "--partition-by", "--keep-cols", "--overwrite", "--master", "--conf", "--progress", "--help"};
        for (String flag : flags) {
            List<String> lines = u.lines().toList();
            int at = -1;
            for (int i = 0; i < lines.size() && at < 0; i++)
                if (lines.get(i).trim().startsWith(flag + " ") || lines.get(i).contains(", " + flag)) at = i;
            assertTrue(at >= 0, flag + " missing from --help");
            if (flag.equals("--help")) continue;
            // the default closes the flag's entry, on its line or the continuation line below it
            String entry = lines.get(at) + (at + 1 < lines.size() && lines.get(at + 1).startsWith(" ".repeat(20)) ? lines.get(at + 1) : "");
            assertTrue(entry.matches(".*\\[.+]\\s*$"), "no [default] for " + flag + ": " + entry);
        }
        // every flag the parser knows is in the help
        for (String known : new String[] {"--model", "--input", "--format", "--id-col", "--tokens-col", "--text-col", "--tokenizer", "--doc-per",
                "--output", "--output-format", "--chunk-tokens", "--token-budget", "--max-batch-docs", "--prefetch", "--prepend-bos",
                "--pooling", "--device", "--precision", "--partition-by", "--keep-cols", "--progress", "--master", "--conf"})
            assertTrue(java.util.Arrays.asList(flags).contains(known), known);
        // as README's table says: the GPU's local default, and blank (not just empty) lines
        assertTrue(u.contains("local[" + Main.LOCAL_GPU_SLOTS + "] with a GPU"), u);
        assertTrue(u.lines().anyMatch(l -> l.contains("--skip-blank-lines") && l.contains("drop blank lines")), u);
        assertTrue(u.contains("[2048]") && u.contains("[mean]") && u.contains("[parquet]") && u.contains("[id]") && u.contains("[tokens]")
                && u.contains("[auto]") && u.contains("[16384]") && u.contains("[bf16]") && u.contains("[text]") && u.contains("[file]"));
    }

    /** The metadata records the flags that apply to the run, defaults included, and what the preflight resolved. */
    @Test
    void provenanceRecordsTheFlagsThatApply() {
        JobOptions text = parse("embed", "--model", "m", "--input", "in.jsonl", "--tokenizer", "t.json", "--text-col", "body",
                "--master", "local[2]", "--overwrite");
        Map<String, String> p = text.provenance(true, Map.of("--model", "/abs/m", "--format", "json"));
        assertEquals("embed", p.get("task"));
        assertEquals("/abs/m", p.get("--model"));
        assertEquals("json", p.get("--format"));
        assertEquals("body", p.get("--text-col"));
        assertEquals("file", p.get("--doc-per"));
        assertEquals("false", p.get("--special-tokens"));
        assertEquals("mean", p.get("--pooling"));
        assertEquals("16384", p.get("--token-budget"));
        assertEquals("none", p.get("--keep-cols"));
        for (String absent : new String[] {"--tokens-col", "--per-token", "--prepend-bos", "--master", "--overwrite", "--conf", "--progress", "--help"})
            assertFalse(p.containsKey(absent), absent);
        Map<String, String> s = parse("score", "--model", "m", "--input", "in.parquet", "--per-token", "--output-format", "json")
                .provenance(false, Map.of());
        assertEquals("tokens", s.get("--tokens-col"));
        assertEquals("true", s.get("--per-token"));
        assertEquals("none", s.get("--prepend-bos"));
        assertEquals("json", s.get("--output-format"));
        assertEquals("none", s.get("--format"), "not resolved: not given");
        assertFalse(s.containsKey("--text-col") || s.containsKey("--pooling"));
    }

    /** README's flag table and --help list the same flags, with the same meaning and the same default. */
    @Test
    void readmeFlagTableAgreesWithHelp() throws java.io.IOException {
        Map<String, String[]> readme = readmeFlags(java.nio.file.Files.readAllLines(HOME.resolve("README.md")));
        Map<String, String[]> help = helpFlags(JobOptions.usage("bin/ssdspark"));
        assertTrue(help.size() >= 28, "--help lists " + help.keySet());
        assertEquals(help.keySet(), readme.keySet(), "flags (with their value names) in --help vs README's table");
        for (String flag : help.keySet()) {
            assertEquals(help.get(flag)[0], readme.get(flag)[0], "meaning of " + flag + ": --help vs README");
            assertEquals(help.get(flag)[1], readme.get(flag)[1], "default of " + flag + ": --help vs README");
        }
    }

    /** README's "| Flag | Meaning | Default |" rows as flag -> {meaning, default}, markdown removed. */
    static Map<String, String[]> readmeFlags(List<String> lines) {
        Map<String, String[]> m = new java.util.LinkedHashMap<>();
        int start = lines.indexOf("| Flag | Meaning | Default |");
        assertTrue(start >= 0, "README has no flag table");
        for (String row : lines.subList(start + 2, lines.size())) {
            if (!row.startsWith("|")) break;
            String[] cells = row.substring(1, row.length() - 1).split("(?<!\\\\)\\|", -1);
            assertEquals(3, cells.length, row);
            String[] c = new String[3];
            for (int i = 0; i < 3; i++) c[i] = cells[i].replace("`", "").replace("\\|", "|").trim();
            assertNull(m.put(c[0], new String[] {c[1], c[2]}), "twice in README: " + c[0]);
        }
        return m;
    }

    /** --help's flag entries as "flag VALUE" -> {meaning, default}: the text before and inside the closing [...]. */
    static Map<String, String[]> helpFlags(String usage) {
        Map<String, String[]> m = new java.util.LinkedHashMap<>();
        java.util.regex.Pattern entry = java.util.regex.Pattern.compile("^ {2,6}((?:-\\w, )?--\\S+(?: \\S+)?) {2,}(.*)$");
        String flag = null;
        StringBuilder text = new StringBuilder();
        for (String line : (usage + "\n").lines().toList()) {
            java.util.regex.Matcher e = entry.matcher(line);
            boolean more = flag != null && line.startsWith(" ".repeat(20)) && !line.isBlank();
            if (more) {
                text.append(' ').append(line.trim());
                continue;
            }
            if (flag != null) {
                java.util.regex.Matcher d = java.util.regex.Pattern.compile("^(.*?)(?: \\[(.*)])?$").matcher(text.toString());
                assertTrue(d.matches());
                assertNull(m.put(flag, new String[] {d.group(1), d.group(2) == null ? "" : d.group(2)}), "twice in --help: " + flag);
                flag = null;
            }
            if (e.matches()) {
                flag = e.group(1);
                text.setLength(0);
                text.append(e.group(2).trim());
            }
        }
        return m;
    }

    private static String[] cat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
