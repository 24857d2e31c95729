package ssdspark.kernels.gpu;

import org.junit.jupiter.api.Test;
import ssdspark.kernels.Attention;
import ssdspark.kernels.Rotary;

import java.util.Arrays;
import java.util.SplittableRandom;

import static ssdspark.kernels.gpu.GpuTests.*;

/**
 * The attention kernels on packed varlen batches whose sequences continue cached documents: rotary + cache fill and
 * the flash-style causal attention, each sequence compared with the CPU twins (Rotary.apply, Attention.causal) run
 * alone on its own cache; and the silu gate.
 */
class GpuAttentionTwinTest {
    record Case(String name, int heads, int kvHeads, int headDim, int rotaryDim, boolean interleaved) {}

    @Test
    void attentionVarlenWithCachesMatchesTwins() {
        GpuDevice dev = device();
        Case[] cases = {
                new Case("MHA D64 rotary 64 half-split", 4, 4, 64, 64, false),
                new Case("GQA 6/2 D32 rotary 16 interleaved", 6, 2, 32, 16, true),
                new Case("MQA 4/1 D128 no rotary", 4, 1, 128, 0, false),
                new Case("GQA 4/2 D80 rotary 32", 4, 2, 80, 32, false),
                new Case("D256 rotary 128", 2, 1, 256, 128, false)};
        int[] lens = {1, 70, 3, 130, 64};
        int[] prefix = {0, 5, 200, 0, 64};
        for (Case c : cases) {
            SplittableRandom r = new SplittableRandom(c.headDim() * 31L + c.heads());
            int H = c.heads(), Hkv = c.kvHeads(), D = c.headDim(), qDim = H * D, kvDim = Hkv * D;
            int qkvOff = 3, ldQkv = qkvOff + qDim + 2 * kvDim + 5;
            float scale = (float) (1 / Math.sqrt(D));
            float[] invFreq = Rotary.inverseFrequencies(c.rotaryDim(), 10000);
            Varlen v = Varlen.of(lens, 64);
            float[] qkv = randn(r, v.tokens * ldQkv, 1);
            // the sequences' caches: prefix rows of (already rotated) keys and values
            float[][] cacheK = new float[lens.length][], cacheV = new float[lens.length][];
            for (int s = 0; s < lens.length; s++) {
                cacheK[s] = randn(r, prefix[s] * kvDim, 1);
                cacheV[s] = randn(r, prefix[s] * kvDim, 1);
            }

            // twins, sequence by sequence
            float[] wantQ = new float[v.tokens * qDim], wantCtx = new float[v.tokens * qDim];
            float[][] wantK = new float[lens.length][], wantV = new float[lens.length][];
            for (int s = 0; s < lens.length; s++) {
                int n = lens[s], all = prefix[s] + n;
                float[] rows = Arrays.copyOfRange(qkv, v.seqStart[s] * ldQkv, (v.seqStart[s] + n) * ldQkv);
                int[] pos = new int[n];
                for (int t = 0; t < n; t++) pos[t] = prefix[s] + t;
                Rotary.apply(rows, qkvOff, ldQkv, n, H, D, invFreq, c.interleaved(), pos, 0);
                Rotary.apply(rows, qkvOff + qDim, ldQkv, n, Hkv, D, invFreq, c.interleaved(), pos, 0);
                float[] k = Arrays.copyOf(cacheK[s], all * kvDim), vv = Arrays.copyOf(cacheV[s], all * kvDim);
                for (int t = 0; t < n; t++) {
                    System.arraycopy(rows, t * ldQkv + qkvOff, wantQ, (v.seqStart[s] + t) * qDim, qDim);
                    System.arraycopy(rows, t * ldQkv + qkvOff + qDim, k, (prefix[s] + t) * kvDim, kvDim);
                    System.arraycopy(rows, t * ldQkv + qkvOff + qDim + kvDim, vv, (prefix[s] + t) * kvDim, kvDim);
                }
                wantK[s] = k;
                wantV[s] = vv;
                Attention.causal(new Attention.Dims(H, Hkv, D, scale), rows, qkvOff, ldQkv, n, k, 0, vv, 0, kvDim, all,
                        prefix[s], wantCtx, v.seqStart[s] * qDim, qDim);
            }

            try (GpuStream s = dev.newStream(); DeviceBuffer gQkv = upload(s, qkv); DeviceBuffer gFreq = upload(s, invFreq.length == 0 ? new float[1] : invFreq);
                 DeviceBuffer ints = dev.alloc(4L * v.packedInts()); DeviceBuffer tabs = dev.alloc(4L * GpuAttention.tableInts(v))) {
                Varlen.OnDevice vd = v.upload(s, ints, 0);
                GpuAttention.Tables tb = GpuAttention.upload(s, v, prefix, tabs, 0);
                GpuAttention.Shape sh = new GpuAttention.Shape(H, Hkv, D, c.rotaryDim(), c.interleaved(), scale);
                try (DeviceBuffer gk = dev.alloc(4L * tb.kvRows() * kvDim); DeviceBuffer gv = dev.alloc(4L * tb.kvRows() * kvDim);
                     DeviceBuffer gq = dev.alloc(4L * v.tokens * qDim); DeviceBuffer ctx = dev.alloc(4L * v.tokens * qDim);
                     DeviceBuffer ctxH = dev.alloc(2L * v.tokens * qDim)) {
                    for (int q = 0; q < lens.length; q++) {
                        s.upload(cacheK[q], 0, cacheK[q].length, gk.at4((long) tb.kvStartHost()[q] * kvDim));
                        s.upload(cacheV[q], 0, cacheV[q].length, gv.at4((long) tb.kvStartHost()[q] * kvDim));
                    }
                    GpuAttention.rotaryKv(s, vd, tb, sh, gQkv.ptr(), ldQkv, qkvOff, gFreq.ptr(), gq.ptr(), gk.ptr(), gv.ptr());
                    close(c.name() + " rotary q", wantQ, s.downloadFloats(gq.ptr(), wantQ.length), 2e-6, 2e-6);
                    float[] gotK = s.downloadFloats(gk.ptr(), tb.kvRows() * kvDim), gotV = s.downloadFloats(gv.ptr(), tb.kvRows() * kvDim);
                    for (int q = 0; q < lens.length; q++) {
                        int o = tb.kvStartHost()[q] * kvDim;
                        close(c.name() + " keys of sequence " + q, wantK[q], Arrays.copyOfRange(gotK, o, o + wantK[q].length), 2e-6, 2e-6);
                        close(c.name() + " values of sequence " + q, wantV[q], Arrays.copyOfRange(gotV, o, o + wantV[q].length), 0, 0);
                    }
                    GpuAttention.attend(s, DType.F32, vd, tb, sh, gq.ptr(), gk.ptr(), gv.ptr(), ctx.ptr(), qDim);
                    close(c.name() + " context fp32", wantCtx, s.downloadFloats(ctx.ptr(), wantCtx.length), 2e-5, 1e-4);
                    GpuAttention.attend(s, DType.BF16, vd, tb, sh, gq.ptr(), gk.ptr(), gv.ptr(), ctxH.ptr(), qDim);
                    short[] h = new short[v.tokens * qDim];
                    s.download(ctxH.ptr(), h, 0, h.length);
                    float[] gotH = new float[h.length];
                    for (int i = 0; i < h.length; i++) gotH[i] = Bf16.toFloat(h[i]);
                    if (GpuAttention.tensorCores(DType.BF16, D)) {
                        // tensor cores: the twin on the same bf16-rounded q·scale, k and v; what is left is the
                        // probabilities' bf16 rounding (as flash-attn's) and the output's
                        float[] wantTc = new float[v.tokens * qDim], qr = Bf16.round(scaled(wantQ, scale));
                        for (int q = 0; q < lens.length; q++)
                            Attention.causal(new Attention.Dims(H, Hkv, D, 1f), qr, v.seqStart[q] * qDim, qDim, lens[q],
                                    Bf16.round(wantK[q]), 0, Bf16.round(wantV[q]), 0, kvDim, prefix[q] + lens[q], prefix[q],
                                    wantTc, v.seqStart[q] * qDim, qDim);
                        close(c.name() + " context bf16 tensor cores", wantTc, gotH, 1.5e-2, 1e-2);
                        close(c.name() + " context bf16 tensor cores vs fp32", wantCtx, gotH, 4e-2, 2e-2);
                    } else {
                        close(c.name() + " context bf16 out", wantCtx, gotH, 1e-5, 8e-3);
                    }
                }
            }
        }
    }

    private static float[] scaled(float[] a, float f) {
        float[] o = new float[a.length];
        for (int i = 0; i < a.length; i++) o[i] = a[i] * f;
        return o;
    }

    @Test
    void siluGateMatchesTwinAndPads() {
        GpuDevice dev = device();
        SplittableRandom r = new SplittableRandom(5);
        int rows = 37, ldIn = 50, inOff = 4, n = 20, ldOut = 40, outOff = 8, padFrom = 28;
        float[] in = randn(r, rows * ldIn, 2);
        float[] want = new float[rows * ldOut];
        Arrays.fill(want, Float.NaN); // untouched columns stay as they were
        for (int t = 0; t < rows; t++) {
            for (int i = 0; i < n; i++) {
                float g = in[t * ldIn + inOff + n + i];
                want[t * ldOut + outOff + i] = in[t * ldIn + inOff + i] * ssdspark.kernels.GatedRmsNorm.silu(g);
            }
            for (int i = padFrom; i < ldOut; i++) want[t * ldOut + i] = 0;
        }
        float[] nan = new float[rows * ldOut];
        Arrays.fill(nan, Float.NaN);
        try (GpuStream s = dev.newStream(); DeviceBuffer gi = upload(s, in); DeviceBuffer go = upload(s, nan)) {
            GpuAttention.siluGate(s, DType.F32, rows, gi.ptr(), ldIn, inOff, n, go.ptr(), ldOut, outOff, padFrom);
            close("silu gate fp32", want, s.downloadFloats(go.ptr(), want.length), 1e-6, 1e-6);
        }
    }
}
