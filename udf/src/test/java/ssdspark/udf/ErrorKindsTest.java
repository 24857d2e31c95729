package ssdspark.udf;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class ErrorKindsTest {
    @Test
    void kindsReplaceParticulars() {
        assertEquals("token id N at position N is outside the model's vocabulary [N, N)",
                ErrorKinds.kind("token id 400 at position 1 is outside the model's vocabulary [0, 317)"));
    }

    /**
     * A task thread adds while Spark reads the accumulator from other threads (the heartbeater serializes it, the
     * driver reads its value): neither may fail or see a torn map. Unsynchronized, this fails within milliseconds
     * with ConcurrentModificationException (or a NullPointerException inside TreeMap).
     */
    @Test
    void readsWhileATaskAddsAreSafe() throws Exception {
        ErrorKinds kinds = new ErrorKinds();
        // a task's copy, as deserialized on an executor (a driver-side one refuses to be serialized unregistered)
        java.lang.reflect.Field side = org.apache.spark.util.AccumulatorV2.class.getDeclaredField("atDriverSide");
        side.setAccessible(true);
        side.setBoolean(kinds, false);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread task = new Thread(() -> {
            try {
                for (int round = 0; !stop.get(); round++) {
                    kinds.reset(); // a fresh map now and then, so kinds keep being inserted (structural changes)
                    for (int k = 0; k < ErrorKinds.MAX_KINDS + 4; k++) kinds.add("kind " + (char) ('a' + k % 26) + (k / 26) + " at " + round);
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            }
        });
        task.start();
        long end = System.nanoTime() + 1_000_000_000L;
        try {
            while (System.nanoTime() < end && failure.get() == null) {
                kinds.isZero();
                Map<String, Long> v = kinds.value();
                long total = v.values().stream().mapToLong(Long::longValue).sum();
                if (total < 0) throw new AssertionError("torn map: " + v);
                try (ObjectOutputStream out = new ObjectOutputStream(new ByteArrayOutputStream())) {
                    out.writeObject(kinds);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                kinds.copy();
            }
        } catch (RuntimeException e) {
            failure.compareAndSet(null, e);
        } finally {
            stop.set(true);
            task.join();
        }
        assertNull(failure.get(), () -> "concurrent use failed: " + failure.get());
    }
}
