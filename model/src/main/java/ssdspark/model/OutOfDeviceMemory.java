package ssdspark.model;

import jcuda.CudaException;
import ssdspark.model.gpu.GpuEngine;

/**
 * Recognises an engine pass that failed because the GPU ran out of memory, so {@link DocumentRunner} can split the
 * pass instead of failing the task. The GPU engine reports it as JCuda's {@link CudaException} naming
 * CUDA_ERROR_OUT_OF_MEMORY (from cuMemAlloc when a task thread's workspace grows, possibly wrapped), so that is what
 * is matched: the exception itself or any of its causes.
 */
public final class OutOfDeviceMemory {
    static final String CUDA_CODE = "CUDA_ERROR_OUT_OF_MEMORY";

    private OutOfDeviceMemory() {}

    /** Whether e, or one of its causes, is a CUDA out-of-memory error. */
    public static boolean is(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause())
            if (t instanceof CudaException && t.getMessage() != null && t.getMessage().contains(CUDA_CODE)) return true;
        return false;
    }

    /** The CUDA error's own message (what could not be allocated, and how much was free). */
    static String message(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause())
            if (t instanceof CudaException && t.getMessage() != null && t.getMessage().contains(CUDA_CODE)) return t.getMessage();
        return String.valueOf(e.getMessage());
    }

    /**
     * Frees the calling thread's device workspace after a failed pass: it may have been half re-allocated when the
     * allocation failed, and the next, smaller pass allocates a fresh one of its own size.
     */
    static void release(Engine engine) {
        if (engine instanceof GpuEngine g) g.releaseThread();
    }
}
