package ssdspark.kernels.gpu;

import jcuda.CudaException;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/** Device memory (cuMemAlloc) freed by {@link #close()}. Offsets are in bytes unless the method says elements. */
public final class DeviceBuffer implements AutoCloseable {
    private final GpuDevice device;
    private final long bytes;
    private CUdeviceptr ptr;

    private DeviceBuffer(GpuDevice device, CUdeviceptr ptr, long bytes) {
        this.device = device;
        this.ptr = ptr;
        this.bytes = bytes;
    }

    static DeviceBuffer alloc(GpuDevice device, long bytes) {
        device.makeCurrent();
        CUdeviceptr p = new Addressed();
        try {
            JCudaDriver.cuMemAlloc(p, Math.max(bytes, 16));
        } catch (CudaException e) {
            long[] mem = device.memoryInfo();
            throw new CudaException("cannot allocate " + mb(bytes) + " on " + device.describe() + " (" + mb(mem[0])
                    + " free of " + mb(mem[1]) + "): " + e.getMessage(), e);
        }
        return new DeviceBuffer(device, p, bytes);
    }

    private static String mb(long b) { return String.format("%.1f MiB", b / 1048576.0); }

    public long bytes() { return bytes; }

    public GpuDevice device() { return device; }

    public CUdeviceptr ptr() {
        if (ptr == null) throw new IllegalStateException("device buffer already closed");
        return ptr;
    }

    /** Pointer to byte offset {@code off}. */
    public CUdeviceptr at(long off) {
        if (off < 0 || off > bytes) throw new IndexOutOfBoundsException("offset " + off + " outside " + bytes + " bytes");
        return ptr().withByteOffset(off);
    }

    /** Pointer to 4-byte element {@code index} (float / int). */
    public CUdeviceptr at4(long index) { return at(4 * index); }

    /** The raw device address, for code that speaks addresses (e.g. cuDF's {@code getAddress()}). */
    public long address() { return ((Addressed) ptr()).address(); }

    /** A pointer to a raw device address of the current context (memory this class does not own). */
    public static CUdeviceptr pointerTo(long address) {
        if (address == 0) throw new IllegalArgumentException("null device address");
        return new CUdeviceptr().withByteOffset(address); // JCuda passes native pointer + byte offset
    }

    /** A CUdeviceptr that can say its address (JCuda keeps it protected). */
    private static final class Addressed extends CUdeviceptr {
        long address() { return getNativePointer(); }
    }

    @Override
    public void close() {
        if (ptr != null) {
            device.makeCurrent();
            JCudaDriver.cuMemFree(ptr);
            ptr = null;
        }
    }
}
