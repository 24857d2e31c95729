package ssdspark.model;

import jcuda.CudaException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The document runner with an engine that holds carried states itself between calls (as the GPU engine does in device
 * memory): the runner never reads a held state's arrays, releases every state it made (also when a call fails), and
 * gets the results of host-carried states. The holding engine is the CPU engine behind a wrapper that moves a held
 * state's values out of its arrays between calls (zeroing them, so reading them would show) and, on request, fails
 * like a GPU out of memory.
 */
class CarriedStateTest {
    /** The CPU engine, holding its carried states' values outside their arrays between calls. */
    static final class HoldingEngine implements Engine {
        final Engine real;
        final int maxForward;       // passes of more tokens fail like a GPU out of memory
        int failOnPass = -1;        // that pass (0-based) fails with a plain error
        int passes, live, made;

        HoldingEngine(Engine real, int maxForward) {
            this.real = real;
            this.maxForward = maxForward;
        }

        /** Where a held state's values are between calls. */
        final class Held implements Mamba2State.Holder {
            final float[][] conv, ssm;
            boolean released;

            Held(Mamba2State s) {
                conv = new float[s.conv.length][];
                ssm = new float[s.ssm.length][];
                for (int l = 0; l < conv.length; l++) {
                    conv[l] = s.conv[l].clone();
                    ssm[l] = s.ssm[l].clone();
                }
            }

            @Override public void load(Mamba2State into) {
                assertFalse(released, "load after release");
                for (int l = 0; l < conv.length; l++) {
                    System.arraycopy(conv[l], 0, into.conv[l], 0, conv[l].length);
                    System.arraycopy(ssm[l], 0, into.ssm[l], 0, ssm[l].length);
                }
            }

            @Override public void release() {
                if (!released) live--;
                released = true;
            }
        }

        /** Takes the values into a new holder and zeroes the arrays: from now on they are stale. */
        private void hold(Mamba2State s) {
            s.hold(new Held(s));
            live++;
            for (float[] a : s.conv) java.util.Arrays.fill(a, 0f);
            for (float[] a : s.ssm) java.util.Arrays.fill(a, 0f);
        }

        @Override public Mamba2State newCarriedState() {
            made++;
            live++;
            return Mamba2State.held(config(), new Held(real.newState())); // zeros, no arrays until loaded
        }

        @Override public Mamba2Config config() { return real.config(); }

        @Override public String backend() { return "holding"; }

        @Override public float[] forward(int[] tokens, int off, int n, Mamba2State state) { throw new UnsupportedOperationException(); }

        @Override public float[] forwardPacked(int[] tokens, int[] cu, Mamba2State[] states) {
            if (passes++ == failOnPass) throw new IllegalStateException("injected failure of pass " + failOnPass);
            if (cu[states.length] - cu[0] > maxForward)
                throw new CudaException("cannot allocate 1.0 MiB on gpu:0 (0.5 MiB free of 80000.0 MiB): " + OutOfDeviceMemory.CUDA_CODE);
            boolean[] wasHeld = new boolean[states.length];
            for (int i = 0; i < states.length; i++)
                if (states[i] != null && states[i].holder() instanceof Held) {
                    wasHeld[i] = true;
                    states[i].load(); // makes its arrays (a held state has none at first) and releases the holder
                }
            float[] out = real.forwardPacked(tokens, cu, states);
            for (int i = 0; i < states.length; i++) if (wasHeld[i]) hold(states[i]);
            return out;
        }

        @Override public void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff) {
            real.logProbs(hidden, n, targets, tOff, out, outOff);
        }

        @Override public void close() {}
    }

    private static List<int[]> docs(int vocab) {
        SplittableRandom r = new SplittableRandom(11);
        List<int[]> docs = new ArrayList<>();
        for (int len : new int[] {70, 5, 33, 1, 48, 16, 17, 90}) {
            int[] d = new int[len];
            for (int i = 0; i < len; i++) d[i] = r.nextInt(vocab);
            docs.add(d);
        }
        return docs;
    }

    @Test
    void heldStatesGiveHostResultsAndAreAllReleased() {
        Fixtures.Case fx = Fixtures.load("mssm_g2_mlp_bin");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            List<int[]> docs = docs(cpu.config().vocabSize);
            DocumentRunner.ScoreOptions o = new DocumentRunner.ScoreOptions(16, -1, true);
            var want = new DocumentRunner(cpu).scoreAll(docs, o, 64);
            var wantEmb = new DocumentRunner(cpu).embedAll(docs, 16, 64);
            HoldingEngine e = new HoldingEngine(cpu, Integer.MAX_VALUE);
            var got = new DocumentRunner(e).scoreAll(docs, o, 64);
            var gotEmb = new DocumentRunner(e).embedAll(docs, 16, 64);
            assertTrue(e.made >= 8, "long documents carried held states: " + e.made);
            assertEquals(0, e.live, "every carried state released");
            for (int i = 0; i < docs.size(); i++) {
                assertArrayEquals(want.get(i).result().tokenLogprobs(), got.get(i).result().tokenLogprobs(), "doc " + i);
                assertArrayEquals(wantEmb.get(i).result().mean(), gotEmb.get(i).result().mean(), "doc " + i);
                assertArrayEquals(wantEmb.get(i).result().last(), gotEmb.get(i).result().last(), "doc " + i);
            }
        }
    }

    @Test
    void splitPassesKeepHeldStatesAsTheyWere() {
        Fixtures.Case fx = Fixtures.load("mssm_g2_mlp_bin");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            List<int[]> docs = docs(cpu.config().vocabSize);
            DocumentRunner.ScoreOptions o = new DocumentRunner.ScoreOptions(16, -1, true);
            var want = new DocumentRunner(cpu).scoreAll(docs, o, 64);
            HoldingEngine e = new HoldingEngine(cpu, 40);
            DocumentRunner r = new DocumentRunner(e);
            var got = r.scoreAll(docs, o, 64);
            assertTrue(r.memorySplits() > 0);
            assertEquals(0, e.live);
            for (int i = 0; i < docs.size(); i++)
                assertArrayEquals(want.get(i).result().tokenLogprobs(), got.get(i).result().tokenLogprobs(), "doc " + i);
        }
    }

    @Test
    void aFailedCallLeavesNoHeldStateBehind() {
        Fixtures.Case fx = Fixtures.load("mssm_g2_mlp_bin");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            HoldingEngine e = new HoldingEngine(cpu, Integer.MAX_VALUE);
            e.failOnPass = 2;
            List<int[]> docs = docs(cpu.config().vocabSize);
            IllegalStateException x = assertThrows(IllegalStateException.class,
                    () -> new DocumentRunner(e).scoreAll(docs, new DocumentRunner.ScoreOptions(16, -1, false), 64));
            assertTrue(x.getMessage().contains("injected"), x.getMessage());
            assertTrue(e.made > 0);
            assertEquals(0, e.live, "states of the documents in flight released after the failure");
        }
    }

    @Test
    void copyAndTheCpuEngineReadAHeldStateBack() {
        Fixtures.Case fx = Fixtures.load("mssm_g2_mlp_bin");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            int[] doc = docs(cpu.config().vocabSize).get(0);
            Mamba2State ref = cpu.newState();
            float[] want = cpu.forward(doc, 30, 40, afterPrefix(cpu, doc, ref));
            HoldingEngine e = new HoldingEngine(cpu, Integer.MAX_VALUE);
            Mamba2State held = e.newCarriedState();
            e.forwardPacked(doc, new int[] {0, 30}, new Mamba2State[] {held});
            assertTrue(held.isHeld());
            Mamba2State copy = held.copy();
            assertFalse(held.isHeld(), "copy() loads a held state first");
            assertEquals(0, e.live);
            assertArrayEquals(want, cpu.forward(doc, 30, 40, copy));
            Mamba2State held2 = e.newCarriedState();
            e.forwardPacked(doc, new int[] {0, 30}, new Mamba2State[] {held2});
            assertArrayEquals(want, cpu.forward(doc, 30, 40, held2), "the CPU engine loads a held state before reading it");
            assertFalse(held2.isHeld());
        }
    }

    private static Mamba2State afterPrefix(Engine cpu, int[] doc, Mamba2State st) {
        cpu.forward(doc, 0, 30, st);
        return st;
    }
}
