package ssdspark.model;

import org.junit.jupiter.api.Test;
import ssdspark.model.bench.RandomTensorSource;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The CPU engine's GEMM-input and in_proj-output hooks and its SSD rounding (what the bf16 error probe rounds): where
 * they apply, and that they change nothing else.
 */
class CpuEngineGemmInputTest {
    static final Mamba2Config C = Mamba2Config.parse("{\"d_model\": 32, \"n_layer\": 3, \"vocab_size\": 50, \"ssm_cfg\": {\"layer\": \"Mamba2\","
            + " \"d_state\": 8, \"headdim\": 8, \"ngroups\": 2, \"chunk_size\": 4}, \"rms_norm\": true, \"tie_embeddings\": true}");
    static final Mamba2Weights W = Mamba2Weights.load(C, RandomTensorSource.perturbed(C, 3, 0.5));
    static final int[] DOC = {1, 7, 49, 3, 3, 0, 12, 30, 8};

    static float[] forward(CpuEngine e) { return e.forward(DOC, 0, DOC.length, e.newState()); }

    @Test
    void identityIsThePlainEngine() {
        assertArrayEquals(forward(new CpuEngine(W)), forward(new CpuEngine(W, UnaryOperator.identity())));
    }

    @Test
    void identityInProjOutputIsThePlainEngine() {
        assertArrayEquals(forward(new CpuEngine(W)),
                forward(new CpuEngine(W, UnaryOperator.identity(), UnaryOperator.identity())));
    }

    @Test
    void seesEveryInProjOutputOnceAndItsValuesAreUsed() {
        AtomicInteger calls = new AtomicInteger();
        int n = DOC.length;
        float[] plain = forward(new CpuEngine(W));
        float[] halved = forward(new CpuEngine(W, UnaryOperator.identity(), a -> {
            calls.getAndIncrement();
            assertTrue(a.length >= n * C.dInProj(), "in_proj's rows [z | xBC | dt]");
            float[] h = a.clone();
            for (int i = 0; i < h.length; i++) h[i] *= 0.5f;
            return h;
        }));
        assertEquals(C.nLayer, calls.get(), "once a Mamba-2 layer");
        assertFalse(java.util.Arrays.equals(plain, halved), "the mixers read what the hook returns");
    }

    @Test
    void seesEveryProjectionInputOnce() {
        AtomicInteger calls = new AtomicInteger();
        int d = C.dModel, n = DOC.length;
        forward(new CpuEngine(W, a -> {
            int k = calls.getAndIncrement();
            assertEquals(n * (k % 2 == 0 ? d : C.dInner), a.length, "in_proj then out_proj input, layer " + k / 2);
            return a;
        }));
        assertEquals(2 * C.nLayer, calls.get());
    }

    /** ssdBf16Operands moves the output (the SSD's operands are rounded), by about bf16's distance, not more. */
    @Test
    void ssdBf16OperandsRoundTheScanOnly() {
        float[] plain = forward(new CpuEngine(W));
        float[] rounded = forward(new CpuEngine(W, UnaryOperator.identity(), UnaryOperator.identity(), true));
        double num = 0, den = 0;
        for (int i = 0; i < plain.length; i++) {
            num += ((double) rounded[i] - plain[i]) * ((double) rounded[i] - plain[i]);
            den += (double) plain[i] * plain[i];
        }
        double rel = Math.sqrt(num / den);
        assertTrue(rel > 0 && rel < 0x1p-5, "hidden relative change " + rel);
    }

    /** With every projection input zeroed, no block adds anything: the output is the final norm of the embedding rows. */
    @Test
    void zeroedInputsLeaveTheResidualStreamAlone() {
        float[] got = forward(new CpuEngine(W, a -> new float[a.length]));
        int d = C.dModel;
        for (int t = 0; t < DOC.length; t++) {
            double ss = 0;
            for (int i = 0; i < d; i++) ss += (double) W.embedding[DOC[t] * d + i] * W.embedding[DOC[t] * d + i];
            double inv = 1 / Math.sqrt(ss / d + C.normEps);
            for (int i = 0; i < d; i++)
                assertEquals(W.embedding[DOC[t] * d + i] * inv * W.normF[i], got[t * d + i], 1e-5, "token " + t + ", channel " + i);
        }
    }
}
