package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * Where a {@link GpuDevice}'s buffers come from: cuMemAlloc by default ({@link #cuMemAlloc()}), or another allocator
 * that owns the GPU's memory in this process (the RAPIDS Accelerator's RMM pool), chosen per device with
 * {@link GpuDevice#useMemory}. Every {@link DeviceBuffer} keeps the {@link Allocation} it came from and is freed
 * through it, so buffers allocated before a switch stay valid and go back where they came from.
 */
public interface DeviceMemory {
    /**
     * At least {@code bytes} of memory on device (its context is current on the calling thread), usable at once by
     * any stream of that context. Throws {@link OutOfDeviceMemoryException}, a JCuda CudaException naming
     * CUDA_ERROR_OUT_OF_MEMORY, or the allocator's own out-of-memory exception when the device has none left.
     */
    Allocation allocate(GpuDevice device, long bytes);

    /** Bytes allocated through this and not yet freed. */
    long allocatedBytes();

    /** What it is, for logs and errors ("cuMemAlloc", "RMM"). */
    String describe();

    /** One allocation: its device address and how it is given back. */
    interface Allocation {
        long address();

        /**
         * Gives the memory back; called once, with the device's context current. Kernels and copies that use it may
         * still be queued on any stream of the context: an allocator that could hand the memory to someone else before
         * that work has run must wait for it first (cuMemFree does; a stream-ordered pool does not).
         */
        void free();

        /** The address as a JCuda pointer. */
        default CUdeviceptr pointer() { return DeviceBuffer.pointerTo(address()); }
    }

    /** The CUDA driver's cuMemAlloc/cuMemFree (what every device uses until told otherwise), with its own byte count. */
    static DeviceMemory cuMemAlloc() { return new CuMemAlloc(); }
}
