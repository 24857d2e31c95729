package ssdspark.udf;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.jdk.javaapi.CollectionConverters;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class OutputRowsTest {
    private static final String MODEL = "/nonexistent/output-rows-model";

    @BeforeAll
    static void register() { ModelCache.put(MODEL, "cpu", new FakeEngine()); }

    @AfterAll
    static void drop() { ModelCache.evict(MODEL, "cpu"); }

    @Test
    void outputColumns() {
        List<String> score = Arrays.asList(OutputRows.of(JobSpec.score("/m", "cpu", 8, -1, false)).schema(DataTypes.LongType, List.of()).fieldNames());
        assertEquals(List.of("id", "num_tokens", "num_scored", "sum_logprob", "mean_nll", "perplexity", "error"), score);
        StructType perToken = OutputRows.of(JobSpec.score("/m", "cpu", 8, -1, true)).schema(DataTypes.StringType, List.of());
        assertEquals("array<float>", perToken.apply("token_logprobs").dataType().simpleString());
        assertEquals(DataTypes.StringType, perToken.apply("id").dataType());
        List<String> embed = Arrays.asList(OutputRows.of(JobSpec.embed("/m", "cpu", 8, JobSpec.Pooling.MEAN)).schema(DataTypes.IntegerType, List.of()).fieldNames());
        assertEquals(List.of("id", "num_tokens", "embedding", "error"), embed);
        StructField lang = DataTypes.createStructField("lang", DataTypes.StringType, true);
        assertEquals("lang", OutputRows.of(JobSpec.embed("/m", "cpu", 8, JobSpec.Pooling.MEAN)).schema(DataTypes.IntegerType, List.of(lang)).fieldNames()[4]);
        StructField clash = DataTypes.createStructField("error", DataTypes.StringType, true);
        assertThrows(IllegalArgumentException.class, () -> OutputRows.of(JobSpec.score("/m", "cpu", 8, -1, false)).schema(DataTypes.StringType, List.of(clash)));
    }

    /** Every row the partition function builds, result or error, has the schema's width and a value of each column's type. */
    @Test
    void rowsMatchTheirSchema() throws Exception {
        StructField lang = DataTypes.createStructField("lang", DataTypes.StringType, true);
        for (JobSpec spec : List.of(JobSpec.score(MODEL, "cpu", 4, -1, false), JobSpec.score(MODEL, "cpu", 4, 0, true),
                JobSpec.embed(MODEL, "cpu", 4, JobSpec.Pooling.MEAN), JobSpec.embed(MODEL, "cpu", 4, JobSpec.Pooling.LAST))) {
            StructType schema = OutputRows.of(spec).schema(DataTypes.StringType, List.of(lang));
            List<Row> in = List.of(
                    RowFactory.create("ok", CollectionConverters.asScala(List.<Object>of(1, 2, 3)).toSeq(), "en"),
                    RowFactory.create("one", CollectionConverters.asScala(List.<Object>of(1)).toSeq(), "de"),
                    RowFactory.create("bad", null, "fr"));
            List<Row> out = new ArrayList<>();
            new DocumentFunction(spec, null).call(in.iterator()).forEachRemaining(out::add);
            assertEquals(3, out.size());
            for (Row r : out) {
                assertEquals(schema.length(), r.length(), spec + ": " + r);
                for (int i = 0; i < schema.length(); i++)
                    if (!r.isNullAt(i)) assertTrue(holds(schema.fields()[i].dataType(), r.get(i)), schema.fields()[i] + " = " + r.get(i));
                assertEquals(r.getString(0).equals("bad"), !r.isNullAt(schema.fieldIndex("error")), r.toString());
            }
            Row bad = out.get(2);
            for (int i = 1; i < schema.fieldIndex("error"); i++) assertTrue(bad.isNullAt(i), "an error row has no results: " + bad);
            assertEquals("fr", bad.getString(schema.fieldIndex("lang")));
        }
    }

    private static boolean holds(DataType t, Object v) {
        if (t.equals(DataTypes.IntegerType)) return v instanceof Integer;
        if (t.equals(DataTypes.DoubleType)) return v instanceof Double;
        if (t.equals(DataTypes.StringType)) return v instanceof String;
        return t.simpleString().equals("array<float>") && v instanceof float[];
    }
}
