package ssdspark.kernels;

import java.util.concurrent.ForkJoinPool;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

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

    /** Runs body(i) for 0 <= i < n on the pool; inline when n == 1 or there is a single thread. */
    public static void forRange(int n, IntConsumer body) {
        if (n <= 0) return;
        if (n == 1 || pool.getParallelism() == 1) {
            for (int i = 0; i < n; i++) body.accept(i);
            return;
        }
        ForkJoinPool p = pool;
        if (Thread.currentThread() instanceof java.util.concurrent.ForkJoinWorkerThread wt && wt.getPool() == p) { // already on a worker: nested parallelism runs inline
            for (int i = 0; i < n; i++) body.accept(i);
            return;
        }
        p.submit(() -> IntStream.range(0, n).parallel().forEach(body)).join();
    }
}
