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
     * A state that only this engine's later calls will read: the engine may hold its values itself between calls
     * (see {@link Mamba2State#isHeld()}). The caller releases it ({@link Mamba2State#release()}) when done with it,
     * or {@link Mamba2State#load()}s it to read it.
     */
    default Mamba2State newCarriedState() { return newState(); }

    /**
     * Runs tokens[off, off+n) through every layer starting from state, which is updated to the state
     * after the last of them. Returns the final-normed hidden states [n][d_model].
     */
    float[] forward(int[] tokens, int off, int n, Mamba2State state);

    /**
     * Packed variable-length forward: sequence i owns tokens[cu[i], cu[i+1]) and continues from
     * states[i] (updated in place), or from zeros when states[i] is null (its final state is then not
     * wanted). No state or conv window crosses a sequence boundary. Returns the final-normed hidden
     * states of all sequences back to back, [cu[n]][d_model]. Backends override this to run a batch
     * in one pass; the default runs the sequences one after another. When it throws because the device ran out of
     * memory ({@link OutOfDeviceMemory}) the states must be as they were (the GPU engine reads them back only after
     * its last kernel), so that the pass can be run again in smaller pieces.
     */
    default float[] forwardPacked(int[] tokens, int[] cu, Mamba2State[] states) {
        int d = config().dModel, n = states.length;
        if ((long) cu[n] * d > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException("a batch of " + cu[n] + " tokens needs " + cu[n] + " x " + d
                    + " floats of hidden states, more than a Java array holds; lower the token budget");
        float[] out = new float[cu[n] * d];
        for (int i = 0; i < n; i++) {
            int len = cu[i + 1] - cu[i];
            if (len == 0) continue;
            Mamba2State s = states[i] != null ? states[i] : newState();
            System.arraycopy(forward(tokens, cu[i], len, s), 0, out, cu[i] * d, len * d);
        }
        return out;
    }

    /** out[outOff+i] = log p(targets[tOff+i] | hidden row i) for 0 <= i < n, over the full (padded) head. */
    void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff);

    @Override
    void close();
}
