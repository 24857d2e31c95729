package ssdspark.model.gpu;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import ssdspark.kernels.gpu.DType;
import ssdspark.model.CpuEngine;
import ssdspark.model.Mamba2Weights;
import ssdspark.model.checkpoint.TensorSource;

import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The 130M shape (d_model 768, 24 layers, d_state 128, headdim 64, vocab 50288) with random, perturbed weights:
 * bf16 GPU accuracy against the fp32 CPU engine, and scoring throughput. Heavy: runs only with
 * -Dssd.gpu.heavy=true (tools/gpu/device-run.sh sets it).
 */
class Gpu130mTest {
    static Mamba2Weights weights;

    static synchronized Mamba2Weights model() {
        if (weights == null) weights = RandomMamba2.weights(RandomMamba2.config130m(), 130, 0.1);
        return weights;
    }

    static int heavyDevice() {
        int dev = GpuEngineTest.device();
        Assumptions.assumeTrue(Boolean.getBoolean("ssd.gpu.heavy"), "130M-size tests run only with -Dssd.gpu.heavy=true");
        return dev;
    }

    /** The same random model with its matrices (embedding / LM head, in_proj, out_proj) rounded to bf16. */
    static Mamba2Weights roundedMatrices(DType t) {
        TensorSource src = ssdspark.model.bench.RandomTensorSource.perturbed(model().cfg, 130, 0.1);
        TensorSource rounded = new TensorSource() {
            @Override public java.util.Set<String> names() { return src.names(); }
            @Override public long[] shape(String n) { return src.shape(n); }
            @Override public float[] readFloats(String n) {
                float[] a = src.readFloats(n);
                return n.endsWith("embedding.weight") || n.endsWith("proj.weight") ? t.round(a) : a;
            }
            @Override public String description() { return src.description() + " (matrices rounded to " + t + ")"; }
            @Override public void close() {}
        };
        return Mamba2Weights.load(model().cfg, rounded);
    }

    static float[][] cpuLogProbs(Mamba2Weights w, int[][] docs) {
        float[][] ref = new float[docs.length][];
        try (CpuEngine cpu = new CpuEngine(w)) {
            for (int i = 0; i < docs.length; i++) {
                int n = docs[i].length;
                float[] h = cpu.forward(docs[i], 0, n, cpu.newState());
                ref[i] = new float[n - 1];
                cpu.logProbs(h, n - 1, docs[i], 1, ref[i], 0);
            }
        }
        return ref;
    }

    /** {mean, p99, max, worst per-doc perplexity relative error} of got vs ref; prints one line. */
    static double[] stats(String what, float[][] got, float[][] ref) {
        int total = 0;
        for (float[] r : ref) total += r.length;
        double[] diffs = new double[total];
        int k = 0;
        double sum = 0, worstPpl = 0, meanRef = 0;
        StringBuilder per = new StringBuilder();
        for (int i = 0; i < ref.length; i++) {
            double sg = 0, sc = 0;
            for (int t = 0; t < ref[i].length; t++) {
                double d = Math.abs(got[i][t] - ref[i][t]);
                diffs[k++] = d;
                sum += d;
                sg += got[i][t];
                sc += ref[i][t];
                meanRef += ref[i][t];
            }
            if (ref[i].length == 0) continue;
            double pplG = Math.exp(-sg / ref[i].length), pplC = Math.exp(-sc / ref[i].length);
            double rel = Math.abs(pplG / pplC - 1);
            worstPpl = Math.max(worstPpl, rel);
            per.append(String.format(" doc%d(len %d) ppl rel %.2e;", i, ref[i].length + 1, rel));
        }
        Arrays.sort(diffs);
        double mean = sum / total, p99 = diffs[(int) Math.floor(0.99 * (total - 1))], max = diffs[total - 1];
        System.out.printf("  ACCURACY %-44s %d tokens (mean ref log-prob %.3f): |Δ log-prob| mean %.4f p99 %.4f max %.4f; worst per-doc ppl rel err %.2e%n",
                what, total, meanRef / total, mean, p99, max, worstPpl);
        System.out.println("   " + per);
        return new double[] {mean, p99, max, worstPpl};
    }

    @Test
    void bf16AccuracyAgainstCpuFp32() {
        int dev = heavyDevice();
        Mamba2Weights w = model();
        int[][] docs = RandomMamba2.randomDocs(42, w.cfg.vocabSize, 1024, 777, 512, 300, 2);
        int[][] targets = GpuEngine.nextTokenTargets(docs);
        long t0 = System.nanoTime();
        float[][] ref = cpuLogProbs(w, docs);
        System.out.printf("  130M CPU fp32 reference: %d tokens in %.1f s%n", Arrays.stream(docs).mapToInt(d -> d.length).sum(), (System.nanoTime() - t0) / 1e9);
        Map<Precision, double[]> st = new java.util.EnumMap<>(Precision.class);
        for (Precision p : new Precision[] {Precision.FP32, Precision.FP16, Precision.BF16})
            try (GpuEngine gpu = GpuEngine.create(w, dev, p)) {
                st.put(p, stats("130M GPU " + p + " vs CPU fp32", gpu.logProbsBatch(docs, targets, null), ref));
            }
        // what bf16 weights alone cost, and what the bf16 kernels add on top of them
        Mamba2Weights wb = roundedMatrices(DType.BF16);
        float[][] refB = cpuLogProbs(wb, docs);
        stats("130M CPU fp32, bf16-rounded matrices vs CPU fp32", refB, ref);
        try (GpuEngine gpu = GpuEngine.create(wb, dev, Precision.BF16)) {
            stats("130M GPU bf16 vs CPU fp32 on the same bf16 weights", gpu.logProbsBatch(docs, targets, null), refB);
        }
        assertTrue(st.get(Precision.FP32)[2] < 5e-3, "fp32 GPU vs CPU max " + st.get(Precision.FP32)[2]);
        assertTrue(st.get(Precision.FP16)[0] <= 0.02, "fp16 mean |Δ log-prob| " + st.get(Precision.FP16)[0]);
        assertTrue(st.get(Precision.FP16)[3] <= 0.01, "fp16 per-doc ppl rel err " + st.get(Precision.FP16)[3]);
        // bf16 weights alone move this random model's log-probs by ~0.024 on average (see the rounded-matrices line)
        assertTrue(st.get(Precision.BF16)[0] <= 0.05, "bf16 mean |Δ log-prob| " + st.get(Precision.BF16)[0]);
        assertTrue(st.get(Precision.BF16)[3] <= 0.01, "bf16 per-doc ppl rel err " + st.get(Precision.BF16)[3]);
    }

    @Test
    void scoringThroughput16x2048() {
        int dev = heavyDevice();
        Mamba2Weights w = model();
        int seqs = Integer.getInteger("ssd.bench.seqs", 16), len = Integer.getInteger("ssd.bench.len", 2048);
        int[] lens = new int[seqs];
        Arrays.fill(lens, len);
        int[][] docs = RandomMamba2.randomDocs(7, w.cfg.vocabSize, lens);
        int[][] targets = GpuEngine.nextTokenTargets(docs);
        for (Precision p : new Precision[] {Precision.BF16, Precision.FP16, Precision.FP32}) {
            if (p != Precision.BF16 && !Boolean.getBoolean("ssd.bench.all")) continue;
            try (GpuEngine gpu = GpuEngine.create(w, dev, p)) {
                long t0 = System.nanoTime();
                gpu.reserve(seqs * len, seqs);
                System.out.printf("  %s: weights %.0f MiB, workspace %.0f MiB (%d tokens), setup %.2f s%n", gpu.backend(),
                        gpu.weightBytes() / 1048576.0, gpu.workspaceBytes() / 1048576.0, seqs * len, (System.nanoTime() - t0) / 1e9);
                for (int i = 0; i < 2; i++) gpu.logProbsBatch(docs, targets, null);
                int reps = 5;
                t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) gpu.logProbsBatch(docs, targets, null);
                double s = (System.nanoTime() - t0) / 1e9 / reps;
                System.out.printf("  THROUGHPUT %s scoring %d x %d tokens: %.1f ms per batch, %.0f tok/s (mean of %d, host transfers included)%n",
                        p, seqs, len, s * 1e3, seqs * len / s, reps);
                gpu.setProfiling(true);
                gpu.takeProfile();
                gpu.logProbsBatch(docs, targets, null);
                Map<String, double[]> prof = gpu.takeProfile();
                gpu.setProfiling(false);
                double tot = prof.values().stream().mapToDouble(x -> x[0]).sum();
                StringBuilder b = new StringBuilder(String.format("  kernel time per batch (%s, %.1f ms in kernels):", p, tot));
                prof.entrySet().stream().sorted((x, y) -> Double.compare(y.getValue()[0], x.getValue()[0]))
                        .forEach(e -> b.append(String.format("%n    %-22s %8.2f ms %5.1f%% (%d launches)", e.getKey(), e.getValue()[0],
                                100 * e.getValue()[0] / tot, (int) e.getValue()[1])));
                System.out.println(b);
            }
        }
    }
}
