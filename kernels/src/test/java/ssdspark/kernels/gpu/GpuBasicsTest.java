package ssdspark.kernels.gpu;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** Host-side pieces that need no GPU (these run in CI), and the availability message. */
class GpuBasicsTest {
    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(1.0f, Bf16.round(1.0f));
        assertEquals((short) 0x3f80, Bf16.fromFloat(1.0f));
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even -> 1
        assertEquals(1.0f, Bf16.round(1.0f + 0x1p-8f));
        // 1 + 3*2^-8 is halfway between 1+2^-7 and 1+2^-6: ties to even -> 1+2^-6
        assertEquals(1.0f + 0x1p-6f, Bf16.round(1.0f + 3 * 0x1p-8f));
        assertEquals(1.0f + 0x1p-7f, Bf16.round(1.0f + 0x1p-7f + 0x1p-10f));
        assertTrue(Float.isNaN(Bf16.round(Float.NaN)));
        assertEquals(Float.POSITIVE_INFINITY, Bf16.round(Float.POSITIVE_INFINITY));
        assertEquals(-2.5f, Bf16.round(-2.5f));
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 10000; i++) {
            float f = (float) (r.nextDouble(-1e3, 1e3));
            float g = Bf16.round(f);
            assertTrue(Math.abs(g - f) <= Math.ulp(g) * 65536 / 2 + 1e-30, f + " -> " + g);
        }
        assertEquals(16, Bf16.ld(9));
        assertEquals(8, Bf16.ld(8));
        short[] p = Bf16.pack(new float[] {1, 2, 3, 4, 5, 6}, 0, 2, 3);
        assertEquals(16, p.length);
        assertEquals(Bf16.fromFloat(4), p[8]);
        assertEquals(0, p[3]);
    }

    @Test
    void fp16RoundsToNearestEven() {
        // every half value survives the round trip; values between two halves go to the nearest (ties to even)
        for (int b = 0; b < 65536; b++) {
            short h = (short) b;
            float f = Fp16.toFloat(h);
            if (Float.isNaN(f)) { assertTrue(Float.isNaN(Fp16.toFloat(Fp16.fromFloat(f)))); continue; }
            assertEquals(h, Fp16.fromFloat(f), "half 0x" + Integer.toHexString(b) + " = " + f);
            if ((b & 0x7c00) == 0x7c00 || (b & 0x7fff) == 0x7bff) continue; // inf/NaN, max
            float next = Fp16.toFloat((short) (b + 1));
            double mid = ((double) f + next) / 2;
            short expected = (b & 1) == 0 ? h : (short) (b + 1);
            assertEquals(expected, Fp16.fromFloat((float) mid), "tie above " + f);
            assertEquals(h, Fp16.fromFloat((float) (f + (mid - f) * 0.999)), "just below the midpoint above " + f);
        }
        assertEquals(65504f, Fp16.round(65519f));
        assertEquals(Float.POSITIVE_INFINITY, Fp16.round(65520f));
        assertEquals(0x1p-24f, Fp16.round(0x1p-24f));
        assertEquals(0f, Fp16.round(0x1p-25f));
        assertEquals(0x1p-24f, Fp16.round(0x1.8p-25f));
        assertThrows(IllegalArgumentException.class, () -> DType.F16.pack(new float[] {1e5f}, 0, 1, 1));
        assertEquals(8, DType.F16.ld(3));
        assertEquals(3, DType.F32.ld(3));
    }

    @Test
    void varlenTablesKeepSequencesApart() {
        Varlen v = Varlen.of(new int[] {1, 5, 130, 3}, 64);
        assertEquals(139, v.tokens);
        assertEquals(4, v.seqs);
        assertArrayEquals(new int[] {0, 1, 6, 136}, v.seqStart);
        assertArrayEquals(new int[] {1, 1, 3, 1}, v.seqChunks);
        assertArrayEquals(new int[] {0, 1, 2, 5}, v.seqChunk0);
        assertArrayEquals(new int[] {0, 1, 6, 70, 134, 136}, v.chunkStart);
        assertArrayEquals(new int[] {1, 5, 64, 64, 2, 3}, v.chunkLen);
        assertEquals(2, v.tokSeq[6]);
        assertEquals(0, v.tokPos[6]);
        assertEquals(129, v.tokPos[135]);
        assertEquals(3, v.tokSeq[138]);
        assertEquals(2 * 139 + 2 * 6 + 4 * 4, v.packedInts());
        assertThrows(IllegalArgumentException.class, () -> Varlen.of(new int[] {3, 0}, 64));
        assertThrows(IllegalArgumentException.class, () -> Varlen.of(new int[] {3}, 129));
    }

    @Test
    void chunkStateCtasTakeTheHeadsOfTheFewestWaves() {
        // 264 slots (132 SMs x 2). 130M 16 x 2048, last chunks skipped: 240 chunks; 24 heads: 240 CTAs, one wave of 24.5
        // (12 heads: 480 CTAs, two waves of 12.5 = 25)
        assertEquals(24, GpuSsdScan.stateHeadsPerCta(264, 240, 1, 24));
        // the runner's log-normal 16384-token batch: 119 live chunks; 12 heads: 238 CTAs, one wave of 12.5 (24: 24.5;
        // 6: two waves of 6.5 = 13)
        assertEquals(12, GpuSsdScan.stateHeadsPerCta(264, 119, 1, 24));
        // every state kept (256 chunks): 24 heads take 256 CTAs, still one wave
        assertEquals(24, GpuSsdScan.stateHeadsPerCta(264, 256, 1, 24));
        // 1 x 2048, 15 live chunks: 2 heads give 180 CTAs, one wave of 2.5 (1 head: two waves of 1.5 = 3)
        assertEquals(2, GpuSsdScan.stateHeadsPerCta(264, 15, 1, 24));
        // 1.3B 8 x 2048 (64 heads), 120 live chunks: 32 heads, 240 CTAs, one wave of 32.5 (16: two waves of 16.5)
        assertEquals(32, GpuSsdScan.stateHeadsPerCta(264, 120, 1, 64));
        // whole slabs only: 40 heads never take 16 (40 % 16 != 0)
        assertEquals(0, 40 % GpuSsdScan.stateHeadsPerCta(264, 1000, 1, 40));
        // nothing to form (single-chunk sequences, no final states): the launch's CTAs all return, any hp does
        assertEquals(24, GpuSsdScan.stateHeadsPerCta(264, 0, 1, 24));
        assertEquals(1, GpuSsdScan.stateHeadsPerCta(264, 1, 1, 1));
    }

    @Test
    void chunkStatesWalkSequencesOnlyWhenTheirCtasFillTheSlotsEvenly() {
        // 130M 16 x 2048 on 264 slots: 384 CTAs of 16 steps = 2 waves (32 steps) against 1.1 x 6144 / 264 = 25.6
        assertFalse(GpuSsdScan.walkPays(264, chunks(16, 16), 24, 256));
        // 1.3B 8 x 2048: 512 CTAs, 32 steps against 1.1 x 8192 / 264 = 34.1
        assertTrue(GpuSsdScan.walkPays(264, chunks(8, 16), 64, 128));
        // 130M 64 x 2048: 1536 CTAs in 6 waves (96 steps) against 102.4
        assertTrue(GpuSsdScan.walkPays(264, chunks(64, 16), 24, 1024));
        // 67 x 2048: 1608 CTAs, 24 past six full waves make a seventh (112 steps against 107.2)
        assertFalse(GpuSsdScan.walkPays(264, chunks(67, 16), 24, 1072));
        // one long sequence beside short ones: its 16 steps a head in series against little total work
        assertFalse(GpuSsdScan.walkPays(264, new int[] {16, 1, 1, 1}, 24, 19));
        // many one-chunk documents (4800 CTAs: the bound 18.2 + 1 against 20.0): no chain, no local states to pass
        assertTrue(GpuSsdScan.walkPays(264, chunks(200, 1), 24, 200));
        // the simulated dispatch: 264 CTAs of 2 steps then one of 1 wait for the first free slot: 3 steps
        int[] mixed = chunks(265, 2);
        mixed[264] = 1;
        assertFalse(GpuSsdScan.walkPays(264, mixed, 1, 529));  // 3 against 1.1 x 529 / 264 = 2.2
        assertTrue(GpuSsdScan.walkPays(264, mixed, 1, 800));   // 3 against 3.3
    }

    @Test
    void aBatchDecidesItsChunkStateScheduleOnceForAllLayers() {
        Varlen v = Varlen.of(new int[] {2048, 2048, 2048, 2048, 2048, 2048, 2048, 2048}, 128);
        assertEquals(GpuSsdScan.walkPays(264, v.seqChunks, 64, v.chunks), v.walkPays(264, 64));
        assertTrue(v.walkPays(264, 64));   // 1.3B's heads
        assertFalse(v.walkPays(264, 4));   // other heads: decided again, not the kept answer
        assertTrue(v.walkPays(264, 64));
    }

    private static int[] chunks(int seqs, int each) {
        int[] a = new int[seqs];
        Arrays.fill(a, each);
        return a;
    }

    @Test
    void availabilityIsReportedNotThrown() {
        String why = Cuda.unavailableReason(0);
        System.out.println("  GPU backend: " + (why == null ? "usable: " + Cuda.device(0).describe() : "unavailable: " + why));
        boolean fatbin = Cuda.class.getResource(Cuda.FATBIN) != null;
        boolean missing = Cuda.class.getResource(Cuda.FATBIN + ".missing") != null;
        assertTrue(fatbin || missing, "the build must leave either the fatbin or a note saying why it is missing");
        if (!fatbin) assertTrue(why != null && why.contains("not in this build"), why);
        assertNotNull(Cuda.unavailableReason(-1));
        assertNotNull(Cuda.unavailableReason(1 << 20));
        if (why != null) {
            CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> Cuda.device(0));
            assertEquals(why, e.getMessage());
        }
    }
}
