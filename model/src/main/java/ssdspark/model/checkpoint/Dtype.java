package ssdspark.model.checkpoint;

import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.ShortBuffer;
import java.util.Map;

/**
 * The element types we can widen to float32, plus the byte sizes of the ones we can only skip over
 * (so headers can still be validated when a checkpoint carries, say, an int64 buffer we never read).
 */
public enum Dtype {
    F32(4), F16(2), BF16(2), F64(8);

    public final int size;

    Dtype(int size) { this.size = size; }

    /**
     * safetensors dtype names → element size in bits (the reference's list, sub-byte floats included); types not
     * in {@link Dtype} are validated but not readable.
     */
    private static final Map<String, Integer> SAFETENSORS_BITS = Map.ofEntries(
            Map.entry("F64", 64), Map.entry("F32", 32), Map.entry("F16", 16), Map.entry("BF16", 16),
            Map.entry("I64", 64), Map.entry("U64", 64), Map.entry("I32", 32), Map.entry("U32", 32),
            Map.entry("I16", 16), Map.entry("U16", 16), Map.entry("I8", 8), Map.entry("U8", 8),
            Map.entry("BOOL", 8), Map.entry("F8_E4M3", 8), Map.entry("F8_E5M2", 8), Map.entry("F8_E8M0", 8),
            Map.entry("F6_E2M3", 6), Map.entry("F6_E3M2", 6), Map.entry("F4", 4), Map.entry("C64", 64));

    /** torch's typed storage classes (torch.FloatStorage ...) → size in bytes. */
    private static final Map<String, Integer> TORCH_STORAGE_SIZES = Map.ofEntries(
            Map.entry("DoubleStorage", 8), Map.entry("FloatStorage", 4), Map.entry("HalfStorage", 2),
            Map.entry("BFloat16Storage", 2), Map.entry("LongStorage", 8), Map.entry("IntStorage", 4),
            Map.entry("ShortStorage", 2), Map.entry("CharStorage", 1), Map.entry("ByteStorage", 1),
            Map.entry("BoolStorage", 1), Map.entry("ComplexFloatStorage", 8), Map.entry("ComplexDoubleStorage", 16),
            Map.entry("QInt8Storage", 1), Map.entry("QUInt8Storage", 1), Map.entry("QInt32Storage", 4),
            Map.entry("UntypedStorage", 1));

    /** The readable type for a safetensors dtype name, or null. */
    public static Dtype ofSafetensors(String name) {
        switch (name) {
            case "F32": return F32;
            case "F16": return F16;
            case "BF16": return BF16;
            case "F64": return F64;
            default: return null;
        }
    }

    /** Bits per element of a safetensors dtype, or 0 when the name is unknown. */
    public static int safetensorsBits(String name) { return SAFETENSORS_BITS.getOrDefault(name, 0); }

    /** The readable type for a torch storage class name (e.g. "BFloat16Storage"), or null. */
    public static Dtype ofTorchStorage(String name) {
        switch (name) {
            case "FloatStorage": return F32;
            case "HalfStorage": return F16;
            case "BFloat16Storage": return BF16;
            case "DoubleStorage": return F64;
            default: return null;
        }
    }

    /** Byte size of a torch storage class's element, or 0 when unknown. */
    public static int torchStorageSize(String name) { return TORCH_STORAGE_SIZES.getOrDefault(name, 0); }

    // ---- conversions -------------------------------------------------------------------------------------

    /** All 65536 half-precision values widened once; exact, so a table lookup is the conversion. */
    private static final float[] HALF = new float[1 << 16];

    static {
        for (int h = 0; h < HALF.length; h++) HALF[h] = halfBitsToFloatSlow(h);
    }

    /** IEEE 754 binary16 bits → float, exact for normals, subnormals, ±0, ±inf and NaN (payload kept). */
    public static float halfBitsToFloat(int bits) { return HALF[bits & 0xFFFF]; }

    private static float halfBitsToFloatSlow(int h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0x1F) return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));   // inf / NaN
        if (exp == 0) {                                                                     // ±0 / subnormal
            float v = mant * 0x1p-24f;                                                      // exact: mant < 2^10
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** bfloat16 bits are the top half of a float32. */
    public static float bf16BitsToFloat(int bits) { return Float.intBitsToFloat((bits & 0xFFFF) << 16); }

    /** Decodes n elements from src (already in the right byte order, positioned at the first) into dst[off..]. */
    void decode(ByteBuffer src, float[] dst, int off, int n) {
        switch (this) {
            case F32:
                src.asFloatBuffer().get(dst, off, n);
                return;
            case F64: {
                DoubleBuffer d = src.asDoubleBuffer();
                for (int i = 0; i < n; i++) dst[off + i] = (float) d.get(i);
                return;
            }
            default: {
                ShortBuffer s = src.asShortBuffer();
                if (this == F16) for (int i = 0; i < n; i++) dst[off + i] = HALF[s.get(i) & 0xFFFF];
                else for (int i = 0; i < n; i++) dst[off + i] = bf16BitsToFloat(s.get(i));
            }
        }
    }

    /** One element at an absolute byte index of src. */
    float decodeAt(ByteBuffer src, int byteIndex) {
        switch (this) {
            case F32: return src.getFloat(byteIndex);
            case F64: return (float) src.getDouble(byteIndex);
            case F16: return HALF[src.getShort(byteIndex) & 0xFFFF];
            default: return bf16BitsToFloat(src.getShort(byteIndex));
        }
    }
}
