package ssdspark.pipeline;

import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;


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
}
