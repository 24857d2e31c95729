package ssdspark.model;

/**
 * An engine that runs documents whose token ids are already in its GPU's memory, laid out as cuDF (the RAPIDS
 * Accelerator) holds a LIST&lt;INT32&gt; column: the tokens never travel to the host. The GPU engine implements it;
 * the RAPIDS SQL functions ({@code ssdspark.rapids}) call it with the column's buffers.
 *
 * <p>Addresses are device pointers on this engine's device. Row i's tokens are {@code tokens[offsets[i], offsets[i+1])}
 * (offsets: numRows + 1 int32 values, offsets[0] may be above 0 for a sliced column). validity is a cuDF null mask
 * (bit i of byte i/8, least significant bit first, set = row present) or 0 when every row is present; absent rows
 * are skipped. The buffers are complete when the call starts (the caller synchronized the stream that wrote them)
 * and are only read; the engine returns when its results are on the host. Scratch memory comes from
 * {@code memory} (RMM's pool inside the plugin), never from cuMemAlloc, so the engine does not fight the pool.
 *
 * <p>Results are per row on the host, with {@link #OK}, {@link #ABSENT} or {@link #REFUSED} (empty, or an id
 * outside [0, vocab_size): its values are not set; the caller finds the message on the host). Values equal what
 * {@link DocumentRunner#scoreAll}/{@link DocumentRunner#embedAll} return for the same documents on the same engine.
 */
public interface DevicePackedEngine {
    byte OK = 0, ABSENT = 1, REFUSED = 2;

    /** Device memory for scratch and outputs: allocate returns a device address, free gives it back. */
    interface DeviceMemory {
        long allocate(long bytes);

        void free(long address);
    }

    /**
     * Scores per row; tokenLogprobs (only with options.perToken()) holds row i's values at
     * [tokenLogprobOffsets[i], tokenLogprobOffsets[i+1]) (numScored[i] values).
     */
    record Scores(byte[] status, int[] numTokens, int[] numScored, double[] sumLogprob, float[] tokenLogprobs, int[] tokenLogprobOffsets) {}

    /** Embeddings per row: row i's d_model values at [i * dModel, (i+1) * dModel) of embeddings. */
    record Embeddings(byte[] status, int[] numTokens, float[] embeddings) {}

    Scores scoreDevice(long tokens, long offsets, long validity, int numRows, DocumentRunner.ScoreOptions options, int tokenBudget,
                       DeviceMemory memory);

    /** last: the last position's hidden state, else the mean over positions (the embed job's --pooling). */
    Embeddings embedDevice(long tokens, long offsets, long validity, int numRows, int chunkTokens, boolean last, int tokenBudget,
                           DeviceMemory memory);
}
