package ssdspark.model.gpu;

import org.junit.jupiter.api.Test;
import ssdspark.kernels.gpu.DeviceBuffer;
import ssdspark.kernels.gpu.GpuStream;
import ssdspark.model.Mamba2State;
import ssdspark.model.Mamba2Weights;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The entry point that reads token ids in place from device memory (as a cuDF LIST&lt;INT32&gt; column holds them)
 * against the host-array path: the same numbers bit for bit, chunk continuation included, and bad ids refused.
 */
class GpuDeviceIdsTest {
    @Test
    void deviceIdsEqualHostArraysBitForBit() {
        int dev = GpuEngineTest.device();
        Mamba2Weights w = RandomMamba2.weights(GpuEngineTest.models().findFirst().orElseThrow().json(), 41, 0.5);
        int[][] docs = RandomMamba2.randomDocs(43, w.cfg.vocabSize, 1, 129, 2, 300, 64, 65, 5, 200);
        // a column: 7 ints before the first row, 3 between rows (a sliced column with other data around it)
        int[] start = new int[docs.length];
        int total = 7;
        for (int i = 0; i < docs.length; i++) { start[i] = total; total += docs[i].length + 3; }
        int[] column = new int[total];
        Arrays.fill(column, -5); // never read: any read of a gap would be refused as an id
        for (int i = 0; i < docs.length; i++) System.arraycopy(docs[i], 0, column, start[i], docs[i].length);
        int[] len = Arrays.stream(docs).mapToInt(d -> d.length).toArray();

        for (Precision p : Precision.values())
            try (GpuEngine gpu = GpuEngine.create(w, dev, p);
                 GpuStream s = gpu.device().newStream();
                 DeviceBuffer ids = gpu.device().alloc(4L * total)) {
                s.upload(column, ids.ptr());
                s.sync();
                GpuEngine.DeviceSeqs whole = new GpuEngine.DeviceSeqs(ids.address(), start, len, new boolean[docs.length]);

                float[][] want = gpu.logProbsBatch(docs, GpuEngine.nextTokenTargets(docs), null);
                float[][] got = gpu.logProbsDevice(whole, null);
                for (int i = 0; i < docs.length; i++)
                    assertArrayEquals(want[i], got[i], p + ": log-probs of sequence " + i + " differ");

                GpuEngine.Pooled[] pw = gpu.embedBatch(docs, null), pg = gpu.embedDevice(whole, null);
                for (int i = 0; i < docs.length; i++) {
                    assertArrayEquals(pw[i].sum(), pg[i].sum(), p + ": pooled sums of sequence " + i);
                    assertArrayEquals(pw[i].last(), pg[i].last(), p + ": last hidden of sequence " + i);
                }

                // a document in two chunks (the first 'more', its state carried) beside a whole one
                int big = 3, cut = 128;
                Mamba2State sd = gpu.newState(), sh = gpu.newState();
                float[][] d1 = gpu.logProbsDevice(new GpuEngine.DeviceSeqs(ids.address(), new int[] {start[big], start[1]},
                        new int[] {cut, len[1]}, new boolean[] {true, false}), new Mamba2State[] {sd, null});
                int[] first = Arrays.copyOf(docs[big], cut), firstTargets = Arrays.copyOfRange(docs[big], 1, cut + 1);
                float[][] h1 = gpu.logProbsBatch(new int[][] {first, docs[1]},
                        new int[][] {firstTargets, GpuEngine.nextTokenTargets(new int[][] {docs[1]})[0]}, new Mamba2State[] {sh, null});
                assertArrayEquals(h1[0], d1[0], p + ": first chunk, its last token predicting the next chunk's first");
                assertFalse(Float.isNaN(d1[0][cut - 1]));
                assertArrayEquals(h1[1], d1[1], p + ": whole document beside a chunk");
                for (int l = 0; l < w.cfg.nLayer; l++) {
                    assertArrayEquals(sh.ssm[l], sd.ssm[l], p + ": carried SSM state, layer " + l);
                    assertArrayEquals(sh.conv[l], sd.conv[l], p + ": carried conv state, layer " + l);
                }
                int[] rest = Arrays.copyOfRange(docs[big], cut, len[big]);
                float[] d2 = gpu.logProbsDevice(new GpuEngine.DeviceSeqs(ids.address(), new int[] {start[big] + cut},
                        new int[] {len[big] - cut}, new boolean[] {false}), new Mamba2State[] {sd})[0];
                float[] h2 = gpu.logProbsBatch(new int[][] {rest}, GpuEngine.nextTokenTargets(new int[][] {rest}), new Mamba2State[] {sh})[0];
                assertArrayEquals(h2, d2, p + ": second chunk from the carried state");

                // a bad id in the column: refused naming where it is, nothing run; the engine stays usable
                s.upload(new int[] {w.cfg.vocabSize}, ids.at4(start[4] + 10));
                s.sync();
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gpu.logProbsDevice(whole, null));
                assertTrue(e.getMessage().contains("at position 10 of sequence 4"), e.getMessage());
                // a gap read because 'more' claims the document goes on
                e = assertThrows(IllegalArgumentException.class, () -> gpu.logProbsDevice(new GpuEngine.DeviceSeqs(ids.address(),
                        new int[] {start[0]}, new int[] {len[0]}, new boolean[] {true}), null));
                assertTrue(e.getMessage().contains("after sequence 0"), e.getMessage());
                float[][] again = gpu.logProbsDevice(new GpuEngine.DeviceSeqs(ids.address(), new int[] {start[1]},
                        new int[] {len[1]}, new boolean[] {false}), null);
                assertArrayEquals(want[1], again[0], p + ": after refusals");
            }
    }

    /** The document runner over device ids (the RAPIDS path) against host arrays, chunking and packing included. */
    @Test
    void runnerOnDeviceIdsEqualsHostArrays() {
        int dev = GpuEngineTest.device();
        Mamba2Weights w = RandomMamba2.weights(GpuEngineTest.models().findFirst().orElseThrow().json(), 47, 0.5);
        int[][] docs = RandomMamba2.randomDocs(53, w.cfg.vocabSize, 300, 1, 57, 128, 129, 2, 410);
        int[] start = new int[docs.length], len = new int[docs.length];
        int total = 3;
        for (int i = 0; i < docs.length; i++) { start[i] = total; len[i] = docs[i].length; total += docs[i].length + 2; }
        int[] column = new int[total];
        for (int i = 0; i < docs.length; i++) System.arraycopy(docs[i], 0, column, start[i], docs[i].length);
        var opts = new ssdspark.model.DocumentRunner.ScoreOptions(100, -1, true);
        try (GpuEngine gpu = GpuEngine.create(w, dev, Precision.BF16);
             GpuStream s = gpu.device().newStream();
             DeviceBuffer ids = gpu.device().alloc(4L * total)) {
            s.upload(column, ids.ptr());
            s.sync();
            var runner = new ssdspark.model.DocumentRunner(gpu);
            assertTrue(runner.takesDeviceDocs());
            var onDevice = new ssdspark.model.DocumentRunner.DeviceDocs(ids.address(), start, len);
            var host = runner.scoreAll(java.util.List.of(docs), opts, 256);
            var dev2 = runner.scoreAll(onDevice, opts, 256);
            for (int i = 0; i < docs.length; i++) {
                assertEquals(host.get(i).result().sumLogprob(), dev2.get(i).result().sumLogprob(), "document " + i);
                assertArrayEquals(host.get(i).result().tokenLogprobs(), dev2.get(i).result().tokenLogprobs(), "document " + i);
            }
            var he = runner.embedAll(java.util.List.of(docs), 100, 256);
            var de = runner.embedAll(onDevice, 100, 256);
            for (int i = 0; i < docs.length; i++) {
                assertArrayEquals(he.get(i).result().mean(), de.get(i).result().mean(), "embedding of document " + i);
                assertArrayEquals(he.get(i).result().last(), de.get(i).result().last(), "last state of document " + i);
            }
            // bad ids in document 3 (position 50, its first piece) and 6 (position 100: the id after its first piece):
            // those two are errors with the host path's message, every other document gives the same bits as before
            int v = w.cfg.vocabSize;
            s.upload(new int[] {v}, ids.at4(start[3] + 50));
            s.upload(new int[] {v + 1}, ids.at4(start[6] + 100));
            s.sync();
            int[][] bad = new int[docs.length][];
            for (int i = 0; i < docs.length; i++) bad[i] = docs[i].clone();
            bad[3][50] = v;
            bad[6][100] = v + 1;
            var hostBad = runner.scoreAll(java.util.List.of(bad), opts, 256);
            var devBad = runner.scoreAll(onDevice, opts, 256);
            var devBadE = runner.embedAll(onDevice, 100, 256);
            for (int i = 0; i < docs.length; i++) {
                assertEquals(hostBad.get(i).error(), devBad.get(i).error(), "document " + i);
                assertEquals(hostBad.get(i).error(), devBadE.get(i).error(), "document " + i + " (embed)");
                if (i == 3 || i == 6) continue;
                assertArrayEquals(dev2.get(i).result().tokenLogprobs(), devBad.get(i).result().tokenLogprobs(), "document " + i);
                assertArrayEquals(de.get(i).result().last(), devBadE.get(i).result().last(), "document " + i);
            }
            assertTrue(devBad.get(3).error().contains("token id " + v + " at position 50"), devBad.get(3).error());
            assertTrue(devBad.get(6).error().contains("token id " + (v + 1) + " at position 100"), devBad.get(6).error());
        }
    }

    @Test
    void malformedTablesAreRefusedOnTheHost() {
        assertThrows(IllegalArgumentException.class, () -> new GpuEngine.DeviceSeqs(0, new int[] {0}, new int[] {1}, new boolean[1]));
        assertThrows(IllegalArgumentException.class, () -> new GpuEngine.DeviceSeqs(64, new int[] {0}, new int[] {0}, new boolean[1]));
        assertThrows(IllegalArgumentException.class, () -> new GpuEngine.DeviceSeqs(64, new int[] {-1}, new int[] {3}, new boolean[1]));
        assertThrows(IllegalArgumentException.class, () -> new GpuEngine.DeviceSeqs(64, new int[] {0, 1}, new int[] {3}, new boolean[1]));
        assertThrows(IllegalArgumentException.class, () -> new GpuEngine.DeviceSeqs(64, new int[0], new int[0], new boolean[0]));
    }
}
