package ssdspark.pipeline;

import org.apache.hadoop.conf.Configuration;
import ssdspark.model.Mamba2Config;
import ssdspark.pipeline.text.TokenizerSpec;
import ssdspark.udf.JobSpec;
import ssdspark.udf.ModelCache;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

/**
 * The settings of the library API (the ML Transformers' params, the SQL functions' options), checked and turned
 * into what the jobs run: a {@link JobSpec} and, for text, a {@link TokenizerSpec} read once on the driver.
 * Messages name each setting the way the caller's user wrote it (a Transformer's {@code modelPath}, a SQL
 * option's {@code model}): {@code name} maps the canonical keys below to those names.
 *
 * <p>Canonical keys: model, tokenizer, special_tokens, prepend_bos, per_token, pooling, device, precision,
 * chunk_tokens, token_budget, max_batch_docs, max_attention_tokens.
 *
 * @param model         model folder (config.json + weights), on the driver and at the same path on every executor
 * @param tokenizer     HF tokenizer.json (or its folder), local or any Hadoop file system; null or blank: token input
 * @param prependBos    score: a token id, or with a tokenizer an added token's text ("&lt;|endoftext|&gt;"); null or blank: none
 * @param maxAttentionTokens hybrid models: the longest document, and the most KV-cache tokens in flight (--max-attention-tokens)
 */
public record Mamba2Settings(JobSpec.Task task, String model, String tokenizer, boolean specialTokens, String prependBos,
                             boolean perToken, JobSpec.Pooling pooling, String device, String precision, int chunkTokens,
                             int tokenBudget, int maxBatchDocs, int maxAttentionTokens) {

    /** What runs: the job spec and the tokenizer (null for token input). */
    public record Resolved(JobSpec spec, TokenizerSpec tokenizer, Mamba2Config config) {
        public boolean isText() { return tokenizer != null; }
    }

    /**
     * Checks every setting and reads the model's config and the tokenizer (conf: Hadoop settings for a remote
     * tokenizer, e.g. spark.sparkContext().hadoopConfiguration(); null for the defaults).
     */
    public Resolved resolve(Configuration conf, UnaryOperator<String> name) {
        if (task == null) throw new IllegalArgumentException("task is required");
        if (model == null || model.isBlank())
            throw new IllegalArgumentException(name.apply("model") + " is not set: give the model folder (config.json + weights)");
        Path local = LocalPaths.local(model);
        if (local == null)
            throw new IllegalArgumentException(name.apply("model") + " " + model + " is not a local path: the model folder must be on the local disk"
                    + " of the driver and of every executor, at the same path");
        Path folder = local.toAbsolutePath().normalize();
        if (!Files.isDirectory(folder))
            throw new IllegalArgumentException(name.apply("model") + " " + model + " is not a folder; give the folder holding config.json and the weights");
        Mamba2Config config;
        try {
            config = Mamba2Config.load(folder);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            throw new IllegalArgumentException(name.apply("model") + " " + folder + " has an unusable config.json: " + e.getMessage(), e);
        }
        check(chunkTokens >= 1, name.apply("chunk_tokens") + " must be >= 1, got " + chunkTokens);
        check(tokenBudget >= 1, name.apply("token_budget") + " must be >= 1, got " + tokenBudget);
        check(maxBatchDocs >= 1, name.apply("max_batch_docs") + " must be >= 1, got " + maxBatchDocs);
        check(maxAttentionTokens >= 1, name.apply("max_attention_tokens") + " must be >= 1, got " + maxAttentionTokens);
        String dev = rename(() -> ModelCache.checkDevice(device), name.apply("device"));
        String prec = rename(() -> ModelCache.checkPrecision(precision), name.apply("precision"));

        TokenizerSpec tok = null;
        if (tokenizer != null && !tokenizer.isBlank()) {
            tok = rename(() -> TokenizerSpec.read(tokenizer, conf), name.apply("tokenizer")).withSpecialTokens(specialTokens);
            if (tok.vocabSize() > config.vocabSize)
                throw new IllegalArgumentException(name.apply("tokenizer") + " " + tok.path() + " produces ids up to " + (tok.vocabSize() - 1)
                        + " but the model's vocabulary is [0, " + config.vocabSize + "); use the tokenizer the model was trained with");
        } else {
            check(!specialTokens, name.apply("special_tokens") + " needs " + name.apply("tokenizer") + ": token input is used as given");
        }

        int bos = -1;
        if (prependBos != null && !prependBos.isBlank()) {
            check(task == JobSpec.Task.SCORE, name.apply("prepend_bos") + " is for scoring; embeddings use the document's own tokens");
            String b = prependBos.trim();
            if (b.matches("-?[0-9]+")) {
                try {
                    bos = Integer.parseInt(b);
                } catch (NumberFormatException e) {
                    bos = Integer.MAX_VALUE;
                }
                check(bos >= 0 && bos < config.vocabSize, name.apply("prepend_bos") + " " + b + " is outside the model's vocabulary [0, " + config.vocabSize + ")");
            } else {
                check(tok != null, name.apply("prepend_bos") + " '" + b + "' is not a token id; a token's text needs " + name.apply("tokenizer") + " to look it up");
                Integer id = tok.addedTokens().get(b);
                check(id != null, name.apply("prepend_bos") + " '" + b + "': the tokenizer has no such added token (it has "
                        + new java.util.TreeSet<>(tok.addedTokens().keySet()) + "); give one of them or a token id");
                bos = id;
            }
        }
        check(!perToken || task == JobSpec.Task.SCORE, name.apply("per_token") + " is for scoring");
        JobSpec spec = new JobSpec(task, folder.toString(), dev, chunkTokens, bos, perToken, pooling, prec, tokenBudget, maxBatchDocs)
                .withMaxAttentionTokens(maxAttentionTokens);
        return new Resolved(spec, tok, config);
    }

    private static void check(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }

    /** The value, or the setting's own error prefixed with its name. */
    private static <T> T rename(java.util.function.Supplier<T> f, String setting) {
        try {
            return f.get();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(setting + ": " + e.getMessage(), e);
        }
    }
}
