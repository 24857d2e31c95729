package ssdspark.model.gpu;

import jcuda.driver.CUdeviceptr;
import ssdspark.kernels.SsdScan;
import ssdspark.kernels.gpu.Cuda;
import ssdspark.kernels.gpu.DType;
import ssdspark.kernels.gpu.DeviceBuffer;
import ssdspark.kernels.gpu.GpuCausalConv1d;
import ssdspark.kernels.gpu.GpuAttention;
import ssdspark.kernels.gpu.GpuDevice;
import ssdspark.kernels.gpu.GpuEmbedding;
import ssdspark.kernels.gpu.GpuGatedRmsNorm;
import ssdspark.kernels.gpu.GpuGemm;
import ssdspark.kernels.gpu.GpuLmHead;
import ssdspark.kernels.gpu.GpuPooling;
import ssdspark.kernels.gpu.GpuRmsNorm;
import ssdspark.kernels.gpu.GpuSsdScan;
import ssdspark.kernels.gpu.GpuStream;
import ssdspark.kernels.gpu.Varlen;
import ssdspark.model.BadTokenId;
import ssdspark.model.Engine;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2State;
import ssdspark.model.Mamba2Weights;

import java.lang.ref.Cleaner;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The Mamba-2 forward on a CUDA GPU, behind the same chunk-with-state {@link Engine} API as the CPU engine, plus
 * batched calls over packed variable-length batches.
 *
 * <h2>Threads and memory</h2>
 * One instance per executor and device: the weights are uploaded once ({@link Precision#BF16} by default) and
 * shared by every task thread. Each calling thread gets its own stream and activation workspace, sized from the
 * largest batch (in tokens) it has run and reused; {@link #reserve} sizes it up front, {@link #releaseThread}
 * frees the calling thread's. {@link #close()} frees everything (no call may be running).
 *
 * <h2>Batches</h2>
 * A batch is a list of sequences (documents, or chunks of documents) of any lengths, packed back to back with no
 * padding. The conv window and SSM state never cross from one sequence to the next; sequence i starts from
 * {@code states[i]} (null: from zero) and, when {@code states[i]} is non-null, hands back its final state there,
 * so a long document can be fed as successive chunks exactly as {@link #forward} does. {@code states} itself may
 * be null (all start from zero, no state returned). States from {@link #newCarriedState} stay in device memory
 * between calls (the document runner's); plain states go to and from their host arrays.
 * <ul>
 *   <li>{@link #forwardBatch}: final-normed hidden states of every token, packed [sum len][d_model];</li>
 *   <li>{@link #logProbsBatch}: log p(targets[i][t] | tokens[i][0..t]) through the fused LM head (the
 *       [tokens x vocab] logits never exist in memory); {@link #nextTokenTargets} builds the usual targets;</li>
 *   <li>{@link #embedBatch}: per-sequence sum (for mean pooling, in double) and last hidden state.</li>
 * </ul>
 */
public final class GpuEngine implements Engine {
    private final Mamba2Config c;
    private final GpuDevice dev;
    private final Precision precision;
    private final GpuWeights w;
    private final int q;
    private final SsdScan.Dims dims;
    private final GpuAttention.Shape attnShape;  // hybrids' attention layers; null without them
    private final ThreadLocal<Workspace> local = new ThreadLocal<>();
    private final List<Workspace> workspaces = new CopyOnWriteArrayList<>();
    private final Set<HeldState> held = ConcurrentHashMap.newKeySet();
    /** Device copies of released states, for the next ones (cuMemAlloc/cuMemFree of ~19 MB per document cost ~ms). */
    private final ArrayDeque<DeviceBuffer> spareStates = new ArrayDeque<>();
    private static final int MAX_SPARE_STATES = 32;
    private static final Cleaner CLEANER = Cleaner.create();
    private volatile boolean profiling;
    private volatile boolean closed;

    /**
     * Whether every layer's gated RMSNorm runs in the SSD scan's epilogue (GpuSsdScan.GatedOut: y * silu(z) * w in bf16
     * plus per-head sums of squares) and the following norm scales out_proj's product by the row's 1/rms
     * (GpuRmsNorm.DeltaScale), instead of a norm kernel between them: y is never written, and z is read once. Needs
     * the pre-tiled projections, a pure Mamba-2 stack (each out_proj's product goes straight into the next norm), one
     * group, the norm after the gate, and no out_proj bias (the scale applies to the whole product).
     */
    private final boolean foldGatedNorm;

    private GpuEngine(Mamba2Weights weights, GpuDevice dev, Precision p, boolean fold) {
        this.c = weights.cfg;
        this.dev = dev;
        this.precision = p;
        if (c.dConv < 1) throw new IllegalArgumentException("d_conv must be >= 1");
        this.w = new GpuWeights(weights, dev, p);
        this.q = Math.min(c.chunkSize, GpuSsdScan.MAX_CHUNK);
        this.dims = new SsdScan.Dims(c.nheads, c.headdim, c.dState, c.ngroups);
        Mamba2Config.AttnConfig a = c.attn;
        this.attnShape = a == null ? null
                : new GpuAttention.Shape(a.numHeads(), a.numHeadsKv(), a.headDim(), a.rotaryDim(), a.rotaryInterleaved(), a.softmaxScale());
        boolean foldable = w.tiled && !c.isHybrid() && c.ngroups == 1 && !c.normBeforeGate && c.dMlp() == 0
                && GpuSsdScan.gatedEligible(dims, ssdInputs(null, null), c.dInProj(), c.inProjColumns().z());
        for (GpuWeights.Layer g : w.layers) foldable &= g.gatedNorm != null && g.outProjBias == null;
        this.foldGatedNorm = fold && foldable;
    }

    /** Uploads the weights to CUDA device {@code device}; throws {@code CudaUnavailableException} saying why not. */
    public static GpuEngine create(Mamba2Weights weights, int device, Precision precision) {
        return create(weights, device, precision, true);
    }

    /** fold false: the gated RMSNorm as a kernel of its own even where {@link #foldGatedNorm} could run (tests). */
    static GpuEngine create(Mamba2Weights weights, int device, Precision precision, boolean fold) {
        GpuDevice d = Cuda.device(device);
        return new GpuEngine(weights, d, precision == null ? Precision.BF16 : precision, fold);
    }

    /** Whether the gated RMSNorm runs inside the SSD scan (see {@link #foldGatedNorm}). */
    boolean foldsGatedNorm() { return foldGatedNorm; }

    /** The scan's inputs in the conv's output rows [x | B | C] and in_proj's output (its raw dt columns). */
    private GpuSsdScan.Inputs ssdInputs(CUdeviceptr xbc, CUdeviceptr proj) {
        return new GpuSsdScan.Inputs(xbc, c.convDim(), 0, c.dSsm, c.dSsm + c.ngroups * c.dState, proj, c.dInProj(), c.inProjColumns().dt());
    }

    @Override public Mamba2Config config() { return c; }

    @Override public String backend() { return dev.describe() + " " + precision; }

    public Precision precision() { return precision; }

    public GpuDevice device() { return dev; }

    /** Device bytes held by the weights. */
    public long weightBytes() { return w.bytes; }

    /**
     * SSD chunk length used on the GPU: the config's, capped at 128 (chunks of 64 measured 17 % slower); the result does not
     * depend on it beyond float rounding.
     */
    public int chunkLength() { return q; }

    // ------------------------------------------------------------------ Engine

    @Override
    public float[] forward(int[] tokens, int off, int n, Mamba2State state) {
        if (state == null) throw new IllegalArgumentException("state must not be null (use newState())");
        return forwardBatch(new int[][] {Arrays.copyOfRange(tokens, off, off + n)}, new Mamba2State[] {state});
    }

    /**
     * Packed forward in one pass (see {@link Engine#forwardPacked}); zero-length sequences are skipped. The
     * hidden states stay on the device too, so a following {@link #logProbs} on the returned array (unmodified,
     * same thread) reuses them instead of uploading them again.
     */
    @Override
    public float[] forwardPacked(int[] tokens, int[] cu, Mamba2State[] states) {
        int n = states.length, d = c.dModel;
        int nonEmpty = 0;
        for (int i = 0; i < n; i++) {
            if (cu[i + 1] < cu[i]) throw new IllegalArgumentException("cu must not decrease (cu[" + i + "] > cu[" + (i + 1) + "])");
            if (cu[i + 1] > cu[i]) nonEmpty++;
        }
        if (nonEmpty == 0) return new float[0];
        int[][] seqs = new int[nonEmpty][];
        Mamba2State[] st = new Mamba2State[nonEmpty];
        for (int i = 0, k = 0; i < n; i++) {
            if (cu[i + 1] == cu[i]) continue;
            seqs[k] = Arrays.copyOfRange(tokens, cu[i], cu[i + 1]);
            st[k++] = states[i];
        }
        float[] h = forwardBatch(seqs, st);
        if (cu[0] == 0) return h;
        float[] out = new float[cu[n] * d]; // rows before cu[0] belong to no sequence: zeros
        System.arraycopy(h, 0, out, cu[0] * d, h.length);
        return out;
    }

    @Override
    public void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff) {
        if (n <= 0) return;
        checkOpen();
        int d = c.dModel;
        int[] tg = new int[n];
        for (int i = 0; i < n; i++) tg[i] = checkTarget(targets[tOff + i], i);
        Workspace ws = workspace();
        GpuStream s = ws.stream;
        boolean resident = hidden == ws.lastHidden && n <= ws.lastHiddenRows;
        if (!resident) {
            ws.lastHidden = null;
            ws.ensure(n, 1, (n + q - 1) / q);
            s.upload(hidden, 0, n * d, ws.hidden.ptr());
            if (precision.matrixType.isHalf())
                GpuEmbedding.toHalf(s, precision.matrixType, ws.hidden.ptr(), d, n, d, ws.hiddenH.ptr(), w.ldModel);
            ws.hiddenTiledRows = 0; // rows: the row-layout head below
        }
        s.upload(tg, 0, n, ws.ints.at4(ws.capTokens));
        CUdeviceptr lp = head(ws, n, ws.ints.at4(ws.capTokens));
        s.download(lp, out, outOff, n);
    }

    // ------------------------------------------------------------------ carried states in device memory

    /**
     * A state whose conv and SSM values stay in this engine's device memory between calls: a long document's pieces
     * then carry their state with a device-to-device copy instead of ~19 MB a sequence (130M shape) over PCIe each way.
     * Hybrids' KV caches still live in the state's host arrays. Released by {@link Mamba2State#release()}, or when the
     * state is garbage collected, or when this engine closes.
     */
    @Override
    public Mamba2State newCarriedState() {
        checkOpen();
        HeldState h = new HeldState();
        Mamba2State st = Mamba2State.held(c, h);
        held.add(h);
        CLEANER.register(st, h::release);
        return st;
    }

    /** Device bytes held by carried states now. */
    public long heldStateBytes() {
        long b = 0;
        for (HeldState h : held) b += h.bytes();
        return b;
    }

    /** A carried state's values in device memory, laid out as one sequence of the workspace: [L][conv] then [L][ssm]. */
    private final class HeldState implements Mamba2State.Holder {
        private DeviceBuffer mem; // null until the state is first used; all zero until written
        private volatile boolean written, released;

        GpuEngine engine() { return GpuEngine.this; }

        synchronized long bytes() { return mem == null ? 0 : mem.bytes(); }

        /** Allocates the device copy before a pass changes anything (so running out of memory here changes nothing). */
        synchronized void allocate(long convFloats, long ssmFloats) {
            if (released) throw new IllegalStateException("this carried state was released (its document finished, or the engine closed)");
            if (mem == null) {
                mem = takeSpare();
                if (mem == null) mem = dev.alloc(4L * (convFloats + ssmFloats));
            }
        }

        synchronized CUdeviceptr conv() { return mem.ptr(); }

        synchronized CUdeviceptr ssm(long convFloats) { return mem.at(4L * convFloats); }

        @Override
        public synchronized void load(Mamba2State into) {
            if (released) throw new IllegalStateException("this carried state's values are gone: it was released or its GPU engine closed");
            if (!written) { // never run: the zero state
                for (float[] a : into.conv) Arrays.fill(a, 0f);
                for (float[] a : into.ssm) Arrays.fill(a, 0f);
                return;
            }
            Workspace ws = workspace();
            long convN = ws.convStateFloats(), ssmN = ws.ssmStateFloats();
            for (int l = 0; l < c.nLayer; l++) {
                if (into.conv[l].length > 0) ws.stream.download(mem.at(4L * l * convN), into.conv[l], 0, into.conv[l].length);
                if (into.ssm[l].length > 0)
                    ws.stream.download(mem.at(4L * (c.nLayer * convN + l * ssmN)), into.ssm[l], 0, into.ssm[l].length);
            }
        }

        @Override
        public synchronized void release() {
            held.remove(this);
            released = true;
            if (mem != null) {
                keepSpare(mem);
                mem = null;
            }
        }
    }

    private DeviceBuffer takeSpare() {
        synchronized (spareStates) { return spareStates.poll(); }
    }

    private void keepSpare(DeviceBuffer b) {
        synchronized (spareStates) {
            if (!closed && spareStates.size() < MAX_SPARE_STATES) {
                spareStates.push(b);
                return;
            }
        }
        b.close();
    }

    private void freeSpares() {
        synchronized (spareStates) {
            for (DeviceBuffer b : spareStates) b.close();
            spareStates.clear();
        }
    }

    /** st's device copy when this engine holds it; null for a state in host arrays (or held by another engine). */
    private HeldState heldHere(Mamba2State st) {
        return st.holder() instanceof HeldState h && h.engine() == this ? h : null;
    }

    // ------------------------------------------------------------------ batches

    /** Final-normed hidden states of every token of every sequence, packed [sum of lengths][d_model]. */
    public float[] forwardBatch(int[][] tokens, Mamba2State[] states) {
        Workspace ws = workspace();
        Varlen v = run(ws, lengths(tokens), states, hostIds(tokens, null)).host();
        float[] h = new float[Math.multiplyExact(v.tokens, c.dModel)];
        ws.stream.download(ws.hidden.ptr(), h, 0, h.length);
        downloadStates(ws, v, states);
        ws.lastHidden = h;
        ws.lastHiddenRows = v.tokens;
        return h;
    }

    /**
     * result[i][t] = log p(targets[i][t] | tokens[i][0..t], states[i]) over the full (padded) vocabulary head;
     * targets[i] has tokens[i].length entries, -1 where nothing is to be scored (NaN comes back there).
     */
    public float[][] logProbsBatch(int[][] tokens, int[][] targets, Mamba2State[] states) {
        if (targets == null || targets.length != tokens.length)
            throw new IllegalArgumentException("targets must have one array per sequence");
        Workspace ws = workspace();
        Varlen v = run(ws, lengths(tokens), states, hostIds(tokens, targets)).host();
        return logProbsOf(ws, v, states);
    }

    private float[][] logProbsOf(Workspace ws, Varlen v, Mamba2State[] states) {
        CUdeviceptr lp = head(ws, v.tokens, ws.ints.at4(ws.capTokens));
        float[] flat = new float[v.tokens];
        ws.stream.download(lp, flat, 0, v.tokens);
        downloadStates(ws, v, states);
        float[][] out = new float[v.seqs][];
        for (int i = 0; i < v.seqs; i++)
            out[i] = Arrays.copyOfRange(flat, v.seqStart[i], v.seqStart[i] + v.seqLen[i]);
        return out;
    }

    /** Targets for next-token scoring: tokens[i][t+1] for t < len-1, and -1 for the last token. */
    public static int[][] nextTokenTargets(int[][] tokens) {
        int[][] t = new int[tokens.length][];
        for (int i = 0; i < tokens.length; i++) {
            int n = tokens[i].length;
            t[i] = new int[n];
            if (n > 0) {
                System.arraycopy(tokens[i], 1, t[i], 0, n - 1);
                t[i][n - 1] = -1;
            }
        }
        return t;
    }

    /** Pooled hidden states of one sequence: sum over its tokens (double) and its last token's hidden state. */
    public record Pooled(int tokens, double[] sum, float[] last) {
        public float[] mean() {
            float[] m = new float[sum.length];
            for (int i = 0; i < m.length; i++) m[i] = (float) (sum[i] / tokens);
            return m;
        }
    }

    public Pooled[] embedBatch(int[][] tokens, Mamba2State[] states) {
        Workspace ws = workspace();
        return pooled(ws, run(ws, lengths(tokens), states, hostIds(tokens, null)), states);
    }

    // ------------------------------------------------------------------ batches read in place from device memory

    /**
     * A batch whose int32 token ids already sit in this engine's device memory, e.g. a cuDF LIST&lt;INT32&gt; column's
     * child data: sequence i is the len[i] ids starting at element start[i] of {@code idsAddress}; more[i] says its
     * document goes on right after it (a chunk of a longer document), so its last token predicts the following id.
     * Only these per-sequence tables cross from the host; the ids are gathered, checked and turned into targets on
     * the device. The ids must be ready: whoever wrote them has synchronized its stream (the engine's streams do not
     * wait for others).
     */
    public record DeviceSeqs(long idsAddress, int[] start, int[] len, boolean[] more) {
        public DeviceSeqs {
            if (idsAddress == 0) throw new IllegalArgumentException("null device address for the token ids");
            if (start.length != len.length || more.length != len.length)
                throw new IllegalArgumentException("start, len and more must have one entry per sequence");
            if (len.length == 0) throw new IllegalArgumentException("empty batch: no sequences");
            for (int i = 0; i < len.length; i++)
                if (start[i] < 0 || len[i] < 1 || (long) start[i] + len[i] + (more[i] ? 1 : 0) > Integer.MAX_VALUE)
                    throw new IllegalArgumentException("sequence " + i + ": start " + start[i] + ", length " + len[i] + " is not a valid id range");
        }
    }

    /**
     * {@link #logProbsBatch} over ids in device memory with next-token targets: result[i][t] = log p(id[t+1] | ids up
     * to t), NaN at the last position unless more[i]. Ids outside the vocabulary: {@link BadTokenId}
     * naming the first one's sequence and position (nothing has run then).
     */
    public float[][] logProbsDevice(DeviceSeqs in, Mamba2State[] states) {
        Workspace ws = workspace();
        Varlen v = run(ws, in.len(), states, deviceIds(in, true)).host();
        return logProbsOf(ws, v, states);
    }

    /** {@link #embedBatch} over ids in device memory. */
    public Pooled[] embedDevice(DeviceSeqs in, Mamba2State[] states) {
        Workspace ws = workspace();
        return pooled(ws, run(ws, in.len(), states, deviceIds(in, false)), states);
    }

    private Pooled[] pooled(Workspace ws, Varlen.OnDevice vd, Mamba2State[] states) {
        Varlen v = vd.host();
        int d = c.dModel, S = v.seqs;
        GpuPooling.sumLast(ws.stream, vd, ws.hidden.ptr(), d, ws.pool.ptr(), ws.pool.at(8L * S * d));
        double[] sums = new double[S * d];
        float[] last = new float[S * d];
        ws.stream.download(ws.pool.ptr(), sums, 0, S * d);
        ws.stream.download(ws.pool.at(8L * S * d), last, 0, S * d);
        downloadStates(ws, v, states);
        Pooled[] out = new Pooled[S];
        for (int i = 0; i < S; i++)
            out[i] = new Pooled(v.seqLen[i], Arrays.copyOfRange(sums, i * d, (i + 1) * d),
                    Arrays.copyOfRange(last, i * d, (i + 1) * d));
        return out;
    }

    /** Sizes the calling thread's workspace for batches of up to {@code tokens} tokens in {@code seqs} sequences. */
    public void reserve(int tokens, int seqs) {
        Workspace ws = workspace();
        ws.ensure(tokens, seqs, tokens / q + seqs + 1);
        ws.ensureLm(GpuLmHead.plan(dev, tokens, w.headRows, precision.matrixType), tokens);
    }

    /** Device bytes of the calling thread's workspace. */
    public long workspaceBytes() { return workspace().bytes(); }

    /** Frees the calling thread's workspace and stream (a later call makes new ones), and spare state copies. */
    public void releaseThread() {
        freeSpares();
        Workspace ws = local.get();
        if (ws != null) {
            local.remove();
            workspaces.remove(ws);
            ws.close();
        }
    }

    /** Per-kernel GPU timing of the calling thread's calls (events around each launch; slows launches down). */
    public void setProfiling(boolean on) {
        profiling = on;
        workspace().stream.setProfiling(on);
        workspace().side.setProfiling(on);
    }

    /**
     * Kernel name -> {milliseconds, launches} since the last call of this method, for the calling thread (both its
     * streams: the side stream's kernels overlap the main one's, so the sum can exceed the wall time).
     */
    public Map<String, double[]> takeProfile() {
        Workspace ws = workspace();
        Map<String, double[]> p = ws.stream.profile();
        ws.stream.resetProfile();
        for (Map.Entry<String, double[]> e : ws.side.profile().entrySet())
            p.merge(e.getKey(), e.getValue(), (a, b) -> new double[] {a[0] + b[0], a[1] + b[1]});
        ws.side.resetProfile();
        return p;
    }

    // ------------------------------------------------------------------ the forward

    private Workspace workspace() {
        checkOpen();
        Workspace ws = local.get();
        if (ws == null) {
            ws = new Workspace(dev, c, precision, w.ldModel, Math.max(w.ldInner, Math.max(w.ldAttnOut, w.ldMlp)), w.tiled,
                    foldGatedNorm ? c.nheads : c.dSsm);
            ws.stream.setProfiling(profiling);
            ws.side.setProfiling(profiling);
            local.set(ws);
            workspaces.add(ws);
        }
        return ws;
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("GPU engine is closed");
    }

    private int checkToken(int t, int seq, int pos) {
        if (t < 0 || t >= w.embeddingRows)
            throw new IllegalArgumentException("token id " + t + " at position " + pos + " of sequence " + seq
                    + " is outside the embedding [0, " + w.embeddingRows + ")");
        return t;
    }

    private int checkTarget(int t, int pos) {
        if (t < -1 || t >= w.headRows)
            throw new IllegalArgumentException("target id " + t + " at position " + pos + " is outside the LM head [0, " + w.headRows + ")");
        return t;
    }

    private static int[] lengths(int[][] tokens) {
        if (tokens == null || tokens.length == 0) throw new IllegalArgumentException("empty batch: no sequences");
        int[] lens = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] == null || tokens[i].length == 0)
                throw new IllegalArgumentException("sequence " + i + " of the batch is empty");
            lens[i] = tokens[i].length;
        }
        return lens;
    }

    /** Puts a batch's ids at ws.ints[0, T) and, when the call scores, its targets at ws.ints[capTokens, +T). */
    private interface Ids {
        void load(Workspace ws, Varlen.OnDevice v);
    }

    /** Ids and targets from host arrays, checked here and uploaded. */
    private Ids hostIds(int[][] tokens, int[][] targets) {
        return (w, vd) -> {
            Varlen v = vd.host();
            int[] flat = new int[v.tokens];
            int[] flatTargets = targets == null ? null : new int[v.tokens];
            for (int i = 0; i < v.seqs; i++) {
                int n = v.seqLen[i], o = v.seqStart[i];
                for (int t = 0; t < n; t++) flat[o + t] = checkToken(tokens[i][t], i, t);
                if (targets != null) {
                    if (targets[i] == null || targets[i].length != n)
                        throw new IllegalArgumentException("targets of sequence " + i + " must have " + n + " entries");
                    for (int t = 0; t < n; t++) flatTargets[o + t] = checkTarget(targets[i][t], t);
                }
            }
            w.stream.upload(flat, 0, v.tokens, w.ints.ptr());
            if (flatTargets != null) w.stream.upload(flatTargets, 0, v.tokens, w.ints.at4(w.capTokens));
        };
    }

    /** Ids (and next-token targets) gathered on the device from in, then checked there against the vocabulary. */
    private Ids deviceIds(DeviceSeqs in, boolean targets) {
        return (w, vd) -> {
            Varlen v = vd.host();
            int S = v.seqs;
            int[] meta = new int[2 * S];
            for (int i = 0; i < S; i++) {
                meta[i] = in.start()[i];
                meta[S + i] = in.more()[i] ? 1 : 0;
            }
            GpuStream s = w.stream;
            long at = w.seqMetaOffset();
            s.upload(meta, w.ints.at4(at));
            CUdeviceptr ids = w.ints.ptr(), tg = targets ? w.ints.at4(w.capTokens) : null, flag = w.ints.at4(at + 2L * S);
            GpuEmbedding.gatherIds(s, vd, DeviceBuffer.pointerTo(in.idsAddress()), w.ints.at4(at), w.ints.at4(at + S), ids, tg);
            int bad = GpuEmbedding.firstBad(s, ids, v.tokens, 0, c.vocabSize, flag);
            if (bad >= 0) {
                int[] id = new int[1];
                s.download(ids.withByteOffset(4L * bad), id, 0, 1);
                throw new BadTokenId("token id " + id[0] + " at position " + v.tokPos[bad] + " of sequence "
                        + v.tokSeq[bad] + " is outside the model's vocabulary [0, " + c.vocabSize + ")", v.tokSeq[bad], v.tokPos[bad], id[0]);
            }
            if (tg != null && (bad = GpuEmbedding.firstBad(s, tg, v.tokens, -1, c.vocabSize, flag)) >= 0) {
                int[] id = new int[1];
                s.download(tg.withByteOffset(4L * bad), id, 0, 1);
                throw new BadTokenId("token id " + id[0] + " after sequence " + v.tokSeq[bad]
                        + " (its document goes on) is outside the model's vocabulary [0, " + c.vocabSize + ")", v.tokSeq[bad], v.tokPos[bad] + 1, id[0]);
            }
        };
    }

    /** Runs every layer over the packed batch; leaves the final-normed hidden states in ws.hidden (and ws.hiddenH). */
    private Varlen.OnDevice run(Workspace ws, int[] lens, Mamba2State[] states, Ids ids) {
        if (states != null && states.length != lens.length)
            throw new IllegalArgumentException(lens.length + " sequences but " + states.length + " states");
        Varlen v = Varlen.of(lens, q);
        ws.lastHidden = null;
        final int T = v.tokens, S = v.seqs, L = c.nLayer, d = c.dModel;
        long convN = ws.convStateFloats(), ssmN = ws.ssmStateFloats();
        // Without any carried SSM state the scan starts every sequence from zero itself (clearing ssmState, 0.3-0.8 GB,
        // is saved); without any state to keep, the final SSM states and conv windows are not written back either.
        boolean carried = false, keepStates = false;
        if (states != null)
            for (Mamba2State st : states) {
                if (st == null) continue;
                HeldState h = heldHere(st);
                if (h != null) h.allocate(L * convN, L * ssmN);
                else st.load(); // held by another engine: read back first
                carried |= h == null || h.written;
                keepStates = true;
            }
        ws.ensure(T, S, v.chunks);
        GpuStream s = ws.stream;
        Varlen.OnDevice vd = v.upload(s, ws.ints, ws.tablesOffset());
        ids.load(ws, vd);

        // carried states: zero, then the given ones; device layout [S][L][...]
        s.zero(ws.convState.ptr(), 4L * S * L * convN);
        if (carried) s.zero(ws.ssmState.ptr(), 4L * S * L * ssmN);
        if (states != null)
            for (int i = 0; i < S; i++) {
                Mamba2State st = states[i];
                if (st == null) continue;
                HeldState h = heldHere(st);
                if (h != null) {
                    if (h.written) {
                        s.copy(h.conv(), ws.convState.at4((long) i * L * convN), 4L * L * convN);
                        s.copy(h.ssm(L * convN), ws.ssmState.at4((long) i * L * ssmN), 4L * L * ssmN);
                    }
                    continue;
                }
                for (int l = 0; l < L; l++) { // attention layers: a shorter (or no) conv window and no SSM state
                    s.upload(st.conv[l], 0, st.conv[l].length, ws.convState.at4(((long) i * L + l) * convN));
                    s.upload(st.ssm[l], 0, st.ssm[l].length, ws.ssmState.at4(((long) i * L + l) * ssmN));
                }
            }
        GpuAttention.Tables at = ws.attnTables = c.attn == null ? null : uploadKvCaches(ws, v, states);

        final DType mt = precision.matrixType;
        final boolean bf = mt.isHalf();
        final int dIn = c.dInProj(), dMlp = c.dMlp(), dSsm = c.dSsm, convDim = c.convDim(), G = c.ngroups;
        final Mamba2Config.InProjColumns col = c.inProjColumns();
        final int ldXn = bf ? w.ldModel : d;
        final GpuSsdScan.Inputs ssdIn = ssdInputs(ws.xbc.ptr(), ws.proj.ptr());
        // with the gated norm in the scan, out_proj's product waits for its row scale in the next norm
        final GpuRmsNorm.DeltaScale foldScale = foldGatedNorm
                ? new GpuRmsNorm.DeltaScale(ws.y.ptr(), c.nheads, dSsm, c.gatedNormEps) : null;

        GpuEmbedding.gather(s, ws.ints.ptr(), T, w.embedding.ptr(), w.embeddingType, w.ldEmbedding, d, ws.residual.ptr());
        CUdeviceptr pending = null; // a Mamba-2 block's out_proj output: the next norm adds it into the residual
        for (int l = 0, attnLayer = 0; l < L; l++) {
            GpuWeights.Layer g = w.layers[l];
            if (g.attention) {
                norm(ws, g.norm, pending, T, ldXn);
                attention(ws, vd, at, g, attnLayer++, ws.convState.at4(l * convN), L * convN, T, ldXn);
            } else {
                if (w.tiled) { // Hopper's copy engine feeds the GEMM: the norm writes xn tiled like the weight
                    GpuRmsNorm.addNormTiled(s, ws.residual.ptr(), pending, pending == null ? null : foldScale,
                            g.norm.ptr(), c.normEps, T, d, null, 0, ws.xn.ptr());
                    GpuGemm.runTiled(s, ws.xn.ptr(), T, g.inProjTiled.ptr(), dIn, d, ws.proj.ptr(), dIn, ptr(g.inProjBias));
                } else {
                    norm(ws, g.norm, pending, T, ldXn);
                    GpuGemm.run(s, mt, ws.xn.ptr(), ldXn, g.inProj.ptr(), w.ldModel, ws.proj.ptr(), dIn, ptr(g.inProjBias), T, dIn, d);
                }

                // the next chunk's conv windows and C.B run on the side stream, beside the chunk states and their
                // passing; the scan joins them (KERNEL_NOTES.md, session 8)
                GpuCausalConv1d.forward(s, ws.side, vd, ws.proj.ptr(), dIn, col.xbc(), convDim, g.convWeight.ptr(),
                        ptr(g.convBias), c.dConv, ws.convState.at4(l * convN), L * convN, keepStates, true, ws.xbc.ptr());

                // delta = out_proj(gated norm(y, z)); the residual add happens in the next norm, so the GEMM writes C
                // instead of reading and writing it (C += ran at ~60 % of C = on Hopper, KERNEL_NOTES.md)
                if (foldGatedNorm) { // ws.y holds the per-head sums of squares [T][H]; the next norm scales delta
                    GpuSsdScan.forwardGated(s, ws.side, vd, dims, ssdIn, g.ssm, ws.ssmState.at4(l * ssmN), L * ssmN, carried,
                            keepStates, ws.ssd.ptr(), new GpuSsdScan.GatedOut(ws.proj.ptr(), dIn, col.z(), g.gatedNorm.ptr(),
                                    ws.gated.ptr(), GpuGemm.tiledRows(T), ws.y.ptr()));
                    GpuGemm.runTiled(s, ws.gated.ptr(), T, g.outProjTiled.ptr(), d, c.dInner, ws.delta.ptr(), d, null);
                } else {
                    GpuSsdScan.forward(s, ws.side, vd, dims, ssdIn, g.ssm, ws.ssmState.at4(l * ssmN), L * ssmN, carried,
                            keepStates, ws.ssd.ptr(), ws.y.ptr(), dSsm, bf);
                    if (w.tiled) {
                        GpuGatedRmsNorm.forwardTiled(s, T, ws.y.ptr(), dSsm, ws.proj.ptr(), dIn, col.z(), ptr(g.gatedNorm),
                                c.gatedNormEps, dSsm / G, c.normBeforeGate, dSsm, dMlp, ws.gated.ptr(), dMlp, c.dInner);
                        GpuGemm.runTiled(s, ws.gated.ptr(), T, g.outProjTiled.ptr(), d, c.dInner, ws.delta.ptr(), d, ptr(g.outProjBias));
                    } else {
                        GpuGatedRmsNorm.forward(s, mt, T, ws.y.ptr(), dSsm, ws.proj.ptr(), dIn, col.z(), ptr(g.gatedNorm),
                                c.gatedNormEps, dSsm / G, c.normBeforeGate, dSsm, dMlp, ws.gated.ptr(), w.ldInner, dMlp, c.dInner);
                        GpuGemm.run(s, mt, ws.gated.ptr(), w.ldInner, g.outProj.ptr(), w.ldInner, ws.delta.ptr(), d, ptr(g.outProjBias), T, d, c.dInner);
                    }
                }
            }
            pending = g.attention ? null : ws.delta.ptr();
            if (g.fc1 != null) { // the block's gated MLP: residual += fc2(y * silu(gate)), [y | gate] = fc1(norm2(residual))
                int dI = c.dIntermediate;
                norm(ws, g.mlpNorm, pending, T, ldXn);
                pending = null;
                GpuGemm.run(s, mt, ws.xn.ptr(), ldXn, g.fc1.ptr(), w.ldModel, ws.proj.ptr(), 2 * dI, null, T, 2 * dI, d);
                GpuAttention.siluGate(s, mt, T, ws.proj.ptr(), 2 * dI, 0, dI, ws.gated.ptr(), w.ldMlp, 0, dI);
                GpuGemm.addTo(s, mt, ws.gated.ptr(), w.ldMlp, g.fc2.ptr(), w.ldMlp, ws.residual.ptr(), d, null, T, d, dI);
            }
        }
        if (w.tiled) { // the LM head reads hiddenH pre-tiled
            GpuRmsNorm.addNormTiled(s, ws.residual.ptr(), pending, pending == null ? null : foldScale, w.normF.ptr(),
                    c.normEps, T, d, ws.hidden.ptr(), d, ws.hiddenH.ptr());
            ws.hiddenTiledRows = T;
        } else {
            GpuRmsNorm.addNorm(s, ws.residual.ptr(), pending, w.normF.ptr(), c.normEps, T, d, ws.hidden.ptr(), d,
                    mt, bf ? ws.hiddenH.ptr() : null, w.ldModel);
        }
        return vd;
    }

    /** residual += delta (when not null); ws.xn = RMSNorm(residual) * weight, in the GEMMs' input type. */
    private void norm(Workspace ws, ssdspark.kernels.gpu.DeviceBuffer weight, CUdeviceptr delta, int T, int ldXn) {
        DType mt = precision.matrixType;
        if (mt.isHalf())
            GpuRmsNorm.addNorm(ws.stream, ws.residual.ptr(), delta, weight.ptr(), c.normEps, T, c.dModel, null, 0, mt, ws.xn.ptr(), ldXn);
        else GpuRmsNorm.addNorm(ws.stream, ws.residual.ptr(), delta, weight.ptr(), c.normEps, T, c.dModel, ws.xn.ptr(), c.dModel, mt, null, 0);
    }

    /**
     * A hybrid's attention layer (mamba_ssm's MHA): residual += out_proj([attention(rotary(conv(q|k|v))) | MLP part]).
     * The batch's keys and values go to the layer's rows of ws.keys / ws.values after the carried caches.
     */
    private void attention(Workspace ws, Varlen.OnDevice vd, GpuAttention.Tables at, GpuWeights.Layer g, int attnLayer,
                           CUdeviceptr convState, long convSeqStride, int T, int ldXn) {
        Mamba2Config.AttnConfig a = c.attn;
        DType mt = precision.matrixType;
        GpuStream s = ws.stream;
        int rows = a.inProjRows(), qkv = a.qkvDim(), ld = w.ldAttnOut;
        GpuGemm.run(s, mt, ws.xn.ptr(), ldXn, g.inProj.ptr(), w.ldModel, ws.proj.ptr(), rows, ptr(g.inProjBias), T, rows, c.dModel);
        CUdeviceptr src = ws.proj.ptr();
        int ldSrc = rows;
        if (a.dConv() > 0) { // depthwise causal conv over q|k|v, no activation
            GpuCausalConv1d.forward(s, vd, ws.proj.ptr(), rows, 0, qkv, g.convWeight.ptr(), ptr(g.convBias), a.dConv(),
                    convState, convSeqStride, false, ws.xbc.ptr());
            src = ws.xbc.ptr();
            ldSrc = qkv;
        }
        long kv = (long) attnLayer * ws.capKvRows * a.kvDim();
        GpuAttention.rotaryKv(s, vd, at, attnShape, src, ldSrc, 0, w.invFreq.ptr(), ws.attnQ.ptr(), ws.keys.at4(kv), ws.values.at4(kv));
        GpuAttention.attend(s, mt, vd, at, attnShape, ws.attnQ.ptr(), ws.keys.at4(kv), ws.values.at4(kv), ws.gated.ptr(), ld);
        GpuAttention.siluGate(s, mt, T, ws.proj.ptr(), rows, qkv, a.mlpDim() / 2, ws.gated.ptr(), ld, a.qDim(), a.outProjCols());
        GpuGemm.addTo(s, mt, ws.gated.ptr(), ld, g.outProj.ptr(), ld, ws.residual.ptr(), c.dModel, ptr(g.outProjBias), T,
                c.dModel, a.outProjCols());
    }

    /** The attention tables of batch v and the carried KV caches of its sequences, uploaded before their new rows. */
    private GpuAttention.Tables uploadKvCaches(Workspace ws, Varlen v, Mamba2State[] states) {
        int[] prefix = new int[v.seqs];
        if (states != null)
            for (int i = 0; i < v.seqs; i++) if (states[i] != null) prefix[i] = cachedTokens(states[i]);
        GpuAttention.Tables at = GpuAttention.upload(ws.stream, v, prefix, ws.attnInts, 0);
        ws.ensureKv(at.kvRows());
        int kvDim = c.attn.kvDim();
        for (int l = 0, a = 0; l < c.nLayer; l++) {
            if (!c.isAttention(l)) continue;
            for (int i = 0; i < v.seqs; i++) {
                if (prefix[i] == 0) continue;
                Mamba2State.KvCache kv = states[i].kv[l];
                long row = (long) a * ws.capKvRows + at.kvStartHost()[i];
                ws.stream.upload(kv.keys(), 0, prefix[i] * kvDim, ws.keys.at4(row * kvDim));
                ws.stream.upload(kv.values(), 0, prefix[i] * kvDim, ws.values.at4(row * kvDim));
            }
            a++;
        }
        return at;
    }

    /** Tokens a state has seen, which its every attention layer's cache must hold. */
    private int cachedTokens(Mamba2State st) {
        for (int l = 0; l < c.nLayer; l++)
            if (c.isAttention(l) && st.kv[l].length() != st.tokensSeen)
                throw new IllegalArgumentException("state has seen " + st.tokensSeen + " tokens but layer " + l
                        + "'s KV cache holds " + st.kv[l].length() + ": not a state of this model");
        return st.tokensSeen;
    }

    private static CUdeviceptr ptr(ssdspark.kernels.gpu.DeviceBuffer b) { return b == null ? null : b.ptr(); }

    /** Fused LM head over ws.hidden(H) rows [0, rows) with targets at tg; returns the device log-probs. */
    private CUdeviceptr head(Workspace ws, int rows, CUdeviceptr tg) {
        DType mt = precision.matrixType;
        if (ws.hiddenTiledRows > 0) {
            GpuLmHead.Plan p = GpuLmHead.planTiled(w.headRows);
            ws.ensureLm(p, rows);
            CUdeviceptr out = ws.lm.at4(p.scratchFloats(rows));
            GpuLmHead.logProbsTiled(ws.stream, ws.hiddenH.ptr(), ws.hiddenTiledRows, w.headTiled.ptr(), rows, w.headRows,
                    c.dModel, tg, p, ws.lm.ptr(), out);
            return out;
        }
        GpuLmHead.Plan p = GpuLmHead.plan(dev, rows, w.headRows, mt);
        ws.ensureLm(p, rows);
        CUdeviceptr out = ws.lm.at4(p.scratchFloats(rows));
        if (mt.isHalf())
            GpuLmHead.logProbs(ws.stream, mt, ws.hiddenH.ptr(), w.ldModel, w.head.ptr(), w.ldModel, rows, w.headRows,
                    c.dModel, tg, p, ws.lm.ptr(), out);
        else
            GpuLmHead.logProbs(ws.stream, mt, ws.hidden.ptr(), c.dModel, w.head.ptr(), c.dModel, rows, w.headRows,
                    c.dModel, tg, p, ws.lm.ptr(), out);
        return out;
    }

    private void downloadStates(Workspace ws, Varlen v, Mamba2State[] states) {
        if (states == null) return;
        int L = c.nLayer;
        long convN = ws.convStateFloats(), ssmN = ws.ssmStateFloats();
        int kvDim = c.attn == null ? 0 : c.attn.kvDim();
        float[] kvRows = null;
        boolean copied = false;
        for (int i = 0; i < v.seqs; i++) {
            Mamba2State st = states[i];
            if (st == null) continue;
            int before = st.tokensSeen, n = v.seqLen[i];
            HeldState h = heldHere(st);
            if (h != null) { // stays on the device
                ws.stream.copy(ws.convState.at4((long) i * L * convN), h.conv(), 4L * L * convN);
                ws.stream.copy(ws.ssmState.at4((long) i * L * ssmN), h.ssm(L * convN), 4L * L * ssmN);
                h.written = true;
                copied = true;
            }
            for (int l = 0, a = 0; l < L; l++) {
                long at = (long) i * L + l;
                if (h == null && st.conv[l].length > 0) ws.stream.download(ws.convState.at4(at * convN), st.conv[l], 0, st.conv[l].length);
                if (h == null && st.ssm[l].length > 0) ws.stream.download(ws.ssmState.at4(at * ssmN), st.ssm[l], 0, st.ssm[l].length);
                if (!c.isAttention(l)) continue;
                // the sequence's new keys and values follow its cache: append them to the state's
                long row = (long) a++ * ws.capKvRows + ws.attnTables.kvStartHost()[i] + before;
                if (kvRows == null || kvRows.length < 2 * n * kvDim) kvRows = new float[2 * n * kvDim];
                ws.stream.download(ws.keys.at4(row * kvDim), kvRows, 0, n * kvDim);
                ws.stream.download(ws.values.at4(row * kvDim), kvRows, n * kvDim, n * kvDim);
                st.kv[l].append(kvRows, 0, n * kvDim, kvDim, n);
            }
            st.tokensSeen = before + n;
        }
        if (copied) ws.stream.sync(); // a state released right after this call frees memory the copies still read
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (HeldState h : held) h.release();
        freeSpares();
        for (Workspace ws : workspaces) ws.close();
        workspaces.clear();
        w.close();
    }
}
