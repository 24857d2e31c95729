package ssdspark.model;

/**
 * A Mamba-2 forward over one chunk of a sequence, continuing from a carried state. The CPU engine
 * is the specification; other backends return the same numbers within their precision.
 */
public interface Engine extends AutoCloseable {
    Mamba2Config config();

    /** "cpu", or "gpu:N (name)", for logs and output metadata. */
    String backend();

    default Mamba2State newState() { return new Mamba2State(config()); }

    /**
     * Runs tokens[off, off+n) through every layer starting from state, which is updated to the state
     * after the last of them. Returns the final-normed hidden states [n][d_model].
     */
    float[] forward(int[] tokens, int off, int n, Mamba2State state);

    /** out[outOff+i] = log p(targets[tOff+i] | hidden row i) for 0 <= i < n, over the full (padded) head. */
    void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff);

    @Override
    void close();
}
