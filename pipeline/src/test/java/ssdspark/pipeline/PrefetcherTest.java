package ssdspark.pipeline;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

@Timeout(30)
class PrefetcherTest {
    /** Integers 0..n-1 (n < 0: endless), counting pulls, optionally failing at one of them. */
    static final class Source implements Iterator<Integer> {
        final int n, failAt;
        final AtomicInteger pulled = new AtomicInteger();

        Source(int n, int failAt) { this.n = n; this.failAt = failAt; }

        @Override public boolean hasNext() { return n < 0 || pulled.get() < n; }

        @Override public Integer next() {
            int i = pulled.getAndIncrement();
            if (i == failAt) throw new IllegalStateException("source broke at " + i);
            return i;
        }
    }

    static long liveProducers() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith(Prefetcher.THREAD_PREFIX) && t.isAlive()).count();
    }

    @AfterEach
    void noThreadLeft() throws Exception {
        for (int i = 0; i < 100 && liveProducers() > 0; i++) Thread.sleep(10);
        assertEquals(0, liveProducers(), "a producer thread outlived its prefetcher");
    }

    @Test
    void yieldsEverythingInOrder() {
        List<Integer> got = new ArrayList<>();
        try (Prefetcher<Integer> p = new Prefetcher<>(new Source(1000, -1), 2)) {
            p.forEachRemaining(got::add);
            assertFalse(p.hasNext());
            assertThrows(NoSuchElementException.class, p::next);
        }
        for (int i = 0; i < 1000; i++) assertEquals(i, got.get(i));
    }

    @Test
    void runsAheadButOnlyUpToCapacity() throws Exception {
        Source s = new Source(-1, -1);
        try (Prefetcher<Integer> p = new Prefetcher<>(s, 2)) {
            for (int i = 0; i < 100 && s.pulled.get() < 3; i++) Thread.sleep(10);
            Thread.sleep(100);
            // 2 queued + 1 produced and waiting for space; the consumer has taken nothing
            assertEquals(3, s.pulled.get());
            assertEquals(0, p.next());
            for (int i = 0; i < 100 && s.pulled.get() < 4; i++) Thread.sleep(10);
            Thread.sleep(50);
            assertEquals(4, s.pulled.get());
        }
    }

    @Test
    void overlapsProducerAndConsumer() throws Exception {
        // the producer must fill the next item while the consumer still holds the current one
        CountDownLatch secondMade = new CountDownLatch(2);
        Iterator<Integer> src = new Iterator<>() {
            int i;
            @Override public boolean hasNext() { return i < 2; }
            @Override public Integer next() { secondMade.countDown(); return i++; }
        };
        try (Prefetcher<Integer> p = new Prefetcher<>(src, 1)) {
            assertEquals(0, p.next());
            assertTrue(secondMade.await(5, TimeUnit.SECONDS), "item 1 was made while the consumer worked on item 0");
            assertEquals(1, p.next());
            assertFalse(p.hasNext());
        }
    }

    @Test
    void errorsReachTheConsumerInOrder() {
        try (Prefetcher<Integer> p = new Prefetcher<>(new Source(100, 5), 2)) {
            for (int i = 0; i < 5; i++) assertEquals(i, p.next());
            IllegalStateException e = assertThrows(IllegalStateException.class, p::next);
            assertEquals("source broke at 5", e.getMessage());
            assertFalse(p.hasNext(), "nothing after a failure");
        }
    }

    @Test
    void closeStopsAnEndlessProducer() {
        Source s = new Source(-1, -1);
        Prefetcher<Integer> p = new Prefetcher<>(s, 2);
        assertEquals(0, p.next());
        assertEquals(1, p.next());
        p.close();
        assertTrue(p.producerDone());
        int after = s.pulled.get();
        assertFalse(p.hasNext());
        assertEquals(after, s.pulled.get(), "the source is not touched after close");
        p.close(); // idempotent
    }

    @Test
    void closeBeforeReadingAnything() {
        Prefetcher<Integer> p = new Prefetcher<>(new Source(-1, -1), 1);
        p.close();
        assertTrue(p.producerDone());
    }

    @Test
    void closeWaitsForAProducerBusyInTheSource() throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        AtomicInteger finished = new AtomicInteger();
        Iterator<Integer> slow = new Iterator<>() {
            @Override public boolean hasNext() { return true; }
            @Override public Integer next() {
                inside.countDown();
                long end = System.nanoTime() + 200_000_000L; // busy 200 ms, ignoring interrupts like blocking IO would
                while (System.nanoTime() < end) Thread.onSpinWait();
                finished.incrementAndGet();
                return 1;
            }
        };
        Prefetcher<Integer> p = new Prefetcher<>(slow, 1);
        assertTrue(inside.await(5, TimeUnit.SECONDS));
        p.close();
        assertTrue(p.producerDone());
        assertEquals(1, finished.get());
    }

    @Test
    void closeDoesNotWaitForAProducerThatSwallowedTheInterrupt() throws Exception {
        // a source that clears the interrupt (as some blocking readers do) and hands back one more item:
        // after close the producer must not block on a full queue until close's join times out
        CountDownLatch inside = new CountDownLatch(1);
        Iterator<Integer> swallowing = new Iterator<>() {
            int i;
            @Override public boolean hasNext() { return true; }
            @Override public Integer next() {
                if (i == 1) {
                    inside.countDown();
                    try {
                        Thread.sleep(10_000);
                    } catch (InterruptedException e) {
                        // swallowed: the flag is now clear
                    }
                }
                return i++;
            }
        };
        Prefetcher<Integer> p = new Prefetcher<>(swallowing, 1);
        assertEquals(0, p.next());
        assertTrue(inside.await(5, TimeUnit.SECONDS));
        long t0 = System.nanoTime();
        p.close();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(p.producerDone());
        assertTrue(ms < 5_000, "close took " + ms + " ms");
    }

    @Test
    void manyShortLivedPrefetchersLeaveNoThreads() {
        for (int k = 0; k < 50; k++) {
            boolean endless = k % 3 == 0;
            try (Prefetcher<Integer> p = new Prefetcher<>(new Source(endless ? -1 : 10, k % 5 == 0 ? 3 : -1), 2)) {
                try {
                    if (p.hasNext()) p.next();
                    if (!endless && k % 2 == 0) while (p.hasNext()) p.next(); // drained, or abandoned midway
                } catch (IllegalStateException expected) {
                    // the failing sources
                }
            }
        }
    }
}
