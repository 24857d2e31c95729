package ssdspark.model;

import jcuda.CudaException;
import ssdspark.kernels.gpu.OutOfDeviceMemoryException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A pass that runs out of GPU memory is split and run again: the same results as a run that never ran out, the
 * splits counted; a document whose one piece does not fit alone becomes an error naming the limit, the others run.
 * The GPU is stood in for by the CPU engine behind a wrapper that fails as the GPU engine does (JCuda's
 * CudaException with CUDA_ERROR_OUT_OF_MEMORY) when a pass has more tokens than it "has memory" for.
 */
class OutOfDeviceMemoryTest {
    /** The CPU engine, failing like a GPU out of memory for passes of more than maxForward tokens or maxHead head rows. */
    static class SmallDevice implements Engine {
        final Engine real;
        final int maxForward, maxHead;
        int failures;

        SmallDevice(Engine real, int maxForward, int maxHead) {
            this.real = real;
            this.maxForward = maxForward;
            this.maxHead = maxHead;
        }

        private void allocate(int tokens, int max) {
            if (tokens > max) {
                failures++;
                throw outOfMemory();
            }
        }

        /** What the device throws when it has no memory left. */
        RuntimeException outOfMemory() {
            return new CudaException("cannot allocate 1234.0 MiB on gpu:0 (12.0 MiB free of 80000.0 MiB): " + OutOfDeviceMemory.CUDA_CODE);
        }

        @Override public Mamba2Config config() { return real.config(); }

        @Override public String backend() { return "small-device"; }

        @Override public float[] forward(int[] tokens, int off, int n, Mamba2State state) { throw new UnsupportedOperationException(); }

        @Override public float[] forwardPacked(int[] tokens, int[] cu, Mamba2State[] states) {
            allocate(cu[states.length] - cu[0], maxForward);
            return real.forwardPacked(tokens, cu, states);
        }

        @Override public void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff) {
            allocate(n, maxHead);
            real.logProbs(hidden, n, targets, tOff, out, outOff);
        }

        @Override public void close() {}
    }

    /** Documents of 1 to 60 tokens (several pieces of 16 for the long ones), random ids of the fixture's vocabulary. */
    private static List<int[]> docs(int vocab) {
        SplittableRandom r = new SplittableRandom(7);
        List<int[]> docs = new ArrayList<>();
        for (int len : new int[] {5, 60, 1, 17, 33, 2, 16, 48, 9, 3, 40, 7}) {
            int[] d = new int[len];
            for (int i = 0; i < len; i++) d[i] = r.nextInt(vocab);
            docs.add(d);
        }
        return docs;
    }

    @Test
    void splitPassesGiveTheResultsOfUnsplitOnes() {
        Fixtures.Case fx = Fixtures.load("mssm_g2_mlp_bin");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            List<int[]> docs = docs(cpu.config().vocabSize);
            List<int[]> spans = new ArrayList<>();
            for (int[] d : docs) spans.add(d.length > 3 ? new int[] {d.length / 2, d.length} : null);
            var opts = new DocumentRunner.ScoreOptions(16, 0, true);
            int budget = 64;
            var expected = new DocumentRunner(cpu).scoreAll(docs, spans, opts, budget);
            var expectedEmbed = new DocumentRunner(cpu).embedAll(docs, 16, budget);

            // at most 20 tokens per forward and 7 rows per log-prob call fit: every full pass fails first
            SmallDevice small = new SmallDevice(cpu, 20, 7);
            DocumentRunner runner = new DocumentRunner(small);
            var got = runner.scoreAll(docs, spans, opts, budget);
            var gotEmbed = new DocumentRunner(new SmallDevice(cpu, 20, 7)).embedAll(docs, 16, budget);
            assertTrue(small.failures > 0 && runner.memorySplits() >= small.failures,
                    small.failures + " failed allocations, " + runner.memorySplits() + " splits");
            for (int i = 0; i < docs.size(); i++) {
                var a = expected.get(i).result();
                var b = got.get(i).result();
                assertNull(got.get(i).error(), "doc " + i);
                assertEquals(a.numScored(), b.numScored());
                assertEquals(a.sumLogprob(), b.sumLogprob(), 0.0, "doc " + i + ": bit-identical to the unsplit run");
                assertArrayEquals(a.tokenLogprobs(), b.tokenLogprobs(), "doc " + i);
                if (a.spans() != null) assertArrayEquals(a.spans().sumLogprob(), b.spans().sumLogprob(), 0.0);
                assertArrayEquals(expectedEmbed.get(i).result().mean(), gotEmbed.get(i).result().mean(), "doc " + i);
                assertArrayEquals(expectedEmbed.get(i).result().last(), gotEmbed.get(i).result().last(), "doc " + i);
            }
        }
    }

    @Test
    void aPieceThatDoesNotFitAloneIsThatDocumentsError() {
        Fixtures.Case fx = Fixtures.load("mssm_g2_mlp_bin");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            List<int[]> docs = docs(cpu.config().vocabSize);
            var opts = new DocumentRunner.ScoreOptions(16, -1, false);
            var expected = new DocumentRunner(cpu).scoreAll(docs, opts, 64);
            // 10 tokens fit: pieces of 16 never do, so documents longer than 10 tokens fail, the others run
            DocumentRunner runner = new DocumentRunner(new SmallDevice(cpu, 10, 1000));
            var got = runner.scoreAll(docs, opts, 64);
            for (int i = 0; i < docs.size(); i++) {
                if (docs.get(i).length > 10) {
                    String e = got.get(i).error();
                    assertTrue(e != null && e.startsWith("out of GPU memory: a piece of 16 tokens of this document does not fit even alone")
                            && e.contains("--chunk-tokens") && e.contains(OutOfDeviceMemory.CUDA_CODE), "doc " + i + ": " + e);
                } else {
                    assertNull(got.get(i).error(), "doc " + i);
                    assertEquals(expected.get(i).result().sumLogprob(), got.get(i).result().sumLogprob(), 0.0, "doc " + i);
                }
            }
            assertTrue(runner.memorySplits() > 0);
        }
    }

    @Test
    void otherFailuresAreNotRetried() {
        Fixtures.Case fx = Fixtures.load("mssm_g2_mlp_bin");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            Engine broken = new SmallDevice(cpu, 1000, 1000) {
                @Override public float[] forwardPacked(int[] tokens, int[] cu, Mamba2State[] states) {
                    throw new CudaException("CUDA_ERROR_ILLEGAL_ADDRESS");
                }
            };
            DocumentRunner runner = new DocumentRunner(broken);
            assertThrows(CudaException.class, () -> runner.scoreAll(docs(cpu.config().vocabSize), new DocumentRunner.ScoreOptions(16, -1, false), 64));
            assertEquals(0, runner.memorySplits());
        }
    }

    @Test
    void anAllocatorsOutOfMemoryExceptionSplitsPassesAsCudasDoes() {
        Fixtures.Case fx = Fixtures.load("mssm_g2_mlp_bin");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            List<int[]> docs = docs(cpu.config().vocabSize);
            var opts = new DocumentRunner.ScoreOptions(16, -1, false);
            var expected = new DocumentRunner(cpu).scoreAll(docs, opts, 64);
            String rmm = "cannot allocate 20.0 MiB from RMM on gpu:0 (RMM has 900.0 MiB allocated)";
            DocumentRunner runner = new DocumentRunner(new SmallDevice(cpu, 10, 1000) {
                @Override RuntimeException outOfMemory() {
                    return new OutOfDeviceMemoryException(rmm, new OutOfMemoryError("Could not allocate native memory: out_of_memory"));
                }
            });
            var got = runner.scoreAll(docs, opts, 64);
            for (int i = 0; i < docs.size(); i++) {
                if (docs.get(i).length > 10) assertTrue(got.get(i).error().endsWith(rmm), "doc " + i + ": " + got.get(i).error());
                else assertEquals(expected.get(i).result().sumLogprob(), got.get(i).result().sumLogprob(), 0.0, "doc " + i);
            }
            assertTrue(runner.memorySplits() > 0);
        }
    }

    @Test
    void recognisesWrappedCudaOutOfMemory() {
        assertTrue(OutOfDeviceMemory.is(new IllegalStateException("task failed", new CudaException("x: CUDA_ERROR_OUT_OF_MEMORY"))));
        assertFalse(OutOfDeviceMemory.is(new CudaException("CUDA_ERROR_LAUNCH_FAILED")));
        assertFalse(OutOfDeviceMemory.is(new OutOfMemoryError("Java heap space"))); // the JVM's heap: splitting passes would not help
        assertTrue(OutOfDeviceMemory.is(new RuntimeException(new OutOfDeviceMemoryException("no RMM memory", null))));
    }
}
