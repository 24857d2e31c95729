package ssdspark.rapids;

import ssdspark.udf.GpuEngineSetup;

/**
 * Before the executor creates a GPU engine (any path: the columnar and row functions, the Transformers, the jobs'
 * code), make its device allocate from the RAPIDS Accelerator's RMM when the plugin runs ({@link RmmDeviceMemory}).
 * Registered in META-INF/services; a no-op when the plugin or its jar is not there.
 */
public final class RmmEngineSetup implements GpuEngineSetup {
    @Override
    public void beforeGpuEngine(int ordinal) {
        try {
            RmmDeviceMemory.installIfActive(ordinal);
        } catch (NoClassDefFoundError noRapidsJar) {
            // this jar without the RAPIDS Accelerator's: no RMM in this JVM
        }
    }
}
