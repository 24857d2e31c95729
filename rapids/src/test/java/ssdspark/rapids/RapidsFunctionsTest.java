package ssdspark.rapids;

import ai.rapids.cudf.DType;
import ai.rapids.cudf.HostColumnVector;
import ai.rapids.cudf.HostColumnVector.BasicType;
import ai.rapids.cudf.HostColumnVector.ListType;
import ai.rapids.cudf.HostColumnVectorCore;
import com.nvidia.spark.RapidsUDF;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import ssdspark.model.DocumentRunner;
import ssdspark.model.DocumentRunner.ScoreOptions;
import ssdspark.model.DocumentRunner.ScoreResult;
import ssdspark.pipeline.sql.EmbedTokensFunction;
import ssdspark.pipeline.sql.Mamba2Functions;
import ssdspark.pipeline.sql.ScoreTokensFunction;
import ssdspark.pipeline.sql.SqlDocuments;
import ssdspark.udf.Doc;
import ssdspark.udf.JobSpec;
import ssdspark.udf.ModelCache;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * What of the RAPIDS path runs without a GPU: the classes load with the RAPIDS Accelerator's API, registration
 * picks them, their row path ({@code call}) equals the plain functions', and the host halves of the columnar
 * path (a host LIST column to documents, results to the host result column) are checked against the CPU engine.
 * copyToHost/copyToDevice and the device-buffer engine call need a GPU and cuDF's native library: not run here.
 */
class RapidsFunctionsTest {
    private static final String MODEL = Path.of(System.getProperty("ssdspark.home", ".."), "examples", "tiny-mamba2")
            .toAbsolutePath().normalize().toString();
    private static final JobSpec SCORE = JobSpec.score(MODEL, "cpu", 16, 0, true);
    private static final JobSpec EMBED = JobSpec.embed(MODEL, "cpu", 16, JobSpec.Pooling.LAST);
    private static final DocumentRunner RUNNER = new DocumentRunner(ModelCache.get(MODEL, "cpu"));

    /** Rows of every kind: fine (one longer than a chunk), NULL, empty, an id outside the vocabulary (317). */
    private static final List<int[]> ROWS = Arrays.asList(new int[] {5, 6, 7}, null, new int[0], new int[] {1, 400},
            java.util.stream.IntStream.range(0, 40).map(i -> (i * 37) % 317).toArray());

    @Test
    void registrationPicksTheColumnarClasses() {
        List<Mamba2Functions.Function> fs = Mamba2Functions.functions(Map.of("model", MODEL, "device", "cpu"), null);
        assertInstanceOf(RapidsScoreTokensFunction.class, fs.get(0).udf());
        assertInstanceOf(RapidsEmbedTokensFunction.class, fs.get(1).udf());
        assertInstanceOf(RapidsUDF.class, fs.get(0).udf());
    }

    @Test
    void rowPathEqualsThePlainFunctionsAndTheEngine() throws Exception {
        ScoreTokensFunction plainScore = new ScoreTokensFunction(SCORE);
        EmbedTokensFunction plainEmbed = new EmbedTokensFunction(EMBED);
        RapidsScoreTokensFunction score = new RapidsScoreTokensFunction(SCORE);
        RapidsEmbedTokensFunction embed = new RapidsEmbedTokensFunction(EMBED);
        for (int[] t : ROWS) {
            List<Integer> boxed = t == null ? null : Arrays.stream(t).boxed().toList();
            Row s = score.call(boxed);
            assertEquals(values(plainScore.call(boxed)), values(s));
            assertArrayEquals(plainEmbed.call(boxed), embed.call(boxed));
            if (t == null) { assertNull(s); continue; }
            if (t.length == 0 || t[t.length - 1] >= 317) {
                assertNotNull(s.getAs("error"));
                assertNull(embed.call(boxed));
                continue;
            }
            ScoreResult want = RUNNER.score(t, new ScoreOptions(16, 0, true));
            assertEquals(want.sumLogprob(), s.<Double>getAs("sum_logprob"), 1e-9 * Math.abs(want.sumLogprob()));
            assertArrayEquals(RUNNER.embed(t, 16).last(), embed.call(boxed), 1e-6f);
        }
    }

    @Test
    void hostListColumnGivesTheRowPathsDocuments() {
        List<List<Integer>> lists = new ArrayList<>();
        for (int[] t : ROWS) lists.add(t == null ? null : Arrays.stream(t).boxed().toList());
        lists.add(Arrays.asList(3, null, 4));
        try (HostColumnVector col = HostColumnVector.fromLists(new ListType(true, new BasicType(true, DType.INT32)), toArray(lists))) {
            List<Doc> docs = ColumnarDocuments.docs(col);
            assertEquals(lists.size(), docs.size());
            for (int i = 0; i < lists.size(); i++) {
                Doc want = SqlDocuments.tokenDoc(lists.get(i)), got = docs.get(i);
                if (want == null) { assertNull(got, "row " + i); continue; }
                assertEquals(want.error(), got.error(), "row " + i);
                assertArrayEquals(want.tokens(), got.tokens(), "row " + i);
            }
            assertTrue(docs.get(lists.size() - 1).error().contains("position 1 is null"));
        }
    }

    /** A struct's values, arrays as lists (Row equality compares arrays by reference). */
    private static List<Object> values(Row r) {
        if (r == null) return null;
        List<Object> v = new ArrayList<>();
        for (int i = 0; i < r.length(); i++) v.add(r.get(i) instanceof float[] f ? Arrays.toString(f) : r.get(i));
        return v;
    }

    @SuppressWarnings("unchecked")
    private static List<Integer>[] toArray(List<List<Integer>> l) { return l.toArray(new List[0]); }

    @Test
    void hostResultColumnsHoldTheJobsValuesAndNulls() {
        List<Doc> docs = new ArrayList<>();
        for (int[] t : ROWS) docs.add(t == null ? null : SqlDocuments.tokenDoc(t));
        List<Row> rows = SqlDocuments.run(SCORE, docs);
        try (HostColumnVector col = ColumnarDocuments.hostColumn(SCORE, rows)) {
            assertEquals(DType.STRUCT, col.getType());
            assertEquals(ROWS.size(), col.getRowCount());
            assertEquals(SqlDocuments.scoreType(SCORE).size(), col.getNumChildren());
            HostColumnVectorCore numTokens = col.getChildColumnView(0), sum = col.getChildColumnView(2), lp = col.getChildColumnView(5),
                    error = col.getChildColumnView(6);
            for (int i = 0; i < ROWS.size(); i++) {
                if (ROWS.get(i) == null) { assertTrue(col.isNull(i), "NULL in, NULL out"); continue; }
                Row r = rows.get(i);
                assertFalse(col.isNull(i));
                if (r.get(7) != null) {
                    assertEquals(r.getString(7), error.getJavaString(i));
                    assertTrue(numTokens.isNull(i) && sum.isNull(i));
                    continue;
                }
                ScoreResult want = RUNNER.score(ROWS.get(i), new ScoreOptions(16, 0, true));
                assertEquals(want.numTokens(), numTokens.getInt(i));
                assertEquals(want.sumLogprob(), sum.getDouble(i), 1e-9 * Math.abs(want.sumLogprob()));
                assertEquals(want.numScored(), lp.getList(i).size());
                assertEquals(want.tokenLogprobs()[0], (Float) lp.getList(i).get(0), 1e-6f);
                assertTrue(error.isNull(i));
            }
        }
        List<Row> emb = SqlDocuments.run(EMBED, docs);
        try (HostColumnVector col = ColumnarDocuments.hostColumn(EMBED, emb)) {
            assertEquals(DType.LIST, col.getType());
            for (int i = 0; i < ROWS.size(); i++) {
                float[] want = SqlDocuments.embedding(emb.get(i));
                if (want == null) { assertTrue(col.isNull(i), "row " + i); continue; }
                List<?> got = col.getList(i);
                assertEquals(want.length, got.size());
                for (int k = 0; k < want.length; k++) assertEquals(want[k], (Float) got.get(k));
            }
        }
    }
}
