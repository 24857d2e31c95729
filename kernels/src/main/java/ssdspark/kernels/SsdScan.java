package ssdspark.kernels;

import ssdspark.kernels.gpu.Bf16;

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

    /**
     * Mamba-2's step size: {@code clamp(softplus(dtRaw + dtBias), dtMin, dtMax)}, softplus with torch's threshold of
     * 20. The CPU twin of the dt step of ssd_chunk_cumsum.
     */
    public static float discretizeDt(float dtRaw, float dtBias, float dtMin, float dtMax) {
        float x = dtRaw + dtBias;
        float sp = x > 20f ? x : (float) Math.log1p(Math.exp(x));
        return Math.min(Math.max(sp, dtMin), dtMax);
    }

    /**
     * Chunked SSD with chunk length q; the CPU twin of the GPU scan.
     *
     * <p>Per chunk of L = min(q, rest) steps, with a_t = exp(dt_t·A_h), G_t = a_0···a_t (decay from the
     * chunk start) and E[t][u] = a_{u+1}···a_t (decay from step u to step t, products rather than
     * exp of cumulative-sum differences, so they are the recurrence's own factors):
     * <pre>
     *   Y   = G ∘ (C · S_in)  +  (CB ∘ E ∘ dt) · X  +  D ∘ X        (inter chunk, intra chunk, skip)
     *   S_out = G_{L-1} · S_in  +  (Bᵀ ∘ E_{L-1} ∘ dt) · X           (state passing)
     * </pre>
     * where CB[t][u] = C_t·B_u (u <= t) is shared by the heads of a group. Every product runs through
     * {@link Gemm#madd4t} on 64-wide tiles of the head's channels (headdim padded to a multiple of 64).
     * Work is split over (chunk, group, 64 rows) for CB and over (head, 64-channel tile) for the rest.
     */
    public static void chunked(Dims dm, int len, int q,
                               float[] in, int inStride, int xOff, int bOff, int cOff,
                               float[] dt, float[] A, float[] D, boolean dPerChannel,
                               float[] state, float[] y) {
        chunked(dm, len, q, in, inStride, xOff, bOff, cOff, dt, A, D, dPerChannel, state, y, false);
    }

    /**
     * {@link #chunked} with, when bf16Operands, the operands the GPU's tensor-core kernels keep in bf16 (as mamba_ssm's
     * do) rounded alike: both factors of C · S_in (C and the state entering the chunk), both factors of the
     * intra-chunk product W · X (W = CB ∘ E ∘ dt), in the state update B and E ∘ dt ∘ X, and each chunk's own state
     * before it is added. Every product and sum, the skip term D · x, and the running and final states stay fp32.
     */
    public static void chunked(Dims dm, int len, int q,
                               float[] in, int inStride, int xOff, int bOff, int cOff,
                               float[] dt, float[] A, float[] D, boolean dPerChannel,
                               float[] state, float[] y, boolean bf16Operands) {
        if (q < 1) throw new IllegalArgumentException("chunk length must be >= 1, got " + q);
        if (len <= 0) return;
        final int H = dm.nheads, P = dm.headdim, N = dm.dstate, G = dm.ngroups;
        final int W = Gemm.TILE;
        final int L = Math.min(q, len);                 // longest chunk
        final int nChunks = (len + q - 1) / q;
        final int uTiles = (L + W - 1) / W;
        final int rowTasks = (L + W - 1) / W;          // CB rows are computed 64 at a time
        // Per (chunk, group): Bt[n][u] = B_u[n] (flat rows, for the state update), CB[t][u] = C_t·B_u (flat rows).
        final float[][][] bt = new float[nChunks * G][][];
        final float[][][] cb = new float[nChunks * G][][];
        Parallel.forRange(nChunks * G, cg -> {
            int c = cg / G, g = cg % G, s = c * q, ql = Math.min(q, len - s);
            float[][] b = new float[N][ql];
            for (int u = 0; u < ql; u++) {
                int bu = (s + u) * inStride + bOff + g * N;
                for (int n = 0; n < N; n++) b[n][u] = in[bu + n];
            }
            bt[cg] = b;
            cb[cg] = new float[ql][ql];
        });
        Parallel.forRange(nChunks * G * rowTasks, task -> {
            int cg = task / rowTasks, rt = task % rowTasks;
            int c = cg / G, g = cg % G, s = c * q, ql = Math.min(q, len - s);
            int t0 = rt * W, t1 = Math.min(ql, t0 + W);
            if (t0 >= t1) return;
            float[][] b = bt[cg], rows = cb[cg];
            // B transposed into 64-wide tiles: tile[ut·N + n][i] = B_{ut·64+i}[n]
            int ut1 = (t1 - 1) / W + 1;
            float[][] tile = tileScratch(ut1 * N); // columns past ql hold stale values: they only reach CB[t][u > t], never copied
            for (int ut = 0; ut < ut1; ut++) {
                int u0 = ut * W, uw = Math.min(W, ql - u0);
                for (int n = 0; n < N; n++) System.arraycopy(b[n], u0, tile[ut * N + n], 0, uw);
            }
            float[] a0 = new float[W], a1 = new float[W], a2 = new float[W], a3 = new float[W];
            float[] zero = new float[N];
            for (int t = t0; t < t1; t += 4) {
                int nr = Math.min(4, t1 - t);
                int o0 = (s + t) * inStride + cOff + g * N;
                float[] x1 = nr > 1 ? in : zero, x2 = nr > 2 ? in : zero, x3 = nr > 3 ? in : zero;
                int o1 = nr > 1 ? o0 + inStride : 0, o2 = nr > 2 ? o0 + 2 * inStride : 0, o3 = nr > 3 ? o0 + 3 * inStride : 0;
                int last = t + nr - 1;
                for (int ut = 0; ut * W <= last; ut++) {
                    java.util.Arrays.fill(a0, 0f);
                    java.util.Arrays.fill(a1, 0f);
                    java.util.Arrays.fill(a2, 0f);
                    java.util.Arrays.fill(a3, 0f);
                    Gemm.madd4t(a0, a1, a2, a3, in, o0, x1, o1, x2, o2, x3, o3, tile, ut * N, 0, N);
                    int u0 = ut * W;
                    float[][] acc = {a0, a1, a2, a3};
                    for (int r = 0; r < nr; r++) {
                        int cols = Math.min(W, t + r + 1 - u0); // u <= t only
                        if (cols > 0) System.arraycopy(acc[r], 0, rows[t + r], u0, cols);
                    }
                }
            }
        });
        final int pTiles = (P + W - 1) / W;
        Parallel.forRange(H * pTiles, task -> {
            final int h = task / pTiles, pt = task % pTiles, g = dm.group(h);
            final int p0 = pt * W, pw = Math.min(W, P - p0);
            final float ah = A[h];
            final HeadScratch sc = HeadScratch.get(L, N);
            final float[][] x = sc.x;                  // X rows of this channel tile
            final float[][] st = sc.st;                // state rows S[n][p]
            final float[][] sIn = bf16Operands ? sc.sIn : st; // what C · S_in reads
            final float[][] xw = bf16Operands ? sc.xw : x;     // what the state update reads: E ∘ dt ∘ X, or X
            final float[][] xm = bf16Operands ? sc.xm : x;     // what the intra-chunk product W · X reads
            final float[] y0 = sc.ys[0], y1 = sc.ys[1], y2 = sc.ys[2], y3 = sc.ys[3];
            final float[][] ys = sc.ys;
            final float[] w0 = sc.ws[0], w1 = sc.ws[1], w2 = sc.ws[2], w3 = sc.ws[3];
            final float[][] ws = sc.ws;
            final float[] e = sc.e, dtv = sc.dtv, av = sc.av, gcum = sc.gcum, dv = sc.dv;
            final float[] zero = sc.zero;
            java.util.Arrays.fill(dv, 0f);
            for (int n = 0; n < N; n++) java.util.Arrays.fill(st[n], pw, W, 0f);
            for (int p = 0; p < pw; p++) {
                dv[p] = dPerChannel ? D[h * P + p0 + p] : D[h];
                int sp = (h * P + p0 + p) * N;
                for (int n = 0; n < N; n++) st[n][p] = state[sp + n];
            }
            boolean zeroState = true; // a document's first chunk starts from S = 0: no inter-chunk term
            for (int n = 0; n < N && zeroState; n++)
                for (int p = 0; p < W; p++) if (st[n][p] != 0f) { zeroState = false; break; }
            for (int c = 0; c < nChunks; c++) {
                final int s = c * q, ql = Math.min(q, len - s), cg = c * G + g;
                final float[][] cbRows = cb[cg], bRows = bt[cg];
                float run = 1f;
                for (int t = 0; t < ql; t++) {
                    float d = dt[(s + t) * H + h];
                    dtv[t] = d;
                    float a = tiny((float) Math.exp(d * ah));
                    av[t] = a;
                    run = tiny(run * a);
                    gcum[t] = run;
                    System.arraycopy(in, (s + t) * inStride + xOff + h * P + p0, x[t], 0, pw);
                    if (bf16Operands) for (int p = 0; p < W; p++) xm[t][p] = Bf16.round(x[t][p]);
                }
                if (bf16Operands && !zeroState)
                    for (int n = 0; n < N; n++)
                        for (int p = 0; p < W; p++) sIn[n][p] = Bf16.round(st[n][p]);
                // Y: 4 rows at a time; e holds E[t][·] for the latest row t, updated in place.
                for (int t = 0; t < ql; t += 4) {
                    int nr = Math.min(4, ql - t);
                    int co = (s + t) * inStride + cOff + g * N;
                    for (int r = 0; r < 4; r++) java.util.Arrays.fill(ys[r], 0f);
                    if (!zeroState) { // inter chunk: C_t · S_in, then scaled by G_t
                        float[] cm = in;
                        int o = co, step = inStride;
                        if (bf16Operands) { // C rounded to bf16, as the GPU takes it
                            for (int r = 0; r < nr; r++)
                                for (int n = 0; n < N; n++) sc.cRows[r * N + n] = Bf16.round(in[co + r * inStride + n]);
                            cm = sc.cRows;
                            o = 0;
                            step = N;
                        }
                        Gemm.madd4t(y0, y1, y2, y3, cm, o,
                                nr > 1 ? cm : zero, nr > 1 ? o + step : 0,
                                nr > 2 ? cm : zero, nr > 2 ? o + 2 * step : 0,
                                nr > 3 ? cm : zero, nr > 3 ? o + 3 * step : 0, sIn, 0, 0, N);
                        for (int r = 0; r < nr; r++) scale(ys[r], gcum[t + r]);
                    }
                    // intra chunk: W[t][u] = CB[t][u] · E[t][u] · dt_u for u <= t, 0 above
                    int uEnd = t + nr;
                    for (int r = 0; r < 4; r++) {
                        float[] wr = ws[r];
                        int tr = t + r;
                        if (r >= nr) {
                            java.util.Arrays.fill(wr, 0, uEnd, 0f);
                            continue;
                        }
                        float a = av[tr];
                        for (int u = 0; u < tr; u++) e[u] = (e[u] * a + FLUSH) - FLUSH;
                        e[tr] = 1f;
                        float[] cbr = cbRows[tr];
                        for (int u = 0; u <= tr; u++) wr[u] = (cbr[u] * dtv[u] * e[u] + FLUSH) - FLUSH;
                        if (bf16Operands) for (int u = 0; u <= tr; u++) wr[u] = Bf16.round(wr[u]);
                        for (int u = tr + 1; u < uEnd; u++) wr[u] = 0f;
                    }
                    Gemm.madd4t(y0, y1, y2, y3, w0, 0, w1, 0, w2, 0, w3, 0, xm, 0, 0, uEnd);
                    for (int r = 0; r < nr; r++) {
                        float[] yr = ys[r], xr = x[t + r];
                        for (int p = 0; p < W; p++) yr[p] = Math.fma(dv[p], xr[p], yr[p]);
                        System.arraycopy(yr, 0, y, (s + t + r) * H * P + h * P + p0, pw);
                    }
                }
                // state passing: S = G_last · S + Σ_u (B_u[n] · E[last][u] · dt_u) x_u
                float keep = gcum[ql - 1];
                for (int u = 0; u < ql; u++) e[u] = (e[u] * dtv[u] + FLUSH) - FLUSH; // E[last][u] · dt_u
                if (bf16Operands) // the GPU weights X, then rounds both factors: Σ_u bf16(B_u[n]) · bf16(E·dt_u · x_u)
                    for (int u = 0; u < ql; u++)
                        for (int p = 0; p < W; p++) xw[u][p] = Bf16.round(e[u] * x[u][p]);
                for (int n = 0; n < N; n++) scale(st[n], keep);
                zeroState = false;
                // bf16Operands: the chunk's own state is formed apart and added rounded to bf16 (the GPU stores it so)
                final float[][] local = bf16Operands ? sc.local : st;
                if (bf16Operands) for (int n = 0; n < N; n++) java.util.Arrays.fill(local[n], 0f);
                for (int n = 0; n < N; n += 4) {
                    int nr = Math.min(4, N - n);
                    for (int r = 0; r < 4; r++) {
                        float[] wr = ws[r];
                        if (r >= nr) { java.util.Arrays.fill(wr, 0, ql, 0f); continue; }
                        float[] br = bRows[n + r];
                        if (bf16Operands) for (int u = 0; u < ql; u++) wr[u] = Bf16.round(br[u]);
                        else for (int u = 0; u < ql; u++) wr[u] = (br[u] * e[u] + FLUSH) - FLUSH;
                    }
                    Gemm.madd4t(local[n], nr > 1 ? local[n + 1] : y1, nr > 2 ? local[n + 2] : y2, nr > 3 ? local[n + 3] : y3,
                            w0, 0, w1, 0, w2, 0, w3, 0, xw, 0, 0, ql);
                }
                if (bf16Operands)
                    for (int n = 0; n < N; n++)
                        for (int p = 0; p < W; p++) st[n][p] += Bf16.round(local[n][p]);
            }
            for (int p = 0; p < pw; p++) {
                int sp = (h * P + p0 + p) * N;
                for (int n = 0; n < N; n++) state[sp + n] = st[n][p];
            }
        });
    }

    /** Per-thread work arrays of a (head, channel tile) task, reused across calls (no garbage per layer). */
    private static final class HeadScratch {
        private static final ThreadLocal<HeadScratch> CACHE = new ThreadLocal<>();
        final int L, N;
        final float[][] x, xw, xm, st, sIn, local, ys, ws;
        final float[] e, dtv, av, gcum, dv, zero, cRows;

        private HeadScratch(int L, int N) {
            int W = Gemm.TILE;
            this.L = L;
            this.N = N;
            x = new float[L][W];
            xw = new float[L][W];
            xm = new float[L][W];
            st = new float[N][W];
            sIn = new float[N][W];
            local = new float[N][W];
            ys = new float[4][W];
            cRows = new float[4 * N];
            ws = new float[4][L];
            e = new float[L];
            dtv = new float[L];
            av = new float[L];
            gcum = new float[L];
            dv = new float[W];
            zero = new float[Math.max(L, N)];
        }

        /** Every array is fully written before it is read, except zero (never written) and the masks set per task. */
        static HeadScratch get(int L, int N) {
            HeadScratch s = CACHE.get();
            if (s == null || s.L < L || s.N != N) CACHE.set(s = new HeadScratch(L, N));
            return s;
        }
    }

    private static final ThreadLocal<float[][]> TILES = new ThreadLocal<>();

    /** At least n rows of TILE floats, per thread. */
    private static float[][] tileScratch(int n) {
        float[][] t = TILES.get();
        if (t == null || t.length < n) TILES.set(t = new float[n][Gemm.TILE]);
        return t;
    }

    /** v[0..TILE) *= f, flushed (see {@link #FLUSH}). */
    private static void scale(float[] v, float f) {
        for (int i = 0; i < Gemm.TILE; i++) v[i] = (v[i] * f + FLUSH) - FLUSH;
    }

    /**
     * Decay products reach the float32 subnormal range (below 1.2e-38) for heads that forget fast,
     * and every operation with a subnormal input or result costs ~100+ cycles on Intel cores (a
     * microcode assist; we may not set flush-to-zero from Java). So decay factors and the weights
     * built from them are flushed: {@code (v + FLUSH) - FLUSH} (plain adds, which C2 vectorises)
     * turns |v| below 2⁻⁶⁴ into 0 and rounds |v| below 2⁻⁴⁰ to a multiple of 2⁻⁶³, keeping every
     * value the scan multiplies 0 or above ~1e-19; scalar decays below 2⁻³⁰ become 0 ({@link #tiny}).
     * The absolute change is below 1e-19 on factors of at most 1: invisible next to float32 rounding.
     */
    static final float FLUSH = 0x1p-40f;

    private static float tiny(float v) { return v < 0x1p-30f ? 0f : v; }

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
