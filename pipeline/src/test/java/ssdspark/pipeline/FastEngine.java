package ssdspark.pipeline;

import ssdspark.model.Engine;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2State;

import java.util.concurrent.atomic.AtomicLong;

/** A stand-in engine that costs next to nothing (streaming tests): hidden rows of zeros, log p = -1 for every token. */
final class FastEngine implements Engine {
    static final Mamba2Config CONFIG = Mamba2Config.parse("{\"model_type\":\"mamba2\",\"hidden_size\":4,\"num_hidden_layers\":1,"
            + "\"vocab_size\":320,\"state_size\":2,\"head_dim\":2,\"expand\":2,\"n_groups\":1}");
    final AtomicLong tokens = new AtomicLong();
    volatile int largestCall;

    @Override public Mamba2Config config() { return CONFIG; }

    @Override public String backend() { return "fast-fake"; }

    @Override
    public float[] forwardPacked(int[] tokens, int[] cu, Mamba2State[] states) {
        int n = cu[states.length];
        this.tokens.addAndGet(n);
        largestCall = Math.max(largestCall, n);
        return new float[n * CONFIG.dModel];
    }

    @Override
    public float[] forward(int[] tokens, int off, int n, Mamba2State state) { return new float[n * CONFIG.dModel]; }

    @Override
    public void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff) {
        for (int i = 0; i < n; i++) out[outOff + i] = -1f;
    }

    @Override public void close() {}
}
