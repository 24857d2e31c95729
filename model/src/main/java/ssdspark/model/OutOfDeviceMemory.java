package ssdspark.model;

import jcuda.CudaException;
import ssdspark.kernels.gpu.OutOfDeviceMemoryException;
import ssdspark.model.gpu.GpuEngine;

/**
 * Recognises an engine pass that failed because the GPU ran out of memory, so {@link DocumentRunner} can split the
 * pass instead of failing the task. Matched in the exception or any of its causes:
 * <ul>
 * <li>JCuda's {@link CudaException} naming CUDA_ERROR_OUT_OF_MEMORY: the GPU engine's buffers from cuMemAlloc (when a
 *     task thread's workspace grows);</li>
 * <li>{@link OutOfDeviceMemoryException}: any other {@link ssdspark.kernels.gpu.DeviceMemory} out of memory (RMM's
 *     {@code rmm::out_of_memory}, which cuDF throws as java.lang.OutOfMemoryError, is turned into one);</li>
 * <li>the RAPIDS Accelerator's GPU out-of-memory exceptions, by class name (model does not depend on the RAPIDS jar):
 *     {@value #RAPIDS_GPU_OOM} and its subclasses GpuRetryOOM and GpuSplitAndRetryOOM, thrown by its RMM adaptor
 *     (RmmSpark) when a task thread's allocation must wait for, or give way to, other tasks. Splitting the pass, after
 *     releasing the thread's workspace, is the retry the RAPIDS retry framework asks for.</li>
 * </ul>
 * The JVM's own OutOfMemoryError (heap) is not matched: smaller passes would not help.
 */
public final class OutOfDeviceMemory {
    static final String CUDA_CODE = "CUDA_ERROR_OUT_OF_MEMORY";
    /** The RAPIDS Accelerator's (spark-rapids-jni) base class of GPU out-of-memory exceptions. */
    static final String RAPIDS_GPU_OOM = "com.nvidia.spark.rapids.jni.GpuOOM";

    private OutOfDeviceMemory() {}

    /** Whether e, or one of its causes, is the GPU running out of memory. */
    public static boolean is(Throwable e) { return find(e) != null; }

    /** The out-of-memory error's own message (what could not be allocated, and how much was free). */
    static String message(Throwable e) {
        Throwable t = find(e);
        return String.valueOf((t != null ? t : e).getMessage());
    }

    private static Throwable find(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause())
            if (isItself(t)) return t;
        return null;
    }

    private static boolean isItself(Throwable t) {
        if (t instanceof OutOfDeviceMemoryException) return true;
        if (t instanceof CudaException) return t.getMessage() != null && t.getMessage().contains(CUDA_CODE);
        for (Class<?> c = t.getClass(); c != null; c = c.getSuperclass())
            if (c.getName().equals(RAPIDS_GPU_OOM)) return true;
        return false;
    }

    /**
     * Frees the calling thread's device workspace after a failed pass: it may have been half re-allocated when the
     * allocation failed, and the next, smaller pass allocates a fresh one of its own size.
     */
    static void release(Engine engine) {
        if (engine instanceof GpuEngine g) g.releaseThread();
    }
}
