package ssdspark.model.gpu;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import ssdspark.kernels.gpu.Cuda;
import ssdspark.kernels.gpu.DType;
import ssdspark.model.CpuEngine;
import ssdspark.model.DocumentRunner;
import ssdspark.model.Engine;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2State;
import ssdspark.model.Mamba2Weights;
import ssdspark.model.bench.RandomTensorSource;
import ssdspark.model.checkpoint.TensorSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The GPU engine against the CPU engine on random models (fp32: the same numbers within float rounding), and its
 * own invariants: chunked == whole, a packed varlen batch == each document alone, carried states.
 */
class GpuEngineTest {
    static int device() {
        int ord = Integer.getInteger("ssd.gpu.device", 0);
        String why = Cuda.unavailableReason(ord);
        Assumptions.assumeTrue(why == null, () -> "no CUDA device: " + why);
        return ord;
    }

    record Model(String name, String json) {
        @Override public String toString() { return name; }
    }

    static Stream<Model> models() {
        return Stream.of(
                new Model("g2 d_state16 chunk32", RandomMamba2.config(64, 3, 997, 16, 16, 2, 32, "")),
                new Model("mlp+D_hdim+nbg+bias, no conv bias", RandomMamba2.config(64, 2, 301, 16, 16, 2, 8,
                        "\"d_ssm\": 96, \"D_has_hdim\": true, \"norm_before_gate\": true, \"bias\": true, \"conv_bias\": false")),
                new Model("g1 headdim64 dstate128 chunk256 (q capped)", RandomMamba2.config(128, 2, 2000, 128, 64, 1, 256, "")),
                new Model("g4 d_conv 3 no gated norm, dt_limit", RandomMamba2.config(96, 2, 500, 32, 24, 4, 64,
                        "\"d_conv\": 3, \"rmsnorm\": false, \"dt_limit\": [0.002, 0.05]")));
    }

    static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }

    static double relL2(float[] a, float[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-30));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void fp32MatchesCpuEngine(Model m) {
        int dev = device();
        Mamba2Weights w = RandomMamba2.weights(m.json(), 7, 0.5);
        int[][] docs = RandomMamba2.randomDocs(3, w.cfg.vocabSize, 1, 50, 130, 7);
        try (CpuEngine cpu = new CpuEngine(w); GpuEngine gpu = GpuEngine.create(w, dev, Precision.FP32)) {
            assertTrue(gpu.backend().startsWith("gpu:" + dev), gpu.backend());
            for (int[] doc : docs) {
                Mamba2State sc = cpu.newState(), sg = gpu.newState();
                float[] hc = cpu.forward(doc, 0, doc.length, sc), hg = gpu.forward(doc, 0, doc.length, sg);
                double hErr = relL2(hg, hc);
                float[] lc = new float[doc.length], lg = new float[doc.length];
                int[] tg = new int[doc.length];
                for (int i = 0; i < doc.length; i++) tg[i] = (doc[i] * 31 + 7) % w.headRows;
                cpu.logProbs(hc, doc.length, tg, 0, lc, 0);
                gpu.logProbs(hg, doc.length, tg, 0, lg, 0);
                double lpErr = maxDiff(lg, lc), stErr = 0;
                for (int l = 0; l < w.cfg.nLayer; l++) {
                    stErr = Math.max(stErr, relL2(sg.ssm[l], sc.ssm[l]));
                    stErr = Math.max(stErr, relL2(sg.conv[l], sc.conv[l]));
                }
                System.out.printf("  %-44s len %4d: hidden rel %.2e, max |Δ log-prob| %.2e, state rel %.2e%n", m, doc.length, hErr, lpErr, stErr);
                assertTrue(hErr < 1e-4, "hidden relative error " + hErr);
                assertTrue(lpErr < 1e-3, "log-prob error " + lpErr);
                assertTrue(stErr < 1e-4, "state relative error " + stErr);
            }
        }
    }

    /**
     * bf16 matrices, exact residual start: an fp32 embedding table is gathered from fp32 rows, so the bf16 engine's
     * output moves when the table is rounded to bf16 (rounding it inside the engine would give the same bits), and a
     * table already exact in bf16 (a bf16 checkpoint) is gathered from its bf16 rows. Both stay within bf16's distance
     * of the CPU engine on their own weights.
     */
    @Test
    void bf16GathersTheEmbeddingRowsExactly() {
        int dev = device();
        Mamba2Config c = Mamba2Config.parse(models().findFirst().orElseThrow().json());
        Mamba2Weights w = Mamba2Weights.load(c, RandomTensorSource.perturbed(c, 43, 0.5));
        Mamba2Weights wr = Mamba2Weights.load(c, new TensorSource() { // the same, its embedding rounded to bf16
            final TensorSource src = RandomTensorSource.perturbed(c, 43, 0.5);
            @Override public java.util.Set<String> names() { return src.names(); }
            @Override public long[] shape(String n) { return src.shape(n); }
            @Override public float[] readFloats(String n) {
                float[] a = src.readFloats(n);
                return n.endsWith("embedding.weight") ? DType.BF16.round(a) : a;
            }
            @Override public String description() { return src.description() + " (embedding rounded to bf16)"; }
            @Override public void close() {}
        });
        int[] doc = RandomMamba2.randomDocs(44, c.vocabSize, 200)[0];
        float[][] got = new float[2][];
        int i = 0;
        for (Mamba2Weights m : List.of(w, wr))
            try (CpuEngine cpu = new CpuEngine(m); GpuEngine gpu = GpuEngine.create(m, dev, Precision.BF16)) {
                gpu.setProfiling(true);
                gpu.takeProfile();
                got[i] = gpu.forward(doc, 0, doc.length, gpu.newState());
                var prof = gpu.takeProfile();
                String gather = m == w ? "embed_gather_f32" : "embed_gather_bf16";
                assertTrue(prof.containsKey(gather), "kernels run: " + prof.keySet());
                double e = relL2(got[i], cpu.forward(doc, 0, doc.length, cpu.newState()));
                System.out.printf("  bf16, %s: hidden rel %.2e against the CPU engine%n", gather, e);
                assertTrue(e < 0.1, "hidden relative error " + e);
                i++;
            }
        assertTrue(maxDiff(got[0], got[1]) > 0, "the bf16 engine rounded the fp32 embedding table");
    }

    /**
     * A model wide enough for the pre-tiled GEMM (d_model 1024; sm_90a, bf16): in_proj and out_proj of every layer run
     * through it, fed by norms that write their outputs pre-tiled (no separate pass), the out_proj output reaches the
     * residual through the next norm, and the bf16 engine stays within bf16's distance of the fp32 CPU engine (a wrong
     * layout or a lost residual add gives ~1). 333 tokens: the last row tile and the padded rows are partial.
     */
    @Test
    void wideModelRunsPreTiledProjectionsAndMatchesCpu() {
        int dev = device();
        Mamba2Weights w = RandomMamba2.weights(RandomMamba2.config(1024, 2, 1000, 128, 64, 1, 64, ""), 17, 0.5);
        assertTrue(w.cfg.dModel >= ssdspark.kernels.gpu.GpuGemm.TILED_MIN_N, "d_model " + w.cfg.dModel);
        int[] doc = RandomMamba2.randomDocs(18, w.cfg.vocabSize, 333)[0];
        try (CpuEngine cpu = new CpuEngine(w); GpuEngine gpu = GpuEngine.create(w, dev, Precision.BF16)) {
            Assumptions.assumeTrue(gpu.device().hasWgmma(), "the pre-tiled GEMM runs on sm_90a only");
            float[] want = cpu.forward(doc, 0, doc.length, cpu.newState());
            gpu.setProfiling(true);
            gpu.takeProfile();
            float[] got = gpu.forward(doc, 0, doc.length, gpu.newState());
            var prof = gpu.takeProfile();
            gpu.setProfiling(false);
            assertTrue(prof.containsKey("gemm_bf16_tn_tiled"), "kernels run: " + prof.keySet());
            assertEquals(2 * w.cfg.nLayer, (int) prof.get("gemm_bf16_tn_tiled")[1], "tiled launches: in_proj and out_proj");
            assertFalse(prof.containsKey("bf16_pretile"), "no separate tiling pass: " + prof.keySet());
            double e = relL2(got, want);
            System.out.printf("  pre-tiled in_proj and out_proj, bf16 GPU vs fp32 CPU: hidden rel %.2e%n", e);
            assertTrue(e < 0.1, "hidden relative error " + e + " (a wrong layout gives ~1)");
        }
    }

    /**
     * The gated RMSNorm folded into the scan (sm_90a, bf16, one group): the scan writes y * silu(z) * w and the
     * following norms scale out_proj's product by the row's 1/rms. No gated-norm kernel runs; log-probs stay as close
     * to the fp32 CPU engine as with the norm kernel (same rounding points, moved); a packed batch with carried states
     * equals each document alone, and a document scored in chunks equals it whole.
     */
    @Test
    void foldedGatedNormMatchesTheNormKernel() {
        int dev = device();
        Mamba2Weights w = RandomMamba2.weights(RandomMamba2.config(1024, 2, 1000, 128, 64, 1, 64, ""), 23, 0.5);
        int[][] docs = RandomMamba2.randomDocs(24, w.cfg.vocabSize, 333, 1, 150, 64, 2);
        int[][] targets = GpuEngine.nextTokenTargets(docs);
        float[][] exact = new float[docs.length][];
        try (CpuEngine cpu = new CpuEngine(w)) {
            for (int i = 0; i < docs.length; i++)
                exact[i] = new DocumentRunner(cpu).score(docs[i], new DocumentRunner.ScoreOptions(400, -1, true)).tokenLogprobs();
        }
        try (GpuEngine folded = GpuEngine.create(w, dev, Precision.BF16, true);
             GpuEngine kernel = GpuEngine.create(w, dev, Precision.BF16, false)) {
            Assumptions.assumeTrue(folded.device().hasWgmma(), "the fold needs the pre-tiled projections (sm_90a)");
            assertTrue(folded.foldsGatedNorm(), "a pure Mamba-2 model of one group folds its gated norm");
            assertFalse(kernel.foldsGatedNorm());
            folded.setProfiling(true);
            folded.takeProfile();
            float[][] lpF = folded.logProbsBatch(docs, targets, null);
            var prof = folded.takeProfile();
            folded.setProfiling(false);
            int L = w.cfg.nLayer;
            assertEquals(L, (int) prof.get("ssd_chunk_scan_gated_tc")[1], "gated scans: " + prof.keySet());
            assertEquals(L, (int) prof.get("add_rmsnorm_warp_scaled_bf16")[1], "scaled norms: layers 2.. and the final one");
            assertTrue(prof.keySet().stream().noneMatch(k -> k.startsWith("gated_rmsnorm")), "no gated norm kernel: " + prof.keySet());
            float[][] lpK = kernel.logProbsBatch(docs, targets, null);
            double errF = 0, errK = 0, between = 0;
            for (int i = 0; i < docs.length; i++) {
                int n = docs[i].length - 1;
                errF = Math.max(errF, maxDiff(Arrays.copyOf(lpF[i], n), Arrays.copyOf(exact[i], n)));
                errK = Math.max(errK, maxDiff(Arrays.copyOf(lpK[i], n), Arrays.copyOf(exact[i], n)));
                between = Math.max(between, maxDiff(Arrays.copyOf(lpF[i], n), Arrays.copyOf(lpK[i], n)));
            }
            System.out.printf("  folded gated norm: max |Δ log-prob| vs CPU fp32 %.2e (norm kernel %.2e), folded vs kernel %.2e%n",
                    errF, errK, between);
            assertTrue(errF <= Math.max(2e-2, 1.5 * errK), "folded " + errF + " vs the norm kernel's " + errK);

            // packed with carried states == alone; chunked == whole
            Mamba2State[] batch = new Mamba2State[docs.length], alone = new Mamba2State[docs.length];
            int[] prefix = RandomMamba2.randomDocs(25, w.cfg.vocabSize, 90)[0];
            for (int i = 0; i < docs.length; i += 2) {
                Mamba2State s0 = folded.newState();
                folded.forward(prefix, 0, prefix.length, s0);
                batch[i] = s0.copy();
                alone[i] = s0.copy();
            }
            float[][] packed = folded.logProbsBatch(docs, targets, batch);
            double worst = 0;
            for (int i = 0; i < docs.length; i++) {
                Mamba2State st = alone[i] != null ? alone[i] : folded.newState();
                float[] one = folded.logProbsBatch(new int[][] {docs[i]}, new int[][] {targets[i]}, new Mamba2State[] {st})[0];
                worst = Math.max(worst, maxDiff(Arrays.copyOf(packed[i], docs[i].length - 1), Arrays.copyOf(one, docs[i].length - 1)));
            }
            System.out.printf("  folded gated norm: packed vs alone max |Δ log-prob| %.2e%n", worst);
            assertTrue(worst <= 1e-3, "packed vs alone " + worst);
            DocumentRunner r = new DocumentRunner(folded);
            float[] whole = r.score(docs[0], new DocumentRunner.ScoreOptions(400, -1, true)).tokenLogprobs();
            float[] chunked = r.score(docs[0], new DocumentRunner.ScoreOptions(64, -1, true)).tokenLogprobs();
            double e = maxDiff(chunked, whole);
            System.out.printf("  folded gated norm: chunked(64) vs whole max |Δ log-prob| %.2e%n", e);
            assertTrue(e <= Math.max(2e-2, errF), "chunked vs whole " + e);
        }
    }

    @Test
    void chunkedEqualsWholeAndStatesCarry() {
        int dev = device();
        Mamba2Weights w = RandomMamba2.weights(models().findFirst().orElseThrow().json(), 11, 0.5);
        int[] doc = RandomMamba2.randomDocs(5, w.cfg.vocabSize, 300)[0];
        float[] exact;
        try (CpuEngine cpu = new CpuEngine(w)) {
            exact = new DocumentRunner(cpu).score(doc, new DocumentRunner.ScoreOptions(300, -1, true)).tokenLogprobs();
        }
        for (Precision p : Precision.values())
            try (GpuEngine gpu = GpuEngine.create(w, dev, p)) {
                DocumentRunner r = new DocumentRunner(gpu);
                DocumentRunner.ScoreResult whole = r.score(doc, new DocumentRunner.ScoreOptions(300, -1, true));
                // Half precision: another chunking moves the SSD's output by ~1e-5 relative, which can flip bf16
                // roundings of the projections' inputs downstream; the result must stay within the precision's own
                // distance from the fp32 CPU engine on this document (and within 2e-2 where that is smaller).
                double own = maxDiff(whole.tokenLogprobs(), exact);
                double tol = p == Precision.FP32 ? 1e-3 : Math.max(2e-2, own);
                for (int chunk : new int[] {64, 37, 1}) {
                    DocumentRunner.ScoreResult ch = r.score(doc, new DocumentRunner.ScoreOptions(chunk, -1, true));
                    double e = maxDiff(ch.tokenLogprobs(), whole.tokenLogprobs());
                    System.out.printf("  chunked(%d) vs whole, %s: max |Δ log-prob| %.2e (whole vs CPU fp32 %.2e)%n", chunk, p, e, own);
                    assertTrue(e <= tol, p + " chunk " + chunk + ": " + e + " > " + tol);
                    assertTrue(maxDiff(ch.tokenLogprobs(), exact) <= Math.max(tol, 1.5 * own), p + " chunk " + chunk + " vs CPU fp32");
                }
                // batch API with carried states: prefix, then the rest from the prefix's state
                Mamba2State st = gpu.newState();
                int[] a = Arrays.copyOfRange(doc, 0, 100), b = Arrays.copyOfRange(doc, 100, 300);
                float[] lpA = gpu.logProbsBatch(new int[][] {a}, new int[][] {Arrays.copyOfRange(doc, 1, 101)}, new Mamba2State[] {st})[0];
                int[] tb = new int[200];
                System.arraycopy(doc, 101, tb, 0, 199);
                tb[199] = -1;
                float[] lpB = gpu.logProbsBatch(new int[][] {b}, new int[][] {tb}, new Mamba2State[] {st})[0];
                float[] joined = new float[299];
                System.arraycopy(lpA, 0, joined, 0, 100);
                System.arraycopy(lpB, 0, joined, 100, 199);
                assertTrue(Float.isNaN(lpB[199]));
                double e = maxDiff(joined, whole.tokenLogprobs());
                System.out.printf("  carried state (100 + 200) vs whole, %s: max |Δ log-prob| %.2e%n", p, e);
                assertTrue(e <= tol, p + ": " + e + " > " + tol);
            }
    }

    @Test
    void packedBatchEqualsEachDocumentAlone() {
        int dev = device();
        Mamba2Weights w = RandomMamba2.weights(models().skip(1).findFirst().orElseThrow().json(), 13, 0.5);
        int[][] docs = RandomMamba2.randomDocs(17, w.cfg.vocabSize, 1, 129, 2, 300, 64, 65, 5, 1, 200);
        for (Precision p : Precision.values())
            try (GpuEngine gpu = GpuEngine.create(w, dev, p)) {
                double tol = p == Precision.FP32 ? 1e-4 : 1e-3;
                // half of the documents continue from a carried state (a random prefix run first)
                int[][] prefixes = RandomMamba2.randomDocs(19, w.cfg.vocabSize, 30, 1, 70);
                Mamba2State[] batchStates = new Mamba2State[docs.length], aloneStates = new Mamba2State[docs.length];
                for (int i = 0; i < docs.length; i++) {
                    if (i % 2 == 1) continue;
                    Mamba2State s0 = gpu.newState();
                    gpu.forward(prefixes[i % 3], 0, prefixes[i % 3].length, s0);
                    batchStates[i] = s0.copy();
                    aloneStates[i] = s0.copy();
                }
                int[][] targets = GpuEngine.nextTokenTargets(docs);
                float[][] packed = gpu.logProbsBatch(docs, targets, batchStates);
                float[] hidden = gpu.forwardBatch(docs, null);
                GpuEngine.Pooled[] pooled = gpu.embedBatch(docs, null);
                int row = 0, d = w.cfg.dModel;
                double worst = 0, worstState = 0, worstHidden = 0;
                for (int i = 0; i < docs.length; i++) {
                    Mamba2State st = aloneStates[i] != null ? aloneStates[i] : gpu.newState();
                    float[] alone = gpu.logProbsBatch(new int[][] {docs[i]}, new int[][] {targets[i]}, new Mamba2State[] {st})[0];
                    assertTrue(Float.isNaN(packed[i][docs[i].length - 1]));
                    worst = Math.max(worst, maxDiff(Arrays.copyOf(packed[i], docs[i].length - 1), Arrays.copyOf(alone, docs[i].length - 1)));
                    if (batchStates[i] != null)
                        for (int l = 0; l < w.cfg.nLayer; l++) {
                            worstState = Math.max(worstState, maxDiff(batchStates[i].ssm[l], st.ssm[l]));
                            worstState = Math.max(worstState, maxDiff(batchStates[i].conv[l], st.conv[l]));
                        }
                    float[] h = gpu.forward(docs[i], 0, docs[i].length, gpu.newState());
                    worstHidden = Math.max(worstHidden, maxDiff(Arrays.copyOfRange(hidden, row * d, (row + docs[i].length) * d), h));
                    float[] mean = new float[d];
                    for (int t = 0; t < docs[i].length; t++) for (int k = 0; k < d; k++) mean[k] += h[t * d + k] / docs[i].length;
                    worstHidden = Math.max(worstHidden, maxDiff(pooled[i].mean(), mean));
                    worstHidden = Math.max(worstHidden, maxDiff(pooled[i].last(), Arrays.copyOfRange(h, (docs[i].length - 1) * d, docs[i].length * d)));
                    row += docs[i].length;
                }
                System.out.printf("  packed vs alone, %s: log-prob %.2e, state %.2e, hidden/pooled %.2e%n", p, worst, worstState, worstHidden);
                assertTrue(worst <= tol, p + " log-prob " + worst);
                assertTrue(worstState <= tol, p + " state " + worstState);
                assertTrue(worstHidden <= tol, p + " hidden " + worstHidden);
            }
    }

    @Test
    void documentRunnerOnGpuMatchesCpu() {
        int dev = device();
        Mamba2Weights w = RandomMamba2.weights(models().findFirst().orElseThrow().json(), 23, 0.5);
        List<int[]> docs = new ArrayList<>(Arrays.asList(RandomMamba2.randomDocs(29, w.cfg.vocabSize, 40, 1, 333, 90)));
        var opts = new DocumentRunner.ScoreOptions(64, 0, true);
        try (CpuEngine cpu = new CpuEngine(w); GpuEngine gpu = GpuEngine.create(w, dev, Precision.FP32)) {
            var rc = new DocumentRunner(cpu).scoreAll(docs, opts, 200);
            var rg = new DocumentRunner(gpu).scoreAll(docs, opts, 200);
            var ec = new DocumentRunner(cpu).embedAll(docs, 64, 200);
            var eg = new DocumentRunner(gpu).embedAll(docs, 64, 200);
            for (int i = 0; i < docs.size(); i++) {
                assertEquals(rc.get(i).result().sumLogprob(), rg.get(i).result().sumLogprob(), 1e-3 * docs.get(i).length);
                assertTrue(maxDiff(rg.get(i).result().tokenLogprobs(), rc.get(i).result().tokenLogprobs()) < 1e-3);
                assertTrue(maxDiff(eg.get(i).result().mean(), ec.get(i).result().mean()) < 1e-4);
                assertTrue(maxDiff(eg.get(i).result().last(), ec.get(i).result().last()) < 1e-4);
            }
        }
    }

    @Test
    void badInputsAreRefusedWithReasons() {
        int dev = device();
        Mamba2Weights w = RandomMamba2.weights(models().findFirst().orElseThrow().json(), 1, 0.5);
        try (GpuEngine gpu = GpuEngine.create(w, dev, Precision.BF16)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> gpu.forwardBatch(new int[][] {{1, 2}, {3, 99999}}, null));
            assertTrue(e.getMessage().contains("token id 99999 at position 1 of sequence 1"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> gpu.forwardBatch(new int[][] {{1}, {}}, null));
            assertThrows(IllegalArgumentException.class, () -> gpu.forwardBatch(new int[][] {{1}}, new Mamba2State[2]));
            float[] h = gpu.forward(new int[] {1, 2, 3}, 0, 3, gpu.newState());
            assertThrows(IllegalArgumentException.class, () -> gpu.logProbs(h, 3, new int[] {1, 2, w.headRows}, 0, new float[3], 0));
            // still usable after refusals
            assertEquals(3 * w.cfg.dModel, gpu.forward(new int[] {1, 2, 3}, 0, 3, gpu.newState()).length);
        }
    }

    @Test
    void threadsShareWeightsWithTheirOwnWorkspaces() throws Exception {
        int dev = device();
        Mamba2Weights w = RandomMamba2.weights(models().findFirst().orElseThrow().json(), 31, 0.5);
        int[][] docs = RandomMamba2.randomDocs(37, w.cfg.vocabSize, 100, 57, 211, 3);
        try (GpuEngine gpu = GpuEngine.create(w, dev, Precision.BF16)) {
            float[][] want = gpu.logProbsBatch(docs, GpuEngine.nextTokenTargets(docs), null);
            List<Thread> ts = new ArrayList<>();
            List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
            for (int k = 0; k < 4; k++) {
                Thread t = new Thread(() -> {
                    try {
                        for (int rep = 0; rep < 5; rep++) {
                            float[][] got = gpu.logProbsBatch(docs, GpuEngine.nextTokenTargets(docs), null);
                            for (int i = 0; i < docs.length; i++)
                                for (int j = 0; j < docs[i].length - 1; j++)
                                    if (got[i][j] != want[i][j]) throw new AssertionError("thread result differs at " + i + "/" + j);
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    } finally {
                        gpu.releaseThread();
                    }
                });
                ts.add(t);
                t.start();
            }
            for (Thread t : ts) t.join();
            assertTrue(errors.isEmpty(), () -> "errors: " + errors);
        }
    }
}
