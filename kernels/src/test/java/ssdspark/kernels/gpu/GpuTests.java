package ssdspark.kernels.gpu;

import org.junit.jupiter.api.Assumptions;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.fail;

/** Shared helpers of the GPU twin tests: the device (or a visible skip), random data, comparisons. */
final class GpuTests {
    private GpuTests() {}

    /** CUDA device from -Dssd.gpu.device (default 0); skips the test with the reason when there is none. */
    static GpuDevice device() {
        int ord = Integer.getInteger("ssd.gpu.device", 0);
        String why = Cuda.unavailableReason(ord);
        Assumptions.assumeTrue(why == null, () -> "no CUDA device: " + why);
        return Cuda.device(ord);
    }

    static float[] randn(SplittableRandom r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (gauss(r) * scale);
        return a;
    }

    static float[] uniform(SplittableRandom r, int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return a;
    }

    static double gauss(SplittableRandom r) {
        double u = r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    static DeviceBuffer upload(GpuStream s, float[] a) {
        DeviceBuffer b = s.device().alloc(4L * a.length);
        s.upload(a, b.ptr());
        return b;
    }

    static DeviceBuffer upload(GpuStream s, int[] a) {
        DeviceBuffer b = s.device().alloc(4L * a.length);
        s.upload(a, b.ptr());
        return b;
    }

    static DeviceBuffer uploadHalf(GpuStream s, DType t, float[] a, int rows, int cols) {
        short[] h = t.pack(a, 0, rows, cols);
        DeviceBuffer b = s.device().alloc(2L * h.length);
        s.upload(h, 0, h.length, b.ptr());
        return b;
    }

    static DeviceBuffer uploadBf16(GpuStream s, float[] a, int rows, int cols) {
        short[] h = Bf16.pack(a, 0, rows, cols);
        DeviceBuffer b = s.device().alloc(2L * h.length);
        s.upload(h, 0, h.length, b.ptr());
        return b;
    }

    /** Element (r, col) of a pre-tiled bf16 matrix of npad rows: common.cuh's tiled_index, which GpuGemm.pretile makes. */
    static long tiledIndex(long r, int col, int npad) {
        return (((long) (col >> 6) * npad + r) << 6) + 8L * (((col >> 3) & 7) ^ (int) (r & 7)) + (col & 7);
    }

    /** The [rows][cols] floats of a pre-tiled bf16 matrix on the device (GpuGemm.tiledBytes(rows, cols) bytes). */
    static float[] downloadTiled(GpuStream s, DeviceBuffer b, int rows, int cols) {
        short[] h = new short[(int) (GpuGemm.tiledBytes(rows, cols) / 2)];
        s.download(b.ptr(), h, 0, h.length);
        int npad = GpuGemm.tiledRows(rows);
        float[] out = new float[rows * cols];
        for (int t = 0; t < rows; t++)
            for (int j = 0; j < cols; j++) out[t * cols + j] = Bf16.toFloat(h[(int) tiledIndex(t, j, npad)]);
        return out;
    }

    /** |got - want| <= atol + rtol*|want| everywhere; the message names the worst element. */
    static void close(String what, float[] want, float[] got, double atol, double rtol) {
        if (want.length != got.length) fail(what + ": length " + got.length + " != " + want.length);
        double worst = -1, maxAbs = 0;
        int wi = -1;
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs((double) got[i] - want[i]);
            if (Double.isNaN(got[i]) != Double.isNaN(want[i])) d = Double.POSITIVE_INFINITY;
            else if (Double.isNaN(got[i])) d = 0;
            maxAbs = Math.max(maxAbs, d);
            double excess = d - (atol + rtol * Math.abs(want[i]));
            if (excess > worst) { worst = excess; wi = i; }
        }
        System.out.printf("  %-48s max|diff| %.3g over %d values%n", what, maxAbs, want.length);
        if (worst > 0)
            fail(String.format("%s: element %d is %s, expected %s (|diff| %.3g > %.3g + %.3g*|want|; max |diff| %.3g)",
                    what, wi, got[wi], want[wi], Math.abs(got[wi] - want[wi]), atol, rtol, rtol, maxAbs));
    }

    static void close(String what, double[] want, double[] got, double atol, double rtol) {
        float[] a = new float[want.length], b = new float[got.length];
        for (int i = 0; i < a.length; i++) a[i] = (float) want[i];
        for (int i = 0; i < b.length; i++) b[i] = (float) got[i];
        close(what, a, b, atol, rtol);
    }
}
