package ssdspark.rapids;

import ssdspark.model.DocumentRunner.DeviceDocs;

/**
 * The rows of a LIST&lt;INT32&gt; column as cuDF lays them out, read from its host copies of the offsets and the
 * validity mask: row i holds child elements [offsets[i], offsets[i+1]) and is NULL when bit i of the mask (least
 * significant bit first) is 0. The offsets need not start at 0 (a column cut from a larger one), and a NULL row's
 * range, empty or not, is never read. Only these 4 bytes a row (and one bit) cross to the host; the ids stay on the
 * device.
 */
public final class ListLayout {
    private final boolean[] present;
    private final int[] start, len; // of the present rows, in order

    private ListLayout(boolean[] present, int[] start, int[] len) {
        this.present = present;
        this.start = start;
        this.len = len;
    }

    /**
     * @param offsets  at least rows + 1 entries, non-decreasing over present rows
     * @param validity at least ceil(rows / 8) bytes; null when the column has no NULLs
     */
    public static ListLayout of(int rows, int[] offsets, byte[] validity) {
        if (offsets.length < rows + 1) throw new IllegalArgumentException(offsets.length + " offsets for " + rows + " rows");
        if (validity != null && validity.length < (rows + 7) / 8)
            throw new IllegalArgumentException(validity.length + " validity bytes for " + rows + " rows");
        boolean[] present = new boolean[rows];
        int n = 0;
        for (int i = 0; i < rows; i++) {
            present[i] = validity == null || (validity[i >>> 3] >>> (i & 7) & 1) != 0;
            if (present[i]) n++;
        }
        int[] start = new int[n], len = new int[n];
        for (int i = 0, k = 0; i < rows; i++) {
            if (!present[i]) continue;
            if (offsets[i] < 0 || offsets[i + 1] < offsets[i])
                throw new IllegalStateException("row " + i + " has the malformed element range [" + offsets[i] + ", " + offsets[i + 1] + ")");
            start[k] = offsets[i];
            len[k++] = offsets[i + 1] - offsets[i];
        }
        return new ListLayout(present, start, len);
    }

    public int rows() { return present.length; }

    /** Whether row i is not NULL. */
    public boolean present(int i) { return present[i]; }

    /** The non-NULL rows as documents whose ids start at the child data's device address. */
    public DeviceDocs docs(long childDataAddress) { return new DeviceDocs(childDataAddress, start.clone(), len.clone()); }
}
