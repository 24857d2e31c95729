package ssdspark.model.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A read-only file whose regions are memory-mapped on demand. Each read maps only the window it needs, so
 * files (and tensors) larger than 2 GiB work; the mappings go away with their buffers.
 */
final class MappedFile implements AutoCloseable {
    final Path path;
    final long size;
    private final FileChannel channel;

    private MappedFile(Path path, FileChannel channel, long size) {
        this.path = path;
        this.channel = channel;
        this.size = size;
    }

    static MappedFile open(Path path) {
        try {
            FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
            return new MappedFile(path, ch, ch.size());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open checkpoint file " + path + ": " + e.getMessage(), e);
        }
    }

    /** Maps [offset, offset + length) read-only; length must fit one buffer. */
    ByteBuffer map(long offset, int length) {
        if (offset < 0 || length < 0 || offset > size - length)
            throw new IllegalArgumentException(path + ": read of " + length + " bytes at offset " + offset
                    + " runs past the end of the file (" + size + " bytes); the file is truncated or corrupt");
        if (length == 0) return ByteBuffer.allocate(0);
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, offset, length);
        } catch (ClosedChannelException e) {
            throw new IllegalStateException(path + " was already closed", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map " + length + " bytes at " + offset + " of " + path + ": " + e.getMessage(), e);
        }
    }

    /** Copies a small region into the heap (headers, pickles). */
    byte[] read(long offset, int length) {
        byte[] out = new byte[length];
        map(offset, length).get(out);
        return out;
    }

    /** A sub-region as {@link Bytes}; bounds are checked once here. */
    Bytes region(long offset, long length) {
        if (offset < 0 || length < 0 || offset > size - length)
            throw new IllegalArgumentException(path + ": region of " + length + " bytes at offset " + offset
                    + " runs past the end of the file (" + size + " bytes); the file is truncated or corrupt");
        return new Bytes() {
            @Override public long size() { return length; }

            @Override public ByteBuffer window(long off, int len) {
                if (off < 0 || len < 0 || off > length - len)
                    throw new IndexOutOfBoundsException("window " + off + "+" + len + " outside a region of " + length + " bytes");
                return map(offset + off, len);
            }
        };
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
