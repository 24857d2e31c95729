package ssdspark.pipeline.ml;

import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.DefaultParamsWriter;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import ssdspark.model.DocumentRunner;
import ssdspark.pipeline.BatchSources;
import ssdspark.pipeline.Corpus;
import ssdspark.pipeline.DocumentPipeline;
import ssdspark.pipeline.Mamba2Settings;
import ssdspark.pipeline.output.ModelFingerprint;
import ssdspark.udf.JobSpec;
import ssdspark.udf.OutputRows;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * What {@link Mamba2Scorer} and {@link Mamba2Embedder} share: the params, the checks, and transform, which runs
 * the jobs' own partition function ({@link DocumentPipeline#map}: token-budget batches, chunked long documents,
 * the per-executor model cache) over the input and appends the output columns, every input column kept.
 *
 * <p>Saved with {@link DefaultParamsWriter}: params only, no weights. Saving records the model folder's
 * SHA-256 ({@link ModelFingerprint}) in {@code modelSha256} when it is empty; a loaded Transformer refuses to
 * run when the folder's files have changed since (set {@code modelSha256} to "" to accept new weights).
 */
public abstract class Mamba2Transformer<T extends Mamba2Transformer<T>> extends Transformer implements DefaultParamsWritable {
    private static final long serialVersionUID = 1L;

    private final String uid;
    private final Param<String> modelPath, modelSha256, tokenizerPath, tokensCol, textCol, device, precision, outputPrefix;
    private final BooleanParam specialTokens;
    private final IntParam chunkTokens, tokenBudget, maxBatchDocs, maxAttentionTokens, prefetch;

    protected Mamba2Transformer(String uid) {
        this.uid = uid;
        modelPath = new Param<>(uid, "modelPath", "model folder (config.json + weights), the same path on the driver and every executor");
        modelSha256 = new Param<>(uid, "modelSha256", "SHA-256 of the model folder (ModelFingerprint), recorded on save and checked before"
                + " a transform; empty: not checked");
        tokenizerPath = new Param<>(uid, "tokenizerPath", "Hugging Face tokenizer.json (or its folder) for text input; empty: the input is token ids");
        tokensCol = new Param<>(uid, "tokensCol", "input column of token ids (array<int> or array<bigint>), used without a tokenizer");
        textCol = new Param<>(uid, "textCol", "input column of text (string), used with a tokenizer");
        specialTokens = new BooleanParam(uid, "specialTokens", "let the tokenizer add its template's special tokens");
        device = new Param<>(uid, "device", "cpu, gpu (fails without one) or auto (the GPU when usable, else the CPU)");
        precision = new Param<>(uid, "precision", "GPU matrix precision: bf16, fp16 or fp32");
        chunkTokens = new IntParam(uid, "chunkTokens", "longest piece of a document per forward pass; the state is carried across pieces", ParamValidators.gtEq(1));
        tokenBudget = new IntParam(uid, "tokenBudget", "tokens per engine batch (documents packed back to back)", ParamValidators.gtEq(1));
        maxBatchDocs = new IntParam(uid, "maxBatchDocs", "documents per engine batch at most", ParamValidators.gtEq(1));
        maxAttentionTokens = new IntParam(uid, "maxAttentionTokens", "hybrid models (attention layers): longer documents get an error,"
                + " and documents in flight keep at most this many tokens of KV cache together", ParamValidators.gtEq(1));
        prefetch = new IntParam(uid, "prefetch", "batches read and tokenized ahead of the engine on another thread; 0: none", ParamValidators.gtEq(0));
        outputPrefix = new Param<>(uid, "outputPrefix", "prefix of every output column's name (e.g. 'lm_'), so that a scorer and an"
                + " embedder can share a Pipeline");
        setDefault(modelPath, "");
        setDefault(modelSha256, "");
        setDefault(tokenizerPath, "");
        setDefault(tokensCol, "tokens");
        setDefault(textCol, "text");
        setDefault(specialTokens, false);
        setDefault(device, "auto");
        setDefault(precision, JobSpec.DEFAULT_PRECISION);
        setDefault(chunkTokens, JobSpec.DEFAULT_CHUNK_TOKENS);
        setDefault(tokenBudget, JobSpec.DEFAULT_TOKEN_BUDGET);
        setDefault(maxBatchDocs, JobSpec.DEFAULT_MAX_BATCH_DOCS);
        setDefault(maxAttentionTokens, DocumentRunner.DEFAULT_MAX_ATTENTION_TOKENS);
        setDefault(prefetch, DocumentPipeline.DEFAULT_PREFETCH);
        setDefault(outputPrefix, "");
    }

    @Override
    public String uid() { return uid; }

    /** Scoring or embedding. */
    protected abstract JobSpec.Task task();

    /** The task's own settings (per token, BOS, pooling) on top of the shared ones. */
    protected abstract Mamba2Settings settings(String model, String tokenizer, boolean special, String device, String precision,
                                               int chunk, int budget, int maxDocs, int maxAttentionTokens);

    // ---- params (public no-argument methods: Spark's Params finds them by reflection) ----
    public Param<String> modelPath() { return modelPath; }
    public Param<String> modelSha256() { return modelSha256; }
    public Param<String> tokenizerPath() { return tokenizerPath; }
    public Param<String> tokensCol() { return tokensCol; }
    public Param<String> textCol() { return textCol; }
    public BooleanParam specialTokens() { return specialTokens; }
    public Param<String> device() { return device; }
    public Param<String> precision() { return precision; }
    public IntParam chunkTokens() { return chunkTokens; }
    public IntParam tokenBudget() { return tokenBudget; }
    public IntParam maxBatchDocs() { return maxBatchDocs; }
    public IntParam maxAttentionTokens() { return maxAttentionTokens; }
    public IntParam prefetch() { return prefetch; }
    public Param<String> outputPrefix() { return outputPrefix; }

    public String getModelPath() { return getOrDefault(modelPath); }
    public String getModelSha256() { return getOrDefault(modelSha256); }
    public String getTokenizerPath() { return getOrDefault(tokenizerPath); }
    public String getTokensCol() { return getOrDefault(tokensCol); }
    public String getTextCol() { return getOrDefault(textCol); }
    public boolean getSpecialTokens() { return (Boolean) getOrDefault(specialTokens); }
    public String getDevice() { return getOrDefault(device); }
    public String getPrecision() { return getOrDefault(precision); }
    public int getChunkTokens() { return (Integer) getOrDefault(chunkTokens); }
    public int getTokenBudget() { return (Integer) getOrDefault(tokenBudget); }
    public int getMaxBatchDocs() { return (Integer) getOrDefault(maxBatchDocs); }
    public int getMaxAttentionTokens() { return (Integer) getOrDefault(maxAttentionTokens); }
    public int getPrefetch() { return (Integer) getOrDefault(prefetch); }
    public String getOutputPrefix() { return getOrDefault(outputPrefix); }

    /** True when a tokenizer is set: the input is {@link #getTextCol()}, else {@link #getTokensCol()}. */
    public boolean isTextInput() { return !getTokenizerPath().isBlank(); }

    /** The input column this transformer reads. */
    public String inputCol() { return isTextInput() ? getTextCol() : getTokensCol(); }

    /** This transformer's settings, as the SQL functions and the jobs know them. */
    public Mamba2Settings settings() {
        return settings(getModelPath(), getTokenizerPath(), getSpecialTokens(), getDevice(), getPrecision(), getChunkTokens(),
                getTokenBudget(), getMaxBatchDocs(), getMaxAttentionTokens());
    }

    /** Setting names as messages give them: this class's params. */
    protected static String paramName(String key) {
        return PARAM_NAMES.getOrDefault(key, key);
    }

    private static final Map<String, String> PARAM_NAMES = Map.ofEntries(
            Map.entry("model", "modelPath"), Map.entry("tokenizer", "tokenizerPath"), Map.entry("special_tokens", "specialTokens"),
            Map.entry("prepend_bos", "prependBos"), Map.entry("per_token", "perToken"), Map.entry("pooling", "pooling"),
            Map.entry("device", "device"), Map.entry("precision", "precision"), Map.entry("chunk_tokens", "chunkTokens"),
            Map.entry("token_budget", "tokenBudget"), Map.entry("max_batch_docs", "maxBatchDocs"),
            Map.entry("max_attention_tokens", "maxAttentionTokens"));

    /** The output columns' names and types in order, without the prefix (the job's output columns without id). */
    protected List<StructField> outputFields(JobSpec spec) {
        List<StructField> f = new ArrayList<>(Arrays.asList(OutputRows.of(spec).schema(DataTypes.IntegerType, List.of()).fields()));
        return f.subList(1, f.size());
    }

    /** A spec with only what the output's shape depends on, for transformSchema (which reads no files). */
    private JobSpec shapeSpec() {
        Mamba2Settings s = settings();
        return new JobSpec(task(), "unchecked", "cpu", 1, -1, s.perToken(), s.pooling(), null, 1, 1);
    }

    @Override
    public StructType transformSchema(StructType schema) {
        checkInput(schema);
        StructType out = schema;
        for (StructField f : outputFields(shapeSpec())) {
            String name = getOutputPrefix() + f.name();
            if (Arrays.asList(schema.fieldNames()).contains(name))
                throw new IllegalArgumentException(getClass().getSimpleName() + " would add column '" + name + "' but the input already has one;"
                        + " set outputPrefix (e.g. \"lm_\") or drop or rename the input column");
            out = out.add(name, f.dataType(), true, f.metadata());
        }
        return out;
    }

    private void checkInput(StructType schema) {
        String col = inputCol();
        String have = Arrays.stream(schema.fields()).map(f -> f.name() + " " + f.dataType().simpleString()).collect(Collectors.joining(", "));
        StructField f = Arrays.stream(schema.fields()).filter(x -> x.name().equals(col)).findFirst().orElse(null);
        String param = isTextInput() ? "textCol" : "tokensCol";
        if (f == null)
            throw new IllegalArgumentException(getClass().getSimpleName() + ": the input has no column '" + col + "' (" + param + "); its columns: "
                    + have + (isTextInput() ? "" : ". For text input set tokenizerPath and textCol"));
        if (isTextInput() && !f.dataType().equals(DataTypes.StringType))
            throw new IllegalArgumentException(getClass().getSimpleName() + ": column '" + col + "' (" + param + ") is "
                    + f.dataType().simpleString() + " but text input must be a string column");
        if (!isTextInput() && !Corpus.isIntegerArray(f.dataType()))
            throw new IllegalArgumentException(getClass().getSimpleName() + ": column '" + col + "' (" + param + ") is "
                    + f.dataType().simpleString() + " but must be token ids (array<int> or array<bigint>)"
                    + (f.dataType().equals(DataTypes.StringType) ? "; for text set tokenizerPath (and textCol)" : ""));
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        Dataset<Row> df = dataset.toDF();
        transformSchema(df.schema());
        Mamba2Settings.Resolved r = settings().resolve(df.sparkSession().sparkContext().hadoopConfiguration(), Mamba2Transformer::paramName);
        checkFingerprint(r.spec().modelPath());

        // Positional names: any input name works (dots, the output's own names), and every column is carried.
        String[] names = df.schema().fieldNames();
        String[] internal = new String[names.length];
        for (int i = 0; i < names.length; i++) internal[i] = "c" + i;
        Dataset<Row> renamed = df.toDF(internal);
        int in = Arrays.asList(names).indexOf(inputCol());
        List<Column> cols = new ArrayList<>();
        cols.add(functions.lit(null).cast(DataTypes.IntegerType).as("id"));
        cols.add(functions.col(internal[in]).as("doc"));
        for (String c : internal) cols.add(functions.col(c));
        Dataset<Row> rows = renamed.select(cols.toArray(new Column[0]));
        Dataset<Row> out = DocumentPipeline.map(rows, r.spec(), null,
                r.isText() ? BatchSources.text(r.tokenizer(), getPrefetch()) : BatchSources.tokens(getPrefetch()));

        List<StructField> produced = outputFields(r.spec());
        List<Column> result = new ArrayList<>();
        for (int i = 0; i < names.length; i++) result.add(functions.col(internal[i]).as(names[i], df.schema().fields()[i].metadata()));
        for (StructField f : produced) result.add(functions.col(f.name()).as(getOutputPrefix() + f.name()));
        return out.select(result.toArray(new Column[0]));
    }

    private void checkFingerprint(String folder) {
        String want = getModelSha256();
        if (want.isBlank()) return;
        String have = ModelFingerprint.of(Path.of(folder)).sha256();
        if (!have.equalsIgnoreCase(want.trim()))
            throw new IllegalArgumentException(getClass().getSimpleName() + ": the model folder " + folder + " is not the one this transformer"
                    + " was saved with (modelSha256 " + want + ", the folder now hashes to " + have + "); point modelPath at the saved"
                    + " model, or set modelSha256 to \"\" to use these weights");
    }

    /** Records the model's fingerprint (when not set) and writes the params; the weights stay where they are. */
    @Override
    public MLWriter write() {
        if (getModelSha256().isBlank() && !getModelPath().isBlank())
            set(modelSha256, ModelFingerprint.of(Path.of(getModelPath()).toAbsolutePath().normalize()).sha256());
        return new DefaultParamsWriter(this);
    }

    @Override
    @SuppressWarnings("unchecked")
    public T copy(ParamMap extra) { return (T) defaultCopy(extra); }

    @SuppressWarnings("unchecked")
    protected T self() { return (T) this; }

    // ---- setters (chainable) ----
    public T setModelPath(String v) { set(modelPath, v); return self(); }
    public T setModelSha256(String v) { set(modelSha256, v); return self(); }
    public T setTokenizerPath(String v) { set(tokenizerPath, v); return self(); }
    public T setTokensCol(String v) { set(tokensCol, v); return self(); }
    public T setTextCol(String v) { set(textCol, v); return self(); }
    public T setSpecialTokens(boolean v) { set(specialTokens, v); return self(); }
    public T setDevice(String v) { set(device, v); return self(); }
    public T setPrecision(String v) { set(precision, v); return self(); }
    public T setChunkTokens(int v) { set(chunkTokens, v); return self(); }
    public T setTokenBudget(int v) { set(tokenBudget, v); return self(); }
    public T setMaxBatchDocs(int v) { set(maxBatchDocs, v); return self(); }
    public T setMaxAttentionTokens(int v) { set(maxAttentionTokens, v); return self(); }
    public T setPrefetch(int v) { set(prefetch, v); return self(); }
    public T setOutputPrefix(String v) { set(outputPrefix, v); return self(); }
}
