package ssdspark.rapids;

import ai.rapids.cudf.Cuda;
import ai.rapids.cudf.DeviceMemoryBuffer;
import ai.rapids.cudf.Rmm;
import com.nvidia.spark.rapids.jni.GpuOOM;
import com.nvidia.spark.rapids.jni.RmmSpark;
import jcuda.driver.JCudaDriver;
import org.apache.spark.SparkEnv;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ssdspark.kernels.gpu.CudaUnavailableException;
import ssdspark.kernels.gpu.DeviceMemory;
import ssdspark.kernels.gpu.GpuDevice;
import ssdspark.kernels.gpu.OutOfDeviceMemoryException;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The GPU engine's device memory from RMM, the allocator the RAPIDS Accelerator gives (most of) the GPU to: the
 * weights and the task threads' workspaces come out of its pool (ASYNC by default) instead of cuMemAlloc next to it,
 * so they count against {@code spark.rapids.memory.gpu.allocFraction} and an allocation that does not fit makes the
 * plugin spill its own buffers first, like any cuDF allocation.
 *
 * <p>Streams. RMM allocations are stream-ordered: one freed on stream S may be handed out again on S at once, while
 * work queued before the free is still running. Our kernels run on our own non-blocking streams (one per task
 * thread), which RMM does not know. So an allocation is made on cuDF's default stream of the calling thread and that
 * stream is synchronised before the memory is returned (whatever the pool ordered before handing it to us has run),
 * and before memory goes back to RMM the device is synchronised, as cuMemFree does implicitly (the weights are read
 * by every task thread's stream, so no single stream would do). Frees are rare, the engine reusing its buffers: a
 * workspace that grows or is released after an out-of-memory pass, carried-state copies beyond the engine's spares,
 * engine close.
 *
 * <p>Out of memory. cuDF reports RMM's out_of_memory as java.lang.OutOfMemoryError: it becomes an
 * {@link OutOfDeviceMemoryException} (the runner then splits the pass; an Error would escape it). The plugin's
 * own GpuRetryOOM / GpuSplitAndRetryOOM pass through unchanged (model.OutOfDeviceMemory knows them), and the thread's
 * next allocation first waits in {@link RmmSpark#blockThreadUntilReady()}, as the RAPIDS retry framework asks of a
 * thread that retries after releasing its memory.
 */
public final class RmmDeviceMemory implements DeviceMemory {
    private static final Logger LOG = LoggerFactory.getLogger(RmmDeviceMemory.class);

    private final AtomicLong allocated = new AtomicLong();
    private final DeviceMemory before;
    private final ThreadLocal<Boolean> retrying = ThreadLocal.withInitial(() -> false);

    private RmmDeviceMemory(DeviceMemory before) { this.before = before; }

    /**
     * Sends the allocations of GPU {@code ordinal} through RMM when the RAPIDS Accelerator runs in this JVM (spark.plugins
     * names it and it has initialised RMM) and that GPU is the one cuDF works on; otherwise (no plugin, another GPU, no
     * usable GPU) leaves it as it is. Called by {@link RmmEngineSetup} before a GPU engine is created: an engine created
     * earlier keeps its weights where they are (cuMemAlloc) and only its later allocations come from RMM ({@link #install}).
     */
    static void installIfActive(int ordinal) {
        if (!pluginConfigured()) return;
        try {
            if (!Rmm.isInitialized()) return;
        } catch (LinkageError noNativeCudf) {
            return; // cuDF's native libraries do not load here: no RMM to use
        }
        if (ordinal != Cuda.getDevice()) return; // RMM serves cuDF's device; batches for another GPU take the host path
        GpuDevice device;
        try {
            device = ssdspark.kernels.gpu.Cuda.device(ordinal);
        } catch (CudaUnavailableException e) {
            return; // the engine's load reports it (device gpu) or falls back to the CPU (auto)
        }
        install(device);
    }

    /**
     * Makes RMM the source of device's new buffers (once; later calls return the installed one). Buffers allocated
     * before stay in their memory until freed; when there are any (an engine created before RMM was there, or not
     * through the model cache) a warning says how much lies outside the pool.
     */
    public static synchronized RmmDeviceMemory install(GpuDevice device) {
        if (device.memory() instanceof RmmDeviceMemory r) return r;
        RmmDeviceMemory r = new RmmDeviceMemory(device.memory());
        device.useMemory(r);
        long outside = r.before.allocatedBytes();
        if (outside > 0)
            LOG.warn("ssdspark: {} of device memory on {} was allocated with {} before the RAPIDS Accelerator's RMM was "
                    + "installed (an engine created before): it stays outside the RMM pool until freed; allocations "
                    + "from now on come from RMM", mib(outside), device.describe(), r.before.describe());
        else LOG.info("ssdspark: the GPU engine's device memory on {} comes from the RAPIDS Accelerator's RMM", device.describe());
        return r;
    }

    /**
     * Whether this JVM's Spark runs the RAPIDS Accelerator (spark.plugins names its SQLPlugin). Asked first because
     * asking RMM loads cuDF's native libraries, seconds of work on a JVM that will not use them.
     */
    static boolean pluginConfigured() {
        SparkEnv env = SparkEnv.get();
        return env != null && namesRapidsPlugin(env.conf().get("spark.plugins", ""));
    }

    /** Whether a spark.plugins value (comma-separated class names) names the RAPIDS Accelerator's SQLPlugin. */
    static boolean namesRapidsPlugin(String plugins) {
        if (plugins == null) return false;
        for (String p : plugins.split(",")) if (p.trim().equals("com.nvidia.spark.SQLPlugin")) return true;
        return false;
    }

    /** What the device used before RMM; its buffers stay there until freed. */
    public DeviceMemory before() { return before; }

    @Override
    public Allocation allocate(GpuDevice device, long bytes) {
        if (retrying.get()) {
            retrying.set(false);
            try {
                RmmSpark.blockThreadUntilReady();
            } catch (GpuOOM e) { // GpuSplitAndRetryOOM: the runner splits again, and this thread waits again next time
                retrying.set(true);
                throw e;
            }
        }
        DeviceMemoryBuffer buffer;
        try {
            buffer = Rmm.alloc(bytes, Cuda.DEFAULT_STREAM);
        } catch (OutOfMemoryError e) {
            throw new OutOfDeviceMemoryException("cannot allocate " + mib(bytes) + " from the RAPIDS Accelerator's RMM on "
                    + device.describe() + " (RMM has " + mib(Rmm.getTotalBytesAllocated()) + " allocated; raise "
                    + "spark.rapids.memory.gpu.allocFraction or lower token_budget): " + e.getMessage(), e);
        } catch (GpuOOM e) {
            retrying.set(true);
            throw e;
        }
        // The executor's cached engine keeps its weights (and each task thread its workspace) until the JVM exits, past
        // cuDF's leak check at shutdown: without this, every such buffer is logged as "A DEVICE BUFFER WAS LEAKED".
        buffer.noWarnLeakExpected();
        try {
            Cuda.DEFAULT_STREAM.sync();
        } catch (RuntimeException e) {
            buffer.close();
            throw e;
        }
        allocated.addAndGet(bytes);
        return new Allocation() {
            @Override public long address() { return buffer.getAddress(); }

            @Override public void free() {
                JCudaDriver.cuCtxSynchronize(); // the device's context is current: every stream that may still read it has finished
                buffer.close();
                allocated.addAndGet(-bytes);
            }
        };
    }

    @Override public long allocatedBytes() { return allocated.get(); }

    @Override public String describe() { return "RMM"; }

    private static String mib(long b) { return String.format("%.1f MiB", b / 1048576.0); }
}
