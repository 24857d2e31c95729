package ssdspark.model.gpu;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import ssdspark.model.CpuEngine;
import ssdspark.model.Mamba2State;
import ssdspark.model.Mamba2Weights;

import java.util.Arrays;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;
import static ssdspark.model.gpu.GpuEngineTest.maxDiff;

/**
 * Mamba-2 + attention hybrids and gated-MLP blocks on the GPU against the CPU engine (fp32: float rounding only; bf16:
 * within the 16-bit GEMMs' error), and the hybrid's own invariants: a document fed in chunks (KV caches carried in
 * the state) equals it whole, and a packed batch equals each document alone.
 */
class GpuHybridTest {
    static Stream<GpuEngineTest.Model> hybrids() {
        return Stream.of(
                new GpuEngineTest.Model("attn at 1,3 of 4, GQA 4/2, rotary 16 half-split, attn conv, attn MLP, gated MLP blocks",
                        hybrid(4, "[1, 3]", "\"num_heads\": 4, \"num_heads_kv\": 2, \"head_dim\": 16, \"rotary_emb_dim\": 16, "
                                + "\"d_conv\": 4, \"mlp_dim\": 100, \"causal\": true", 64)),
                new GpuEngineTest.Model("attn at 0 of 3, MHA head 32 interleaved rotary 8, biases, no conv",
                        hybrid(3, "[0]", "\"num_heads\": 2, \"head_dim\": 32, \"rotary_emb_dim\": 8, \"rotary_emb_interleaved\": true, "
                                + "\"qkv_proj_bias\": true, \"out_proj_bias\": true, \"causal\": true", 0)));
    }

    static String hybrid(int layers, String attnIdx, String attnCfg, int dIntermediate) {
        return "{\"d_model\": 64, \"n_layer\": " + layers + ", \"vocab_size\": 501, \"d_intermediate\": " + dIntermediate
                + ", \"ssm_cfg\": {\"layer\": \"Mamba2\", \"d_state\": 16, \"headdim\": 16, \"ngroups\": 2, \"chunk_size\": 32}, "
                + "\"attn_layer_idx\": " + attnIdx + ", \"attn_cfg\": {" + attnCfg + "}, "
                + "\"rms_norm\": true, \"pad_vocab_size_multiple\": 8, \"tie_embeddings\": true}";
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hybrids")
    void hybridMatchesCpuAndCarriesCaches(GpuEngineTest.Model m) {
        int dev = GpuEngineTest.device();
        Mamba2Weights w = RandomMamba2.weights(m.json(), 71, 0.5);
        assertTrue(w.cfg.isHybrid());
        CpuEngine cpu = new CpuEngine(w);
        int[][] docs = RandomMamba2.randomDocs(73, w.cfg.vocabSize, 1, 130, 7, 300, 64, 65);
        int[][] targets = GpuEngine.nextTokenTargets(docs);
        for (Precision p : new Precision[] {Precision.FP32, Precision.BF16})
            try (GpuEngine gpu = GpuEngine.create(w, dev, p)) {
                // bf16: tiny random models with large weights move up to ~0.16 from bf16 rounding alone (GpuReferenceFixtureTest)
                double tol = p == Precision.FP32 ? 2e-4 : GpuReferenceFixtureTest.BF16_TOL;
                float[][] packed = gpu.logProbsBatch(docs, targets, null);
                double worstCpu = 0, worstAlone = 0;
                for (int i = 0; i < docs.length; i++) {
                    int n = docs[i].length;
                    float[] h = cpu.forward(docs[i], 0, n, cpu.newState());
                    float[] want = new float[n];
                    int[] cpuTargets = targets[i].clone();
                    cpuTargets[n - 1] = 0; // the CPU head takes no "nothing to score" (-1); that position is not compared
                    cpu.logProbs(h, n, cpuTargets, 0, want, 0);
                    worstCpu = Math.max(worstCpu, maxDiff(Arrays.copyOf(packed[i], n - 1), Arrays.copyOf(want, n - 1)));
                    float[] alone = gpu.logProbsBatch(new int[][] {docs[i]}, new int[][] {targets[i]}, null)[0];
                    worstAlone = Math.max(worstAlone, maxDiff(Arrays.copyOf(packed[i], n - 1), Arrays.copyOf(alone, n - 1)));
                }
                System.out.printf("  %s %s: max |Δ log-prob| vs CPU %.2e, packed vs alone %.2e%n", m, p, worstCpu, worstAlone);
                assertTrue(worstCpu <= tol, p + " vs CPU: " + worstCpu + " > " + tol);
                // bf16: packing changes no rounding in attention, but the SSD's chunking may flip a bf16 rounding downstream
                // (GpuEngineTest), bounded by the precision's own distance from fp32
                double own = Math.max(5e-2, worstCpu);
                assertTrue(worstAlone <= (p == Precision.FP32 ? 1e-5 : own), p + " packed vs alone: " + worstAlone);

                // the 300-token document in chunks of 100, 1, 150, 49, its caches carried in the state
                int[] doc = docs[3];
                Mamba2State st = gpu.newState(), cst = cpu.newState();
                float[] chunked = new float[doc.length - 1];
                int pos = 0;
                for (int len : new int[] {100, 1, 150, 49}) {
                    int[] piece = Arrays.copyOfRange(doc, pos, pos + len);
                    int[] tg = Arrays.copyOfRange(doc, pos + 1, Math.min(doc.length, pos + len + 1));
                    if (tg.length < len) tg = Arrays.copyOf(tg, len);
                    if (pos + len == doc.length) tg[len - 1] = -1;
                    float[] lp = gpu.logProbsBatch(new int[][] {piece}, new int[][] {tg}, new Mamba2State[] {st})[0];
                    System.arraycopy(lp, 0, chunked, pos, Math.min(len, doc.length - 1 - pos));
                    cpu.forward(doc, pos, len, cst);
                    pos += len;
                    assertEquals(pos, st.tokensSeen);
                }
                double e = maxDiff(chunked, Arrays.copyOf(packed[3], doc.length - 1));
                System.out.printf("  %s %s: chunked vs whole %.2e%n", m, p, e);
                assertTrue(e <= (p == Precision.FP32 ? 1e-4 : own), p + " chunked vs whole: " + e);
                for (int l = 0; l < w.cfg.nLayer; l++) {
                    if (st.kv[l] == null) continue;
                    assertEquals(cst.kv[l].length(), st.kv[l].length());
                    int n = st.kv[l].length() * st.kv[l].width;
                    double ek = maxDiff(Arrays.copyOf(st.kv[l].keys(), n), Arrays.copyOf(cst.kv[l].keys(), n));
                    double ev = maxDiff(Arrays.copyOf(st.kv[l].values(), n), Arrays.copyOf(cst.kv[l].values(), n));
                    assertTrue(Math.max(ek, ev) <= (p == Precision.FP32 ? 1e-4 : 0.1), p + " KV cache of layer " + l + ": " + ek + "/" + ev);
                }
            }
    }
}
