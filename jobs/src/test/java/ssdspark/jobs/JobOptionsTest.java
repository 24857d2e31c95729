package ssdspark.jobs;

import org.junit.jupiter.api.Test;
import ssdspark.pipeline.DataFormat;
import ssdspark.udf.JobSpec;

import java.nio.file.Path;

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
        assertEquals(-1, o.bosId);
        assertNull(o.format);
        assertEquals(DataFormat.PARQUET, o.outputFormat);
        assertEquals("id", o.idCol);
        assertEquals("tokens", o.tokensCol);
        assertEquals("cpu", o.device);
        assertNull(o.master);
        assertEquals("out/embed", parse("embed").output);
    }

    @Test
    void readsEveryFlagInBothSpellings() {
        JobOptions o = parse("score", "--model", "/m", "--input=/in.parquet", "--format", "parquet", "--id-col", "doc",
                "--tokens-col=ids", "--output", "/o", "--output-format", "json", "--per-token", "--chunk-tokens", "64",
                "--prepend-bos=0", "--device", "CPU", "--master", "local[2]", "--conf", "spark.a=b=c", "--conf", "spark.x=1",
                "--overwrite");
        assertEquals(JobSpec.Task.SCORE, o.task);
        assertEquals("/m", o.model);
        assertEquals("/in.parquet", o.input);
        assertEquals(DataFormat.PARQUET, o.format);
        assertEquals("doc", o.idCol);
        assertEquals("ids", o.tokensCol);
        assertEquals("/o", o.output);
        assertEquals(DataFormat.JSON, o.outputFormat);
        assertTrue(o.perToken && o.overwrite && !o.example);
        assertEquals(64, o.chunkTokens);
        assertEquals(0, o.bosId);
        assertEquals("cpu", o.device);
        assertEquals("local[2]", o.master);
        assertEquals(2, o.conf.size());
        assertArrayEquals(new String[] {"spark.a", "b=c"}, o.conf.get(0));
        assertEquals(JobSpec.Pooling.LAST, parse("embed", "--pooling", "last", "--model", "/m", "--input", "/i").pooling);
    }

    @Test
    void badFlagsSayWhatToFix() {
        assertTrue(error("score", "--modle", "/m").contains("unknown flag --modle"));
        assertTrue(error("score", "--model").contains("--model needs a value"));
        assertTrue(error("score", "--model", "--input", "x").contains("--model needs a value"));
        assertTrue(error("score", "--chunk-tokens", "abc").contains("--chunk-tokens expects an integer, got 'abc'"));
        assertTrue(error("score", "--chunk-tokens", "0").contains("at least 1"));
        assertTrue(error("score", "--prepend-bos", "-3").contains(">= 0"));
        assertTrue(error("score", "--format", "csv").contains("json or parquet"));
        assertTrue(error("embed", "--pooling", "max").contains("mean or last"));
        assertTrue(error("score", "--pooling", "last").contains("for embed"));
        assertTrue(error("embed", "--per-token").contains("for score"));
        assertTrue(error("embed", "--prepend-bos", "0").contains("for score"));
        assertTrue(error("score", "--device", "gpu").contains("--device cpu"));
        assertTrue(error("score", "--per-token=yes").contains("takes no value"));
        assertTrue(error("score", "--chunk-tokens", "8", "--chunk-tokens", "9").contains("given twice"));
        assertTrue(error("score", "--conf", "novalue").contains("KEY=VALUE"));
        assertTrue(error("score", "--model", "/m").contains("give both"));
        assertTrue(error("score", "--input", "/i").contains("give both"));
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
        String u = JobOptions.usage("bin/ssdspark");
        for (String flag : new String[] {"--model", "--input", "--format", "--id-col", "--tokens-col", "--output", "--output-format",
                "--overwrite", "--chunk-tokens", "--per-token", "--prepend-bos", "--pooling", "--device", "--master", "--conf", "--help"}) {
            String line = u.lines().filter(l -> l.trim().startsWith(flag + " ") || l.contains(", " + flag)).findFirst()
                    .orElseThrow(() -> new AssertionError(flag + " missing from --help"));
            if (!flag.equals("--help")) assertTrue(line.matches(".*\\[.+]\\s*$"), "no [default] for " + flag + ": " + line);
        }
        assertTrue(u.contains("[2048]") && u.contains("[mean]") && u.contains("[parquet]") && u.contains("[id]") && u.contains("[tokens]"));
    }
}
