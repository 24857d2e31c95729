package ssdspark.pipeline.ml;

import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import ssdspark.pipeline.Mamba2Settings;
import ssdspark.udf.JobSpec;

/**
 * Embeds documents with a Mamba-2 model: appends num_tokens, embedding (array&lt;float&gt; of d_model values), error
 * (each name after {@code outputPrefix}), the columns of the embed job's output, with the same values. Input: token ids
 * ({@code tokensCol}) or, with {@code tokenizerPath}, text ({@code textCol}).
 */
public final class Mamba2Embedder extends Mamba2Transformer<Mamba2Embedder> {
    private static final long serialVersionUID = 1L;

    private final Param<String> pooling;

    public Mamba2Embedder() { this(Identifiable.randomUID("mamba2Embedder")); }

    public Mamba2Embedder(String uid) {
        super(uid);
        pooling = new Param<>(uid, "pooling", "mean: the mean of all final hidden states; last: the last one",
                ParamValidators.inArray(new String[] {"mean", "last"}));
        setDefault(pooling, "mean");
    }

    public Param<String> pooling() { return pooling; }

    public String getPooling() { return getOrDefault(pooling); }

    public Mamba2Embedder setPooling(String v) { set(pooling, v); return this; }

    @Override
    protected JobSpec.Task task() { return JobSpec.Task.EMBED; }

    @Override
    protected Mamba2Settings settings(String model, String tokenizer, boolean special, String device, String precision, int chunk,
                                      int budget, int maxDocs, int maxAttentionTokens) {
        return new Mamba2Settings(JobSpec.Task.EMBED, model, tokenizer, special, null, false, JobSpec.Pooling.parse(getPooling()),
                device, precision, chunk, budget, maxDocs, maxAttentionTokens);
    }

    public static MLReader<Mamba2Embedder> read() { return new DefaultParamsReader<>(); }

    public static Mamba2Embedder load(String path) { return read().load(path); }
}
