package ssdspark.jobs;

import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.pipeline.ml.Mamba2Embedder;
import ssdspark.pipeline.ml.Mamba2Scorer;
import ssdspark.pipeline.sql.Mamba2Functions;
import ssdspark.pipeline.sql.Mamba2SqlExtensions;
import ssdspark.pipeline.output.ModelFingerprint;
import ssdspark.pipeline.text.TokenizerSpec;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The library API against the jobs on the tests' tiny model (CPU engine): the Transformers in a Pipeline that is
 * saved and loaded again, and the SQL functions (registered by call and by config), give the job's values row
 * for row, for scores (per-token log-probs and a BOS included) and embeddings, error rows included.
 */
class SparkApiTest {
    // the tests' tiny random model, its tokenizer and the pre-tokenized corpus (52 rows, two of them errors)
    private static final String MODEL = TinyModel.DIR.toString();
    private static final String TOKENIZER = TinyModel.TOKENIZER.toString();
    private static final String CORPUS = TinyModel.TOKENS_CORPUS.toString();
    private static SparkSession spark;
    /** The job's score (--per-token --prepend-bos 0) and embed (--pooling last) rows by id. */
    private static Map<String, Row> jobScore, jobEmbed;
    /** The corpus with an extra column, to see that every input column is kept. */
    private static Dataset<Row> docs;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        // The extensions are read when a session is created: start a fresh one (an earlier class may have left its own).
        SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
        spark = SparkSession.builder().master("local[2]").appName("ssdspark-api-test")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2")
                .config("spark.sql.extensions", Mamba2SqlExtensions.class.getName())
                .getOrCreate();
        jobScore = runJob("score", "--per-token", "--prepend-bos", "0");
        jobEmbed = runJob("embed", "--pooling", "last");
        docs = spark.read().json(CORPUS).withColumn("lang", functions.lit("xx")).repartition(3).cache();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    private static Map<String, Row> runJob(String task, String... extra) {
        Path out = tmp.resolve("job-" + task);
        List<String> args = new java.util.ArrayList<>(List.of(task, "--model", MODEL, "--input", CORPUS, "--output", out.toString(), "--device", "cpu"));
        args.addAll(List.of(extra));
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
        assertEquals(0, Main.run(args.toArray(new String[0]), ps, ps, spark), buf.toString(StandardCharsets.UTF_8));
        Map<String, Row> m = new HashMap<>();
        for (Row r : spark.read().parquet(out.toString()).collectAsList()) m.put(r.getString(r.fieldIndex("id")), r);
        assertEquals(52, m.size());
        return m;
    }

    /** Score fields of a job row and of a struct or a Transformer row (field names given) are the same values. */
    private static void sameScore(String id, Row job, Row got, String prefix) {
        for (String c : List.of("num_tokens", "num_scored", "sum_logprob", "mean_nll", "perplexity", "token_logprobs", "error"))
            assertEquals(job.<Object>getAs(c), got.<Object>getAs(prefix + c), id + " " + c);
    }

    @Test
    void pipelineSavedAndLoadedGivesTheJobsValues() throws Exception {
        Mamba2Scorer scorer = new Mamba2Scorer().setModelPath(MODEL).setDevice("cpu").setPerToken(true).setPrependBos(0);
        Mamba2Embedder embedder = new Mamba2Embedder().setModelPath(MODEL).setDevice("cpu").setPooling("last").setOutputPrefix("emb_")
                .setTokenBudget(700).setChunkTokens(64); // other batches and chunks than the job's: the values must not change
        PipelineModel fitted = new Pipeline().setStages(new PipelineStage[] {scorer, embedder}).fit(docs);
        String dir = tmp.resolve("pipeline").toString();
        fitted.write().save(dir);
        PipelineModel loaded = PipelineModel.load(dir);

        Mamba2Scorer s = (Mamba2Scorer) loaded.stages()[0];
        Mamba2Embedder e = (Mamba2Embedder) loaded.stages()[1];
        assertEquals(ModelFingerprint.of(Path.of(MODEL)).sha256(), s.getModelSha256(), "saving records the model's fingerprint");
        assertEquals(List.of(true, "0", "last", "emb_", 700, 64),
                List.of(s.getPerToken(), s.getPrependBos(), e.getPooling(), e.getOutputPrefix(), e.getTokenBudget(), e.getChunkTokens()));
        assertFalse(Files.walk(Path.of(dir)).anyMatch(p -> p.toString().endsWith(".safetensors")), "params only, no weights");

        Dataset<Row> out = loaded.transform(docs);
        assertEquals(List.of("id", "tokens", "lang", "num_tokens", "num_scored", "sum_logprob", "mean_nll", "perplexity", "token_logprobs",
                "error", "emb_num_tokens", "emb_embedding", "emb_error"), List.of(out.columns()));
        List<Row> rows = out.collectAsList();
        assertEquals(52, rows.size());
        int errors = 0;
        for (Row r : rows) {
            String id = r.getString(0);
            assertEquals("xx", r.getString(2), "input columns are kept");
            sameScore(id, jobScore.get(id), r, "");
            Row je = jobEmbed.get(id);
            assertEquals(je.<Object>getAs("num_tokens"), r.getAs("emb_num_tokens"), id);
            assertEquals(je.<Object>getAs("embedding"), r.getAs("emb_embedding"), id);
            assertEquals(je.<Object>getAs("error"), r.getAs("emb_error"), id);
            if (r.getAs("error") != null) errors++;
        }
        assertEquals(2, errors, "err-empty and err-out-of-range are error rows, as in the job");
    }

    @Test
    void textTransformerMatchesTokenizingFirst() {
        Dataset<Row> text = spark.createDataFrame(List.of(new Txt("a", "Hello Spark, hello Mamba."), new Txt("b", ""), new Txt("c", null)), Txt.class);
        Row[] got = (Row[]) new Mamba2Scorer().setModelPath(MODEL).setDevice("cpu").setTokenizerPath(TOKENIZER).transform(text)
                .orderBy("id").collect();
        int[] ids = TokenizerSpec.read(TOKENIZER, null).open().encode("Hello Spark, hello Mamba.");
        ssdspark.model.DocumentRunner.ScoreResult want = new ssdspark.model.DocumentRunner(ssdspark.udf.ModelCache.get(MODEL, "cpu"))
                .score(ids, new ssdspark.model.DocumentRunner.ScoreOptions(2048, -1, false));
        assertEquals(ids.length, (int) got[0].<Integer>getAs("num_tokens"));
        assertEquals(want.sumLogprob(), got[0].<Double>getAs("sum_logprob"), 1e-9 * Math.abs(want.sumLogprob()));
        assertEquals("empty document", got[1].getAs("error"));
        assertEquals("missing text", got[2].getAs("error"));
    }

    /** A text row for createDataFrame. */
    public static final class Txt implements java.io.Serializable {
        private String id, text;

        public Txt() {}

        Txt(String id, String text) { this.id = id; this.text = text; }

        public String getId() { return id; }
        public void setId(String id) { this.id = id; }
        public String getText() { return text; }
        public void setText(String text) { this.text = text; }
    }

    private void checkSql(SparkSession session) {
        session.read().json(CORPUS).createOrReplaceTempView("docs");
        List<Row> rows = session.sql("SELECT id, mamba2_score(tokens) AS s, mamba2_embed(tokens) AS e FROM docs").collectAsList();
        assertEquals(52, rows.size());
        for (Row r : rows) {
            String id = r.getString(0);
            sameScore(id, jobScore.get(id), r.getStruct(1), "");
            assertEquals(jobEmbed.get(id).<Object>getAs("embedding"), r.getAs("e"), id);
        }
        Row nulls = session.sql("SELECT mamba2_score(CAST(NULL AS ARRAY<INT>)) AS s, mamba2_embed(array()) AS e,"
                + " mamba2_score(array(5L, 6L, 7L)).num_scored AS n, mamba2_score_text('Hello Spark').num_tokens AS t").first();
        assertTrue(nulls.isNullAt(0), "NULL in, NULL out");
        assertTrue(nulls.isNullAt(1), "an empty document has no embedding");
        assertEquals(3, nulls.getInt(2), "array<bigint> works; with BOS 0 every token is scored");
        assertEquals(TokenizerSpec.read(TOKENIZER, null).open().encode("Hello Spark").length, nulls.getInt(3));
    }

    @Test
    void sqlFunctionsRegisteredByCallGiveTheJobsValues() {
        SparkSession session = spark.newSession();
        List<String> names = Mamba2Functions.register(session, Map.of("model", MODEL, "device", "cpu", "per_token", "true",
                "prepend_bos", "0", "pooling", "last", "tokenizer", TOKENIZER));
        assertEquals(List.of("mamba2_score", "mamba2_embed", "mamba2_score_text", "mamba2_embed_text"), names);
        SparkSession previous = SparkSession.active();
        SparkSession.setActiveSession(session);
        try {
            checkSql(session);
        } finally {
            SparkSession.setActiveSession(previous);
        }
    }

    @Test
    void sqlFunctionsByConfigGiveTheJobsValues() {
        SparkSession session = spark.newSession();
        session.sql("SET spark.ssdspark.sql.model=" + MODEL);
        for (String kv : List.of("device=cpu", "per_token=true", "prepend_bos=0", "pooling=last", "tokenizer=" + TOKENIZER))
            session.conf().set(Mamba2SqlExtensions.PREFIX + kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
        checkSql(session);
    }

    @Test
    void sqlErrorsSayWhatToFix() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Mamba2Functions.register(spark.newSession(), Map.of("model", MODEL, "chunk", "5")));
        assertTrue(e.getMessage().contains("unknown option 'chunk'") && e.getMessage().contains("chunk_tokens"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Mamba2Functions.register(spark.newSession(), Map.of("device", "cpu")));
        assertTrue(e.getMessage().contains("option model is not set"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Mamba2Functions.register(spark.newSession(), Map.of("model", MODEL, "prepend_bos", "<|endoftext|>")));
        assertTrue(e.getMessage().contains("needs option tokenizer"), e.getMessage());

        SparkSession noTok = spark.newSession();
        Mamba2Functions.register(noTok, Map.of("model", MODEL, "device", "cpu"));
        Exception x = assertThrows(Exception.class, () -> noTok.sql("SELECT mamba2_score_text('x')").collect());
        assertTrue(causes(x).contains("mamba2_score_text needs the tokenizer option"), causes(x));
    }

    private static String causes(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (; t != null; t = t.getCause()) b.append(t.getMessage()).append(" | ");
        return b.toString();
    }
}
