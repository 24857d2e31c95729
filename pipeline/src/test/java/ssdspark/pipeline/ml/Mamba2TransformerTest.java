package ssdspark.pipeline.ml;

import org.apache.spark.ml.param.Param;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Params, schema checks and save/load of the Transformers; their values against the job are SparkApiTest's (jobs). */
class Mamba2TransformerTest {
    private static final String MODEL = Path.of("..", "examples", "tiny-mamba2").toAbsolutePath().normalize().toString();
    private static final StructType TOKENS = new StructType().add("id", DataTypes.StringType)
            .add("tokens", DataTypes.createArrayType(DataTypes.IntegerType)).add("text", DataTypes.StringType);

    @TempDir
    Path tmp;

    private static SparkSession spark() {
        return SparkSession.builder().master("local[1]").appName("ssdspark-ml-tests").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1").getOrCreate();
    }

    @Test
    void everyParamHasADefault() {
        for (Mamba2Transformer<?> t : List.of(new Mamba2Scorer(), new Mamba2Embedder()))
            for (Param<?> p : t.params()) assertTrue(t.hasDefault(p), t.getClass().getSimpleName() + "." + p.name() + " has no default");
        Mamba2Scorer s = new Mamba2Scorer();
        assertEquals(List.of("tokens", "auto", "bf16", 2048, 16384, 1024, 65536, 2, false, ""),
                List.of(s.getTokensCol(), s.getDevice(), s.getPrecision(), s.getChunkTokens(), s.getTokenBudget(), s.getMaxBatchDocs(),
                        s.getMaxAttentionTokens(), s.getPrefetch(), s.getPerToken(), s.getPrependBos()));
        assertEquals(300, new Mamba2Scorer().setModelPath(MODEL).setMaxAttentionTokens(300).settings().resolve(null, k -> k).spec().maxAttentionTokens(),
                "maxAttentionTokens reaches the job spec (DocumentRunner's cap on hybrids' KV caches)");
        assertThrows(IllegalArgumentException.class, () -> new Mamba2Scorer().setMaxAttentionTokens(0));
        assertEquals("mean", new Mamba2Embedder().getPooling());
    }

    @Test
    void transformSchemaAppendsTheJobsColumns() {
        StructType out = new Mamba2Scorer().setPerToken(true).transformSchema(TOKENS);
        assertEquals("struct<id:string,tokens:array<int>,text:string,num_tokens:int,num_scored:int,sum_logprob:double,mean_nll:double,"
                + "perplexity:double,token_logprobs:array<float>,error:string>", out.simpleString());
        out = new Mamba2Embedder().setOutputPrefix("e_").setTokenizerPath("tok.json").transformSchema(TOKENS);
        assertEquals("struct<id:string,tokens:array<int>,text:string,e_num_tokens:int,e_embedding:array<float>,e_error:string>", out.simpleString());
    }

    @Test
    void wrongColumnsAreNamed() {
        String m = assertThrows(IllegalArgumentException.class, () -> new Mamba2Scorer().setTokensCol("ids").transformSchema(TOKENS)).getMessage();
        assertTrue(m.contains("no column 'ids' (tokensCol)") && m.contains("id string, tokens array<int>, text string"), m);

        m = assertThrows(IllegalArgumentException.class, () -> new Mamba2Scorer().setTokensCol("text").transformSchema(TOKENS)).getMessage();
        assertTrue(m.contains("column 'text' (tokensCol) is string but must be token ids") && m.contains("set tokenizerPath"), m);

        m = assertThrows(IllegalArgumentException.class,
                () -> new Mamba2Embedder().setTokenizerPath("t.json").setTextCol("tokens").transformSchema(TOKENS)).getMessage();
        assertTrue(m.contains("column 'tokens' (textCol) is array<int> but text input must be a string column"), m);

        StructType clash = TOKENS.add("error", DataTypes.StringType);
        m = assertThrows(IllegalArgumentException.class, () -> new Mamba2Scorer().transformSchema(clash)).getMessage();
        assertTrue(m.contains("would add column 'error'") && m.contains("outputPrefix"), m);
        new Mamba2Scorer().setOutputPrefix("lm_").transformSchema(clash); // the way out the message gives
    }

    @Test
    void badValuesAreRefusedWhenSet() {
        assertThrows(IllegalArgumentException.class, () -> new Mamba2Scorer().setChunkTokens(0));
        assertThrows(IllegalArgumentException.class, () -> new Mamba2Scorer().setPrefetch(-1));
        assertThrows(IllegalArgumentException.class, () -> new Mamba2Embedder().setPooling("max"));
    }

    @Test
    void transformSaysWhatToSet() {
        Dataset<Row> df = spark().createDataFrame(List.of(RowFactory.create("a", new int[] {1, 2}, "x")), TOKENS);
        String m = assertThrows(IllegalArgumentException.class, () -> new Mamba2Scorer().transform(df)).getMessage();
        assertTrue(m.contains("modelPath is not set"), m);
        m = assertThrows(IllegalArgumentException.class, () -> new Mamba2Scorer().setModelPath(MODEL).setDevice("tpu").transform(df)).getMessage();
        assertTrue(m.contains("device") && m.contains("tpu"), m);
        m = assertThrows(IllegalArgumentException.class, () -> new Mamba2Embedder().setModelPath(MODEL).setModelSha256("00ff").transform(df)).getMessage();
        assertTrue(m.contains("not the one this transformer was saved with") && m.contains("modelSha256"), m);
        m = assertThrows(IllegalArgumentException.class, () -> new Mamba2Scorer().setModelPath(MODEL).setPrependBos("<s>").transform(df)).getMessage();
        assertTrue(m.contains("prependBos '<s>' is not a token id") && m.contains("tokenizerPath"), m);
    }

    @Test
    void saveAndLoadKeepParamsAndUid() throws Exception {
        spark();
        Mamba2Embedder e = new Mamba2Embedder().setModelPath(MODEL).setPooling("last").setChunkTokens(77).setTokensCol("ids").setDevice("cpu");
        String dir = tmp.resolve("emb").toString();
        e.write().save(dir);
        Mamba2Embedder back = Mamba2Embedder.load(dir);
        assertEquals(e.uid(), back.uid());
        assertEquals(List.of("last", 77, "ids", "cpu", MODEL), List.of(back.getPooling(), back.getChunkTokens(), back.getTokensCol(),
                back.getDevice(), back.getModelPath()));
        assertEquals(64, back.getModelSha256().length(), "the model's SHA-256 is recorded");
        assertEquals(back.getModelSha256(), e.getModelSha256());
    }
}
