package ssdspark.kernels.gpu;

import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUfunction;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A non-blocking CUDA stream with a pinned host staging area for transfers; one per task thread (not
 * thread-safe). Uploads are queued on the stream through the staging area (it is reused once the stream has
 * drained past them); downloads wait for the stream.
 *
 * <p>With {@link #setProfiling(boolean)} every launch is bracketed by events and {@link #profile()} reports the
 * GPU time per kernel name.
 */
public final class GpuStream implements AutoCloseable {
    private static final long STAGING = 16L << 20;
    /** Staging of a side stream ({@link GpuDevice#newSideStream}), which only launches. */
    static final long SIDE_STAGING = 64L << 10;

    private final GpuDevice device;
    private CUstream stream;
    private Pointer staging;
    private ByteBuffer stagingBuf;
    private final long capacity;  // staging bytes
    private long used;
    private boolean profiling;
    private final List<Object[]> pending = new ArrayList<>();   // {name, start, end}
    private final Map<String, double[]> profile = new LinkedHashMap<>(); // name -> {ms, launches}

    GpuStream(GpuDevice device) { this(device, STAGING); }

    GpuStream(GpuDevice device, long capacity) {
        this.device = device;
        this.capacity = capacity;
        device.makeCurrent();
        stream = new CUstream();
        JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING);
        staging = new Pointer();
        JCudaDriver.cuMemAllocHost(staging, capacity);
        stagingBuf = staging.getByteBuffer(0, capacity).order(ByteOrder.nativeOrder());
    }

    public GpuDevice device() { return device; }

    public CUstream handle() { return stream; }

    /**
     * Work queued on this stream from now on starts only after everything queued on {@code other} so far (an event
     * recorded there and waited for here; neither host thread blocks).
     */
    public void waitFor(GpuStream other) {
        device.makeCurrent();
        CUevent e = new CUevent();
        JCudaDriver.cuEventCreate(e, CUevent_flags.CU_EVENT_DISABLE_TIMING);
        JCudaDriver.cuEventRecord(e, other.stream);
        JCudaDriver.cuStreamWaitEvent(stream, e, 0);
        JCudaDriver.cuEventDestroy(e); // released once the wait is done
    }

    /** Waits for everything queued on this stream. */
    public void sync() {
        device.makeCurrent();
        JCudaDriver.cuStreamSynchronize(stream);
        used = 0;
        if (!pending.isEmpty()) collectProfile();
    }

    // ---------------------------------------------------------------- launches

    /**
     * Launches {@code kernel} on this stream. Arguments: {@link CUdeviceptr} or {@link DeviceBuffer} (a device
     * pointer), null (a null device pointer), Integer, Long, Float.
     */
    public void launch(String kernel, int gx, int gy, int gz, int block, int sharedBytes, Object... args) {
        if (gx <= 0 || gy <= 0 || gz <= 0) return; // nothing to do
        if (gy > 65535 || gz > 65535)
            throw new IllegalArgumentException(kernel + ": grid " + gx + "x" + gy + "x" + gz + " exceeds 65535 in y/z");
        device.makeCurrent();
        CUfunction f = device.function(kernel);
        device.ensureSharedMemory(kernel, f, sharedBytes);
        NativePointerObject[] ps = new NativePointerObject[args.length];
        for (int i = 0; i < args.length; i++) ps[i] = param(kernel, i, args[i]);
        CUevent e0 = null, e1 = null;
        if (profiling) {
            e0 = new CUevent();
            e1 = new CUevent();
            JCudaDriver.cuEventCreate(e0, 0);
            JCudaDriver.cuEventCreate(e1, 0);
            JCudaDriver.cuEventRecord(e0, stream);
        }
        JCudaDriver.cuLaunchKernel(f, gx, gy, gz, block, 1, 1, sharedBytes, stream, Pointer.to(ps), null);
        if (profiling) {
            JCudaDriver.cuEventRecord(e1, stream);
            pending.add(new Object[] {kernel, e0, e1});
        }
    }

    private static Pointer param(String kernel, int i, Object a) {
        if (a == null) return Pointer.to(new CUdeviceptr());
        if (a instanceof DeviceBuffer) return Pointer.to(((DeviceBuffer) a).ptr());
        if (a instanceof CUdeviceptr) return Pointer.to((CUdeviceptr) a);
        if (a instanceof Integer) return Pointer.to(new int[] {(Integer) a});
        if (a instanceof Long) return Pointer.to(new long[] {(Long) a});
        if (a instanceof Float) return Pointer.to(new float[] {(Float) a});
        throw new IllegalArgumentException(kernel + ": argument " + i + " has unsupported type " + a.getClass().getName());
    }

    public void setProfiling(boolean on) { profiling = on; }

    /** GPU milliseconds and launch counts per kernel since the last {@link #resetProfile()} (after a sync). */
    public Map<String, double[]> profile() {
        sync();
        return new LinkedHashMap<>(profile);
    }

    public void resetProfile() {
        sync();
        profile.clear();
    }

    private void collectProfile() {
        float[] ms = new float[1];
        for (Object[] p : pending) {
            CUevent a = (CUevent) p[1], b = (CUevent) p[2];
            JCudaDriver.cuEventElapsedTime(ms, a, b);
            double[] acc = profile.computeIfAbsent((String) p[0], k -> new double[2]);
            acc[0] += ms[0];
            acc[1] += 1;
            JCudaDriver.cuEventDestroy(a);
            JCudaDriver.cuEventDestroy(b);
        }
        pending.clear();
    }

    // ---------------------------------------------------------------- transfers

    private long reserve(long wanted) {
        used = (used + 15) & ~15L;
        if (used >= capacity) sync();
        return Math.min(wanted, capacity - used);
    }

    private void copyUp(CUdeviceptr dst, long dstOff, long n) {
        JCudaDriver.cuMemcpyHtoDAsync(dst.withByteOffset(dstOff), staging.withByteOffset(used), n, stream);
        used += n;
    }

    public void upload(float[] src, int off, int n, CUdeviceptr dst) {
        device.makeCurrent();
        long done = 0;
        while (done < n) {
            int k = (int) (reserve(4L * (n - done)) / 4);
            stagingBuf.position((int) used);
            stagingBuf.slice().order(ByteOrder.nativeOrder()).asFloatBuffer().put(src, off + (int) done, k);
            copyUp(dst, 4 * done, 4L * k);
            done += k;
        }
    }

    public void upload(int[] src, int off, int n, CUdeviceptr dst) {
        device.makeCurrent();
        long done = 0;
        while (done < n) {
            int k = (int) (reserve(4L * (n - done)) / 4);
            stagingBuf.position((int) used);
            stagingBuf.slice().order(ByteOrder.nativeOrder()).asIntBuffer().put(src, off + (int) done, k);
            copyUp(dst, 4 * done, 4L * k);
            done += k;
        }
    }

    public void upload(short[] src, int off, int n, CUdeviceptr dst) {
        device.makeCurrent();
        long done = 0;
        while (done < n) {
            int k = (int) (reserve(2L * (n - done)) / 2);
            stagingBuf.position((int) used);
            stagingBuf.slice().order(ByteOrder.nativeOrder()).asShortBuffer().put(src, off + (int) done, k);
            copyUp(dst, 2 * done, 2L * k);
            done += k;
        }
    }

    public void upload(double[] src, CUdeviceptr dst) {
        device.makeCurrent();
        long done = 0, n = src.length;
        while (done < n) {
            int k = (int) (reserve(8L * (n - done)) / 8);
            stagingBuf.position((int) used);
            stagingBuf.slice().order(ByteOrder.nativeOrder()).asDoubleBuffer().put(src, (int) done, k);
            copyUp(dst, 8 * done, 8L * k);
            done += k;
        }
    }

    public void upload(float[] src, CUdeviceptr dst) { upload(src, 0, src.length, dst); }

    public void upload(int[] src, CUdeviceptr dst) { upload(src, 0, src.length, dst); }

    /** Queues a device-to-device copy of {@code bytes} bytes (same device). */
    public void copy(CUdeviceptr src, CUdeviceptr dst, long bytes) {
        if (bytes <= 0) return;
        device.makeCurrent();
        JCudaDriver.cuMemcpyDtoDAsync(dst, src, bytes, stream);
    }

    private ByteBuffer fetch(CUdeviceptr src, long srcOff, long bytes) {
        JCudaDriver.cuMemcpyDtoHAsync(staging, src.withByteOffset(srcOff), bytes, stream);
        sync();
        stagingBuf.position(0);
        return stagingBuf.slice().order(ByteOrder.nativeOrder());
    }

    /** Copies n floats from the device into dst[off..] once the stream has reached this point. */
    public void download(CUdeviceptr src, float[] dst, int off, int n) {
        device.makeCurrent();
        sync();
        long done = 0;
        while (done < n) {
            int k = (int) Math.min(n - done, capacity / 4);
            fetch(src, 4 * done, 4L * k).asFloatBuffer().get(dst, off + (int) done, k);
            done += k;
        }
    }

    public void download(CUdeviceptr src, double[] dst, int off, int n) {
        device.makeCurrent();
        sync();
        long done = 0;
        while (done < n) {
            int k = (int) Math.min(n - done, capacity / 8);
            fetch(src, 8 * done, 8L * k).asDoubleBuffer().get(dst, off + (int) done, k);
            done += k;
        }
    }

    public void download(CUdeviceptr src, int[] dst, int off, int n) {
        device.makeCurrent();
        sync();
        long done = 0;
        while (done < n) {
            int k = (int) Math.min(n - done, capacity / 4);
            fetch(src, 4 * done, 4L * k).asIntBuffer().get(dst, off + (int) done, k);
            done += k;
        }
    }

    public void download(CUdeviceptr src, short[] dst, int off, int n) {
        device.makeCurrent();
        sync();
        long done = 0;
        while (done < n) {
            int k = (int) Math.min(n - done, capacity / 2);
            fetch(src, 2 * done, 2L * k).asShortBuffer().get(dst, off + (int) done, k);
            done += k;
        }
    }

    public float[] downloadFloats(CUdeviceptr src, int n) {
        float[] out = new float[n];
        download(src, out, 0, n);
        return out;
    }

    /** Zero fills {@code bytes} bytes at dst (queued). */
    public void zero(CUdeviceptr dst, long bytes) {
        if (bytes <= 0) return;
        device.makeCurrent();
        JCudaDriver.cuMemsetD8Async(dst, (byte) 0, bytes, stream);
    }

    @Override
    public void close() {
        if (stream == null) return;
        device.makeCurrent();
        JCudaDriver.cuStreamSynchronize(stream);
        for (Object[] p : pending) {
            JCudaDriver.cuEventDestroy((CUevent) p[1]);
            JCudaDriver.cuEventDestroy((CUevent) p[2]);
        }
        pending.clear();
        JCudaDriver.cuStreamDestroy(stream);
        JCudaDriver.cuMemFreeHost(staging);
        stream = null;
        staging = null;
        stagingBuf = null;
    }
}
