package ssdspark.model.gpu;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import ssdspark.kernels.CausalConv1d;
import ssdspark.kernels.GatedRmsNorm;
import ssdspark.kernels.Gemm;
import ssdspark.kernels.LmHead;
import ssdspark.kernels.RmsNorm;
import ssdspark.kernels.SsdScan;
import ssdspark.kernels.gpu.Bf16;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2State;
import ssdspark.model.Mamba2Weights;

import java.util.Arrays;

/**
 * Where the bf16 path's error comes from, on the CPU (no GPU needed): the CPU forward with bf16 rounding switched on
 * for the weights (W), the GEMM input activations (A) and the LM head input (H), each against exact fp32.
 * Runs only with -Dssd.probe=true.
 */
class Bf16ErrorProbe {
    @Test
    void attributeBf16Error() {
        Assumptions.assumeTrue(Boolean.getBoolean("ssd.probe"), "probe runs only with -Dssd.probe=true");
        Mamba2Weights w = RandomMamba2.weights(RandomMamba2.config130m(), 130, Double.parseDouble(System.getProperty("ssd.probe.emb", "0.1")));
        int[][] docs = RandomMamba2.randomDocs(42, w.cfg.vocabSize, Integer.getInteger("ssd.probe.len", 300));
        float[][] exact = run(w, docs, false, false, false);
        for (String cfg : new String[] {"W", "A", "H", "WAH"}) {
            float[][] got = run(w, docs, cfg.contains("W"), cfg.contains("A"), cfg.contains("H"));
            double sum = 0, max = 0;
            int n = 0;
            for (int i = 0; i < docs.length; i++)
                for (int t = 0; t < exact[i].length; t++) {
                    double d = Math.abs(got[i][t] - exact[i][t]);
                    sum += d;
                    max = Math.max(max, d);
                    n++;
                }
            System.out.printf("  bf16 rounding of %-4s: |Δ log-prob| mean %.4f max %.4f over %d tokens%n", cfg, sum / n, max, n);
        }
    }

    static float[][] run(Mamba2Weights w, int[][] docs, boolean rw, boolean ra, boolean rh) {
        Mamba2Config c = w.cfg;
        int L = c.nLayer, d = c.dModel, dIn = c.dInProj(), dMlp = c.dMlp(), dSsm = c.dSsm, convDim = c.convDim();
        int H = c.nheads, N = c.dState, G = c.ngroups;
        int zOff = 2 * dMlp, xbcOff = zOff + dSsm, dtOff = xbcOff + convDim;
        Gemm.Weight[] inP = new Gemm.Weight[L], outP = new Gemm.Weight[L];
        float[][] negA = new float[L][H];
        for (int l = 0; l < L; l++) {
            inP[l] = Gemm.pack(rw ? Bf16.round(w.layers[l].inProj) : w.layers[l].inProj, dIn, d);
            outP[l] = Gemm.pack(rw ? Bf16.round(w.layers[l].outProj) : w.layers[l].outProj, d, c.dInner);
            for (int h = 0; h < H; h++) negA[l][h] = (float) -Math.exp(w.layers[l].aLog[h]);
        }
        float[] emb = rw ? Bf16.round(w.embedding) : w.embedding;
        Gemm.Weight head = Gemm.pack(emb, w.headRows, d);
        SsdScan.Dims dims = new SsdScan.Dims(H, c.headdim, N, G);
        float[][] out = new float[docs.length][];
        for (int di = 0; di < docs.length; di++) {
            int[] tok = docs[di];
            int n = tok.length;
            Mamba2State st = new Mamba2State(c);
            float[] h = new float[n * d];
            for (int t = 0; t < n; t++) System.arraycopy(emb, tok[t] * d, h, t * d, d);
            float[] xn = new float[n * d], proj = new float[n * dIn], xbc = new float[n * convDim], dt = new float[n * H],
                    y = new float[n * dSsm], gated = new float[n * c.dInner], o = new float[n * d];
            for (int l = 0; l < L; l++) {
                Mamba2Weights.Layer ly = w.layers[l];
                RmsNorm.cpu(h, ly.norm, c.normEps, n, d, xn);
                Gemm.matmul(ra ? Bf16.round(xn) : xn, n, inP[l], proj);
                CausalConv1d.cpu(proj, xbcOff, dIn, n, convDim, ly.convWeight, ly.convBias, c.dConv, st.conv[l], xbc);
                for (int t = 0; t < n; t++)
                    for (int hh = 0; hh < H; hh++) {
                        float v = proj[t * dIn + dtOff + hh] + ly.dtBias[hh];
                        v = v > 20f ? v : (float) Math.log1p(Math.exp(v));
                        dt[t * H + hh] = Math.min(Math.max(v, c.dtMin), c.dtMax);
                    }
                SsdScan.chunked(dims, n, c.chunkSize, xbc, convDim, 0, dSsm, dSsm + G * N, dt, negA[l], ly.d, c.dHasHdim, st.ssm[l], y);
                GatedRmsNorm.cpu(y, 0, dSsm, proj, zOff, dIn, ly.gatedNorm, c.gatedNormEps, dSsm / G, c.normBeforeGate, n, dSsm, gated, dMlp, c.dInner);
                Gemm.matmul(ra ? Bf16.round(gated) : gated, n, outP[l], o);
                for (int i = 0; i < n * d; i++) h[i] += o[i];
            }
            RmsNorm.cpu(h, w.normF, c.normEps, n, d, xn);
            float[] lp = new float[n - 1];
            LmHead.logProbsCpu(rh ? Bf16.round(xn) : xn, n - 1, head, tok, 1, lp, 0);
            out[di] = lp;
        }
        return out;
    }
}
