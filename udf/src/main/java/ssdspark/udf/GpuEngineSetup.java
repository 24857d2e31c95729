package ssdspark.udf;

/**
 * Runs before {@link ModelCache} creates a GPU engine, so a module can prepare the device first. Found with
 * {@link java.util.ServiceLoader} (META-INF/services/ssdspark.udf.GpuEngineSetup) on the thread's context class loader:
 * the rapids module's one makes the engine allocate from the RAPIDS Accelerator's RMM pool when the plugin runs.
 */
public interface GpuEngineSetup {
    /** Called with the CUDA ordinal of the GPU the engine is about to be created on. */
    void beforeGpuEngine(int ordinal);
}
