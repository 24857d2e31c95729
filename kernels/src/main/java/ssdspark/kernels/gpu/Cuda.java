package ssdspark.kernels.gpu;

import jcuda.CudaException;
import jcuda.driver.JCudaDriver;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Entry point of the GPU backend: finds the driver (through JCuda's driver API: only libcuda from the NVIDIA
 * driver is needed, no CUDA toolkit), the devices, and the kernels fatbin on the classpath.
 *
 * <p>{@link #unavailableReason(int)} says in one line why a device cannot be used (or null when it can);
 * {@link #device(int)} hands out one shared {@link GpuDevice} per ordinal for the JVM's lifetime.
 */
public final class Cuda {
    /** Classpath resource holding every kernel (built by src/main/cuda/build.sh). */
    public static final String FATBIN = "/ssdspark/kernels/gpu/ssdspark_kernels.fatbin";

    private static final Map<Integer, GpuDevice> DEVICES = new ConcurrentHashMap<>();
    private static boolean initDone;
    private static String initProblem;
    private static int deviceCount;
    private static byte[] fatbin;

    private Cuda() {}

    /** The kernels image, or null with the reason in {@link #unavailableReason(int)}. */
    static synchronized byte[] fatbin() {
        init();
        return fatbin;
    }

    private static synchronized String init() {
        if (initDone) return initProblem;
        initDone = true;
        try (InputStream in = Cuda.class.getResourceAsStream(FATBIN)) {
            if (in == null) {
                String why;
                try (InputStream m = Cuda.class.getResourceAsStream(FATBIN + ".missing")) {
                    why = m == null ? "no " + FATBIN + " on the classpath"
                            : new String(m.readAllBytes(), StandardCharsets.UTF_8).trim();
                }
                initProblem = "the GPU kernels are not in this build: " + why;
                return initProblem;
            }
            fatbin = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + FATBIN, e);
        }
        try {
            JCudaDriver.setExceptionsEnabled(true);
            JCudaDriver.cuInit(0);
            int[] n = new int[1];
            JCudaDriver.cuDeviceGetCount(n);
            deviceCount = n[0];
            if (deviceCount == 0) initProblem = "the NVIDIA driver reports no CUDA device (CUDA_VISIBLE_DEVICES?)";
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            initProblem = "cannot load the CUDA driver through JCuda (" + essence(e.getMessage())
                    + "); is the NVIDIA driver (libcuda.so.1) installed and jcuda-natives on the classpath?";
        } catch (CudaException e) {
            initProblem = "cuInit failed: " + e.getMessage() + " (no usable NVIDIA driver or device)";
        } catch (Throwable e) {
            initProblem = "CUDA initialisation failed: " + e;
        }
        return initProblem;
    }

    /** The line of JCuda's long library-loading report that names the cause. */
    static String essence(String msg) {
        if (msg == null) return "no message";
        String first = null;
        for (String line : msg.split("\\R")) {
            String l = line.trim();
            if (l.isEmpty()) continue;
            if (first == null) first = l;
            if (l.contains("cannot open shared object") || l.contains("libcuda"))
                return l.replaceFirst("^java\\.lang\\.UnsatisfiedLinkError: ", "");
        }
        return first;
    }

    /** Null when device {@code ordinal} can run the kernels, else a one-line reason. */
    public static String unavailableReason(int ordinal) {
        String p = init();
        if (p != null) return p;
        if (ordinal < 0 || ordinal >= deviceCount)
            return "CUDA device " + ordinal + " does not exist (the driver sees " + deviceCount + " device(s))";
        try {
            device(ordinal);
            return null;
        } catch (CudaUnavailableException e) {
            return e.getMessage();
        }
    }

    /** Number of CUDA devices the driver sees (0 when the backend is unavailable). */
    public static int deviceCount() { return init() == null ? deviceCount : 0; }

    /** The shared device (primary context retained, kernels loaded); throws with the reason when unusable. */
    public static GpuDevice device(int ordinal) {
        String p = init();
        if (p != null) throw new CudaUnavailableException(p);
        if (ordinal < 0 || ordinal >= deviceCount)
            throw new CudaUnavailableException("CUDA device " + ordinal + " does not exist (the driver sees " + deviceCount + " device(s))");
        GpuDevice d = DEVICES.get(ordinal);
        if (d != null) return d;
        synchronized (Cuda.class) {
            d = DEVICES.get(ordinal);
            if (d == null) {
                d = GpuDevice.open(ordinal, fatbin);
                DEVICES.put(ordinal, d);
            }
            return d;
        }
    }
}
