package ssdspark.udf;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ssdspark.model.Engine;
import ssdspark.model.Mamba2Model;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One engine per (model folder, device) per JVM. Every Spark task of an executor asks here, so the
 * weights are read once per executor, not once per task or partition; engines are thread-safe and
 * shared by concurrent tasks. Entries live as long as the JVM (executors are per application).
 */
public final class ModelCache {
    private static final Logger LOG = LoggerFactory.getLogger(ModelCache.class);

    /** Devices this build can run on. */
    public static final String CPU = "cpu";

    private record Key(String path, String device) {}

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

    /** The cached engine for the model folder on the device, loading it on first use. */
    public static Engine get(String modelPath, String device) {
        Key k = key(modelPath, device);
        return SLOTS.computeIfAbsent(k, x -> new Slot()).get(k);
    }

    /** Whether the model is already loaded in this JVM. */
    public static boolean isLoaded(String modelPath, String device) {
        Slot s = SLOTS.get(key(modelPath, device));
        return s != null && s.peek() != null;
    }

    /**
     * Makes engine the cached model for (modelPath, device), e.g. one built in memory by a test or
     * loaded by a driver that shares its JVM with the executors (local mode).
     */
    public static void put(String modelPath, String device, Engine engine) {
        if (engine == null) throw new IllegalArgumentException("engine is null");
        Key k = key(modelPath, device);
        SLOTS.computeIfAbsent(k, x -> new Slot()).set(engine);
    }

    /** Drops and closes the cached engine, if any (tests; freeing device memory). */
    public static void evict(String modelPath, String device) {
        Slot s = SLOTS.remove(key(modelPath, device));
        Engine e = s == null ? null : s.peek();
        if (e != null) e.close();
    }

    /** Lower-cased device name, or an error naming the devices this build supports. */
    public static String checkDevice(String device) {
        String d = device == null ? "" : device.trim().toLowerCase(Locale.ROOT);
        if (CPU.equals(d)) return d;
        if (d.startsWith("gpu") || d.startsWith("cuda"))
            throw new IllegalArgumentException("device '" + device + "' is not available in this build yet; use --device cpu");
        throw new IllegalArgumentException("unknown device '" + device + "'; use --device cpu");
    }

    private static Key key(String modelPath, String device) {
        if (modelPath == null || modelPath.isBlank()) throw new IllegalArgumentException("model path is required");
        return new Key(Path.of(modelPath).toAbsolutePath().normalize().toString(), checkDevice(device));
    }

    private static Engine load(Key k) {
        long t0 = System.nanoTime();
        Engine e = Mamba2Model.cpu(Path.of(k.path())); // only cpu passes checkDevice today
        LOG.info("loaded model {} on {} in {} ms: {}", k.path(), e.backend(), (System.nanoTime() - t0) / 1_000_000, e.config());
        return e;
    }
}
