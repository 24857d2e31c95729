package ssdspark.udf;

import ssdspark.model.Engine;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2State;

import java.util.concurrent.atomic.AtomicInteger;

/** A deterministic stand-in engine: hidden row = (token, position-free constants), log p(t) = -(t+1)/10. */
final class FakeEngine implements Engine {
    static final Mamba2Config CONFIG = Mamba2Config.parse("{\"model_type\":\"mamba2\",\"hidden_size\":4,\"num_hidden_layers\":1,"
            + "\"vocab_size\":10,\"state_size\":2,\"head_dim\":2,\"expand\":2,\"n_groups\":1}");
    final AtomicInteger forwards = new AtomicInteger();
    final AtomicInteger packed = new AtomicInteger();

    @Override public Mamba2Config config() { return CONFIG; }

    @Override public String backend() { return "fake"; }

    @Override
    public float[] forwardPacked(int[] tokens, int[] cu, Mamba2State[] states) {
        packed.incrementAndGet();
        return Engine.super.forwardPacked(tokens, cu, states);
    }

    @Override
    public float[] forward(int[] tokens, int off, int n, Mamba2State state) {
        forwards.incrementAndGet();
        int d = CONFIG.dModel;
        float[] h = new float[n * d];
        for (int t = 0; t < n; t++)
            for (int j = 0; j < d; j++) h[t * d + j] = tokens[off + t] + j;
        return h;
    }

    @Override
    public void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff) {
        for (int i = 0; i < n; i++) out[outOff + i] = -(targets[tOff + i] + 1) / 10f;
    }

    @Override public void close() {}
}
