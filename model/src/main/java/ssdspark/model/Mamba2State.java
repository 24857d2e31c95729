package ssdspark.model;

import java.util.Arrays;

/**
 * The recurrent state of one sequence after some prefix. Per layer:
 * <ul>
 *   <li>Mamba-2 layers: the last d_conv-1 conv inputs (conv[layer][(d_conv-1) × conv_dim], oldest first) and the
 *       SSM state (ssm[layer][nheads × headdim × d_state]); their size does not depend on how many tokens were seen;</li>
 *   <li>attention layers (hybrids): the last attn d_conv-1 inputs of the q|k|v conv (conv[layer][(d_conv-1) × qkv_dim],
 *       empty without conv), an empty ssm[layer], and the KV cache kv[layer]: the keys (after rotary) and values of
 *       every token seen. The cache grows by {@link Mamba2Config#kvCacheBytesPerToken()} per token: a hybrid's state is
 *       not bounded by the chunk, which is why the document runner caps it (max attention tokens).</li>
 * </ul>
 * {@link #tokensSeen} is the number of tokens before the next chunk: the rotary position of its first token.
 *
 * <p>An engine may hold a state's conv and SSM arrays itself between its calls ({@link Engine#newCarriedState()}: the
 * GPU engine keeps them in device memory, so a long document's pieces do not move ~19 MB a sequence across PCIe
 * both ways). While {@link #isHeld()}, the arrays are stale: {@link #load()} brings them back, {@link #release()}
 * drops the engine's copy when the state is no longer needed. A state made held ({@link #held}) has no conv or SSM
 * arrays (null) until it is loaded: 19 MB of Java heap per document for the 130M shape that nothing would read.
 */
public final class Mamba2State {
    public final float[][] conv;
    public final float[][] ssm;
    /** Per layer: the attention layer's KV cache, null for Mamba-2 layers. */
    public final KvCache[] kv;
    /** Tokens this state has seen (the position of the next token). */
    public int tokensSeen;
    private Holder holder; // the engine's copy of conv and ssm; null: the arrays are current

    /** An engine's own copy of a state's conv and SSM arrays (see {@link Engine#newCarriedState()}). */
    public interface Holder {
        /** Writes the held values into the state's arrays. */
        void load(Mamba2State into);

        /** Frees the engine's copy (idempotent). */
        void release();
    }

    private final Mamba2Config cfg;

    public Mamba2State(Mamba2Config c) { this(c, true); }

    private Mamba2State(Mamba2Config c, boolean arrays) {
        cfg = c;
        conv = new float[c.nLayer][];
        ssm = new float[c.nLayer][];
        kv = new KvCache[c.nLayer];
        for (int l = 0; l < c.nLayer; l++) if (c.isAttention(l)) kv[l] = new KvCache(c.attn.kvDim());
        if (arrays) allocateArrays();
    }

    /** A state whose values the engine's holder h has (all zero at first); its arrays are made when it is loaded. */
    public static Mamba2State held(Mamba2Config c, Holder h) {
        Mamba2State s = new Mamba2State(c, false);
        s.holder = h;
        return s;
    }

    private void allocateArrays() {
        Mamba2Config c = cfg;
        for (int l = 0; l < c.nLayer; l++) {
            if (conv[l] != null) continue;
            if (c.isAttention(l)) {
                conv[l] = new float[Math.max(0, c.attn.dConv() - 1) * c.attn.qkvDim()];
                ssm[l] = new float[0];
            } else {
                conv[l] = new float[(c.dConv - 1) * c.convDim()];
                ssm[l] = new float[c.nheads * c.headdim * c.dState];
            }
        }
    }

    private Mamba2State(Mamba2Config cfg, float[][] conv, float[][] ssm, KvCache[] kv, int tokensSeen) {
        this.cfg = cfg;
        this.conv = conv;
        this.ssm = ssm;
        this.kv = kv;
        this.tokensSeen = tokensSeen;
    }

    /** Whether an engine holds this state's conv and SSM values (the arrays are stale until {@link #load()}). */
    public boolean isHeld() { return holder != null; }

    /** The engine's copy, for the engine that made it. */
    public Holder holder() { return holder; }

    /** Engines: from now on the current conv and SSM values are in h, not in the arrays (null: back in the arrays). */
    public void hold(Holder h) { holder = h; }

    /** Brings held values back into the arrays and drops the engine's copy; nothing to do when not held. */
    public void load() {
        Holder h = holder;
        if (h == null) return;
        allocateArrays();
        h.load(this);
        holder = null;
        h.release();
    }

    /** Drops the engine's copy without reading it: the state's values are lost (the document is finished); do not run it again. */
    public void release() {
        Holder h = holder;
        holder = null;
        if (h != null) h.release();
    }

    /** A copy with current arrays (a held state is loaded first). */
    public Mamba2State copy() {
        load();
        int n = conv.length;
        float[][] c = new float[n][], s = new float[n][];
        KvCache[] k = new KvCache[n];
        for (int i = 0; i < n; i++) {
            c[i] = conv[i].clone();
            s[i] = ssm[i].clone();
            k[i] = kv[i] == null ? null : kv[i].copy();
        }
        return new Mamba2State(cfg, c, s, k, tokensSeen);
    }

    /** Makes every KV cache hold tokens rows without growing again (a document's length, when known up front). */
    public void reserveTokens(int tokens) {
        for (KvCache k : kv) if (k != null) k.ensureCapacity(tokens);
    }

    /** Bytes of float data this state holds now (KV caches counted at their allocated capacity). */
    public long bytes() {
        long b = 0;
        for (int i = 0; i < conv.length; i++)
            b += (conv[i] == null ? 0 : 4L * (conv[i].length + ssm[i].length)) + (kv[i] == null ? 0 : kv[i].bytes());
        return b;
    }

    /**
     * One attention layer's keys and values, row j = token j of the sequence: keys()[j·width + c], values() likewise,
     * width = num_heads_kv × head_dim, for j < length(). Rows past length() are spare capacity.
     */
    public static final class KvCache {
        public final int width;
        private float[] keys = new float[0], values = new float[0];
        private int length;

        public KvCache(int width) {
            if (width < 1) throw new IllegalArgumentException("kv width " + width);
            this.width = width;
        }

        public int length() { return length; }

        public float[] keys() { return keys; }

        public float[] values() { return values; }

        public long bytes() { return 8L * keys.length; }

        /**
         * Appends n rows: key row t from src[kOff + t·ld], value row t from src[vOff + t·ld] (width floats each).
         * Capacity grows by half again when full, so appending chunk after chunk costs amortised copies only.
         */
        public void append(float[] src, int kOff, int vOff, int ld, int n) {
            ensureCapacity((long) length + n);
            for (int t = 0; t < n; t++) {
                System.arraycopy(src, kOff + t * ld, keys, (length + t) * width, width);
                System.arraycopy(src, vOff + t * ld, values, (length + t) * width, width);
            }
            length += n;
        }

        /** Room for rows tokens; the rows already there are kept. */
        public void ensureCapacity(long rows) {
            long have = keys.length / width;
            if (rows <= have) return;
            long max = (Integer.MAX_VALUE - 8) / width;
            if (rows > max)
                throw new IllegalArgumentException("an attention KV cache of " + rows + " tokens x " + width
                        + " floats is more than a Java array holds; cap the document's length (--max-attention-tokens)");
            long cap = Math.min(max, Math.max(rows, have + have / 2));
            keys = Arrays.copyOf(keys, (int) (cap * width));
            values = Arrays.copyOf(values, (int) (cap * width));
        }

        KvCache copy() {
            KvCache c = new KvCache(width);
            c.keys = Arrays.copyOf(keys, length * width);
            c.values = Arrays.copyOf(values, length * width);
            c.length = length;
            return c;
        }
    }
}
