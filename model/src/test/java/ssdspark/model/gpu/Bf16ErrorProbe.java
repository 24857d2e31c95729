package ssdspark.model.gpu;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import ssdspark.kernels.CausalConv1d;
import ssdspark.kernels.GatedRmsNorm;
import ssdspark.kernels.Gemm;
import ssdspark.kernels.LmHead;
import ssdspark.kernels.RmsNorm;
import ssdspark.kernels.SsdScan;
import ssdspark.kernels.gpu.DType;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2State;
import ssdspark.model.Mamba2Weights;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where the 16-bit paths' error comes from, on the CPU (no GPU needed): the CPU forward of the 130M-size random model
 * (the docs of Gpu130mTest) with 16-bit rounding switched on per part, each against exact fp32:
 * <ul>
 *   <li>P: the in_proj / out_proj weights;</li>
 *   <li>G: the embedding table the residual stream is gathered from;</li>
 *   <li>E: the (tied) embedding as the LM head;</li>
 *   <li>A: the GEMM input activations (normed block input, gated SSD output);</li>
 *   <li>H: the LM head input (final-normed hidden state).</li>
 * </ul>
 * A case is written like {@code "P=bf16 A=bf16 G=f16 E=f16 H=f16"} (unnamed parts stay fp32). Runs only with
 * -Dssd.probe=true; -Dssd.probe.cases="...;..." replaces the default list.
 */
class Bf16ErrorProbe {
    static final String DEFAULT_CASES = String.join(";",
            "P=bf16 G=bf16 E=bf16 A=bf16 H=bf16",  // the GPU bf16 path
            "P=bf16 G=bf16 E=bf16",                 // weights alone (Gpu130mTest's rounded-matrices line)
            "P=bf16",                               // weights except the embedding
            "G=bf16 E=bf16",                        // the embedding alone
            "G=bf16", "E=bf16", "H=bf16", "E=bf16 H=bf16", "A=bf16",
            "P=bf16 A=bf16",                        // the bf16 path with an exact embedding / head
            "P=bf16 A=bf16 G=f16 E=f16 H=f16",      // the bf16 blocks with an fp16 embedding / head
            "P=f16 G=f16 E=f16 A=f16 H=f16");       // the GPU fp16 path

    @Test
    void attributeBf16Error() {
        Assumptions.assumeTrue(Boolean.getBoolean("ssd.probe"), "probe runs only with -Dssd.probe=true");
        Mamba2Weights w = RandomMamba2.weights(RandomMamba2.config130m(), 130, Double.parseDouble(System.getProperty("ssd.probe.emb", "0.1")));
        int[][] docs = RandomMamba2.randomDocs(42, w.cfg.vocabSize, 1024, 777, 512, 300, 2);
        long t0 = System.nanoTime();
        float[][] exact = run(w, docs, parse(""));
        System.out.printf("  probe: exact fp32 forward in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        Gpu130mTest.stats("CPU engine vs this probe's fp32 forward", Gpu130mTest.cpuLogProbs(w, docs), exact);
        for (String cs : System.getProperty("ssd.probe.cases", DEFAULT_CASES).split(";")) {
            float[][] got = run(w, docs, parse(cs));
            Gpu130mTest.stats("CPU rounding " + cs.trim(), got, exact);
        }
    }

    static Map<Character, DType> parse(String spec) {
        Map<Character, DType> m = new LinkedHashMap<>();
        for (char p : "PGEAH".toCharArray()) m.put(p, DType.F32);
        for (String part : spec.trim().split("\\s+")) {
            if (part.isEmpty()) continue;
            String[] kv = part.split("=");
            DType t = kv[1].equals("bf16") ? DType.BF16 : kv[1].equals("f16") ? DType.F16 : DType.F32;
            m.put(kv[0].charAt(0), t);
        }
        return m;
    }

    static float[][] run(Mamba2Weights w, int[][] docs, Map<Character, DType> r) {
        Mamba2Config c = w.cfg;
        DType rp = r.get('P'), rg = r.get('G'), re = r.get('E'), ra = r.get('A'), rh = r.get('H');
        int L = c.nLayer, d = c.dModel, dIn = c.dInProj(), dMlp = c.dMlp(), dSsm = c.dSsm, convDim = c.convDim();
        int H = c.nheads, N = c.dState, G = c.ngroups;
        int zOff = 2 * dMlp, xbcOff = zOff + dSsm, dtOff = xbcOff + convDim;
        if (dMlp != 0 || w.layers[0].inProjBias != null || w.layers[0].outProjBias != null)
            throw new IllegalStateException("probe covers d_mlp = 0 without biases only");
        Gemm.Weight[] inP = new Gemm.Weight[L], outP = new Gemm.Weight[L];
        float[][] negA = new float[L][H];
        for (int l = 0; l < L; l++) {
            inP[l] = Gemm.pack(rp.round(w.layers[l].inProj), dIn, d);
            outP[l] = Gemm.pack(rp.round(w.layers[l].outProj), d, c.dInner);
            for (int h = 0; h < H; h++) negA[l][h] = (float) -Math.exp(w.layers[l].aLog[h]);
        }
        float[] embG = rg.round(w.embedding);
        Gemm.Weight head = Gemm.pack(re.round(w.lmHead), w.headRows, d);
        SsdScan.Dims dims = new SsdScan.Dims(H, c.headdim, N, G);
        float[][] out = new float[docs.length][];
        for (int di = 0; di < docs.length; di++) {
            int[] tok = docs[di];
            int n = tok.length;
            Mamba2State st = new Mamba2State(c);
            float[] h = new float[n * d];
            for (int t = 0; t < n; t++) System.arraycopy(embG, tok[t] * d, h, t * d, d);
            float[] xn = new float[n * d], proj = new float[n * dIn], xbc = new float[n * convDim], dt = new float[n * H],
                    y = new float[n * dSsm], gated = new float[n * c.dInner], o = new float[n * d];
            for (int l = 0; l < L; l++) {
                Mamba2Weights.Layer ly = w.layers[l];
                RmsNorm.cpu(h, ly.norm, c.normEps, n, d, xn);
                Gemm.matmul(ra.round(xn), n, inP[l], proj);
                CausalConv1d.cpu(proj, xbcOff, dIn, n, convDim, ly.convWeight, ly.convBias, c.dConv, st.conv[l], xbc);
                for (int t = 0; t < n; t++)
                    for (int hh = 0; hh < H; hh++) {
                        float v = proj[t * dIn + dtOff + hh] + ly.dtBias[hh];
                        v = v > 20f ? v : (float) Math.log1p(Math.exp(v));
                        dt[t * H + hh] = Math.min(Math.max(v, c.dtMin), c.dtMax);
                    }
                SsdScan.chunked(dims, n, c.chunkSize, xbc, convDim, 0, dSsm, dSsm + G * N, dt, negA[l], ly.d, c.dHasHdim, st.ssm[l], y);
                GatedRmsNorm.cpu(y, 0, dSsm, proj, zOff, dIn, ly.gatedNorm, c.gatedNormEps, dSsm / G, c.normBeforeGate, n, dSsm, gated, dMlp, c.dInner);
                Gemm.matmul(ra.round(gated), n, outP[l], o);
                for (int i = 0; i < n * d; i++) h[i] += o[i];
            }
            RmsNorm.cpu(h, w.normF, c.normEps, n, d, xn);
            float[] lp = new float[Math.max(0, n - 1)];
            if (n > 1) LmHead.logProbsCpu(rh.round(xn), n - 1, head, tok, 1, lp, 0);
            out[di] = lp;
        }
        return out;
    }
}
