package ssdspark.model.gpu;

import org.junit.jupiter.api.Test;
import ssdspark.model.CpuEngine;
import ssdspark.model.DocumentRunner;
import ssdspark.model.Mamba2State;
import ssdspark.model.Mamba2Weights;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static ssdspark.model.gpu.GpuEngineTest.device;
import static ssdspark.model.gpu.GpuEngineTest.maxDiff;
import static ssdspark.model.gpu.GpuEngineTest.relL2;

/**
 * States the GPU engine holds in device memory between calls ({@link GpuEngine#newCarriedState()}) give exactly what
 * host states give: the same kernels run on the same values, only the copy between passes differs.
 */
class GpuCarriedStateTest {
    private static final String CONFIG = RandomMamba2.config(64, 3, 997, 16, 16, 2, 32, "");

    /** Scores doc in pieces of the given lengths, continuing from st: the log-probs of every piece, joined. */
    private static float[] scoreInPieces(GpuEngine gpu, int[] doc, int[] pieces, Mamba2State st) {
        float[] out = new float[doc.length];
        int pos = 0;
        for (int n : pieces) {
            int[] tokens = Arrays.copyOfRange(doc, pos, pos + n), targets = new int[n];
            for (int i = 0; i < n; i++) targets[i] = pos + i + 1 < doc.length ? doc[pos + i + 1] : -1;
            float[] lp = gpu.logProbsBatch(new int[][] {tokens}, new int[][] {targets}, new Mamba2State[] {st})[0];
            System.arraycopy(lp, 0, out, pos, n);
            pos += n;
        }
        assertEquals(doc.length, pos);
        return out;
    }

    @Test
    void heldStateGivesTheBitsOfAHostState() {
        int dev = device();
        Mamba2Weights w = RandomMamba2.weights(CONFIG, 21, 0.5);
        int[] doc = RandomMamba2.randomDocs(3, w.cfg.vocabSize, 700)[0];
        int[] pieces = {250, 1, 300, 149};
        for (Precision p : Precision.values())
            try (GpuEngine gpu = GpuEngine.create(w, dev, p)) {
                Mamba2State host = gpu.newState(), held = gpu.newCarriedState();
                assertTrue(held.isHeld());
                float[] a = scoreInPieces(gpu, doc, pieces, host), b = scoreInPieces(gpu, doc, pieces, held);
                assertArrayEquals(a, b, p + ": log-probs with a held state differ from a host state's");
                assertTrue(held.isHeld(), "a held state stays on the device between calls");
                assertTrue(gpu.heldStateBytes() > 0);
                assertEquals(700, held.tokensSeen);
                held.load();
                assertFalse(held.isHeld());
                assertEquals(0, gpu.heldStateBytes(), "load() frees the device copy");
                for (int l = 0; l < w.cfg.nLayer; l++) {
                    assertArrayEquals(host.conv[l], held.conv[l], p + ": conv state of layer " + l);
                    assertArrayEquals(host.ssm[l], held.ssm[l], p + ": SSM state of layer " + l);
                }
                // a loaded state goes on like any host state
                int[] more = RandomMamba2.randomDocs(4, w.cfg.vocabSize, 40)[0];
                float[] x = gpu.forwardBatch(new int[][] {more}, new Mamba2State[] {host});
                float[] y = gpu.forwardBatch(new int[][] {more}, new Mamba2State[] {held});
                assertArrayEquals(x, y);
            }
    }

    @Test
    void packedBatchMixesHeldHostAndFreshStates() {
        int dev = device();
        Mamba2Weights w = RandomMamba2.weights(CONFIG, 22, 0.5);
        int[][] docs = RandomMamba2.randomDocs(5, w.cfg.vocabSize, 120, 90, 60);
        try (GpuEngine gpu = GpuEngine.create(w, dev, Precision.FP32)) {
            // prefixes: docs 0 and 1 run their first 50 tokens alone, one held, one on the host
            Mamba2State held = gpu.newCarriedState(), host = gpu.newState();
            Mamba2State heldRef = gpu.newState(), hostRef = gpu.newState();
            int[][] prefix = {Arrays.copyOf(docs[0], 50), Arrays.copyOf(docs[1], 50)};
            gpu.forwardBatch(prefix, new Mamba2State[] {held, host});
            gpu.forwardBatch(new int[][] {prefix[0]}, new Mamba2State[] {heldRef});
            gpu.forwardBatch(new int[][] {prefix[1]}, new Mamba2State[] {hostRef});
            int[][] rest = {Arrays.copyOfRange(docs[0], 50, 120), Arrays.copyOfRange(docs[1], 50, 90), docs[2]};
            float[] packed = gpu.forwardBatch(rest, new Mamba2State[] {held, host, null});
            float[] alone0 = gpu.forwardBatch(new int[][] {rest[0]}, new Mamba2State[] {heldRef});
            float[] alone1 = gpu.forwardBatch(new int[][] {rest[1]}, new Mamba2State[] {hostRef});
            float[] alone2 = gpu.forwardBatch(new int[][] {rest[2]}, null);
            int d = w.cfg.dModel;
            assertEquals(0, maxDiff(Arrays.copyOfRange(packed, 0, 70 * d), alone0), 1e-5);
            assertEquals(0, maxDiff(Arrays.copyOfRange(packed, 70 * d, 110 * d), alone1), 1e-5);
            assertEquals(0, maxDiff(Arrays.copyOfRange(packed, 110 * d, 170 * d), alone2), 1e-5);
            held.load();
            for (int l = 0; l < w.cfg.nLayer; l++) assertTrue(relL2(held.ssm[l], heldRef.ssm[l]) < 1e-5, "layer " + l);
        }
    }

    @Test
    void anotherEngineReadsAHeldStateBack() {
        int dev = device();
        Mamba2Weights w = RandomMamba2.weights(CONFIG, 23, 0.5);
        int[] doc = RandomMamba2.randomDocs(6, w.cfg.vocabSize, 200)[0];
        int[] a = Arrays.copyOf(doc, 120), b = Arrays.copyOfRange(doc, 120, 200);
        try (CpuEngine cpu = new CpuEngine(w); GpuEngine gpu = GpuEngine.create(w, dev, Precision.FP32)) {
            Mamba2State held = gpu.newCarriedState(), ref = cpu.newState();
            gpu.forwardBatch(new int[][] {a}, new Mamba2State[] {held});
            cpu.forward(a, 0, a.length, ref);
            float[] fromHeld = cpu.forward(b, 0, b.length, held); // the CPU engine loads the GPU's copy first
            float[] fromCpu = cpu.forward(b, 0, b.length, ref);
            assertFalse(held.isHeld());
            assertEquals(0, gpu.heldStateBytes());
            double e = relL2(fromHeld, fromCpu);
            System.out.printf("  CPU engine continuing a GPU-held state vs its own: hidden rel %.2e%n", e);
            assertTrue(e < 1e-4, "hidden relative error " + e);
        }
    }

    @Test
    void releasedOrClosedStatesAreGoneAndSaySo() {
        int dev = device();
        Mamba2Weights w = RandomMamba2.weights(CONFIG, 24, 0.5);
        int[] doc = RandomMamba2.randomDocs(7, w.cfg.vocabSize, 64)[0];
        Mamba2State kept;
        try (GpuEngine gpu = GpuEngine.create(w, dev, Precision.FP32)) {
            Mamba2State st = gpu.newCarriedState();
            gpu.forwardBatch(new int[][] {doc}, new Mamba2State[] {st});
            assertTrue(gpu.heldStateBytes() > 0);
            st.release();
            assertEquals(0, gpu.heldStateBytes());
            assertFalse(st.isHeld());
            kept = gpu.newCarriedState();
            gpu.forwardBatch(new int[][] {doc}, new Mamba2State[] {kept});
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, kept::load);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    @Test
    void runnerCarriesLongDocumentsOnTheDeviceAndReleasesThem() {
        int dev = device();
        Mamba2Weights w = RandomMamba2.weights(CONFIG, 25, 0.5);
        List<int[]> docs = Arrays.asList(RandomMamba2.randomDocs(8, w.cfg.vocabSize, 700, 30, 410, 1, 260));
        DocumentRunner.ScoreOptions opts = new DocumentRunner.ScoreOptions(64, -1, true);
        try (CpuEngine cpu = new CpuEngine(w); GpuEngine gpu = GpuEngine.create(w, dev, Precision.FP32)) {
            var rc = new DocumentRunner(cpu).scoreAll(docs, opts, 200);
            var rg = new DocumentRunner(gpu).scoreAll(docs, opts, 200);
            var ec = new DocumentRunner(cpu).embedAll(docs, 64, 200);
            var eg = new DocumentRunner(gpu).embedAll(docs, 64, 200);
            assertEquals(0, gpu.heldStateBytes(), "every carried state is released when its document is done");
            for (int i = 0; i < docs.size(); i++) {
                double lp = maxDiff(rg.get(i).result().tokenLogprobs(), rc.get(i).result().tokenLogprobs());
                double mean = relL2(eg.get(i).result().mean(), ec.get(i).result().mean());
                double last = relL2(eg.get(i).result().last(), ec.get(i).result().last());
                System.out.printf("  doc %d (%d tokens): max |Δ log-prob| %.2e, mean rel %.2e, last rel %.2e%n",
                        i, docs.get(i).length, lp, mean, last);
                assertTrue(lp < 1e-3, "doc " + i + " log-probs " + lp);
                assertTrue(mean < 1e-4 && last < 1e-4, "doc " + i + " embedding " + mean + " / " + last);
            }
        }
    }
}
