package ssdspark.udf;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ssdspark.model.Backends;
import ssdspark.model.Engine;
import ssdspark.model.gpu.Precision;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One engine per (model folder, backend, GPU ordinal, precision) per JVM. Every Spark task of an executor asks
 * here, so the weights are read (and uploaded to a GPU) once per executor and device, not once per task or
 * partition; engines are thread-safe and shared by concurrent tasks (several task slots on one GPU share one
 * copy of the weights; each task thread gets its own GPU stream and workspace). Entries live as long as the
 * JVM (executors are per application).
 */
public final class ModelCache {
    private static final Logger LOG = LoggerFactory.getLogger(ModelCache.class);

    /** The pure-Java engine. */
    public static final String CPU = "cpu";
    /** The CUDA engine; fails when no GPU can be used. */
    public static final String GPU = "gpu";
    /** The GPU when usable, else the CPU (with a log line saying why). */
    public static final String AUTO = "auto";

    /** ordinal -1 and precision "" for the CPU: neither applies. */
    private record Key(String path, String device, int ordinal, String precision) {}

    /** A slot per key: its lock makes concurrent first calls wait for one load instead of loading twice. */
    private static final class Slot {
        private Engine engine;

        synchronized Engine get(Key k) {
            if (engine == null) engine = load(k); // a failed load leaves the slot empty, so a retried task tries again
            return engine;
        }

        synchronized void set(Engine e) { engine = e; }

        synchronized Engine peek() { return engine; }
    }

    private static final ConcurrentHashMap<Key, Slot> SLOTS = new ConcurrentHashMap<>();

    private ModelCache() {}

    /** The engine a task of spec runs on: its device, the GPU Spark assigned to the task, its precision. */
    public static Engine forTask(JobSpec spec) {
        int ordinal = CPU.equals(spec.device()) ? 0 : GpuAssignment.ordinal();
        return get(spec.modelPath(), spec.device(), ordinal, spec.precision());
    }

    /** The cached engine for the model folder on the device (GPU 0, bf16), loading it on first use. */
    public static Engine get(String modelPath, String device) {
        return get(modelPath, device, 0, JobSpec.DEFAULT_PRECISION);
    }

    /** The cached engine for the model folder on device (cpu, gpu, auto), GPU ordinal and precision. */
    public static Engine get(String modelPath, String device, int ordinal, String precision) {
        Key k = key(modelPath, device, ordinal, precision);
        return SLOTS.computeIfAbsent(k, x -> new Slot()).get(k);
    }

    /** Whether the model is already loaded in this JVM (GPU 0, bf16 for gpu/auto). */
    public static boolean isLoaded(String modelPath, String device) {
        Slot s = SLOTS.get(key(modelPath, device, 0, JobSpec.DEFAULT_PRECISION));
        return s != null && s.peek() != null;
    }

    /**
     * Makes engine the cached model for (modelPath, device) (GPU 0, bf16 for gpu/auto), e.g. one built in memory
     * by a test or loaded by a driver that shares its JVM with the executors (local mode).
     */
    public static void put(String modelPath, String device, Engine engine) {
        put(modelPath, device, 0, JobSpec.DEFAULT_PRECISION, engine);
    }

    /** Makes engine the cached model for (modelPath, device, GPU ordinal, precision); see {@link #put(String, String, Engine)}. */
    public static void put(String modelPath, String device, int ordinal, String precision, Engine engine) {
        if (engine == null) throw new IllegalArgumentException("engine is null");
        Key k = key(modelPath, device, ordinal, precision);
        SLOTS.computeIfAbsent(k, x -> new Slot()).set(engine);
    }

    /** Drops and closes the cached engines of (modelPath, device) on every ordinal and precision (tests; freeing device memory). */
    public static void evict(String modelPath, String device) {
        Key probe = key(modelPath, device, 0, JobSpec.DEFAULT_PRECISION);
        for (Key k : SLOTS.keySet()) {
            if (!k.path().equals(probe.path()) || !k.device().equals(probe.device())) continue;
            Slot s = SLOTS.remove(k);
            Engine e = s == null ? null : s.peek();
            if (e != null) e.close();
        }
    }

    /** Lower-cased device name (cpu, gpu, auto), or an error naming the devices there are. */
    public static String checkDevice(String device) {
        String d = device == null ? "" : device.trim().toLowerCase(Locale.ROOT);
        switch (d) {
            case CPU: return CPU;
            case GPU: case "cuda": return GPU;
            case AUTO: return AUTO;
            default:
                if (d.startsWith("gpu:") || d.startsWith("cuda:"))
                    throw new IllegalArgumentException("device '" + device + "': use --device gpu; each task runs on the GPU Spark assigned"
                            + " to it (spark.task.resource.gpu.amount), device 0 in local mode");
                throw new IllegalArgumentException("unknown device '" + device + "'; use --device cpu, gpu or auto");
        }
    }

    /** Canonical precision name (bf16, fp16, fp32); null or blank means bf16. */
    public static String checkPrecision(String precision) {
        return Precision.parse(precision).toString();
    }

    private static Key key(String modelPath, String device, int ordinal, String precision) {
        if (modelPath == null || modelPath.isBlank()) throw new IllegalArgumentException("model path is required");
        String d = checkDevice(device);
        String path = Path.of(modelPath).toAbsolutePath().normalize().toString();
        if (CPU.equals(d)) return new Key(path, d, -1, "");
        if (ordinal < 0) throw new IllegalArgumentException("GPU ordinal must be >= 0, got " + ordinal);
        return new Key(path, d, ordinal, checkPrecision(precision));
    }

    private static Engine load(Key k) {
        long t0 = System.nanoTime();
        if (!CPU.equals(k.device())) prepareGpu(Math.max(0, k.ordinal()));
        Engine e = Backends.open(Path.of(k.path()), k.device(), Math.max(0, k.ordinal()), Precision.parse(k.precision()));
        LOG.info("loaded model {} on {} (--device {}) in {} ms: {}", k.path(), e.backend(), k.device(),
                (System.nanoTime() - t0) / 1_000_000, e.config());
        return e;
    }

    /** Every {@link GpuEngineSetup} on the class path, before a GPU engine is created (device gpu or auto). */
    private static void prepareGpu(int ordinal) {
        Iterator<GpuEngineSetup> it = ServiceLoader.load(GpuEngineSetup.class).iterator();
        while (true) {
            GpuEngineSetup s;
            try {
                if (!it.hasNext()) return;
                s = it.next();
            } catch (ServiceConfigurationError e) { // a setup that cannot load here (its dependencies missing): skip it
                LOG.warn("skipping a GPU engine setup that cannot be loaded: {}", e.getMessage());
                continue;
            }
            s.beforeGpuEngine(ordinal);
        }
    }
}
