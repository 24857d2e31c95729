package ssdspark.kernels.gpu;

import org.junit.jupiter.api.Test;
import ssdspark.kernels.CausalConv1d;
import ssdspark.kernels.Gemm;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;
import static ssdspark.kernels.gpu.GpuTests.*;

/**
 * in_proj with the conv in its epilogue (gemm_conv.cuh) against the two kernels it replaces, bit for bit (the
 * pre-tiled GEMM, then the conv kernels with their carried windows), and against the CPU twins.
 */
class GpuGemmConvTwinTest {
    /**
     * Packed sequences placed so that starts and ends fall on 128-row tile rows 0..3 and 124..127, with sequences of
     * 1 and 2 tokens (shorter than the window) at a tile's start and end, and one spanning three tiles.
     */
    private static final int[] LENS = {1, 2, 3, 120, 2, 1, 127, 5, 129, 2, 60, 1, 3, 40, 300, 2};

    @Test
    void fusedConvEqualsGemmThenConv() {
        GpuDevice dev = device();
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.hasWgmma(), "the fused in_proj + conv runs on sm_90a only");
        // xBC inside C with z before and dt after, crossing 256-column tiles (channels a multiple of 4: the 4-channel
        // conv kernel is the reference; 417: the one-channel kernel); xBC alone in C
        int[][] shapes = GpuGemmTwinTest.SMALL ? new int[][] {{800, 300, 420, 96}}
                : new int[][] {{800, 300, 420, 96}, {801, 301, 417, 200}, {768, 0, 768, 64}};
        for (int[] sh : shapes)
        for (int width : new int[] {4, 3, 2}) {
            int n = sh[0], xbcOff = sh[1], convDim = sh[2], k = sh[3], hist = width - 1;
            Varlen v = Varlen.of(LENS, 64);
            int m = v.tokens;
            SplittableRandom r = new SplittableRandom(31L * n + width);
            DType t = DType.BF16;
            float[] a = t.round(randn(r, m * k, 1)), b = t.round(randn(r, n * k, 0.2)), bias = randn(r, n, 0.1);
            float[] w = randn(r, convDim * width, 0.5), cbias = randn(r, convDim, 0.3);
            float[] states = randn(r, v.seqs * hist * convDim, 1);
            for (int ldc : new int[] {n + 4, n + 1}) {
                String what = "in_proj+conv " + m + "x" + n + "x" + k + " xBC [" + xbcOff + ", +" + convDim + ") K=" + width
                        + " ldc " + ldc;
                try (GpuStream s = dev.newStream(); DeviceBuffer ga = uploadHalf(s, t, a, m, k); DeviceBuffer gb = uploadHalf(s, t, b, n, k);
                     DeviceBuffer at = dev.alloc(GpuGemm.tiledBytes(m, k)); DeviceBuffer bt = dev.alloc(GpuGemm.tiledBytes(n, k));
                     DeviceBuffer gbias = upload(s, bias); DeviceBuffer gw = upload(s, w); DeviceBuffer gcb = upload(s, cbias);
                     DeviceBuffer st1 = upload(s, states); DeviceBuffer st2 = upload(s, states);
                     DeviceBuffer c1 = dev.alloc(4L * m * ldc); DeviceBuffer c2 = dev.alloc(4L * m * ldc);
                     DeviceBuffer o1 = dev.alloc(4L * m * convDim); DeviceBuffer o2 = dev.alloc(4L * m * convDim);
                     DeviceBuffer ints = dev.alloc(4L * v.packedInts())) {
                    Varlen.OnDevice vd = v.upload(s, ints, 0);
                    GpuGemm.pretile(s, ga.ptr(), t.ld(k), m, k, at.ptr());
                    GpuGemm.pretile(s, gb.ptr(), t.ld(k), n, k, bt.ptr());
                    float[] poison = new float[m * ldc];
                    Arrays.fill(poison, Float.NaN);
                    s.upload(poison, c2.ptr());
                    // the two kernels the fused one replaces
                    GpuGemm.runTiled(s, at.ptr(), m, bt.ptr(), n, k, c1.ptr(), ldc, gbias.ptr());
                    GpuCausalConv1d.forward(s, vd, c1.ptr(), ldc, xbcOff, convDim, gw.ptr(), gcb.ptr(), width, st1.ptr(),
                            (long) hist * convDim, true, o1.ptr());
                    GpuGemmConv.inProjConv(s, vd, at.ptr(), m, bt.ptr(), n, k, c2.ptr(), ldc, gbias.ptr(), xbcOff, convDim,
                            gw.ptr(), gcb.ptr(), width, st2.ptr(), (long) hist * convDim, o2.ptr());
                    float[] out1 = s.downloadFloats(o1.ptr(), m * convDim), out2 = s.downloadFloats(o2.ptr(), m * convDim);
                    float[] cc1 = s.downloadFloats(c1.ptr(), m * ldc), cc2 = s.downloadFloats(c2.ptr(), m * ldc);
                    assertArrayEquals(out1, out2, what + ": conv output");
                    assertArrayEquals(s.downloadFloats(st1.ptr(), states.length), s.downloadFloats(st2.ptr(), states.length),
                            what + ": windows kept for the next chunk");
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < ldc; j++) {
                            boolean product = j < n && (j < xbcOff || j >= xbcOff + convDim);
                            if (product) assertEquals(cc1[i * ldc + j], cc2[i * ldc + j], what + ": C[" + i + "][" + j + "]");
                            else if (j >= n) assertTrue(Float.isNaN(cc2[i * ldc + j]), what + ": C[" + i + "][" + j + "] past n was written");
                        }
                    // and the CPU twins: the product (exact bf16 inputs, fp32 sums in another order), then the conv
                    if (ldc == n + 4) {
                        float[] prod = new float[m * n];
                        Gemm.matmulReference(a, m, b, n, k, prod);
                        for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) prod[i * n + j] += bias[j];
                        float[] want = new float[m * convDim];
                        for (int q = 0; q < v.seqs; q++) {
                            float[] seqIn = Arrays.copyOfRange(prod, v.seqStart[q] * n, (v.seqStart[q] + LENS[q]) * n);
                            float[] win = Arrays.copyOfRange(states, q * hist * convDim, (q + 1) * hist * convDim);
                            float[] o = new float[LENS[q] * convDim];
                            CausalConv1d.cpu(seqIn, xbcOff, n, LENS[q], convDim, w, cbias, width, win, o);
                            System.arraycopy(o, 0, want, v.seqStart[q] * convDim, o.length);
                        }
                        close(what + " vs CPU twins", want, out2, 2e-5 * Math.sqrt(k), 1e-5);
                    }
                }
            }
        }
    }
}
