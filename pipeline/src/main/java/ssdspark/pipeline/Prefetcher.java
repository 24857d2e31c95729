package ssdspark.pipeline;

import org.apache.spark.TaskContext;
import org.apache.spark.TaskContext$;
import org.apache.spark.util.TaskCompletionListener;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs a source iterator on a daemon thread, up to capacity items ahead of the consumer: while the
 * consumer runs the model on one batch, the producer reads and tokenizes the next. At most capacity
 * items wait in the queue, plus one being produced and one being consumed.
 *
 * <p>An exception thrown by the source reaches the consumer, in order, from {@link #next()}/{@link
 * #hasNext()}. {@link #close()} stops the producer (interrupting it if it is waiting for queue space)
 * and waits for its thread to end, so nothing touches the source after close returns; the source is
 * only ever used by the producer thread.
 */
public final class Prefetcher<T> implements CloseableIterator<T> {
    private static final Object END = new Object();
    private static final AtomicInteger THREADS = new AtomicInteger();
    /** How long close waits for a producer busy inside the source (e.g. a slow read) to come back. */
    static final long JOIN_MILLIS = 30_000;

    /** Thread names start with this, so leaks are easy to spot in a thread dump. */
    public static final String THREAD_PREFIX = "ssdspark-prefetch-";

    private static final class Failure {
        final Throwable error;
        Failure(Throwable error) { this.error = error; }
    }

    private final BlockingQueue<Object> queue;
    private final Thread producer;
    private volatile boolean closed;
    private Object head;      // taken from the queue, not yet returned by next()
    private boolean finished; // END or a failure was seen

    /** Starts producing right away from source. */
    public Prefetcher(Iterator<? extends T> source, int capacity) { this(source, capacity, null); }

    private Prefetcher(Iterator<? extends T> source, int capacity, TaskContext task) {
        if (capacity < 1) throw new IllegalArgumentException("prefetch capacity must be at least 1, got " + capacity);
        queue = new ArrayBlockingQueue<>(capacity);
        producer = new Thread(() -> produce(source, task), THREAD_PREFIX + THREADS.incrementAndGet());
        producer.setDaemon(true);
        producer.start();
    }

    /**
     * A prefetcher for use inside a Spark task: the producer sees the task's TaskContext (Spark's
     * iterators and metrics read it from a thread-local), and the prefetcher closes when the task ends,
     * however it ends.
     */
    public static <T> Prefetcher<T> inTask(Iterator<? extends T> source, int capacity) {
        TaskContext task = TaskContext.get();
        Prefetcher<T> p = new Prefetcher<>(source, capacity, task);
        if (task != null) task.addTaskCompletionListener((TaskCompletionListener) c -> p.close());
        return p;
    }

    private void produce(Iterator<? extends T> source, TaskContext task) {
        if (task != null) TaskContext$.MODULE$.setTaskContext(task);
        try {
            while (!closed && source.hasNext()) {
                T item = source.next();
                if (item == null) throw new NullPointerException("the prefetched iterator returned null");
                if (!put(item)) return;
            }
            put(END);
        } catch (InterruptedException e) {
            // close() asked us to stop
        } catch (Throwable t) {
            try {
                put(new Failure(t));
            } catch (InterruptedException ignored) {
                // closed meanwhile
            }
        } finally {
            if (task != null) TaskContext$.MODULE$.unset();
        }
    }

    /**
     * Puts o in the queue, waiting for space; false once closed. Never blocks past close(), even when the
     * source cleared the interrupt close() sent (a full queue would otherwise hold the producer until
     * close's join gives up).
     */
    private boolean put(Object o) throws InterruptedException {
        while (!closed)
            if (queue.offer(o, 50, TimeUnit.MILLISECONDS)) return true;
        return false;
    }

    @Override
    public boolean hasNext() {
        if (head != null) return true;
        if (finished || closed) return false;
        Object o;
        try {
            o = queue.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close();
            throw new IllegalStateException("interrupted while waiting for the next prefetched item", e);
        }
        if (o == END) {
            finished = true;
            return false;
        }
        if (o instanceof Failure) {
            finished = true;
            Throwable t = ((Failure) o).error;
            if (t instanceof RuntimeException) throw (RuntimeException) t;
            if (t instanceof Error) throw (Error) t;
            throw new IllegalStateException("prefetching failed: " + t, t);
        }
        head = o;
        return true;
    }

    @Override
    @SuppressWarnings("unchecked")
    public T next() {
        if (!hasNext()) throw new NoSuchElementException();
        T item = (T) head;
        head = null;
        return item;
    }

    /** Stops the producer and waits for its thread to end (up to {@link #JOIN_MILLIS}). Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            producer.interrupt();
        }
        queue.clear(); // frees the batches; also unblocks a producer racing to put
        head = null;
        if (Thread.currentThread() != producer) {
            try {
                producer.join(JOIN_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        queue.clear();
    }

    /** Whether the producer thread has ended (tests; monitoring). */
    public boolean producerDone() { return !producer.isAlive(); }
}
