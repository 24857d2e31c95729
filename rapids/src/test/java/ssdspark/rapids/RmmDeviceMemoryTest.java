package ssdspark.rapids;

import com.nvidia.spark.rapids.jni.CpuRetryOOM;
import com.nvidia.spark.rapids.jni.GpuOOM;
import com.nvidia.spark.rapids.jni.GpuRetryOOM;
import com.nvidia.spark.rapids.jni.GpuSplitAndRetryOOM;
import org.junit.jupiter.api.Test;
import ssdspark.model.OutOfDeviceMemory;
import ssdspark.udf.GpuEngineSetup;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CPU-testable halves of the engine's memory from RMM: the RAPIDS Accelerator's GPU out-of-memory exceptions (the
 * real classes of its jar) split the runner's passes as CUDA's do, its host-memory ones do not; the model cache finds
 * the setup that installs RMM; RMM is asked for only where spark.plugins names the plugin (asking loads cuDF's native
 * libraries). The allocator itself runs on the GPU host only
 * (tools/rapids/RapidsSqlCheck: RMM's counter, cuMemGetInfo).
 */
class RmmDeviceMemoryTest {
    @Test
    void theRapidsGpuOutOfMemoryExceptionsAreOutOfDeviceMemory() {
        assertTrue(OutOfDeviceMemory.is(new GpuRetryOOM("GPU OutOfMemory: retry")));
        assertTrue(OutOfDeviceMemory.is(new GpuSplitAndRetryOOM("GPU OutOfMemory: split and retry")));
        assertTrue(OutOfDeviceMemory.is(new GpuOOM("GPU OutOfMemory")));
        assertTrue(OutOfDeviceMemory.is(new IllegalStateException("pass failed", new GpuRetryOOM("wrapped"))));
        assertFalse(OutOfDeviceMemory.is(new CpuRetryOOM("host memory: smaller GPU passes would not help")));
        assertFalse(OutOfDeviceMemory.is(new OutOfMemoryError("Could not allocate native memory"))); // cuDF's form: RmmDeviceMemory converts it
    }

    @Test
    void theModelCacheFindsTheRmmSetup() {
        List<Class<?>> found = new ArrayList<>();
        for (GpuEngineSetup s : ServiceLoader.load(GpuEngineSetup.class)) found.add(s.getClass());
        assertEquals(List.of(RmmEngineSetup.class), found);
        new RmmEngineSetup().beforeGpuEngine(0); // no Spark, no plugin: nothing to do, nothing loaded
        assertFalse(RmmDeviceMemory.pluginConfigured());
    }

    @Test
    void onlyASparkRunningThePluginGetsRmm() {
        assertFalse(RmmDeviceMemory.pluginConfigured(), "no SparkEnv here");
        assertTrue(RmmDeviceMemory.namesRapidsPlugin("com.nvidia.spark.SQLPlugin"));
        assertTrue(RmmDeviceMemory.namesRapidsPlugin("org.example.Metrics, com.nvidia.spark.SQLPlugin"));
        assertFalse(RmmDeviceMemory.namesRapidsPlugin("com.nvidia.spark.SQLPluginX"));
        assertFalse(RmmDeviceMemory.namesRapidsPlugin(""));
        assertFalse(RmmDeviceMemory.namesRapidsPlugin(null));
    }
}
