package ssdspark.model.checkpoint;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A run of bytes holding tensor data: a region of a memory-mapped file, or an inflated zip entry.
 * Regions may exceed 2 GiB, so reads go through windows of at most {@link #WINDOW} bytes.
 */
interface Bytes {
    /** Largest window mapped at once: ByteBuffer indexes are ints, and a multiple of every element size. */
    int WINDOW = 1 << 30;

    long size();

    /** A buffer over [offset, offset + length), positioned at 0; byte order unset. */
    ByteBuffer window(long offset, int length);

    /** Reads count elements starting at byteOffset into dst[0..count), widening to float. */
    default void readFloats(long byteOffset, int count, Dtype type, ByteOrder order, float[] dst) {
        readFloats(byteOffset, count, type, order, dst, WINDOW);
    }

    /** As above with an explicit window size (tests use small ones to cross window edges). */
    default void readFloats(long byteOffset, int count, Dtype type, ByteOrder order, float[] dst, int windowBytes) {
        int perWindow = Math.max(1, windowBytes / type.size);
        for (int done = 0; done < count; ) {
            int n = Math.min(perWindow, count - done);
            ByteBuffer b = window(byteOffset + (long) done * type.size, n * type.size).order(order);
            type.decode(b, dst, done, n);
            done += n;
        }
    }

    /** Bytes held in memory (small entries, or zip entries that had to be inflated). */
    static Bytes of(byte[] data) {
        return new Bytes() {
            @Override public long size() { return data.length; }

            @Override public ByteBuffer window(long offset, int length) {
                if (offset < 0 || length < 0 || offset + length > data.length)
                    throw new IndexOutOfBoundsException("window " + offset + "+" + length + " outside " + data.length + " bytes");
                return ByteBuffer.wrap(data, (int) offset, length).slice();
            }
        };
    }
}
