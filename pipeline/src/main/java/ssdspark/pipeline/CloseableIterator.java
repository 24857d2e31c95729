package ssdspark.pipeline;

import java.util.Iterator;

/** An iterator holding a resource (a thread, an open file) that close() releases; close() is idempotent. */
public interface CloseableIterator<T> extends Iterator<T>, AutoCloseable {
    @Override
    void close();
}
