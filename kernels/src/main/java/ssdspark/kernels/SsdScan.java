package ssdspark.kernels;

/**
 * The SSD (state space duality) scan of Mamba-2 over one sequence, from an initial state to a final
 * state. Per head h with scalar decay a_t = exp(dt_t · A_h), per channel p and state index n:
 * <pre>
 *   S_t[p][n] = a_t · S_{t-1}[p][n] + dt_t · x_t[p] · B_t[n]
 *   y_t[p]    = Σ_n C_t[n] · S_t[p][n] + D · x_t[p]
 * </pre>
 * The chunked form computes the same thing per chunk of Q steps as a masked quadratic form (intra
 * chunk) plus the contribution of the state entering the chunk (inter chunk), then passes the state on.
 * Head h reads B/C group {@code h / (nheads / ngroups)}.
 *
 * <p>Shapes (rows are time): x[len][*] at xOff (nheads·headdim), B and C [len][*] at bOff/cOff
 * (ngroups·dstate), dt[len][nheads] already softplus'd and clamped, A[nheads] (negative),
 * D[nheads] or D[nheads·headdim], state[nheads][headdim][dstate] updated in place, y[len][nheads·headdim].
 */
public final class SsdScan {
    private SsdScan() {}

    public record Dims(int nheads, int headdim, int dstate, int ngroups) {
        public Dims {
            if (nheads % ngroups != 0) throw new IllegalArgumentException("nheads " + nheads + " not a multiple of ngroups " + ngroups);
        }
        int group(int h) { return h / (nheads / ngroups); }
    }

    /** Chunked SSD with chunk length q; the CPU twin of the GPU scan. */
    public static void chunked(Dims dm, int len, int q,
                               float[] in, int inStride, int xOff, int bOff, int cOff,
                               float[] dt, float[] A, float[] D, boolean dPerChannel,
                               float[] state, float[] y) {
        final int H = dm.nheads, P = dm.headdim, N = dm.dstate, G = dm.ngroups;
        final int nChunks = (len + q - 1) / q;
        // CB[chunk][group][t][τ] = C_t · B_τ for τ <= t, shared by all heads of a group.
        final float[] cb = new float[nChunks * G * q * q];
        Parallel.forRange(nChunks * G, cg -> {
            int c = cg / G, g = cg % G, s = c * q, ql = Math.min(q, len - s);
            int base = cg * q * q;
            for (int t = 0; t < ql; t++) {
                int ct = (s + t) * inStride + cOff + g * N;
                for (int u = 0; u <= t; u++) {
                    int bu = (s + u) * inStride + bOff + g * N;
                    float acc = 0f;
                    for (int n = 0; n < N; n++) acc += in[ct + n] * in[bu + n];
                    cb[base + t * q + u] = acc;
                }
            }
        });
        Parallel.forRange(H, h -> {
            final int g = dm.group(h);
            final float a = A[h];
            float[] st = new float[N * P]; // transposed state [n][p] so every inner loop runs over p
            for (int p = 0; p < P; p++)
                for (int n = 0; n < N; n++) st[n * P + p] = state[(h * P + p) * N + n];
            float[] cum = new float[q];
            float[] acc = new float[P];
            for (int c = 0; c < nChunks; c++) {
                int s = c * q, ql = Math.min(q, len - s);
                float run = 0f;
                for (int t = 0; t < ql; t++) { run += dt[(s + t) * H + h] * a; cum[t] = run; }
                int cbBase = (c * G + g) * q * q;
                for (int t = 0; t < ql; t++) {
                    java.util.Arrays.fill(acc, 0f);
                    // inter chunk: the state entering the chunk, decayed to step t
                    int ct = (s + t) * inStride + cOff + g * N;
                    float decay = (float) Math.exp(cum[t]);
                    for (int n = 0; n < N; n++) {
                        float cn = in[ct + n] * decay;
                        int sn = n * P;
                        for (int p = 0; p < P; p++) acc[p] += cn * st[sn + p];
                    }
                    // intra chunk: masked quadratic form
                    for (int u = 0; u <= t; u++) {
                        float w = cb[cbBase + t * q + u] * (float) Math.exp(cum[t] - cum[u]) * dt[(s + u) * H + h];
                        int xu = (s + u) * inStride + xOff + h * P;
                        for (int p = 0; p < P; p++) acc[p] += w * in[xu + p];
                    }
                    int xt = (s + t) * inStride + xOff + h * P, yt = (s + t) * H * P + h * P;
                    for (int p = 0; p < P; p++) {
                        float d = dPerChannel ? D[h * P + p] : D[h];
                        y[yt + p] = acc[p] + d * in[xt + p];
                    }
                }
                // state passing: S_end = exp(cum_last) · S_in + Σ_u exp(cum_last - cum_u) · dt_u · x_u ⊗ B_u
                float last = cum[ql - 1];
                float keep = (float) Math.exp(last);
                for (int i = 0; i < N * P; i++) st[i] *= keep;
                for (int u = 0; u < ql; u++) {
                    float w = (float) Math.exp(last - cum[u]) * dt[(s + u) * H + h];
                    int xu = (s + u) * inStride + xOff + h * P, bu = (s + u) * inStride + bOff + g * N;
                    for (int n = 0; n < N; n++) {
                        float wb = w * in[bu + n];
                        int sn = n * P;
                        for (int p = 0; p < P; p++) st[sn + p] += wb * in[xu + p];
                    }
                }
            }
            for (int p = 0; p < P; p++)
                for (int n = 0; n < N; n++) state[(h * P + p) * N + n] = st[n * P + p];
        });
    }

    /** The recurrence one step at a time in double precision: the ground truth the chunked form is tested against. */
    public static void sequentialReference(Dims dm, int len,
                                           float[] in, int inStride, int xOff, int bOff, int cOff,
                                           float[] dt, float[] A, float[] D, boolean dPerChannel,
                                           double[] state, double[] y) {
        final int H = dm.nheads, P = dm.headdim, N = dm.dstate;
        for (int t = 0; t < len; t++) {
            for (int h = 0; h < H; h++) {
                int g = dm.group(h);
                double d = dt[t * H + h], decay = Math.exp(d * A[h]);
                for (int p = 0; p < P; p++) {
                    double xv = in[t * inStride + xOff + h * P + p], out = 0;
                    for (int n = 0; n < N; n++) {
                        int si = (h * P + p) * N + n;
                        state[si] = decay * state[si] + d * xv * in[t * inStride + bOff + g * N + n];
                        out += in[t * inStride + cOff + g * N + n] * state[si];
                    }
                    double dd = dPerChannel ? D[h * P + p] : D[h];
                    y[t * H * P + h * P + p] = out + dd * xv;
                }
            }
        }
    }
}
