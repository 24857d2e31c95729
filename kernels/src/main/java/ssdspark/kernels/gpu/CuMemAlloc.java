package ssdspark.kernels.gpu;

import jcuda.CudaException;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

import java.util.concurrent.atomic.AtomicLong;

/** {@link DeviceMemory} from the CUDA driver: cuMemAlloc, and cuMemFree (which waits for the device's queued work). */
final class CuMemAlloc implements DeviceMemory {
    private final AtomicLong allocated = new AtomicLong();

    @Override
    public Allocation allocate(GpuDevice device, long bytes) {
        Addressed p = new Addressed();
        try {
            JCudaDriver.cuMemAlloc(p, bytes);
        } catch (CudaException e) {
            long[] mem = device.memoryInfo();
            throw new CudaException("cannot allocate " + DeviceBuffer.mib(bytes) + " on " + device.describe() + " ("
                    + DeviceBuffer.mib(mem[0]) + " free of " + DeviceBuffer.mib(mem[1]) + "): " + e.getMessage(), e);
        }
        allocated.addAndGet(bytes);
        return new Allocation() {
            @Override public long address() { return p.address(); }

            @Override public CUdeviceptr pointer() { return p; }

            @Override public void free() {
                JCudaDriver.cuMemFree(p);
                allocated.addAndGet(-bytes);
            }
        };
    }

    @Override public long allocatedBytes() { return allocated.get(); }

    @Override public String describe() { return "cuMemAlloc"; }

    /** A CUdeviceptr that can say its address (JCuda keeps it protected). */
    private static final class Addressed extends CUdeviceptr {
        long address() { return getNativePointer(); }
    }
}
