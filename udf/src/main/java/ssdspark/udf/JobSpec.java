package ssdspark.udf;

import java.io.Serializable;
import java.util.Locale;

/**
 * What the partition function does to every document: shipped to executors inside the function, so
 * it holds only plain values (the model is found through {@link ModelCache}, never serialised).
 *
 * @param modelPath   absolute model folder, readable on every executor
 * @param device      engine backend ("cpu"); part of the model cache key
 * @param chunkTokens tokens per forward call; the recurrent state is carried across chunks
 * @param bosId       score only: token prepended so the first token is scored too; negative for none
 * @param perToken    score only: also return every token's log-prob
 * @param pooling     embed only: which hidden state summarises the document
 */
public record JobSpec(Task task, String modelPath, String device, int chunkTokens, int bosId, boolean perToken,
                      Pooling pooling) implements Serializable {

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
        if (device == null || device.isBlank()) throw new IllegalArgumentException("device is required");
        if (chunkTokens < 1) throw new IllegalArgumentException("chunk tokens must be >= 1, got " + chunkTokens);
        if (pooling == null) pooling = Pooling.MEAN;
    }

    public static JobSpec score(String modelPath, String device, int chunkTokens, int bosId, boolean perToken) {
        return new JobSpec(Task.SCORE, modelPath, device, chunkTokens, bosId, perToken, Pooling.MEAN);
    }

    public static JobSpec embed(String modelPath, String device, int chunkTokens, Pooling pooling) {
        return new JobSpec(Task.EMBED, modelPath, device, chunkTokens, -1, false, pooling);
    }
}
