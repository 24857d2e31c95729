package ssdspark.model.checkpoint;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Half and bfloat16 widening against known bit patterns and an independent arithmetic definition. */
class DtypeTest {
    private static void assertSameFloat(float want, float got, String what) {
        assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got), what + ": want " + want + " got " + got);
    }

    @Test
    void halfKnownPatterns() {
        assertSameFloat(1.0f, Dtype.halfBitsToFloat(0x3C00), "1.0");
        assertSameFloat(-2.0f, Dtype.halfBitsToFloat(0xC000), "-2.0");
        assertSameFloat(Float.POSITIVE_INFINITY, Dtype.halfBitsToFloat(0x7C00), "+inf");
        assertSameFloat(Float.NEGATIVE_INFINITY, Dtype.halfBitsToFloat(0xFC00), "-inf");
        assertSameFloat(Math.scalb(1f, -24), Dtype.halfBitsToFloat(0x0001), "smallest subnormal 2^-24");
        assertSameFloat(Math.scalb(1023f, -24), Dtype.halfBitsToFloat(0x03FF), "largest subnormal 1023*2^-24");
        assertSameFloat(Math.scalb(1f, -14), Dtype.halfBitsToFloat(0x0400), "smallest normal 2^-14");
        assertSameFloat(65504f, Dtype.halfBitsToFloat(0x7BFF), "largest finite");
        assertSameFloat(-0.0f, Dtype.halfBitsToFloat(0x8000), "-0");
        assertSameFloat(0.333251953125f, Dtype.halfBitsToFloat(0x3555), "nearest half to 1/3");
        assertTrue(Float.isNaN(Dtype.halfBitsToFloat(0x7E00)), "NaN");
    }

    /** Every half value against sign * 2^(e-15) * (1 + m/1024) (normal) or sign * m * 2^-24 (subnormal), in double. */
    @Test
    void halfAllPatternsMatchTheDefinition() {
        for (int h = 0; h < 1 << 16; h++) {
            int e = (h >> 10) & 31, m = h & 1023;
            double sign = (h & 0x8000) != 0 ? -1 : 1;
            float got = Dtype.halfBitsToFloat(h);
            if (e == 31) {
                if (m == 0) assertSameFloat((float) (sign * Double.POSITIVE_INFINITY), got, "inf " + h);
                else assertTrue(Float.isNaN(got), "NaN " + Integer.toHexString(h));
                continue;
            }
            double want = e == 0 ? sign * m * Math.pow(2, -24) : sign * Math.pow(2, e - 15) * (1 + m / 1024.0);
            assertSameFloat((float) want, got, "half 0x" + Integer.toHexString(h));
        }
    }

    @Test
    void bfloat16KnownPatterns() {
        assertSameFloat(1.0f, Dtype.bf16BitsToFloat(0x3F80), "1.0");
        assertSameFloat(-2.0f, Dtype.bf16BitsToFloat(0xC000), "-2.0");
        assertSameFloat(Float.POSITIVE_INFINITY, Dtype.bf16BitsToFloat(0x7F80), "+inf");
        assertSameFloat(Float.NEGATIVE_INFINITY, Dtype.bf16BitsToFloat(0xFF80), "-inf");
        assertSameFloat(Math.scalb(1f, -133), Dtype.bf16BitsToFloat(0x0001), "smallest subnormal 2^-133");
        assertSameFloat(0.15625f, Dtype.bf16BitsToFloat(0x3E20), "0.15625");
        assertSameFloat(-0.0f, Dtype.bf16BitsToFloat(0x8000), "-0");
        assertTrue(Float.isNaN(Dtype.bf16BitsToFloat(0x7FC0)), "NaN");
    }

    @Test
    void names() {
        assertEquals(Dtype.BF16, Dtype.ofSafetensors("BF16"));
        assertEquals(null, Dtype.ofSafetensors("I64"));
        assertEquals(64, Dtype.safetensorsBits("I64"));
        assertEquals(4, Dtype.safetensorsBits("F4"));
        assertEquals(0, Dtype.safetensorsBits("Q7"));
        assertEquals(Dtype.F16, Dtype.ofTorchStorage("HalfStorage"));
        assertEquals(null, Dtype.ofTorchStorage("LongStorage"));
        assertEquals(8, Dtype.torchStorageSize("LongStorage"));
    }
}
