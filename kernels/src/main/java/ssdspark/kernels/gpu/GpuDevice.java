package ssdspark.kernels.gpu;

import jcuda.CudaException;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One CUDA device: its PRIMARY context (retained, so we share the GPU with RAPIDS and anything else in the
 * process), the kernels module (loaded with cuModuleLoadData), and the device's properties. Thread-safe;
 * obtained from {@link Cuda#device(int)} and kept for the JVM's lifetime.
 */
public final class GpuDevice {
    public final int ordinal;
    public final String name;
    public final int ccMajor, ccMinor, multiprocessors;
    public final long totalMemory;
    final CUdevice device;
    final CUcontext context;
    private final CUmodule module;
    private final Map<String, CUfunction> functions = new ConcurrentHashMap<>();
    private final Map<String, Integer> smemLimit = new ConcurrentHashMap<>();

    private GpuDevice(int ordinal, String name, int ccMajor, int ccMinor, int sms, long mem, CUdevice device,
                      CUcontext context, CUmodule module) {
        this.ordinal = ordinal;
        this.name = name;
        this.ccMajor = ccMajor;
        this.ccMinor = ccMinor;
        this.multiprocessors = sms;
        this.totalMemory = mem;
        this.device = device;
        this.context = context;
        this.module = module;
    }

    static GpuDevice open(int ordinal, byte[] fatbin) {
        CUdevice dev = new CUdevice();
        String name = "?";
        int maj = 0, min = 0;
        try {
            JCudaDriver.cuDeviceGet(dev, ordinal);
            byte[] nb = new byte[256];
            JCudaDriver.cuDeviceGetName(nb, nb.length, dev);
            int len = 0;
            while (len < nb.length && nb[len] != 0) len++;
            name = new String(nb, 0, len, StandardCharsets.UTF_8);
            maj = attr(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
            min = attr(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
            if (maj < 8)
                throw new CudaUnavailableException("CUDA device " + ordinal + " (" + name + ", sm_" + maj + min
                        + ") is too old: the kernels need compute capability 8.0 or newer (bf16 tensor cores, cp.async)");
            int sms = attr(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
            long[] mem = new long[1];
            JCudaDriver.cuDeviceTotalMem(mem, dev);
            CUcontext ctx = new CUcontext();
            JCudaDriver.cuDevicePrimaryCtxRetain(ctx, dev);
            JCudaDriver.cuCtxSetCurrent(ctx);
            CUmodule mod = new CUmodule();
            try {
                JCudaDriver.cuModuleLoadData(mod, fatbin);
            } catch (CudaException e) {
                JCudaDriver.cuDevicePrimaryCtxRelease(dev);
                throw new CudaUnavailableException("cannot load the kernels on CUDA device " + ordinal + " (" + name
                        + ", sm_" + maj + min + "): " + e.getMessage()
                        + "; rebuild the kernels module with an nvcc that targets this GPU (SSD_CUDA_ARCHS)", e);
            }
            return new GpuDevice(ordinal, name, maj, min, sms, mem[0], dev, ctx, mod);
        } catch (CudaException e) {
            throw new CudaUnavailableException("CUDA device " + ordinal + " (" + name + ") cannot be opened: " + e.getMessage(), e);
        }
    }

    private static int attr(CUdevice dev, int a) {
        int[] v = new int[1];
        JCudaDriver.cuDeviceGetAttribute(v, a, dev);
        return v[0];
    }

    /** Binds this device's primary context to the calling thread (cheap; every entry point calls it). */
    public void makeCurrent() { JCudaDriver.cuCtxSetCurrent(context); }

    /** A kernel of the fatbin by its extern "C" name. */
    CUfunction function(String kernel) {
        return functions.computeIfAbsent(kernel, k -> {
            makeCurrent();
            CUfunction f = new CUfunction();
            JCudaDriver.cuModuleGetFunction(f, module, k);
            return f;
        });
    }

    /** Raises the kernel's dynamic shared-memory limit once when it asks for more than the default 48 KB. */
    void ensureSharedMemory(String kernel, CUfunction f, int bytes) {
        if (bytes <= 48 * 1024) return;
        Integer have = smemLimit.get(kernel);
        if (have != null && have >= bytes) return;
        JCudaDriver.cuFuncSetAttribute(f, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
        smemLimit.put(kernel, bytes);
    }

    private final Map<String, Integer> resident = new ConcurrentHashMap<>();

    /** How many CTAs of the kernel (threads, dynamic shared memory) fit on one multiprocessor; asked of the driver once. */
    int residentCtas(String kernel, int threads, int smemBytes) {
        return resident.computeIfAbsent(kernel + "/" + threads + "/" + smemBytes, k -> {
            CUfunction f = function(kernel);
            ensureSharedMemory(kernel, f, smemBytes);
            int[] n = new int[1];
            JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(n, f, threads, smemBytes);
            return Math.max(1, n[0]);
        });
    }

    private volatile Boolean wgmma;

    /**
     * Whether the loaded kernels run Hopper's warpgroup tensor-core code here: true on an sm_90 GPU when the fatbin
     * holds sm_90a machine code (build.sh's default); elsewhere the mma.sync kernels run. Asked of the GPU once.
     */
    public boolean hasWgmma() {
        Boolean w = wgmma;
        if (w == null) {
            if (ccMajor != 9 || ccMinor != 0) w = false;
            else try (GpuStream s = newStream(); DeviceBuffer flag = alloc(4)) {
                s.upload(new int[] {0}, flag.ptr());
                s.launch("probe_sm90a", 1, 1, 1, 1, 0, flag);
                int[] r = new int[1];
                s.download(flag.ptr(), r, 0, 1);
                w = r[0] == 1;
            }
            wgmma = w;
        }
        return w;
    }

    /** Free and total device memory in bytes. */
    public long[] memoryInfo() {
        makeCurrent();
        long[] free = new long[1], total = new long[1];
        JCudaDriver.cuMemGetInfo(free, total);
        return new long[] {free[0], total[0]};
    }

    private volatile DeviceMemory memory = DeviceMemory.cuMemAlloc();

    /** Device memory of at least bytes from this device's {@link #memory()}. */
    public DeviceBuffer alloc(long bytes) { return DeviceBuffer.alloc(this, bytes); }

    /** Where this device's new buffers come from (for the whole process: the device is shared). */
    public DeviceMemory memory() { return memory; }

    /**
     * Makes m the source of this device's new buffers and returns the one it replaces; buffers allocated before keep
     * their memory and are freed where they came from. For a process whose GPU memory belongs to an allocator such as
     * the RAPIDS Accelerator's RMM pool: install it before the engine allocates its weights.
     */
    public synchronized DeviceMemory useMemory(DeviceMemory m) {
        if (m == null) throw new IllegalArgumentException("device memory is null");
        DeviceMemory before = memory;
        memory = m;
        return before;
    }

    /** A new stream of this device (one per task thread). */
    public GpuStream newStream() { return new GpuStream(this); }

    /** A stream for launches beside another (see {@link GpuStream#waitFor}); its staging area is small. */
    public GpuStream newSideStream() { return new GpuStream(this, GpuStream.SIDE_STAGING); }

    /** "gpu:0 (NVIDIA H200, sm_90, 132 SMs)". */
    public String describe() {
        return "gpu:" + ordinal + " (" + name + ", sm_" + ccMajor + ccMinor + ", " + multiprocessors + " SMs)";
    }

    @Override public String toString() { return describe(); }
}
