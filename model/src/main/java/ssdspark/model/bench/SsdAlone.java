package ssdspark.model.bench;

import ssdspark.kernels.SsdScan;
import ssdspark.kernels.gpu.DeviceBuffer;
import ssdspark.kernels.gpu.GpuDevice;
import ssdspark.kernels.gpu.GpuSsdScan;
import ssdspark.kernels.gpu.GpuStream;
import ssdspark.kernels.gpu.Varlen;
import ssdspark.model.Mamba2Config;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The SSD scan alone on one layer of a batch (issue 7's "SSD scan alone": 16 x 2048 tokens of the 130M shape), timed
 * as tools/bench/gpu_mamba_ssm.py times {@code mamba_chunk_scan_combined(x, dt, A, B, C, D, dt_bias, dt_softplus)}:
 * dt discretised, chunk states, their passing, C.B and the output y, for fresh sequences (no initial states, no final
 * states). Ours runs {@link GpuSsdScan#forward} as the bf16 engine does (tensor cores, C.B on the side stream) on the
 * engine's layout: x, B, C as fp32 column blocks of the conv's rows, raw dt as a column block of in_proj's rows, y fp32.
 * Inputs follow the Python side's: x, B, C and raw dt standard normal, dt_bias in [-4, -3), A in [-16, -1), D 1.
 */
final class SsdAlone {
    private SsdAlone() {}

    /** Rounds of {@link #CALLS} back-to-back calls after the warm-up; the median of the rounds' means is reported. */
    private static final int WARMUP = 10, ROUNDS = 7, CALLS = 20;

    static Map<String, Object> run(GpuDevice dev, Mamba2Config c, int seqs, int len, long seed) {
        final int H = c.nheads, P = c.headdim, N = c.dState, G = c.ngroups, ldX = c.convDim(), ldDt = c.dInProj();
        final int dtOff = c.inProjColumns().dt();
        int[] lens = new int[seqs];
        Arrays.fill(lens, len);
        Varlen v = Varlen.of(lens, GpuSsdScan.MAX_CHUNK);
        final int T = v.tokens;
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] xbc = new float[Math.multiplyExact(T, ldX)];
        for (int i = 0; i < xbc.length; i++) xbc[i] = (float) gaussian(rnd);
        float[] dtRaw = new float[Math.multiplyExact(T, ldDt)];  // only the dt columns are read
        for (int t = 0; t < T; t++) for (int h = 0; h < H; h++) dtRaw[t * ldDt + dtOff + h] = (float) gaussian(rnd);
        float[] dtBias = new float[H], negA = new float[H], d = new float[H];
        for (int h = 0; h < H; h++) {
            dtBias[h] = (float) (rnd.nextDouble() - 4);
            negA[h] = (float) -(rnd.nextDouble() * 15 + 1);
            d[h] = 1f;
        }
        SsdScan.Dims dims = new SsdScan.Dims(H, P, N, G);
        double[] roundMs = new double[ROUNDS];
        try (GpuStream s = dev.newStream(); GpuStream side = dev.newSideStream();
             DeviceBuffer gx = dev.alloc(4L * xbc.length); DeviceBuffer gdt = dev.alloc(4L * dtRaw.length);
             DeviceBuffer gbias = dev.alloc(4L * H); DeviceBuffer ga = dev.alloc(4L * H); DeviceBuffer gd = dev.alloc(4L * H);
             DeviceBuffer ints = dev.alloc(4L * v.packedInts());
             DeviceBuffer scratch = dev.alloc(4 * GpuSsdScan.scratchFloats(T, v.chunks, H, P, N, G));
             DeviceBuffer ssm = dev.alloc(4L * seqs * H * P * N); DeviceBuffer y = dev.alloc(4L * T * H * P)) {
            s.upload(xbc, gx.ptr());
            s.upload(dtRaw, gdt.ptr());
            s.upload(dtBias, gbias.ptr());
            s.upload(negA, ga.ptr());
            s.upload(d, gd.ptr());
            Varlen.OnDevice vd = v.upload(s, ints, 0);
            GpuSsdScan.Inputs in = new GpuSsdScan.Inputs(gx.ptr(), ldX, 0, c.dSsm, c.dSsm + G * N, gdt.ptr(), ldDt, dtOff);
            GpuSsdScan.Params par = new GpuSsdScan.Params(gbias.ptr(), ga.ptr(), 0f, Float.POSITIVE_INFINITY, gd.ptr(), false);
            Runnable call = () -> GpuSsdScan.forward(s, side, vd, dims, in, par, ssm.ptr(), (long) H * P * N, false, false,
                    scratch.ptr(), y.ptr(), H * P, true);
            for (int i = 0; i < WARMUP; i++) call.run();
            s.sync();
            for (int r = 0; r < ROUNDS; r++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < CALLS; i++) call.run();
                s.sync();
                roundMs[r] = (System.nanoTime() - t0) / 1e6 / CALLS;
            }
            float[] some = s.downloadFloats(y.ptr(), H * P);  // a broken scan shows as NaN here, not as a fast time
            for (float f : some) if (!Float.isFinite(f)) throw new IllegalStateException("SSD alone: y is not finite");
        }
        double ms = GpuBenchmark.median(roundMs);
        double flops = GpuBenchmark.Work.of(c, new GpuBenchmark.Workload("ssd", GpuBenchmark.Size.M130, GpuBenchmark.Mode.SCORE, seqs, len, false),
                GpuSsdScan.MAX_CHUNK).ssdFlops() / c.nLayer;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("implementation", "GpuSsdScan.forward alone (bf16x3 tensor cores, fp32 x/B/C/dt in, y out; fresh sequences)");
        r.put("chunk", GpuSsdScan.MAX_CHUNK);
        r.put("batch", seqs);
        r.put("len", len);
        r.put("nheads", H);
        r.put("headdim", P);
        r.put("d_state", N);
        r.put("ms", ms);
        r.put("ms_rounds", roundMs);
        r.put("tflop_s", flops / (ms / 1e3) / 1e12);
        return r;
    }

    private static double gaussian(SplittableRandom r) {  // Box-Muller: SplittableRandom has no nextGaussian on Java 17
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }
}
