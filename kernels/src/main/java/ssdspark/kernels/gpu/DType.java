package ssdspark.kernels.gpu;

/**
 * Element type of the matrices the GEMM / LM-head kernels read: fp32 (SIMT), or bf16 / fp16 (tensor cores, fp32
 * accumulation; rows strided by a multiple of 8 and zero padded). The kernel names end in {@link #suffix}.
 */
public enum DType {
    F32("f32", 4), BF16("bf16", 2), F16("f16", 2);

    public final String suffix;
    public final int bytes;

    DType(String suffix, int bytes) {
        this.suffix = suffix;
        this.bytes = bytes;
    }

    public boolean isHalf() { return bytes == 2; }

    /** Row stride (elements) for rows of k elements: k itself for fp32, k rounded up to a multiple of 8 otherwise. */
    public int ld(int k) { return isHalf() ? (k + 7) & ~7 : k; }

    public short fromFloat(float f) {
        switch (this) {
            case BF16: return Bf16.fromFloat(f);
            case F16: return Fp16.fromFloat(f);
            default: throw new IllegalStateException("fp32 has no 16-bit encoding");
        }
    }

    public float toFloat(short h) { return this == F16 ? Fp16.toFloat(h) : Bf16.toFloat(h); }

    /** f rounded to this type (identity for fp32). */
    public float round(float f) { return this == F32 ? f : toFloat(fromFloat(f)); }

    public float[] round(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) r[i] = round(a[i]);
        return r;
    }

    /** src[rows][cols] (from offset off) as 16-bit rows of stride ld(cols), zero padded. */
    public short[] pack(float[] src, int off, int rows, int cols) {
        int ld = ld(cols);
        short[] out = new short[Math.multiplyExact(rows, ld)];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                float v = src[off + r * cols + c];
                if (this == F16 && !(Math.abs(v) <= Fp16.MAX) && !Float.isNaN(v))
                    throw new IllegalArgumentException("value " + v + " (row " + r + ", column " + c + ") is outside fp16's range; use bf16");
                out[r * ld + c] = fromFloat(v);
            }
        return out;
    }
}
