package ssdspark.pipeline.ml;

import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import ssdspark.pipeline.Mamba2Settings;
import ssdspark.udf.JobSpec;

/**
 * Scores documents with a Mamba-2 model: appends num_tokens, num_scored, sum_logprob, mean_nll, perplexity,
 * [token_logprobs,] error (each name after {@code outputPrefix}), the columns of the score job's output, with the
 * same values. Input: token ids ({@code tokensCol}) or, with {@code tokenizerPath}, text ({@code textCol}).
 *
 * <pre>{@code
 * Mamba2Scorer scorer = new Mamba2Scorer().setModelPath("/models/mamba2-130m").setTokensCol("tokens");
 * Dataset<Row> scored = scorer.transform(df);
 * new Pipeline().setStages(new PipelineStage[] {scorer}).fit(df).write().save("/tmp/p");
 * }</pre>
 */
public final class Mamba2Scorer extends Mamba2Transformer<Mamba2Scorer> {
    private static final long serialVersionUID = 1L;

    private final BooleanParam perToken;
    private final Param<String> prependBos;

    public Mamba2Scorer() { this(Identifiable.randomUID("mamba2Scorer")); }

    public Mamba2Scorer(String uid) {
        super(uid);
        perToken = new BooleanParam(uid, "perToken", "also output token_logprobs: element i scores token i+1 (token i with prependBos)");
        prependBos = new Param<>(uid, "prependBos", "token prepended so the first token is scored too: an id, or with a tokenizer an"
                + " added token such as <|endoftext|>; empty: none");
        setDefault(perToken, false);
        setDefault(prependBos, "");
    }

    public BooleanParam perToken() { return perToken; }
    public Param<String> prependBos() { return prependBos; }

    public boolean getPerToken() { return (Boolean) getOrDefault(perToken); }
    public String getPrependBos() { return getOrDefault(prependBos); }

    public Mamba2Scorer setPerToken(boolean v) { set(perToken, v); return this; }
    public Mamba2Scorer setPrependBos(String v) { set(prependBos, v); return this; }
    public Mamba2Scorer setPrependBos(int id) { set(prependBos, Integer.toString(id)); return this; }

    @Override
    protected JobSpec.Task task() { return JobSpec.Task.SCORE; }

    @Override
    protected Mamba2Settings settings(String model, String tokenizer, boolean special, String device, String precision, int chunk,
                                      int budget, int maxDocs, int maxAttentionTokens) {
        return new Mamba2Settings(JobSpec.Task.SCORE, model, tokenizer, special, getPrependBos(), getPerToken(), JobSpec.Pooling.MEAN,
                device, precision, chunk, budget, maxDocs, maxAttentionTokens);
    }

    public static MLReader<Mamba2Scorer> read() { return new DefaultParamsReader<>(); }

    public static Mamba2Scorer load(String path) { return read().load(path); }
}
