package ssdspark.model.gpu;

import org.junit.jupiter.api.Test;
import ssdspark.kernels.gpu.DeviceBuffer;
import ssdspark.model.DocumentRunner;
import ssdspark.model.Mamba2Weights;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Real GPU memory pressure: with the device nearly full (a ballast allocation), a pass that no longer fits makes the
 * document runner pack it again with fewer tokens; the scores stay those of the unconstrained run, and the split is
 * counted. (CPU tests inject the error; this one lets cuMemAlloc fail.)
 */
class GpuOutOfMemoryTest {
    @Test
    void aPassThatDoesNotFitIsSplitWithTheSameScores() {
        int dev = GpuEngineTest.device();
        Mamba2Weights w = RandomMamba2.weights(RandomMamba2.config130m(), 61, 0.5);
        int[][] docs = RandomMamba2.randomDocs(67, w.cfg.vocabSize, 2048, 2048, 1500, 2048, 700, 2048, 2048, 2048);
        var opts = new DocumentRunner.ScoreOptions(2048, -1, false);
        try (GpuEngine gpu = GpuEngine.create(w, dev, Precision.BF16)) {
            DocumentRunner free = new DocumentRunner(gpu);
            var want = free.scoreAll(List.of(docs), opts, 16384);
            assertEquals(0, free.memorySplits());
            // what a quarter of the pass needs, then a ballast that leaves about twice that
            gpu.releaseThread();
            gpu.reserve(4096, 8);
            long quarter = gpu.workspaceBytes();
            gpu.releaseThread();
            long[] mem = gpu.device().memoryInfo();
            long ballastBytes = mem[0] - 2 * quarter;
            System.out.printf("  free %.2f GiB, a 4096-token workspace %.2f GiB: ballast %.2f GiB%n", mem[0] / 1073741824.0,
                    quarter / 1073741824.0, ballastBytes / 1073741824.0);
            try (DeviceBuffer ballast = gpu.device().alloc(ballastBytes)) {
                DocumentRunner tight = new DocumentRunner(gpu);
                var got = tight.scoreAll(List.of(docs), opts, 16384);
                System.out.printf("  passes split after running out of memory: %d%n", tight.memorySplits());
                assertTrue(tight.memorySplits() > 0, "the 16384-token pass should not have fit");
                for (int i = 0; i < docs.length; i++) {
                    assertTrue(got.get(i).ok(), got.get(i).error());
                    assertEquals(want.get(i).result().sumLogprob(), got.get(i).result().sumLogprob(),
                            1e-3 * docs[i].length, "document " + i);
                }
            } finally {
                gpu.releaseThread();
            }
        }
    }
}
