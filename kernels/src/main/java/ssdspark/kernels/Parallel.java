package ssdspark.kernels;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/**
 * The CPU engine's thread pool. Size: system property {@code ssdspark.threads}, else the number of
 * cores. One pool per JVM, shared by every Spark task thread of an executor, so concurrent tasks
 * queue for cores instead of oversubscribing them.
 */
public final class Parallel {
    private static volatile ForkJoinPool pool = newPool(defaultThreads());

    private Parallel() {}

    static int defaultThreads() {
        String p = System.getProperty("ssdspark.threads");
        if (p != null && !p.isBlank()) {
            try {
                int n = Integer.parseInt(p.trim());
                if (n >= 1) return n;
            } catch (NumberFormatException ignored) {
                // fall through to the message below
            }
            throw new IllegalArgumentException("ssdspark.threads must be a positive integer, got '" + p + "'");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    private static ForkJoinPool newPool(int threads) {
        return new ForkJoinPool(threads, pool -> {
            var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
            t.setName("ssdspark-cpu-" + t.getPoolIndex());
            t.setDaemon(true);
            return t;
        }, null, false);
    }

    public static int threads() { return pool.getParallelism(); }

    /** Replaces the pool (benchmarks compare thread counts in one JVM). */
    public static synchronized void setThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1");
        if (threads == pool.getParallelism()) return;
        ForkJoinPool old = pool;
        pool = newPool(threads);
        old.shutdown();
    }

    /**
     * Runs body(i) for 0 <= i < n on the pool; inline when n == 1, there is a single thread, or the
     * caller is already one of the pool's workers (nested parallelism). Indices are handed out one at
     * a time from a shared counter to min(n, threads) workers, so uneven items balance themselves;
     * the calling thread waits (it does not compute), so Spark task threads never add to the pool's
     * threads. The first exception thrown by body is rethrown here, after the other workers stop.
     */
    public static void forRange(int n, IntConsumer body) {
        if (n <= 0) return;
        ForkJoinPool p = pool;
        int workers = Math.min(n, p.getParallelism());
        if (workers == 1 || Thread.currentThread() instanceof ForkJoinWorkerThread wt && wt.getPool() == p) {
            for (int i = 0; i < n; i++) body.accept(i);
            return;
        }
        AtomicInteger next = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> {
            try {
                for (int i = next.getAndIncrement(); i < n; i = next.getAndIncrement()) body.accept(i);
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
                next.set(n); // the others stop at their next item
            }
        };
        // One external submission; the first worker forks the rest from inside the pool (cheaper than
        // one external submission, lock and wake-up per worker from the calling thread) and works too.
        p.submit(() -> {
            ForkJoinTask<?>[] helpers = new ForkJoinTask<?>[workers - 1];
            for (int w = 0; w < helpers.length; w++) helpers[w] = ForkJoinTask.adapt(worker).fork();
            worker.run();
            for (int w = helpers.length - 1; w >= 0; w--) helpers[w].join(); // runs unstolen ones itself
        }).join();
        Throwable first = failure.get(); // rethrown as thrown (ForkJoinTask.join would wrap a copy)
        if (first instanceof RuntimeException re) throw re;
        if (first instanceof Error er) throw er;
        if (first != null) throw new RuntimeException(first);
    }
}
