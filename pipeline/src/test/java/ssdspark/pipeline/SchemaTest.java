package ssdspark.pipeline;

import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import ssdspark.udf.JobSpec;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class SchemaTest {
    private static StructType input(org.apache.spark.sql.types.DataType tokens) {
        return new StructType().add("doc", DataTypes.StringType).add("ids", tokens).add("text", DataTypes.StringType);
    }

    private static String error(StructType s, String id, String tokens) {
        return assertThrows(IllegalArgumentException.class, () -> Corpus.validate(s, id, tokens)).getMessage();
    }

    @Test
    void acceptsIntegerArrays() {
        Corpus.validate(input(DataTypes.createArrayType(DataTypes.LongType)), "doc", "ids");
        Corpus.validate(input(DataTypes.createArrayType(DataTypes.IntegerType, false)), "doc", "ids");
    }

    @Test
    void namesTheFlagToFix() {
        StructType s = input(DataTypes.createArrayType(DataTypes.LongType));
        String m = error(s, "id", "ids");
        assertTrue(m.contains("--id-col") && m.contains("doc string"), m);
        m = error(s, "doc", "tokens");
        assertTrue(m.contains("--tokens-col") && m.contains("ids array<bigint>"), m);
        m = error(input(DataTypes.createArrayType(DataTypes.StringType)), "doc", "ids");
        assertTrue(m.contains("array<string>") && m.contains("array of integer"), m);
        m = error(s, "doc", "text");
        assertTrue(m.contains("'text' is string"), m);
    }

    @Test
    void outputColumns() {
        List<String> score = Arrays.asList(OutputSchema.of(JobSpec.score("/m", "cpu", 8, -1, false), DataTypes.LongType).fieldNames());
        assertEquals(List.of("id", "num_tokens", "num_scored", "sum_logprob", "mean_nll", "perplexity", "error"), score);
        StructType perToken = OutputSchema.of(JobSpec.score("/m", "cpu", 8, -1, true), DataTypes.StringType);
        assertEquals("array<float>", perToken.apply("token_logprobs").dataType().simpleString());
        assertEquals(DataTypes.StringType, perToken.apply("id").dataType());
        List<String> embed = Arrays.asList(OutputSchema.of(JobSpec.embed("/m", "cpu", 8, JobSpec.Pooling.MEAN), DataTypes.IntegerType).fieldNames());
        assertEquals(List.of("id", "num_tokens", "embedding", "error"), embed);
    }
}
