package ssdspark.udf;

import org.apache.spark.resource.ResourceInformation;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;
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
            assertSame(e, ModelCache.get(p, "cpu", 3, "fp32"), "ordinal and precision do not matter on the CPU");
            assertSame(e, ModelCache.forTask(JobSpec.score(p, "cpu", 8, -1, false)));
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
    void gpuEnginesAreKeyedByOrdinalAndPrecision() {
        String p = "/nonexistent/gpu-cache-test";
        FakeEngine g0 = new FakeEngine();
        ModelCache.put(p, "gpu", g0); // GPU 0, bf16
        try {
            assertSame(g0, ModelCache.get(p, "gpu", 0, "bfloat16"));
            assertSame(g0, ModelCache.forTask(JobSpec.score(p, "gpu", 8, -1, false)), "outside a task: GPU 0");
            assertFalse(ModelCache.isLoaded(p, "auto"), "auto is its own entry");
            assertFalse(ModelCache.isLoaded(p, "cpu"));
        } finally {
            ModelCache.evict(p, "gpu");
        }
    }

    @Test
    void gpuEngineSetupsRunBeforeAGpuEngineIsCreatedOnly() {
        String p = Path.of("target-missing-model-setup").toAbsolutePath().toString();
        RecordingGpuSetup.ORDINALS.clear();
        assertThrows(RuntimeException.class, () -> ModelCache.get(p, "cpu"));
        assertEquals(java.util.List.of(), RecordingGpuSetup.ORDINALS, "not for the CPU engine");
        assertThrows(RuntimeException.class, () -> ModelCache.get(p, "gpu", 3, "fp32")); // no model (and no GPU here)
        assertThrows(RuntimeException.class, () -> ModelCache.get(p, "auto", 1, "bf16"));
        assertEquals(java.util.List.of(3, 1), RecordingGpuSetup.ORDINALS, "before each GPU load, with its ordinal");
        ModelCache.put(p, "gpu", new FakeEngine());
        try {
            ModelCache.get(p, "gpu");
            assertEquals(2, RecordingGpuSetup.ORDINALS.size(), "not for an engine already cached");
        } finally {
            ModelCache.evict(p, "gpu");
        }
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
    void devicesAndPrecisions() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ModelCache.checkDevice("gpu:1")).getMessage().contains("--device gpu"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ModelCache.checkDevice("tpu")).getMessage().contains("cpu, gpu or auto"));
        assertEquals("cpu", ModelCache.checkDevice(" CPU "));
        assertEquals("gpu", ModelCache.checkDevice("cuda"));
        assertEquals("auto", ModelCache.checkDevice("Auto"));
        assertEquals("bf16", ModelCache.checkPrecision(null));
        assertEquals("fp32", ModelCache.checkPrecision("float32"));
        assertThrows(IllegalArgumentException.class, () -> ModelCache.checkPrecision("int8"));
    }

    @Test
    void theTaskUsesTheGpuSparkAssignedToIt() {
        assertEquals(0, GpuAssignment.ordinal(Map.of(), null), "no GPU scheduling: device 0");
        assertEquals(0, GpuAssignment.ordinal(null, null));
        Map<String, ResourceInformation> r = Map.of("gpu", new ResourceInformation("gpu", new String[] {"3", "5"}));
        assertEquals(3, GpuAssignment.ordinal(r, null), "the first assigned address");
        assertEquals(3, GpuAssignment.ordinal(r, ""));
        assertEquals(1, GpuAssignment.ordinal(r, "2,3"), "CUDA_VISIBLE_DEVICES renumbers from 0");
        assertEquals(3, GpuAssignment.ordinal(r, "GPU-uuid-a,GPU-uuid-b"), "not in the list: taken as is");
        Map<String, ResourceInformation> bad = Map.of("gpu", new ResourceInformation("gpu", new String[] {"GPU-1234"}));
        assertTrue(assertThrows(IllegalStateException.class, () -> GpuAssignment.ordinal(bad, null)).getMessage().contains("discovery script"));
    }
}
