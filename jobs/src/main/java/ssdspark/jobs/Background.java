package ssdspark.jobs;

import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * One piece of a job's start-up run on its own daemon thread, beside the rest: {@link #join()} gives its result
 * or throws what it threw, the very exception object, so the caller reports it exactly as if it had run the work
 * itself at that point (same message, same exit status). {@link #deferred} runs it in {@link #join()} instead.
 */
final class Background<T> {
    private final FutureTask<T> task;
    /** Run by {@link #join()} on the joining thread, not started on a thread of its own. */
    private final boolean deferred;

    private Background(Callable<T> work, boolean deferred) {
        task = new FutureTask<>(work);
        this.deferred = deferred;
    }

    static <T> Background<T> start(String name, Callable<T> work) {
        Background<T> b = new Background<>(work, false);
        Thread t = new Thread(b.task, name);
        t.setDaemon(true); // never keeps a failed job's JVM alive
        t.start();
        return b;
    }

    /** The work run on the thread that joins it, when it does (the start-up one step after another). */
    static <T> Background<T> deferred(Callable<T> work) {
        return new Background<>(work, true);
    }

    /** The result; the work's own exception or error when it failed. */
    T join() throws Exception {
        if (deferred) task.run(); // (a started task is left to its thread, even when that thread has not begun it yet)
        try {
            return uninterruptibly();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof Exception x) throw x;
            if (c instanceof Error x) throw x;
            throw e;
        }
    }

    /** Waits for the work to end, whatever its outcome (an abandoned start: nothing of it is reported). */
    void await() {
        try {
            uninterruptibly();
        } catch (ExecutionException | CancellationException ignored) {
            // the caller reports an earlier failure instead
        }
    }

    /** Stops the work if it has not ended (its thread is interrupted); its outcome is not wanted. */
    void cancel() {
        task.cancel(true);
    }

    private T uninterruptibly() throws ExecutionException {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return task.get();
                } catch (InterruptedException e) {
                    interrupted = true; // the start-up's threads are ours: wait for them, keep the flag for the caller
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }
}
