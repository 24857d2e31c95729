package ssdspark.pipeline.sql;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import ssdspark.model.DocumentRunner;
import ssdspark.pipeline.Mamba2Settings;
import ssdspark.udf.JobSpec;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The SQL functions, registered on a session by one call:
 * <pre>{@code Mamba2Functions.register(spark, Map.of("model", "/models/mamba2-130m", "tokenizer", "/models/mamba2-130m"));
 * spark.sql("SELECT id, mamba2_score(tokens).perplexity FROM docs");}</pre>
 * or for the spark-sql shell by config ({@link Mamba2SqlExtensions}): {@code spark.sql.extensions=ssdspark.pipeline.sql.Mamba2SqlExtensions}
 * with the options as {@code spark.ssdspark.sql.OPTION}.
 *
 * <ul>
 * <li>{@code mamba2_score(tokens ARRAY<INT|BIGINT>)} → STRUCT&lt;num_tokens, num_scored, sum_logprob, mean_nll, perplexity,
 *     [token_logprobs,] error&gt; (the score job's columns without id);</li>
 * <li>{@code mamba2_embed(tokens)} → ARRAY&lt;FLOAT&gt;;</li>
 * <li>{@code mamba2_score_text(text STRING)}, {@code mamba2_embed_text(text)}: the same after tokenizing with the
 *     {@code tokenizer} option (without it they fail, saying so).</li>
 * </ul>
 * They run a row at a time (a forward pass per document, no batching): for small or ad-hoc data. Corpora go
 * through the jobs or the ML Transformers, which pack documents into token-budget batches. With the RAPIDS
 * Accelerator and the RAPIDS build of ssdspark, the token functions run on columnar batches instead.
 *
 * <p>Options (all optional but model): model, tokenizer, special_tokens (false), prepend_bos (none), per_token (false),
 * pooling (mean), device (auto), precision (bf16), chunk_tokens (2048), token_budget (16384), max_batch_docs (1024)
 * (these two apply to the columnar path), max_attention_tokens (65536, hybrid models).
 */
public final class Mamba2Functions {
    private Mamba2Functions() {}

    public static final String SCORE = "mamba2_score", EMBED = "mamba2_embed", SCORE_TEXT = "mamba2_score_text", EMBED_TEXT = "mamba2_embed_text";

    /** The option keys. */
    public static final Set<String> OPTIONS = Set.of("model", "tokenizer", "special_tokens", "prepend_bos", "per_token", "pooling",
            "device", "precision", "chunk_tokens", "token_budget", "max_batch_docs", "max_attention_tokens");

    /** The RAPIDS build's subclasses, used when they and the RAPIDS Accelerator's API are on the classpath. */
    static final String RAPIDS_SCORE = "ssdspark.rapids.RapidsScoreTokensFunction", RAPIDS_EMBED = "ssdspark.rapids.RapidsEmbedTokensFunction";

    /** A function ready to register: its name, the UDF and its return type. */
    public record Function(String name, UDF1<?, ?> udf, DataType returnType) {}

    /** Registers the four functions on spark; returns their names. Options are checked (and the tokenizer read) now. */
    public static List<String> register(SparkSession spark, Map<String, String> options) {
        List<Function> fs = functions(options, spark.sparkContext().hadoopConfiguration());
        for (Function f : fs) spark.udf().register(f.name(), f.udf(), f.returnType());
        return fs.stream().map(Function::name).toList();
    }

    /** The four functions for options (see the class comment); conf: Hadoop settings for a remote tokenizer. */
    public static List<Function> functions(Map<String, String> options, Configuration conf) {
        Map<String, String> o = normalise(options);
        Mamba2Settings.Resolved score = settings(JobSpec.Task.SCORE, o).resolve(conf, k -> "option " + k);
        Mamba2Settings.Resolved embed = settings(JobSpec.Task.EMBED, o).resolve(conf, k -> "option " + k);
        DataType scoreType = SqlDocuments.scoreType(score.spec());
        DataType embedType = DataTypes.createArrayType(DataTypes.FloatType, false);
        UDF1<?, ?> scoreText = score.isText() ? new TextFunction(score.spec(), score.tokenizer()) : needsTokenizer(SCORE_TEXT);
        UDF1<?, ?> embedText = embed.isText() ? new TextFunction(embed.spec(), embed.tokenizer()) : needsTokenizer(EMBED_TEXT);
        return List.of(
                new Function(SCORE, tokenFunction(RAPIDS_SCORE, score.spec(), ScoreTokensFunction::new), scoreType),
                new Function(EMBED, tokenFunction(RAPIDS_EMBED, embed.spec(), EmbedTokensFunction::new), embedType),
                new Function(SCORE_TEXT, scoreText, scoreType),
                new Function(EMBED_TEXT, embedText, embedType));
    }

    private static Map<String, String> normalise(Map<String, String> options) {
        Map<String, String> o = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : options.entrySet()) {
            String k = e.getKey().trim().toLowerCase(Locale.ROOT).replace('-', '_');
            if (!OPTIONS.contains(k))
                throw new IllegalArgumentException("unknown option '" + e.getKey() + "' for the mamba2 SQL functions; the options are " + new TreeSet<>(OPTIONS));
            o.put(k, e.getValue());
        }
        return o;
    }

    private static Mamba2Settings settings(JobSpec.Task task, Map<String, String> o) {
        boolean score = task == JobSpec.Task.SCORE;
        return new Mamba2Settings(task, o.get("model"), o.get("tokenizer"), bool(o, "special_tokens"),
                score ? o.get("prepend_bos") : null, score && bool(o, "per_token"),
                JobSpec.Pooling.parse(o.getOrDefault("pooling", "mean").trim().toLowerCase(Locale.ROOT)),
                o.getOrDefault("device", "auto"), o.getOrDefault("precision", JobSpec.DEFAULT_PRECISION),
                integer(o, "chunk_tokens", JobSpec.DEFAULT_CHUNK_TOKENS), integer(o, "token_budget", JobSpec.DEFAULT_TOKEN_BUDGET),
                integer(o, "max_batch_docs", JobSpec.DEFAULT_MAX_BATCH_DOCS),
                integer(o, "max_attention_tokens", DocumentRunner.DEFAULT_MAX_ATTENTION_TOKENS));
    }

    private static boolean bool(Map<String, String> o, String k) {
        String v = o.getOrDefault(k, "false").trim().toLowerCase(Locale.ROOT);
        if (v.equals("true")) return true;
        if (v.equals("false")) return false;
        throw new IllegalArgumentException("option " + k + " must be true or false, got '" + o.get(k) + "'");
    }

    private static int integer(Map<String, String> o, String k, int dflt) {
        String v = o.get(k);
        if (v == null) return dflt;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("option " + k + " must be a whole number, got '" + v + "'");
        }
    }

    /** The RAPIDS subclass when it and com.nvidia.spark.RapidsUDF can be loaded, else the plain function. */
    private static UDF1<?, ?> tokenFunction(String rapidsClass, JobSpec spec, java.util.function.Function<JobSpec, UDF1<?, ?>> plain) {
        if (rapidsAvailable()) {
            try {
                return (UDF1<?, ?>) Class.forName(rapidsClass).getConstructor(JobSpec.class).newInstance(spec);
            } catch (ReflectiveOperationException | LinkageError e) {
                // the RAPIDS build of ssdspark is not on the classpath: the row path it is
            }
        }
        return plain.apply(spec);
    }

    static boolean rapidsAvailable() {
        try {
            Class.forName("com.nvidia.spark.RapidsUDF");
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    private static UDF1<String, Object> needsTokenizer(String name) {
        return text -> {
            throw new IllegalArgumentException(name + " needs the tokenizer option (a Hugging Face tokenizer.json): register the functions with"
                    + " options {tokenizer: PATH}, or set spark.ssdspark.sql.tokenizer");
        };
    }
}
