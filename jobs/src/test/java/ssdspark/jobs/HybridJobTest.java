package ssdspark.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.model.DocumentRunner;
import ssdspark.model.Engine;
import ssdspark.model.Mamba2Model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A mamba_ssm hybrid (the reference fixture with attention at layers 1 and 3 and gated-MLP blocks) through the CLI:
 * documents within --max-attention-tokens get the engine's scores, longer ones an error row naming the flag.
 */
class HybridJobTest {
    static final Path HYBRID = Main.home().resolve("model/src/test/resources/fixtures/mssm_hybrid_gqa_rotary").toAbsolutePath().normalize();

    @TempDir
    static Path tmp;
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("ssdspark-hybrid-test").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    @Test
    void hybridScoresWithinTheCapAndErrorRowsBeyondIt() throws IOException {
        Path out = tmp.resolve("out");
        CliRun.ok(spark, "score", "--model", HYBRID.toString(), "--input", TinyModel.TOKENS_CORPUS.toString(), "--device", "cpu",
                "--chunk-tokens", "64", "--token-budget", "512", "--max-attention-tokens", "300", "--output", out.toString(), "--progress", "0");
        Map<String, int[]> docs = new HashMap<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(TinyModel.TOKENS_CORPUS)) {
            var node = json.readTree(line);
            docs.put(node.get("id").asText(), json.convertValue(node.get("tokens"), int[].class));
        }
        List<Row> rows = spark.read().parquet(out.toString()).collectAsList();
        assertEquals(docs.size(), rows.size());
        int scored = 0, refused = 0;
        try (Engine e = Mamba2Model.cpu(HYBRID)) {
            DocumentRunner alone = new DocumentRunner(e);
            for (Row r : rows) {
                int[] doc = docs.get(r.getString(0));
                String error = r.getString(r.fieldIndex("error"));
                if (java.util.Arrays.stream(doc).anyMatch(t -> t >= 317)) { // the corpus' deliberately bad rows
                    assertTrue(error.contains("outside the model's vocabulary"), error);
                } else if (doc.length > 300) {
                    refused++;
                    assertTrue(error.contains("longer than max attention tokens 300 (--max-attention-tokens)"), error);
                } else if (doc.length >= 2) {
                    scored++;
                    assertEquals(null, error);
                    double want = alone.score(doc, new DocumentRunner.ScoreOptions(doc.length, -1, false)).sumLogprob();
                    assertEquals(want, r.getDouble(r.fieldIndex("sum_logprob")), 1e-4 * doc.length, r.getString(0));
                }
            }
        }
        assertTrue(scored >= 20 && refused >= 15, scored + " scored, " + refused + " refused");
    }
}
