package ssdspark.model;

import org.junit.jupiter.api.Test;
import ssdspark.model.DocumentRunner.DeviceBatches;
import ssdspark.model.DocumentRunner.DeviceDocs;
import ssdspark.model.DocumentRunner.EmbedResult;
import ssdspark.model.DocumentRunner.Outcome;
import ssdspark.model.DocumentRunner.ScoreOptions;
import ssdspark.model.DocumentRunner.ScoreResult;
import ssdspark.model.gpu.GpuEngine.DeviceSeqs;
import ssdspark.model.gpu.GpuEngine.Pooled;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Documents whose ids are in device memory (the RAPIDS columnar path) go through the same packing, chunking and
 * reduction as host arrays. No GPU here: host memory stands in for the device's, and each packed batch runs on the
 * CPU engine as GpuEngine.logProbsDevice/embedDevice define it, so both paths must give the same numbers bit for bit
 * (GpuDeviceIdsTest checks the GPU entry points themselves against the GPU's host-array path).
 */
class DeviceDocsTest {
    private static final long BASE = 1L << 20; // the stand-in's "device address" of memory[0]
    private static final int GAP = -5;          // filler between rows: reading it would be refused as an id

    /** Host memory posing as device memory, run through the CPU engine; records every call's sequences. */
    private static final class HostMemory implements DeviceBatches {
        final Engine cpu;
        final int[] memory;
        final List<DeviceSeqs> calls = new ArrayList<>();

        HostMemory(Engine cpu, int[] memory) { this.cpu = cpu; this.memory = memory; }

        @Override
        public float[][] logProbs(DeviceSeqs s, Mamba2State[] states) {
            int[] cu = gather(s);
            int total = cu[cu.length - 1];
            int[] targets = new int[total];
            int[] tokens = tokens(s, cu);
            for (int i = 0; i < s.len().length; i++)
                for (int t = 0; t < s.len()[i]; t++) {
                    int next = s.start()[i] + t + 1; // the id after position t; past the piece only when its document goes on
                    targets[cu[i] + t] = t + 1 < s.len()[i] || s.more()[i] ? checked(next, i, t + 1) : 0;
                }
            float[] lp = new float[total];
            cpu.logProbs(cpu.forwardPacked(tokens, cu, states), total, targets, 0, lp, 0);
            float[][] out = new float[cu.length - 1][];
            for (int i = 0; i < out.length; i++) {
                out[i] = Arrays.copyOfRange(lp, cu[i], cu[i + 1]);
                if (!s.more()[i]) out[i][out[i].length - 1] = Float.NaN;
            }
            return out;
        }

        @Override
        public Pooled[] embed(DeviceSeqs s, Mamba2State[] states) {
            int[] cu = gather(s);
            int d = cpu.config().dModel;
            float[] h = cpu.forwardPacked(tokens(s, cu), cu, states);
            Pooled[] out = new Pooled[cu.length - 1];
            for (int i = 0; i < out.length; i++) {
                double[] sum = new double[d];
                for (int t = cu[i]; t < cu[i + 1]; t++) for (int k = 0; k < d; k++) sum[k] += h[t * d + k];
                out[i] = new Pooled(cu[i + 1] - cu[i], sum, Arrays.copyOfRange(h, (cu[i + 1] - 1) * d, cu[i + 1] * d));
            }
            return out;
        }

        private int[] gather(DeviceSeqs s) {
            assertEquals(BASE, s.idsAddress());
            calls.add(s);
            int[] cu = new int[s.len().length + 1];
            for (int i = 0; i < s.len().length; i++) cu[i + 1] = cu[i] + s.len()[i];
            return cu;
        }

        private int[] tokens(DeviceSeqs s, int[] cu) {
            int[] tokens = new int[cu[cu.length - 1]];
            for (int i = 0; i < s.len().length; i++)
                for (int t = 0; t < s.len()[i]; t++) tokens[cu[i] + t] = checked(s.start()[i] + t, i, t);
            return tokens;
        }

        private int checked(int element, int seq, int pos) {
            int id = memory[element];
            if (id < 0 || id >= cpu.config().vocabSize)
                throw new BadTokenId("token id " + id + " at position " + pos + " of sequence " + seq + " is outside the vocabulary", seq, pos, id);
            return id;
        }
    }

    /** Rows of a LIST column: lengths 0 (empty), 1, short, and longer than the chunk; gaps of filler around them. */
    private record Column(List<int[]> docs, int[] memory, DeviceDocs device) {
        static Column of(int vocab, int... lengths) {
            Random r = new Random(7);
            List<int[]> docs = new ArrayList<>();
            int[] start = new int[lengths.length];
            int at = 3;
            for (int i = 0; i < lengths.length; i++) {
                docs.add(r.ints(lengths[i], 0, vocab).toArray());
                start[i] = at;
                at += lengths[i] + (i % 2); // every other row is followed by one filler element
            }
            int[] memory = new int[at + 2];
            Arrays.fill(memory, GAP);
            for (int i = 0; i < lengths.length; i++) System.arraycopy(docs.get(i), 0, memory, start[i], lengths[i]);
            return new Column(docs, memory, new DeviceDocs(BASE, start, lengths.clone()));
        }
    }

    private static final int[] LENGTHS = {5, 0, 1, 23, 2, 40, 9, 17};

    @Test
    void scoresEqualTheHostPathBitForBitAcrossChunksAndBudgets() {
        Fixtures.Case fx = Fixtures.load("mssm_g1_safetensors");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            Column col = Column.of(cpu.config().vocabSize, LENGTHS);
            for (int[] cb : new int[][] {{8, 30}, {7, 7}, {64, 1000}, {16, 5}}) {
                int chunk = cb[0], budget = cb[1];
                ScoreOptions o = new ScoreOptions(chunk, -1, true);
                List<Outcome<ScoreResult>> host = new DocumentRunner(cpu).scoreAll(col.docs(), o, budget);
                HostMemory mem = new HostMemory(cpu, col.memory());
                List<Outcome<ScoreResult>> dev = new DocumentRunner(cpu, mem).scoreAll(col.device(), o, budget);
                String where = "chunk " + chunk + ", budget " + budget;
                for (int i = 0; i < LENGTHS.length; i++) {
                    assertEquals(host.get(i).error(), dev.get(i).error(), where + ", row " + i);
                    if (!host.get(i).ok()) continue;
                    ScoreResult h = host.get(i).result(), d = dev.get(i).result();
                    assertEquals(h.numTokens(), d.numTokens());
                    assertEquals(h.numScored(), d.numScored());
                    assertEquals(h.sumLogprob(), d.sumLogprob(), 0.0, where + ", row " + i);
                    assertArrayEquals(h.tokenLogprobs(), d.tokenLogprobs(), where + ", row " + i);
                }
                assertTrue(dev.get(1).error().startsWith("empty token array"));
                for (DeviceSeqs s : mem.calls) assertTrue(Arrays.stream(s.len()).sum() <= budget, where + ": a call over the budget");
                assertTrue(mem.calls.stream().anyMatch(s -> { for (boolean m : s.more()) if (m) return true; return false; }) == (chunk < 40 || budget < 40),
                        where + ": documents cut into pieces exactly when one is longer than the chunk or budget");
            }
        }
    }

    @Test
    void embeddingsEqualTheHostPath() {
        Fixtures.Case fx = Fixtures.load("mssm_g2_mlp_bin");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            Column col = Column.of(cpu.config().vocabSize, LENGTHS);
            int chunk = 8, budget = 30;
            List<Outcome<EmbedResult>> host = new DocumentRunner(cpu).embedAll(col.docs(), chunk, budget);
            List<Outcome<EmbedResult>> dev = new DocumentRunner(cpu, new HostMemory(cpu, col.memory())).embedAll(col.device(), chunk, budget);
            for (int i = 0; i < LENGTHS.length; i++) {
                assertEquals(host.get(i).error(), dev.get(i).error(), "row " + i);
                if (!host.get(i).ok()) continue;
                EmbedResult h = host.get(i).result(), d = dev.get(i).result();
                assertEquals(h.numTokens(), d.numTokens());
                assertArrayEquals(h.last(), d.last(), "last hidden state, row " + i);
                if (LENGTHS[i] <= chunk) assertArrayEquals(h.mean(), d.mean(), "mean, row " + i);
                else assertArrayEquals(h.mean(), d.mean(), 1e-6f, "mean, row " + i + " (pieces' sums added: double rounding only)");
            }
        }
    }

    @Test
    void aBadIdIsItsDocumentsErrorAndTheOthersRun() {
        Fixtures.Case fx = Fixtures.load("mssm_g1_safetensors");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            int v = cpu.config().vocabSize;
            Column col = Column.of(v, LENGTHS);
            // row 3 (23 ids): a bad id in its first piece; row 5 (40 ids): one at 16, the first id of its third piece of
            // 8 (seen first as the id after its second piece); row 7 (17 ids): a negative one in its last piece
            int[][] bad = {{3, 4, v}, {5, 16, v + 7}, {7, 16, -2}};
            for (int[] b : bad) {
                col.memory()[col.device().start()[b[0]] + b[1]] = b[2];
                col.docs().get(b[0])[b[1]] = b[2];
            }
            for (int[] cb : new int[][] {{8, 30}, {8, 8}, {64, 1000}}) {
                ScoreOptions o = new ScoreOptions(cb[0], -1, true);
                List<Outcome<ScoreResult>> host = new DocumentRunner(cpu).scoreAll(col.docs(), o, cb[1]);
                List<Outcome<ScoreResult>> dev = new DocumentRunner(cpu, new HostMemory(cpu, col.memory())).scoreAll(col.device(), o, cb[1]);
                List<Outcome<EmbedResult>> hostE = new DocumentRunner(cpu).embedAll(col.docs(), cb[0], cb[1]);
                List<Outcome<EmbedResult>> devE = new DocumentRunner(cpu, new HostMemory(cpu, col.memory())).embedAll(col.device(), cb[0], cb[1]);
                for (int i = 0; i < LENGTHS.length; i++) {
                    assertEquals(host.get(i).error(), dev.get(i).error(), "score row " + i);
                    assertEquals(hostE.get(i).error(), devE.get(i).error(), "embed row " + i);
                    if (host.get(i).ok()) assertArrayEquals(host.get(i).result().tokenLogprobs(), dev.get(i).result().tokenLogprobs(), "row " + i);
                    if (hostE.get(i).ok()) assertArrayEquals(hostE.get(i).result().last(), devE.get(i).result().last(), "row " + i);
                }
                for (int[] b : bad)
                    assertEquals("token id " + b[2] + " at position " + b[1] + " is outside the model's vocabulary [0, " + v + ")",
                            dev.get(b[0]).error());
            }
        }
    }

    @Test
    void bosAndHostOnlyEnginesAreRefused() {
        Fixtures.Case fx = Fixtures.load("mssm_g1_safetensors");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            Column col = Column.of(cpu.config().vocabSize, LENGTHS);
            DocumentRunner runner = new DocumentRunner(cpu, new HostMemory(cpu, col.memory()));
            assertThrows(IllegalArgumentException.class, () -> runner.scoreAll(col.device(), new ScoreOptions(8, 0, false), 100));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> new DocumentRunner(cpu).embedAll(col.device(), 8, 100));
            assertTrue(e.getMessage().contains("GPU engine"), e.getMessage());
        }
    }
}
