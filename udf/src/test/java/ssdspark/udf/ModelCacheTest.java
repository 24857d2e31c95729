package ssdspark.udf;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

class ModelCacheTest {
    @Test
    void oneEnginePerPathAndDeviceSharedByThreads() throws Exception {
        String p = "/nonexistent/cache-test";
        FakeEngine e = new FakeEngine();
        ModelCache.put(p, "cpu", e);
        try {
            assertTrue(ModelCache.isLoaded(p + "/.", "CPU"), "the key is the normalised path and lower-cased device");
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                for (Future<?> f : pool.invokeAll(java.util.Collections.nCopies(8, () -> ModelCache.get(p, "cpu"))))
                    assertSame(e, f.get());
            } finally {
                pool.shutdown();
            }
        } finally {
            ModelCache.evict(p, "cpu");
        }
        assertFalse(ModelCache.isLoaded(p, "cpu"));
    }

    @Test
    void aMissingModelFailsEveryTimeWithItsPath() {
        String p = Path.of("target-missing-model").toAbsolutePath().toString();
        for (int i = 0; i < 2; i++) { // a failed load is not cached: a retried task tries again
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelCache.get(p, "cpu"));
            assertTrue(e.getMessage().contains(p), e.getMessage());
        }
    }

    @Test
    void unknownDevicesSayWhatToUse() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ModelCache.checkDevice("gpu:0")).getMessage().contains("--device cpu"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ModelCache.checkDevice("tpu")).getMessage().contains("--device cpu"));
        assertEquals("cpu", ModelCache.checkDevice(" CPU "));
    }
}
