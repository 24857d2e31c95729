package ssdspark.udf;

import ssdspark.model.DocumentRunner;
import ssdspark.model.DocumentRunner.ScoreOptions;

import java.io.Serializable;
import java.util.Locale;

/**
 * What the partition function does to every document: shipped to executors inside the function, so
 * it holds only plain values (the model is found through {@link ModelCache}, never serialised).
 *
 * @param modelPath    absolute model folder, readable on every executor
 * @param device       engine backend: "cpu", "gpu" or "auto" (the GPU when usable, else the CPU); part of the
 *                     model cache key. The GPU ordinal is the one Spark assigned to the task (see {@link GpuAssignment})
 * @param chunkTokens  tokens per forward call; the recurrent state is carried across chunks
 * @param bosId        score only: token prepended so the first token is scored too; negative for none
 * @param perToken     score only: also return every token's log-prob
 * @param pooling      embed only: which hidden state summarises the document
 * @param precision    GPU matrix precision: "bf16", "fp16" or "fp32" (ignored by the CPU engine)
 * @param tokenBudget  tokens per engine batch: documents are pulled from the partition and packed until their
 *                     tokens reach this many (a longer document is a batch of its own and runs chunk by chunk)
 * @param maxBatchDocs documents per engine batch at most (many tiny documents)
 * @param spans        score only: per-span scores (--spans); null for none
 * @param textInput    the documents come from text: score rows then carry num_bytes and bits_per_byte
 * @param maxAttentionTokens hybrid models: the longest document, and the most tokens of KV cache carried at once
 *                     (see {@link DocumentRunner}); ignored by models without attention layers
 */
public record JobSpec(Task task, String modelPath, String device, int chunkTokens, int bosId, boolean perToken,
                      Pooling pooling, String precision, int tokenBudget, int maxBatchDocs, SpanMode spans,
                      boolean textInput, int maxAttentionTokens) implements Serializable {

    /** Longest piece of a document per forward pass (--chunk-tokens, the API's chunkTokens / chunk_tokens). */
    public static final int DEFAULT_CHUNK_TOKENS = 2048;
    public static final int DEFAULT_TOKEN_BUDGET = 16384;
    public static final int DEFAULT_MAX_BATCH_DOCS = 1024;
    public static final String DEFAULT_PRECISION = "bf16";

    public enum Task {
        SCORE, EMBED;

        public String cliName() { return name().toLowerCase(Locale.ROOT); }
    }

    public enum Pooling {
        MEAN, LAST;

        public String cliName() { return name().toLowerCase(Locale.ROOT); }

        public static Pooling parse(String s) {
            for (Pooling p : values()) if (p.cliName().equals(s)) return p;
            throw new IllegalArgumentException("pooling must be mean or last, got '" + s + "'");
        }
    }

    public JobSpec {
        if (task == null) throw new IllegalArgumentException("task is required");
        if (modelPath == null || modelPath.isBlank()) throw new IllegalArgumentException("model path is required");
        device = ModelCache.checkDevice(device);
        if (chunkTokens < 1) throw new IllegalArgumentException("chunk tokens must be >= 1, got " + chunkTokens);
        if (pooling == null) pooling = Pooling.MEAN;
        precision = ModelCache.checkPrecision(precision);
        if (tokenBudget < 1) throw new IllegalArgumentException("token budget must be >= 1, got " + tokenBudget);
        if (maxBatchDocs < 1) throw new IllegalArgumentException("documents per batch must be >= 1, got " + maxBatchDocs);
        if (maxAttentionTokens < 1) throw new IllegalArgumentException("max attention tokens must be >= 1, got " + maxAttentionTokens);
        if (spans != null && task != Task.SCORE) throw new IllegalArgumentException("spans are scored, not embedded: --spans is for score");
        if (spans != null && spans.kind().onText() != textInput)
            throw new IllegalArgumentException(textInput
                    ? "--spans " + spans.cliName() + " cuts pre-tokenized input; text input takes --spans line, paragraph or sentence"
                    : "--spans " + spans.cliName() + " cuts text; pre-tokenized input takes --spans tokens:N (windows of N tokens)");
    }

    /** Without spans, pre-tokenized input. */
    public JobSpec(Task task, String modelPath, String device, int chunkTokens, int bosId, boolean perToken,
                   Pooling pooling, String precision, int tokenBudget, int maxBatchDocs) {
        this(task, modelPath, device, chunkTokens, bosId, perToken, pooling, precision, tokenBudget, maxBatchDocs, null, false,
                DocumentRunner.DEFAULT_MAX_ATTENTION_TOKENS);
    }

    public static JobSpec score(String modelPath, String device, int chunkTokens, int bosId, boolean perToken) {
        return new JobSpec(Task.SCORE, modelPath, device, chunkTokens, bosId, perToken, Pooling.MEAN, DEFAULT_PRECISION,
                DEFAULT_TOKEN_BUDGET, DEFAULT_MAX_BATCH_DOCS);
    }

    public static JobSpec embed(String modelPath, String device, int chunkTokens, Pooling pooling) {
        return new JobSpec(Task.EMBED, modelPath, device, chunkTokens, -1, false, pooling, DEFAULT_PRECISION,
                DEFAULT_TOKEN_BUDGET, DEFAULT_MAX_BATCH_DOCS);
    }

    /** What DocumentRunner needs to score this job's documents. */
    public ScoreOptions scoreOptions() { return new ScoreOptions(chunkTokens, bosId, perToken); }

    /** The same job with other batch limits. */
    public JobSpec withBatching(int tokenBudget, int maxBatchDocs) {
        return new JobSpec(task, modelPath, device, chunkTokens, bosId, perToken, pooling, precision, tokenBudget, maxBatchDocs, spans, textInput, maxAttentionTokens);
    }

    /** The same job with another GPU precision. */
    public JobSpec withPrecision(String precision) {
        return new JobSpec(task, modelPath, device, chunkTokens, bosId, perToken, pooling, precision, tokenBudget, maxBatchDocs, spans, textInput, maxAttentionTokens);
    }

    /** The same job on text input (true) or pre-tokenized input (false), with per-span scores (null: none). */
    public JobSpec withInput(boolean textInput, SpanMode spans) {
        return new JobSpec(task, modelPath, device, chunkTokens, bosId, perToken, pooling, precision, tokenBudget, maxBatchDocs, spans, textInput, maxAttentionTokens);
    }

    /** The same job with another BOS id (negative: none). */
    public JobSpec withBos(int bosId) {
        return new JobSpec(task, modelPath, device, chunkTokens, bosId, perToken, pooling, precision, tokenBudget, maxBatchDocs, spans, textInput, maxAttentionTokens);
    }

    /** The same job with another cap on hybrid models' KV caches. */
    public JobSpec withMaxAttentionTokens(int maxAttentionTokens) {
        return new JobSpec(task, modelPath, device, chunkTokens, bosId, perToken, pooling, precision, tokenBudget, maxBatchDocs, spans, textInput, maxAttentionTokens);
    }

    /** The same job on another device. */
    public JobSpec withDevice(String device) {
        return new JobSpec(task, modelPath, device, chunkTokens, bosId, perToken, pooling, precision, tokenBudget, maxBatchDocs, spans, textInput, maxAttentionTokens);
    }
}
