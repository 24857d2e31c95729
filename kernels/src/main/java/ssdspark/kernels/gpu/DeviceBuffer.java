package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * Device memory from its device's {@link DeviceMemory} (cuMemAlloc unless the device was told otherwise), freed by
 * {@link #close()} through the allocator it came from. Offsets are in bytes unless the method says elements.
 */
public final class DeviceBuffer implements AutoCloseable {
    private final GpuDevice device;
    private final long bytes;
    private final DeviceMemory.Allocation allocation;
    private CUdeviceptr ptr;

    private DeviceBuffer(GpuDevice device, DeviceMemory.Allocation allocation, long bytes) {
        this.device = device;
        this.allocation = allocation;
        this.ptr = allocation.pointer();
        this.bytes = bytes;
    }

    static DeviceBuffer alloc(GpuDevice device, long bytes) {
        DeviceMemory memory = device.memory();
        device.makeCurrent();
        return new DeviceBuffer(device, memory.allocate(device, Math.max(bytes, 16)), bytes);
    }

    static String mib(long b) { return String.format("%.1f MiB", b / 1048576.0); }

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
    public long address() {
        ptr();
        return allocation.address();
    }

    /** A pointer to a raw device address of the current context (memory this class does not own). */
    public static CUdeviceptr pointerTo(long address) {
        if (address == 0) throw new IllegalArgumentException("null device address");
        return new CUdeviceptr().withByteOffset(address); // JCuda passes native pointer + byte offset
    }

    @Override
    public void close() {
        if (ptr != null) {
            device.makeCurrent();
            ptr = null;
            allocation.free();
        }
    }
}
