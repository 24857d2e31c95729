package ssdspark.kernels.gpu;

/** IEEE half precision on the host: round-to-nearest-even conversion (as __float2half_rn), subnormals included. */
public final class Fp16 {
    private Fp16() {}

    /** Largest finite half. */
    public static final float MAX = 65504f;

    public static short fromFloat(float f) {
        int b = Float.floatToRawIntBits(f);
        int sign = (b >>> 16) & 0x8000, abs = b & 0x7fffffff;
        if (abs >= 0x7f800000) return (short) (sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00)); // NaN, inf
        if (abs >= 0x477ff000) return (short) (sign | 0x7c00);                                // >= 65520 rounds to inf
        if (abs <= 0x33000000) return (short) sign;                                           // <= 2^-25 rounds to 0
        int e = abs >>> 23;
        if (e < 113) { // half subnormal: k * 2^-24
            int mant = (abs & 0x7fffff) | 0x800000, shift = 126 - e;
            int r = mant >>> shift, rem = mant & ((1 << shift) - 1), half = 1 << (shift - 1);
            if (rem > half || (rem == half && (r & 1) == 1)) r++;
            return (short) (sign | r);
        }
        int r = (abs - (112 << 23)) >>> 13, rem = abs & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (r & 1) == 1)) r++;
        return (short) (sign | r);
    }

    public static float toFloat(short h) {
        int s = (h & 0x8000) << 16, e = (h >>> 10) & 0x1f, m = h & 0x3ff;
        if (e == 0) {
            float v = m * 0x1p-24f;
            return s != 0 ? -v : v;
        }
        if (e == 31) return Float.intBitsToFloat(s | 0x7f800000 | (m << 13));
        return Float.intBitsToFloat(s | ((e + 112) << 23) | (m << 13));
    }

    public static float round(float f) { return toFloat(fromFloat(f)); }
}
