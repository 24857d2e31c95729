package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;
import ssdspark.kernels.SsdScan;

/**
 * The SSD chunked scan over a packed varlen batch, with carried states in and final states out (ssd.cuh, ssd_tc.cuh).
 * Twin: {@link ssdspark.kernels.SsdScan#chunked} on each sequence alone with the same chunk length
 * ({@code Varlen.q}, at most {@link #MAX_CHUNK}); dt is {@link ssdspark.kernels.SsdScan#discretizeDt} of the raw
 * in_proj column.
 *
 * <p>Five launches: chunk cumsum, chunk states, state passing (per sequence, from its carried state), C.B per
 * chunk and group, chunk scan; on tensor cores the chunk states and their passing are one launch when
 * {@link #walkPays}. Scratch: dt and cumsum [H][T], chunk states [chunks][H][P][N] (fp32, or bf16 on tensor cores),
 * CB [chunks][G][Q][Q].
 * The chunk-state, C.B and chunk-scan products run either as fp32 FMA tiles (the fp32 engine) or on tensor cores in
 * bf16x3 with fp32 accumulation (the bf16 / fp16 engines), except where mamba_ssm's kernels read bf16 operands too:
 * the chunks' own states, the chunk states' x·w and B, and both factors of the scan's two products (C and the
 * entering state; the intra-chunk coefficients and x) are rounded to bf16 (about 2e-3 of the output scale; ssd_tc.cuh;
 * twin: {@link SsdScan#chunked}'s bf16Operands). On tensor cores no work goes to what nothing reads: without carried
 * states a sequence's first chunk starts from zero (no entering state, no C . S_in), and without final states kept
 * its last chunk's own state is not formed.
 */
public final class GpuSsdScan {
    private GpuSsdScan() {}

    public static final int MAX_CHUNK = 128;

    /** ssd_tc.cuh: dynamic shared memory (STATE_SMEM, SCAN_SMEM, BMM_SMEM). */
    static final int TC_STATE_SMEM = 4 * (128 * 68 + MAX_CHUNK * 68 + MAX_CHUNK),
            TC_SCAN_SMEM = 4 * (2 * 64 * 68 + 2 * MAX_CHUNK), TC_BMM_SMEM = 4 * (4 * 64 * 68);

    /** ssd.cuh's CUMSUM_HEADS: heads per ssd_chunk_cumsum CTA. */
    private static final int CUMSUM_HEADS = 8;

    /**
     * Whether the tensor-core kernels take this shape and layout: they move 16-byte pieces of x, B, C and y rows
     * (strides and offsets multiples of 4 floats), and hold at most 128 state columns and 64 channels of a head.
     */
    public static boolean tensorCoreEligible(int headdim, int dstate, int ldX, int xOff, int bOff, int cOff, int ldY) {
        return dstate <= 128 && headdim <= 64 && ((dstate | headdim | ldX | xOff | bOff | cOff | ldY) & 3) == 0;
    }

    /**
     * Heads per ssd_chunk_state_tc CTA, which packs its chunk's B once for all of them: the divisor hp of the group's
     * heads (whole slabs: no CTA of fewer heads trails the others) with the least predicted time, waves of CTAs
     * (ceil(CTAs / slots)) times a CTA's time (STATE_CTA_START + hp head products); ties to the larger hp. liveChunks:
     * the chunks whose states are formed (without final states kept, a sequence's last chunk is not). On the H200
     * (tools/bench/ssd_results/2026-11-30-state-heads-sweep.log, µs a layer): 130M at 16 x 2048 takes 24 heads (163.7
     * against 165.3 for the 16 + 8 slabs the wave rule before this one chose), the runner's log-normal 16384-token batch
     * of the 130M shape 12 (87.7 against 110.6).
     */
    static int stateHeadsPerCta(int slots, int liveChunks, int groups, int headsPerGroup) {
        int best = 1;
        double bestTime = Double.POSITIVE_INFINITY;
        for (int hp = 1; hp <= headsPerGroup; hp++) {
            if (headsPerGroup % hp != 0) continue;
            long ctas = (long) liveChunks * groups * (headsPerGroup / hp);
            double time = Math.ceil(ctas / (double) slots) * (STATE_CTA_START + hp);
            if (time <= bestTime) {
                bestTime = time;
                best = hp;
            }
        }
        return best;
    }

    /** A chunk-state CTA's own work (B packed, x staged for the first head) in head products: fitted to the sweep above. */
    private static final double STATE_CTA_START = 0.5;

    /**
     * The two kernels' time in walk steps per chunk and head over the slots (tools/bench/ssd_bench, H200: a walk step
     * is one chunk of one head, 8.8 µs a CTA on the 130M shape and 10.2 on 1.3B, two CTAs an SM; the two kernels took
     * 270 and 352 µs a layer for 256 x 24 and 128 x 64 chunk-heads: 1.32 and 1.11 steps each over 264 slots). The
     * smaller one: the walk has costs its step count misses (a CTA's start and end, B packed for partial chunks), and
     * log-normal documents packed by the runner ran 1 % slower in the SSD at 1.2.
     */
    private static final double TWO_KERNEL_STEPS = 1.1;

    /**
     * Whether ssd_state_walk_tc (one CTA per sequence and head walking its chunks, the state in registers) beats
     * ssd_chunk_state_tc + ssd_state_passing_v4 on this batch; both give the same bits. The walk skips the local
     * states' round trip through memory but runs a sequence's chunks one after another, so it pays only when its
     * CTAs fill the slots evenly: its time is the makespan of CTAs of seqChunks[s] steps each (every sequence once a
     * head) dispatched in launch order onto the slots. 1.3B at 8 x 2048 (512 CTAs of 16 steps, 1.94 waves) took 334
     * against 352 µs a layer; 130M at 16 x 2048 (384 CTAs, 1.45 waves) 293 against 270.
     */
    static boolean walkPays(int slots, int[] seqChunks, int heads, int chunks) {
        final double twoKernels = TWO_KERNEL_STEPS * chunks * (double) heads / slots;
        final long ctas = (long) seqChunks.length * heads;
        if (ctas > 8L * slots) {  // list scheduling's bound: many waves, a tail of at most the longest sequence
            int longest = 0;
            for (int n : seqChunks) longest = Math.max(longest, n);
            return (double) chunks * heads / slots + longest < twoKernels;
        }
        int[] free = new int[slots];  // min-heap of the times the slots free up (all free at 0)
        int end = 0;
        for (int h = 0; h < heads; h++)
            for (int n : seqChunks) {
                int t = free[0] + n;  // the earliest free slot takes the next CTA
                end = Math.max(end, t);
                for (int i = 0; ; ) {  // sift the new time down
                    int c = 2 * i + 1;
                    if (c >= slots) { free[i] = t; break; }
                    if (c + 1 < slots && free[c + 1] < free[c]) c++;
                    if (free[c] >= t) { free[i] = t; break; }
                    free[i] = free[c];
                    i = c;
                }
            }
        return end < twoKernels;
    }

    public static long scratchFloats(int tokens, int chunks, int nheads, int headdim, int dstate, int ngroups) {
        return statesOffset(nheads, tokens) + (long) chunks * nheads * headdim * dstate + (long) chunks * ngroups * MAX_CHUNK * MAX_CHUNK;
    }

    /** Floats before the chunk states in the scratch (dt and cumsum), rounded up so the states are 16-byte aligned. */
    private static long statesOffset(int nheads, int tokens) {
        return (2L * nheads * tokens + 3) & ~3L;
    }

    /**
     * Where one layer's scan inputs live: x, B and C are the column blocks at xOff (nheads*headdim), bOff and cOff
     * (ngroups*dstate each) of rows xbc[t][ldX]; the raw dt of head h is column dtOff + h of rows dtRaw[t][ldDt].
     */
    public record Inputs(CUdeviceptr xbc, int ldX, int xOff, int bOff, int cOff, CUdeviceptr dtRaw, int ldDt, int dtOff) {}

    /** One layer's SSM parameters: dt_bias[H], A = -exp(A_log) [H], the dt clamp, D[H] or D[H*P]. */
    public record Params(CUdeviceptr dtBias, CUdeviceptr negA, float dtMin, float dtMax, CUdeviceptr d, boolean dPerChannel) {}

    /**
     * The gated RMSNorm of ngroups 1 (norm after the gate) folded into the scan's epilogue, written instead of y:
     * out = bf16(y * silu(z) * normWeight) pre-tiled for {@link GpuGemm#runTiled} (tiledRows = GpuGemm.tiledRows(T)),
     * and sumSq[t][h] = the sum over head h's channels of (y * silu(z))^2, from which
     * {@link GpuRmsNorm.DeltaScale} scales out_proj's product ({@link ssdspark.kernels.GatedRmsNorm#foldedCpu}).
     * z is column zOff of rows z[t][ldZ] (in_proj's output).
     */
    public record GatedOut(CUdeviceptr z, int ldZ, int zOff, CUdeviceptr normWeight, CUdeviceptr out, int tiledRows,
                           CUdeviceptr sumSq) {}

    /**
     * Whether the scan can write {@link GatedOut}: the tensor-core kernels take the shape, z rows move in 16-byte
     * pieces, and the heads fill whole 64-column tiles of the pre-tiled output (no padding columns to write).
     */
    public static boolean gatedEligible(SsdScan.Dims dims, Inputs in, int ldZ, int zOff) {
        int P = dims.headdim(), dSsm = dims.nheads() * P;
        return tensorCoreEligible(P, dims.dstate(), in.ldX(), in.xOff(), in.bOff(), in.cOff(), 4)  // no y rows
                && ((ldZ | zOff) & 3) == 0 && dSsm % 64 == 0;
    }

    /**
     * The scan of one layer over the packed batch v. ssm + s*seqStride is sequence s's state [H][P][N], read as its
     * initial state and replaced by its final one; y[t][ldY] gets columns [0, H*P); scratch holds
     * {@link #scratchFloats}. tensorCores: bf16x3 tensor-core products where {@link #tensorCoreEligible}, else fp32 FMA.
     */
    public static void forward(GpuStream s, Varlen.OnDevice v, SsdScan.Dims dims, Inputs in, Params p, CUdeviceptr ssm,
                               long seqStride, CUdeviceptr scratch, CUdeviceptr y, int ldY, boolean tensorCores) {
        forward(s, null, v, dims, in, p, ssm, seqStride, true, true, scratch, y, ldY, tensorCores);
    }

    /**
     * {@link #forward} with C.B computed on {@code side} (null: on s) while s runs the chunk states and their passing,
     * joined before the scan (s waits for everything queued on side so far). carriedIn false: every sequence starts
     * from the zero state without reading ssm (the caller need not clear it); carriedOut false: the final states are
     * not written back (no caller keeps them).
     */
    public static void forward(GpuStream s, GpuStream side, Varlen.OnDevice v, SsdScan.Dims dims, Inputs in, Params p,
                               CUdeviceptr ssm, long seqStride, boolean carriedIn, boolean carriedOut, CUdeviceptr scratch,
                               CUdeviceptr y, int ldY, boolean tensorCores) {
        forward(s, side, v, dims, in, p, ssm, seqStride, carriedIn, carriedOut, scratch, y, ldY, tensorCores, null, null);
    }

    /** {@link #forward} on tensor cores writing {@link GatedOut} instead of y; needs {@link #gatedEligible}. */
    public static void forwardGated(GpuStream s, GpuStream side, Varlen.OnDevice v, SsdScan.Dims dims, Inputs in, Params p,
                                    CUdeviceptr ssm, long seqStride, boolean carriedIn, boolean carriedOut,
                                    CUdeviceptr scratch, GatedOut out) {
        if (!gatedEligible(dims, in, out.ldZ(), out.zOff()))
            throw new IllegalArgumentException("the scan cannot write the gated norm's output for " + dims + " (see gatedEligible)");
        forward(s, side, v, dims, in, p, ssm, seqStride, carriedIn, carriedOut, scratch, null, 0, true, null, out);
    }

    /**
     * walk: on the tensor-core path, true runs ssd_state_walk_tc, false the two kernels, null as {@link #walkPays}.
     * gated: written instead of y when not null (with tensorCores true, after {@link #gatedEligible}).
     */
    static void forward(GpuStream s, GpuStream side, Varlen.OnDevice v, SsdScan.Dims dims, Inputs in, Params p,
                        CUdeviceptr ssm, long seqStride, boolean carriedIn, boolean carriedOut, CUdeviceptr scratch,
                        CUdeviceptr y, int ldY, boolean tensorCores, Boolean walk, GatedOut gated) {
        final int H = dims.nheads(), P = dims.headdim(), N = dims.dstate(), G = dims.ngroups();
        final CUdeviceptr x = in.xbc();
        final int ldX = in.ldX(), dPc = p.dPerChannel() ? 1 : 0;
        final Varlen hv = v.host();
        final int T = hv.tokens, C = hv.chunks;
        final long statesOff = statesOffset(H, T);
        final CUdeviceptr dt = scratch, cum = scratch.withByteOffset(4L * H * T),
                states = scratch.withByteOffset(4 * statesOff), cb = scratch.withByteOffset(4 * (statesOff + (long) C * H * P * N));
        if (gated == null) tensorCores &= tensorCoreEligible(P, N, ldX, in.xOff(), in.bOff(), in.cOff(), ldY);  // gated: forwardGated checked
        // C.B depends on the conv's B and C only: beside the chunk states and the passing when there is a side stream
        GpuStream cbs = side == null ? s : side;
        if (side != null) side.waitFor(s);
        if (tensorCores)
            cbs.launch("ssd_bmm_cb_tc", C, G, 3, 128, TC_BMM_SMEM, x, ldX, in.bOff(), in.cOff(), v.chunkStart(), v.chunkLen(), G, N, cb);
        else
            cbs.launch("ssd_bmm_cb", C, G, 3, 256, 0, x, ldX, in.bOff(), in.cOff(), v.chunkStart(), v.chunkLen(), G, N, cb);
        s.launch("ssd_chunk_cumsum", C, (H + CUMSUM_HEADS - 1) / CUMSUM_HEADS, 1, MAX_CHUNK, 0, in.dtRaw(), in.ldDt(),
                in.dtOff(), p.dtBias(), p.negA(), p.dtMin(), p.dtMax(), v.chunkStart(), v.chunkLen(), T, H, dt, cum);
        final int tilesP = (P + 63) / 64, carry = (carriedIn ? 1 : 0) | (carriedOut ? 2 : 0);
        if (tensorCores && walk == null) {
            GpuDevice dev = s.device();
            walk = hv.walkPays(dev.multiprocessors * dev.residentCtas("ssd_state_walk_tc", 256, TC_STATE_SMEM), H);
        }
        if (tensorCores && walk) {
            s.launch("ssd_state_walk_tc", hv.seqs, G, H / G, 256, TC_STATE_SMEM, x, ldX, in.xOff(), in.bOff(), dt, cum, T,
                    v.chunkStart(), v.chunkLen(), v.seqChunk0(), v.seqChunks(), H, P, N, G, states, ssm, seqStride, carry);
        } else {
            if (tensorCores) {
                final GpuDevice dev = s.device();
                final int hp = stateHeadsPerCta(dev.multiprocessors * dev.residentCtas("ssd_chunk_state_tc", 256, TC_STATE_SMEM),
                        carriedOut ? C : C - hv.seqs, G, H / G);
                s.launch("ssd_chunk_state_tc", C, G, (H / G + hp - 1) / hp, 256, TC_STATE_SMEM, x, ldX, in.xOff(), in.bOff(),
                        dt, cum, T, v.chunkStart(), v.chunkLen(), v.tokPos(), carry, H, P, N, G, hp, states);
            } else {
                s.launch("ssd_chunk_state", C, H, tilesP * ((N + 63) / 64), 256, 0, x, ldX, in.xOff(), in.bOff(), dt, cum, T,
                        v.chunkStart(), v.chunkLen(), H, P, N, G, states);
            }
            final int vec = (P * N) % 4 == 0 ? 4 : 1;  // 4 elements a thread of the (aligned) chunk states
            s.launch(tensorCores ? "ssd_state_passing_bf16" : vec == 4 ? "ssd_state_passing_v4" : "ssd_state_passing",
                    (P * N / vec + 255) / 256, H, hv.seqs, 256, 0,
                    states, cum, T, v.chunkStart(), v.chunkLen(), v.seqChunk0(), v.seqChunks(), H, P * N, ssm, seqStride, carry);
        }
        if (side != null) s.waitFor(side);  // C.B (and whatever else the caller queued there) is done
        if (gated != null)
            s.launch("ssd_chunk_scan_gated_tc", Math.multiplyExact(C, H), 1, 1, 256, TC_SCAN_SMEM, x, ldX, in.xOff(), in.cOff(),
                    dt, cum, T, v.chunkStart(), v.chunkLen(), v.tokPos(), carry, H, P, N, G, states, cb, p.d(), dPc, gated.z(), gated.ldZ(),
                    gated.zOff(), gated.normWeight(), gated.out(), gated.tiledRows(), gated.sumSq());
        else if (tensorCores)
            s.launch("ssd_chunk_scan_tc", Math.multiplyExact(C, H), 1, 1, 256, TC_SCAN_SMEM, x, ldX, in.xOff(), in.cOff(),
                    dt, cum, T, v.chunkStart(), v.chunkLen(), v.tokPos(), carry, H, P, N, G, states, cb, p.d(), dPc, y, ldY);
        else
            s.launch("ssd_chunk_scan", C, H, 2 * tilesP, 256, 0, x, ldX, in.xOff(), in.cOff(), dt, cum, T, v.chunkStart(),
                    v.chunkLen(), H, P, N, G, states, cb, p.d(), dPc, y, ldY);
    }
}
