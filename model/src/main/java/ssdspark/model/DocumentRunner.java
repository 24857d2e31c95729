package ssdspark.model;

import ssdspark.kernels.Pooling;

/**
 * Scores and embeds whole documents of any length by feeding an {@link Engine} chunks of at most
 * {@code chunkTokens} tokens with the recurrent state carried between them, so the result equals
 * one pass over the whole document while memory stays bounded by the chunk.
 */
public final class DocumentRunner {
    private final Engine engine;

    public DocumentRunner(Engine engine) { this.engine = engine; }

    public Engine engine() { return engine; }

    /**
     * @param chunkTokens tokens per forward call (state carried between calls)
     * @param bosId       token id prepended so the first real token is scored too; negative for none
     * @param perToken    keep every token's log-prob (element i scores token i+1 of the scored sequence)
     */
    public record ScoreOptions(int chunkTokens, int bosId, boolean perToken) {
        public ScoreOptions {
            if (chunkTokens < 1) throw new IllegalArgumentException("chunk tokens must be >= 1, got " + chunkTokens);
        }
    }

    /** numTokens counts the document's own tokens (not the BOS); numScored the predicted ones. */
    public record ScoreResult(int numTokens, int numScored, double sumLogprob, float[] tokenLogprobs) {
        /** −sumLogprob / numScored; NaN when nothing was scored (a 1-token document without BOS). */
        public double meanNll() { return numScored == 0 ? Double.NaN : -sumLogprob / numScored; }

        public double perplexity() { return Math.exp(meanNll()); }
    }

    public record EmbedResult(int numTokens, float[] mean, float[] last) {}

    public ScoreResult score(int[] tokens, ScoreOptions o) {
        validate(tokens);
        final boolean bos = o.bosId() >= 0;
        if (bos) checkToken(o.bosId(), -1);
        final int[] seq;
        if (bos) {
            seq = new int[tokens.length + 1];
            seq[0] = o.bosId();
            System.arraycopy(tokens, 0, seq, 1, tokens.length);
        } else {
            seq = tokens;
        }
        final int len = seq.length, scored = len - 1;
        float[] perToken = o.perToken() ? new float[scored] : null;
        float[] lp = new float[Math.min(o.chunkTokens(), len)];
        double sum = 0;
        Mamba2State state = engine.newState();
        for (int s = 0; s < len; s += o.chunkTokens()) {
            int n = Math.min(o.chunkTokens(), len - s);
            float[] hidden = engine.forward(seq, s, n, state);
            int m = Math.min(n, scored - s); // rows whose next token exists; the last row may score the next chunk's first token
            if (m <= 0) continue;
            engine.logProbs(hidden, m, seq, s + 1, lp, 0);
            for (int i = 0; i < m; i++) sum += lp[i];
            if (perToken != null) System.arraycopy(lp, 0, perToken, s, m);
        }
        return new ScoreResult(tokens.length, scored, sum, perToken);
    }

    public EmbedResult embed(int[] tokens, int chunkTokens) {
        validate(tokens);
        if (chunkTokens < 1) throw new IllegalArgumentException("chunk tokens must be >= 1, got " + chunkTokens);
        int d = engine.config().dModel, len = tokens.length;
        double[] sum = new double[d];
        float[] last = new float[d];
        Mamba2State state = engine.newState();
        for (int s = 0; s < len; s += chunkTokens) {
            int n = Math.min(chunkTokens, len - s);
            float[] hidden = engine.forward(tokens, s, n, state);
            Pooling.accumulateSumCpu(hidden, n, d, sum);
            if (s + n == len) System.arraycopy(hidden, (n - 1) * d, last, 0, d);
        }
        return new EmbedResult(len, Pooling.meanOf(sum, len), last);
    }

    private void validate(int[] tokens) {
        if (tokens == null || tokens.length == 0) throw new IllegalArgumentException("empty token array: nothing to score or embed");
        for (int i = 0; i < tokens.length; i++) checkToken(tokens[i], i);
    }

    private void checkToken(int t, int pos) {
        int v = engine.config().vocabSize;
        if (t < 0 || t >= v)
            throw new IllegalArgumentException((pos < 0 ? "BOS id " : "token id ") + t + (pos < 0 ? "" : " at position " + pos)
                    + " is outside the model's vocabulary [0, " + v + ")");
    }
}
