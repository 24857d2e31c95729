package ssdspark.model;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hybrids' KV caches grow with the document: the runner caps a document's length and the caches in flight together. */
class AttentionCapTest {
    static final double TOL = 1e-4;

    /** Records the most KV-cache rows (of one attention layer) held by the carried states of one engine call. */
    static final class Watch implements Engine {
        final Engine e;
        final int layer;
        int most;

        Watch(Engine e) {
            this.e = e;
            int l = 0;
            while (!e.config().isAttention(l)) l++;
            layer = l;
        }

        @Override public Mamba2Config config() { return e.config(); }
        @Override public String backend() { return e.backend(); }
        @Override public float[] forward(int[] tokens, int off, int n, Mamba2State state) { return e.forward(tokens, off, n, state); }

        @Override
        public float[] forwardPacked(int[] tokens, int[] cu, Mamba2State[] states) {
            float[] h = Engine.super.forwardPacked(tokens, cu, states);
            int held = 0;
            for (Mamba2State s : states) if (s != null) held += s.kv[layer].length();
            most = Math.max(most, held);
            return h;
        }

        @Override public void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff) { e.logProbs(hidden, n, targets, tOff, out, outOff); }
        @Override public void close() {}
    }

    @Test
    void documentsInFlightKeepTheirCachesWithinTheCap() {
        Fixtures.Case fx = Fixtures.load("mssm_hybrid_gqa_rotary");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            List<int[]> docs = new ArrayList<>();
            for (int r = 0; r < 4; r++) for (Fixtures.Doc d : fx.docs()) docs.add(d.tokens()); // 4 × lengths 1, 2, 7, 8, 21, 45
            var opts = new DocumentRunner.ScoreOptions(7, -1, true);
            Watch free = new Watch(cpu), capped = new Watch(cpu);
            var a = new DocumentRunner(free).scoreAll(docs, opts, 50);
            var b = new DocumentRunner(capped, 60).scoreAll(docs, opts, 50);
            assertTrue(free.most > 60, "without the cap several long documents are in flight together: " + free.most);
            assertTrue(capped.most <= 60, "KV rows carried at once " + capped.most + " > cap 60");
            for (int i = 0; i < docs.size(); i++) {
                assertEquals(a.get(i).result().sumLogprob(), b.get(i).result().sumLogprob(), TOL * docs.get(i).length, "doc " + i);
                var alone = new DocumentRunner(cpu).score(docs.get(i), new DocumentRunner.ScoreOptions(docs.get(i).length, -1, false));
                assertEquals(alone.sumLogprob(), b.get(i).result().sumLogprob(), TOL * docs.get(i).length, "doc " + i + " alone");
            }
        }
    }

    @Test
    void aDocumentLongerThanTheCapIsAnErrorRow() {
        Fixtures.Case fx = Fixtures.load("mssm_hybrid_gqa_rotary");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            int[] doc21 = fx.docs().get(4).tokens(), doc7 = fx.docs().get(2).tokens();
            DocumentRunner r = new DocumentRunner(cpu, 21);
            var scores = r.scoreAll(List.of(doc21, doc7), new DocumentRunner.ScoreOptions(8, 0, false), 100);
            String err = scores.get(0).error(); // 21 tokens + BOS = 22 > 21
            assertTrue(err.contains("document of 22 tokens is longer than max attention tokens 21 (--max-attention-tokens)"), err);
            assertTrue(err.contains("2 attention layers"), err);
            assertTrue(err.contains("0.5 KiB a token, 11.0 KiB for this document"), err); // 4 bytes × 2 layers × (k, v) × 2 kv heads × 16
            assertTrue(scores.get(1).ok());
            assertTrue(r.scoreAll(List.of(doc21), new DocumentRunner.ScoreOptions(8, -1, false), 100).get(0).ok(), "21 tokens fit");
            assertNull(r.embedAll(List.of(doc21, new int[22]), 8, 100).get(1).result());
            assertThrows(IllegalArgumentException.class, () -> new DocumentRunner(cpu, 0));
        }
    }

    @Test
    void modelsWithoutAttentionIgnoreTheCap() {
        Fixtures.Case fx = Fixtures.load("mssm_g1_safetensors");
        try (Engine cpu = Mamba2Model.cpu(fx.dir())) {
            int[] doc = fx.docs().get(5).tokens();
            assertEquals(0, cpu.config().kvCacheBytesPerToken());
            assertTrue(new DocumentRunner(cpu, 1).scoreAll(List.of(doc), new DocumentRunner.ScoreOptions(8, -1, false), 16).get(0).ok());
        }
    }
}
