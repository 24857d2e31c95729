package ssdspark.kernels.gpu;

/** bfloat16 on the host: round-to-nearest-even conversion (as __float2bfloat16_rn) and padded row packing. */
public final class Bf16 {
    private Bf16() {}

    public static short fromFloat(float f) {
        int b = Float.floatToRawIntBits(f);
        if ((b & 0x7fffffff) > 0x7f800000) return (short) ((b >>> 16) | 0x40); // NaN stays a (quiet) NaN
        b += 0x7fff + ((b >>> 16) & 1);
        return (short) (b >>> 16);
    }

    public static float toFloat(short h) { return Float.intBitsToFloat((h & 0xffff) << 16); }

    /** f rounded to the nearest bf16 value. */
    public static float round(float f) { return toFloat(fromFloat(f)); }

    public static float[] round(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) r[i] = round(a[i]);
        return r;
    }

    /** The row stride (elements) the bf16 kernels use for rows of k elements: k rounded up to a multiple of 8. */
    public static int ld(int k) { return (k + 7) & ~7; }

    /** src[rows][cols] (from offset off) -> bf16 rows of stride ld(cols), zero padded. */
    public static short[] pack(float[] src, int off, int rows, int cols) {
        int ld = ld(cols);
        short[] out = new short[Math.multiplyExact(rows, ld)];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) out[r * ld + c] = fromFloat(src[off + r * cols + c]);
        return out;
    }
}
