package ssdspark.rapids;

import ssdspark.model.DocumentRunner.DeviceDocs;
import ssdspark.udf.TokenRows;

/**
 * The rows of a LIST&lt;INT32&gt; column as cuDF lays them out, read from its host copies of the offsets and the
 * validity masks: row i holds child elements [offsets[i], offsets[i+1]) and is NULL when bit i of the column's mask
 * (least significant bit first) is 0; element k is a NULL id when bit k of the child's mask is 0. The offsets need
 * not start at 0 (a column cut from a larger one), and a NULL row's range, empty or not, is never read. Only these
 * 4 bytes a row (and one bit a row, and one bit an id when some id is NULL) cross to the host; the ids stay on the
 * device.
 *
 * <p>A row holding a NULL id is that row's error, with the message the host path gives it
 * ({@link TokenRows#nullToken}: the first NULL's position); it is not handed to the engine, the other rows are.
 */
public final class ListLayout {
    private final boolean[] present;
    private final String[] error;    // per row: why the model does not run it; null for NULL and good rows
    private final int[] start, len;  // of the rows the engine runs (present, no error), in order

    private ListLayout(boolean[] present, String[] error, int[] start, int[] len) {
        this.present = present;
        this.error = error;
        this.start = start;
        this.len = len;
    }

    /** A column whose ids are all valid (the child has no NULLs). */
    public static ListLayout of(int rows, int[] offsets, byte[] validity) { return of(rows, offsets, validity, null); }

    /**
     * @param offsets       at least rows + 1 entries, non-decreasing over present rows
     * @param validity      at least ceil(rows / 8) bytes; null when the column has no NULL rows
     * @param childValidity the child's mask, bit k for element k (the offsets' numbering); null when no id is NULL.
     *                      A present row reaching past its end is malformed
     */
    public static ListLayout of(int rows, int[] offsets, byte[] validity, byte[] childValidity) {
        if (offsets.length < rows + 1) throw new IllegalArgumentException(offsets.length + " offsets for " + rows + " rows");
        if (validity != null && validity.length < (rows + 7) / 8)
            throw new IllegalArgumentException(validity.length + " validity bytes for " + rows + " rows");
        boolean[] present = new boolean[rows];
        String[] error = new String[rows];
        int n = 0;
        for (int i = 0; i < rows; i++) {
            present[i] = validity == null || bit(validity, i);
            if (!present[i]) continue;
            if (offsets[i] < 0 || offsets[i + 1] < offsets[i])
                throw new IllegalStateException("row " + i + " has the malformed element range [" + offsets[i] + ", " + offsets[i + 1] + ")");
            if (childValidity != null) {
                if (offsets[i + 1] > 8L * childValidity.length)
                    throw new IllegalStateException("row " + i + " reaches element " + (offsets[i + 1] - 1) + " past the child mask's "
                            + 8L * childValidity.length + " bits");
                int bad = firstNull(childValidity, offsets[i], offsets[i + 1]);
                if (bad >= 0) error[i] = TokenRows.nullToken(bad - offsets[i]);
            }
            if (error[i] == null) n++;
        }
        int[] start = new int[n], len = new int[n];
        for (int i = 0, k = 0; i < rows; i++) {
            if (!present[i] || error[i] != null) continue;
            start[k] = offsets[i];
            len[k++] = offsets[i + 1] - offsets[i];
        }
        return new ListLayout(present, error, start, len);
    }

    private static boolean bit(byte[] mask, int i) { return (mask[i >>> 3] >>> (i & 7) & 1) != 0; }

    /** The first element in [from, to) whose bit is 0, or -1; whole bytes of valid ids are skipped at once. */
    private static int firstNull(byte[] mask, int from, int to) {
        for (int k = from; k < to; ) {
            if ((k & 7) == 0 && to - k >= 8 && mask[k >>> 3] == (byte) 0xFF) { k += 8; continue; }
            if (!bit(mask, k)) return k;
            k++;
        }
        return -1;
    }

    public int rows() { return present.length; }

    /** Whether row i is not NULL. */
    public boolean present(int i) { return present[i]; }

    /** Why the model does not run row i (it holds a NULL id), or null: a NULL row, or one the engine runs. */
    public String error(int i) { return error[i]; }

    /** The rows the engine runs (present, no error), in order, as documents whose ids start at the child data's device address. */
    public DeviceDocs docs(long childDataAddress) { return new DeviceDocs(childDataAddress, start.clone(), len.clone()); }
}
