package ssdspark.model;

import ssdspark.kernels.gpu.Cuda;
import ssdspark.model.gpu.GpuEngine;
import ssdspark.model.gpu.Precision;

import java.nio.file.Path;
import java.util.Locale;

/**
 * Picks the engine: {@code cpu} (the pure-Java {@link CpuEngine}), {@code gpu} (the CUDA {@link GpuEngine}; fails
 * with the reason when no GPU can be used) or {@code auto} (the GPU when usable, else the CPU with a log line
 * saying why).
 */
public final class Backends {
    private static final System.Logger LOG = System.getLogger(Backends.class.getName());

    private Backends() {}

    /** Loads the model folder and opens it on the chosen backend. */
    public static Engine open(Path modelDir, String backend, int device, Precision precision) {
        String b = normalise(backend);
        Mamba2Weights w = Mamba2Model.loadWeights(modelDir);
        return open(w, b, device, precision);
    }

    /**
     * Opens already loaded weights on the chosen backend: "cpu", "gpu" or "auto" (null = auto); device is the
     * CUDA ordinal; precision applies to the GPU (null = bf16).
     */
    public static Engine open(Mamba2Weights w, String backend, int device, Precision precision) {
        switch (normalise(backend)) {
            case "cpu":
                return new CpuEngine(w);
            case "gpu":
                return GpuEngine.create(w, device, precision);
            default: { // auto
                String why = Cuda.unavailableReason(device);
                if (why == null) {
                    try {
                        return GpuEngine.create(w, device, precision);
                    } catch (RuntimeException e) {
                        why = e.getMessage();
                    }
                }
                // a machine without a GPU is the common case for auto, not a fault: one calm line
                LOG.log(System.Logger.Level.INFO, "ssdspark: --device auto: no usable GPU (" + calm(why) + "); running on the CPU engine");
                return new CpuEngine(w);
            }
        }
    }

    /** The reason in a few words where it is a usual one: no NVIDIA driver here, or a build without nvcc. */
    static String calm(String why) {
        if (why == null) return null;
        if (why.contains("libcuda") && (why.contains("cannot open shared object") || why.contains("cannot load the CUDA driver")))
            return "no NVIDIA driver: libcuda.so.1 not found";
        if (why.startsWith("the GPU kernels are not in this build"))
            return "this build has no GPU kernels: nvcc was not found when it was built";
        return why;
    }

    /** Null when CUDA device {@code device} can run the GPU engine, else why not. */
    public static String gpuUnavailableReason(int device) { return Cuda.unavailableReason(device); }

    private static String normalise(String backend) {
        String b = backend == null ? "auto" : backend.trim().toLowerCase(Locale.ROOT);
        if (!b.equals("cpu") && !b.equals("gpu") && !b.equals("auto"))
            throw new IllegalArgumentException("backend must be cpu, gpu or auto, got '" + backend + "'");
        return b;
    }
}
