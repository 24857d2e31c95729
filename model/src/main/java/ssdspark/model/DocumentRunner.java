package ssdspark.model;

import ssdspark.kernels.Pooling;
import ssdspark.model.gpu.GpuEngine;
import ssdspark.model.gpu.GpuEngine.DeviceSeqs;
import ssdspark.model.gpu.GpuEngine.Pooled;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Scores and embeds documents of any length. Documents are packed back to back into engine batches
 * of at most {@code tokenBudget} tokens, the longest first; a document longer than {@code chunkTokens} goes through in
 * pieces with its recurrent state carried from piece to piece (on the GPU, in device memory), so every result equals
 * one pass over the whole document while memory stays bounded by the batch, not by the document.
 *
 * <p>Hybrid models (attention layers) are the exception: their state holds every token's keys and values, so it grows
 * with the document ({@link Mamba2Config#kvCacheBytesPerToken()} a token). A document longer than
 * {@code maxAttentionTokens} is refused (its error row says so), and the planner keeps the KV caches carried between
 * batches within that many tokens in all: a long document is started only when its whole cache fits beside those of
 * the documents in flight. Memory for KV caches is then at most (maxAttentionTokens + tokenBudget) × bytes a token.
 *
 * <p>The documents' ids are host arrays, or (the RAPIDS columnar path) int32 ids already in the GPU engine's device
 * memory ({@link DeviceDocs}); both go through the same packing, chunking and per-document reduction.
 *
 * <p>When the engine runs out of device memory on a pass ({@link OutOfDeviceMemory}), the pass is packed again with
 * half its tokens, and later passes of this runner stay at that size; a document's pieces keep their length (the
 * smaller of chunkTokens and tokenBudget), so only the packing changes, which changes no result on the CPU engine and
 * none beyond float rounding on the GPU. A piece that does not fit even alone makes its document an error, and the
 * others go on. One runner per task thread: it is not thread-safe (the engine is).
 */
public final class DocumentRunner {
    /** Default of the longest document, and of the tokens in flight together, whose KV cache a hybrid model keeps. */
    public static final int DEFAULT_MAX_ATTENTION_TOKENS = 65536;

    private final Engine engine;
    private final DeviceBatches device; // null: this runner takes host arrays only
    private final int maxAttentionTokens;
    private int passLimit = Integer.MAX_VALUE; // tokens per pass after running out of device memory
    private long memorySplits;
    private java.util.function.IntConsumer passDone = n -> {}; // progress inside long documents

    public DocumentRunner(Engine engine) { this(engine, DEFAULT_MAX_ATTENTION_TOKENS); }

    /** @param maxAttentionTokens hybrids: the longest document, and the most KV-cache tokens carried at once (ignored without attention layers) */
    public DocumentRunner(Engine engine, int maxAttentionTokens) {
        this(engine, engine instanceof GpuEngine g ? DeviceBatches.of(g) : null, maxAttentionTokens);
    }

    /** A runner whose device-memory batches run through device (tests stand host memory in for the GPU's). */
    public DocumentRunner(Engine engine, DeviceBatches device) { this(engine, device, DEFAULT_MAX_ATTENTION_TOKENS); }

    public DocumentRunner(Engine engine, DeviceBatches device, int maxAttentionTokens) {
        if (maxAttentionTokens < 1) throw new IllegalArgumentException("max attention tokens must be >= 1, got " + maxAttentionTokens);
        this.engine = engine;
        this.device = device;
        this.maxAttentionTokens = maxAttentionTokens;
    }

    public Engine engine() { return engine; }

    /** Engine passes (and log-prob calls) that ran out of device memory and were split and run again, so far. */
    public long memorySplits() { return memorySplits; }
    /** Tells passDone the tokens of each engine pass once it is done (a job's progress line inside long documents); returns this. */
    public DocumentRunner onPass(java.util.function.IntConsumer passDone) {
        this.passDone = passDone;
        return this;
    }

    /**
     * @param chunkTokens longest piece of one document per engine call (state carried between pieces)
     * @param bosId       token id prepended so the first real token is scored too; negative for none
     * @param perToken    keep every token's log-prob (element i scores token i+1 of the scored sequence)
     */
    public record ScoreOptions(int chunkTokens, int bosId, boolean perToken) {
        public ScoreOptions {
            if (chunkTokens < 1) throw new IllegalArgumentException("chunk tokens must be >= 1, got " + chunkTokens);
        }
    }

    /**
     * numTokens counts the document's own tokens (not the BOS); numScored the predicted ones; spans holds the
     * per-span sums when spans were asked for (null otherwise).
     */
    public record ScoreResult(int numTokens, int numScored, double sumLogprob, float[] tokenLogprobs, SpanScores spans) {
        /** −sumLogprob / numScored; NaN when nothing was scored (a 1-token document without BOS). */
        public double meanNll() { return numScored == 0 ? Double.NaN : -sumLogprob / numScored; }

        public double perplexity() { return Math.exp(meanNll()); }
    }

    /**
     * Scores of consecutive spans of a document's tokens (BOS excluded): span k holds tokens
     * [tokenEnd(k-1), tokenEnd(k)) with tokenEnd(-1) = 0. Every token of the document is in exactly one span,
     * so the spans' sums add up to the document's. A token counts as scored when the document's score
     * counts it: without a BOS the document's first token is not, so its span has one scored token less.
     */
    public record SpanScores(int[] tokenEnds, int[] numScored, double[] sumLogprob) {
        public int size() { return tokenEnds.length; }

        public int start(int k) { return k == 0 ? 0 : tokenEnds[k - 1]; }

        public int numTokens(int k) { return tokenEnds[k] - start(k); }

        /** −sumLogprob / numScored of span k; NaN when it has no scored token. */
        public double meanNll(int k) { return numScored[k] == 0 ? Double.NaN : -sumLogprob[k] / numScored[k]; }

        /** Checks that tokenEnds cut a document of n tokens into consecutive spans (non-decreasing, the last = n). */
        static void check(int[] tokenEnds, int n) {
            if (tokenEnds.length == 0) throw new IllegalArgumentException("a document needs at least one span");
            int prev = 0;
            for (int e : tokenEnds) {
                if (e < prev) throw new IllegalArgumentException("span ends must not decrease: " + Arrays.toString(tokenEnds));
                prev = e;
            }
            if (prev != n) throw new IllegalArgumentException("the last span must end at the document's " + n + " tokens, not " + prev);
        }
    }

    public record EmbedResult(int numTokens, float[] mean, float[] last) {
        /** From the sum of the document's final hidden states (in double) and its last token's hidden state. */
        public static EmbedResult ofSum(int numTokens, double[] sum, float[] last) {
            return new EmbedResult(numTokens, Pooling.meanOf(sum, numTokens), last);
        }
    }

    /** A per-document result, or the reason there is none (empty document, token outside the vocabulary). */
    public record Outcome<T>(T result, String error) {
        public boolean ok() { return error == null; }
    }

    public ScoreResult score(int[] tokens, ScoreOptions o) {
        return unwrap(scoreAll(List.of(tokens == null ? new int[0] : tokens), o, o.chunkTokens()).get(0));
    }

    public EmbedResult embed(int[] tokens, int chunkTokens) {
        return unwrap(embedAll(List.of(tokens == null ? new int[0] : tokens), chunkTokens, chunkTokens).get(0));
    }

    private static <T> T unwrap(Outcome<T> o) {
        if (!o.ok()) throw new IllegalArgumentException(o.error());
        return o.result();
    }

    public List<Outcome<ScoreResult>> scoreAll(List<int[]> docs, ScoreOptions o, int tokenBudget) {
        return scoreAll(docs, null, o, tokenBudget);
    }

    /**
     * Scores docs, and for the documents whose spanEnds entry is not null also each span of their tokens:
     * spanEnds.get(i) are the cumulative token ends of document i's spans (see {@link SpanScores}). A span's
     * sum gathers the same per-token log-probs as the document's, piece by piece as the document's chunks come
     * back, so span scores do not depend on chunking either. spanEnds null: no spans.
     */
    public List<Outcome<ScoreResult>> scoreAll(List<int[]> docs, List<int[]> spanEnds, ScoreOptions o, int tokenBudget) {
        if (spanEnds != null && spanEnds.size() != docs.size())
            throw new IllegalArgumentException(spanEnds.size() + " span lists for " + docs.size() + " documents");
        List<Cursor> cursors = new ArrayList<>(docs.size());
        String bosError = o.bosId() >= 0 ? checkToken(o.bosId(), -1) : null;
        for (int[] doc : docs) {
            String err = bosError != null ? bosError : validate(doc);
            if (err == null) err = attentionLimit(doc.length + (o.bosId() >= 0 ? 1 : 0));
            int[] seq = doc;
            if (err == null && o.bosId() >= 0) {
                seq = new int[doc.length + 1];
                seq[0] = o.bosId();
                System.arraycopy(doc, 0, seq, 1, doc.length);
            }
            Cursor c = new Cursor(seq, err);
            if (err == null)
                c.score = new RunningScore(doc.length, seq.length, o.perToken(), spanEnds == null ? null : spanEnds.get(cursors.size()));
            cursors.add(c);
        }
        run(cursors, o.chunkTokens(), tokenBudget, hostPass(true));
        List<Outcome<ScoreResult>> out = new ArrayList<>(docs.size());
        for (int i = 0; i < docs.size(); i++) {
            Cursor c = cursors.get(i);
            out.add(c.error != null ? new Outcome<>(null, c.error) : new Outcome<>(c.score.result(), null));
        }
        return out;
    }

    public List<Outcome<EmbedResult>> embedAll(List<int[]> docs, int chunkTokens, int tokenBudget) {
        if (chunkTokens < 1) throw new IllegalArgumentException("chunk tokens must be >= 1, got " + chunkTokens);
        int d = engine.config().dModel;
        List<Cursor> cursors = new ArrayList<>(docs.size());
        for (int[] doc : docs) {
            String err = validate(doc);
            Cursor c = new Cursor(doc, err != null ? err : attentionLimit(doc.length));
            if (c.error == null) { c.poolSum = new double[d]; c.last = new float[d]; }
            cursors.add(c);
        }
        run(cursors, chunkTokens, tokenBudget, hostPass(false));
        return embedOutcomes(cursors);
    }

    private static List<Outcome<EmbedResult>> embedOutcomes(List<Cursor> cursors) {
        List<Outcome<EmbedResult>> out = new ArrayList<>(cursors.size());
        for (Cursor c : cursors)
            out.add(c.error != null ? new Outcome<>(null, c.error) : new Outcome<>(EmbedResult.ofSum(c.length, c.poolSum, c.last), null));
        return out;
    }

    /**
     * Documents whose int32 ids sit in the GPU engine's device memory (e.g. a cuDF LIST&lt;INT32&gt; column's child
     * data): document i is the len[i] ids from element start[i] at idsAddress. The ids must be ready (whoever wrote
     * them has synchronized its stream).
     */
    public record DeviceDocs(long idsAddress, int[] start, int[] len) {
        public DeviceDocs {
            if (start.length != len.length) throw new IllegalArgumentException(start.length + " starts for " + len.length + " documents");
            for (int i = 0; i < len.length; i++)
                if (start[i] < 0 || len[i] < 0 || (long) start[i] + len[i] > Integer.MAX_VALUE)
                    throw new IllegalArgumentException("document " + i + ": start " + start[i] + ", length " + len[i] + " is not an id range");
        }

        public int size() { return len.length; }
    }

    /**
     * What runs a packed batch whose ids are in device memory: {@link GpuEngine#logProbsDevice} and
     * {@link GpuEngine#embedDevice}, or in tests a stand-in that reads host memory. An id outside the vocabulary
     * throws {@link BadTokenId} before anything runs.
     */
    public interface DeviceBatches {
        float[][] logProbs(DeviceSeqs seqs, Mamba2State[] states);

        Pooled[] embed(DeviceSeqs seqs, Mamba2State[] states);

        static DeviceBatches of(GpuEngine g) {
            return new DeviceBatches() {
                @Override public float[][] logProbs(DeviceSeqs seqs, Mamba2State[] states) { return g.logProbsDevice(seqs, states); }

                @Override public Pooled[] embed(DeviceSeqs seqs, Mamba2State[] states) { return g.embedDevice(seqs, states); }
            };
        }
    }

    /** Whether this runner takes {@link DeviceDocs} (its engine is a GPU engine). */
    public boolean takesDeviceDocs() { return device != null; }

    /**
     * {@link #scoreAll(List, ScoreOptions, int)} over ids in device memory, without a BOS (none can be prepended
     * there). An empty document, or one holding an id outside the vocabulary, is that document's error (with the host
     * path's message); the others run. The engine checks a pass's ids on the device before running it
     * ({@link BadTokenId}); a pass with a bad id runs again without that document.
     */
    public List<Outcome<ScoreResult>> scoreAll(DeviceDocs docs, ScoreOptions o, int tokenBudget) {
        if (o.bosId() >= 0) throw new IllegalArgumentException("a BOS cannot be prepended to ids in device memory: score them from the host");
        List<Cursor> cursors = deviceCursors(docs);
        for (Cursor c : cursors) if (c.error == null) c.score = new RunningScore(c.length, c.length, o.perToken(), null);
        run(cursors, o.chunkTokens(), tokenBudget, devicePass(docs.idsAddress(), true));
        List<Outcome<ScoreResult>> out = new ArrayList<>(cursors.size());
        for (Cursor c : cursors) out.add(c.error != null ? new Outcome<>(null, c.error) : new Outcome<>(c.score.result(), null));
        return out;
    }

    /** {@link #embedAll(List, int, int)} over ids in device memory; errors as in {@link #scoreAll(DeviceDocs, ScoreOptions, int)}. */
    public List<Outcome<EmbedResult>> embedAll(DeviceDocs docs, int chunkTokens, int tokenBudget) {
        if (chunkTokens < 1) throw new IllegalArgumentException("chunk tokens must be >= 1, got " + chunkTokens);
        List<Cursor> cursors = deviceCursors(docs);
        for (Cursor c : cursors) if (c.error == null) { c.poolSum = new double[engine.config().dModel]; c.last = new float[engine.config().dModel]; }
        run(cursors, chunkTokens, tokenBudget, devicePass(docs.idsAddress(), false));
        return embedOutcomes(cursors);
    }

    private List<Cursor> deviceCursors(DeviceDocs docs) {
        if (device == null) throw new IllegalStateException("ids in device memory need a GPU engine; this runner's is " + engine.backend());
        List<Cursor> cursors = new ArrayList<>(docs.size());
        for (int i = 0; i < docs.size(); i++)
            cursors.add(new Cursor(null, docs.start()[i], docs.len()[i], docs.len()[i] == 0 ? EMPTY : attentionLimit(docs.len()[i])));
        return cursors;
    }

    /** One document in flight: where it is, its carried state, and what has been accumulated. */
    private static final class Cursor {
        final int[] seq;       // the ids on the host; null when they are in device memory
        final int start;       // device memory: element of the first id
        final int length;
        String error;          // set at the start, or when a piece of it does not fit in device memory alone
        int pos;
        Mamba2State state;     // null until the document needs more than one piece
        boolean kvReserved;    // hybrids: its KV cache's tokens are counted in the planner's reservation
        RunningScore score;    // scoring
        double[] poolSum;      // embedding
        float[] last;

        Cursor(int[] seq, String error) { this(seq, 0, seq == null ? 0 : seq.length, error); }

        Cursor(int[] seq, int start, int length, String error) {
            this.seq = seq;
            this.start = start;
            this.length = length;
            this.error = error;
        }

        boolean done() { return error != null || pos == length; }

        void dropState() {
            if (state != null) state.release();
            state = null;
        }

        /**
         * out[off + i] = the id after position pos + i, for the piece of n tokens at pos (the row of position p predicts
         * p + 1); none for the document's last row, which predicts nothing.
         */
        void nextIds(int n, int[] out, int off, int none) {
            for (int i = 0; i < n; i++) {
                int p = pos + i + 1;
                out[off + i] = p < length ? seq[p] : none;
            }
        }

        /** Drops its carried state and its KV-cache reservation (hybrids); returns the tokens it had reserved. */
        long release() {
            dropState();
            if (!kvReserved) return 0;
            kvReserved = false;
            return length;
        }
    }

    /**
     * Runs one packed batch: piece b is positions [pos, pos + len[b]) of batch.get(b)'s sequence (pos: the cursor's),
     * continuing from states[b]; adds what comes back to the cursor.
     */
    private interface Pass {
        void run(List<Cursor> batch, int[] len, Mamba2State[] states);
    }

    private void run(List<Cursor> cursors, int chunkTokens, int tokenBudget, Pass pass) {
        if (tokenBudget < 1) throw new IllegalArgumentException("token budget must be >= 1, got " + tokenBudget);
        // Longest first: a document of k pieces needs k passes one after another, so it starts in the first pass and the
        // shorter documents fill the passes around its pieces (in input order, documents that start late would leave
        // their last passes nearly empty). The results are each document's own, whatever the order.
        List<Cursor> order = new ArrayList<>(cursors);
        order.sort(java.util.Comparator.comparingInt((Cursor c) -> c.length).reversed());
        try {
            runPasses(order, chunkTokens, tokenBudget, pass);
        } finally { // a failed call leaves no carried state behind in the engine's memory
            for (Cursor c : cursors) c.dropState();
        }
    }

    private void runPasses(List<Cursor> cursors, int chunkTokens, int tokenBudget, Pass pass) {
        final boolean kv = engine.config().kvCacheBytesPerToken() > 0;
        long reserved = 0; // hybrids: tokens of KV cache the documents in flight will hold when finished
        // A document's pieces are this long (its last one shorter) however the passes are packed, so results do not
        // depend on packing, also when a pass is split after running out of device memory.
        final int piece = Math.min(chunkTokens, tokenBudget);
        int next = 0; // first cursor that may still have work
        while (true) {
            while (next < cursors.size() && cursors.get(next).done()) next++;
            if (next == cursors.size()) return;
            // Pack the next piece of each unfinished document, in order, until the budget is spent (one piece always goes).
            final int limit = Math.min(tokenBudget, passLimit);
            List<Cursor> batch = new ArrayList<>();
            List<Integer> lens = new ArrayList<>();
            int total = 0;
            for (int i = next; i < cursors.size() && total < limit; i++) {
                Cursor c = cursors.get(i);
                if (c.done()) continue;
                int n = Math.min(piece, c.length - c.pos);
                if (total + n > limit && !batch.isEmpty()) break;
                if (c.state == null && c.pos + n < c.length) {
                    // Documents start in order, so every document in flight comes before this one and is in this batch:
                    // waiting here for them to finish cannot leave the batch empty.
                    if (kv && reserved + c.length > maxAttentionTokens) {
                        if (batch.isEmpty()) throw new IllegalStateException("no document in flight, yet " + c.length + " tokens do not fit");
                        break;
                    }
                    c.state = engine.newCarriedState();
                    if (kv) {
                        reserved += c.length;
                        c.kvReserved = true;
                        c.state.reserveTokens(c.length); // allocated once, at the size reserved
                    }
                }
                batch.add(c);
                lens.add(n);
                total += n;
            }
            int[] len = lens.stream().mapToInt(Integer::intValue).toArray();
            Mamba2State[] states = new Mamba2State[batch.size()];
            for (int b = 0; b < batch.size(); b++) states[b] = batch.get(b).state;
            try {
                pass.run(batch, len, states); // a pass that fails for lack of device memory leaves the states as they were
            } catch (BadTokenId bad) { // ids in device memory, checked there: that document is an error, the others run
                Cursor c = batch.get(bad.seq);
                c.error = checkToken(bad.id, c.pos + bad.pos);
                reserved -= c.release();
                continue;
            } catch (RuntimeException e) {
                if (!OutOfDeviceMemory.is(e)) throw e;
                OutOfDeviceMemory.release(engine);
                if (batch.size() > 1) { // pack again, half as much
                    passLimit = Math.max(1, total / 2);
                    memorySplits++;
                    continue;
                }
                Cursor c = batch.get(0); // one piece alone: this document cannot run, the others can
                c.error = "out of GPU memory: a piece of " + total + " tokens of this document does not fit even alone"
                        + " (pieces are the smaller of --chunk-tokens and --token-budget; lower --chunk-tokens): "
                        + OutOfDeviceMemory.message(e);
                reserved -= c.release();
                continue;
            }
            passDone.accept(total);
            for (int b = 0; b < batch.size(); b++) {
                Cursor c = batch.get(b);
                c.pos += len[b];
                if (c.done()) reserved -= c.release(); // as soon as the document is finished
            }
        }
    }

    /**
     * Ids from host arrays. On the GPU engine the head (scoring) or the pooling (embedding) runs on the device after the
     * forward, so only log-probs or pooled rows come back; elsewhere one packed forward, then the head or the pooling
     * sums on the host.
     */
    private Pass hostPass(boolean scoring) {
        if (engine instanceof GpuEngine g) return gpuHostPass(g, scoring);
        final int d = engine.config().dModel;
        return (batch, len, states) -> {
            int total = 0;
            for (int n : len) total += n;
            int[] tokens = new int[total], targets = new int[total], cu = new int[batch.size() + 1];
            for (int b = 0; b < batch.size(); b++) {
                Cursor c = batch.get(b);
                int n = len[b], o = cu[b];
                cu[b + 1] = o + n;
                System.arraycopy(c.seq, c.pos, tokens, o, n);
                c.nextIds(n, targets, o, 0);
            }
            float[] hidden = engine.forwardPacked(tokens, cu, states);
            float[] lp = null;
            if (scoring) {
                lp = new float[total];
                logProbs(hidden, total, targets, 0, lp);
            }
            for (int b = 0; b < batch.size(); b++) {
                Cursor c = batch.get(b);
                int n = len[b], o = cu[b];
                if (scoring) {
                    c.score.add(lp, o, rowsWithNext(c, n));
                } else {
                    Pooling.accumulateSumCpu(hidden, o, n, d, c.poolSum);
                    if (c.pos + n == c.length) System.arraycopy(hidden, (o + n - 1) * d, c.last, 0, d);
                }
            }
        };
    }

    /** Host ids through the GPU engine's batched calls: the final hidden states never leave the device. */
    private Pass gpuHostPass(GpuEngine g, boolean scoring) {
        return (batch, len, states) -> {
            int[][] tokens = new int[batch.size()][];
            boolean[] more = new boolean[batch.size()];
            for (int b = 0; b < batch.size(); b++) {
                Cursor c = batch.get(b);
                tokens[b] = Arrays.copyOfRange(c.seq, c.pos, c.pos + len[b]);
                more[b] = c.pos + len[b] < c.length;
            }
            if (!scoring) {
                addPooled(batch, more, g.embedBatch(tokens, states));
                return;
            }
            int[][] targets = new int[batch.size()][];
            for (int b = 0; b < batch.size(); b++) {
                Cursor c = batch.get(b);
                int n = len[b];
                targets[b] = new int[n];
                c.nextIds(n, targets[b], 0, -1);
            }
            addScores(batch, len, g.logProbsBatch(tokens, targets, states));
        };
    }

    private static void addScores(List<Cursor> batch, int[] len, float[][] lp) {
        for (int b = 0; b < batch.size(); b++) batch.get(b).score.add(lp[b], 0, rowsWithNext(batch.get(b), len[b]));
    }

    /** Adds each piece's pooled sum; a document's last piece also gives its last hidden state. */
    private static void addPooled(List<Cursor> batch, boolean[] more, Pooled[] p) {
        for (int b = 0; b < batch.size(); b++) {
            Cursor c = batch.get(b);
            double[] sum = p[b].sum();
            for (int k = 0; k < sum.length; k++) c.poolSum[k] += sum[k];
            if (!more[b]) System.arraycopy(p[b].last(), 0, c.last, 0, c.last.length);
        }
    }

    /**
     * Ids in device memory at idsAddress: the engine gathers each piece there; a piece whose document goes on
     * predicts the following id with its last row, so chunked documents are scored exactly as from the host.
     */
    private Pass devicePass(long idsAddress, boolean scoring) {
        return (batch, len, states) -> {
            int[] start = new int[batch.size()];
            boolean[] more = new boolean[batch.size()];
            for (int b = 0; b < batch.size(); b++) {
                Cursor c = batch.get(b);
                start[b] = c.start + c.pos;
                more[b] = c.pos + len[b] < c.length;
            }
            DeviceSeqs seqs = new DeviceSeqs(idsAddress, start, len, more);
            if (scoring) addScores(batch, len, device.logProbs(seqs, states));
            else addPooled(batch, more, device.embed(seqs, states));
        };
    }

    /**
     * lp[o + i] = log p(targets[o + i] | hidden row o + i) for i < n, in halves when the device runs out of memory.
     * The forward's states have moved on by then, so the pass cannot be packed again: a single row that does not fit
     * fails the task (as an IllegalStateException, which the pass's own retry does not take for an out-of-memory).
     */
    private void logProbs(float[] hidden, int n, int[] targets, int o, float[] lp) {
        int d = engine.config().dModel;
        float[] rows = o == 0 ? hidden : Arrays.copyOfRange(hidden, o * d, (o + n) * d);
        try {
            engine.logProbs(rows, n, targets, o, lp, o);
        } catch (RuntimeException e) {
            if (!OutOfDeviceMemory.is(e)) throw e;
            if (n == 1) throw new IllegalStateException("out of GPU memory for the LM head of a single token: " + OutOfDeviceMemory.message(e));
            OutOfDeviceMemory.release(engine);
            memorySplits++;
            int h = n / 2;
            logProbs(hidden, h, targets, o, lp);
            logProbs(hidden, n - h, targets, o + h, lp);
        }
    }

    /** Rows of a piece of n tokens at c.pos that have a next token to predict. */
    private static int rowsWithNext(Cursor c, int n) { return Math.min(n, c.length - 1 - c.pos); }

    private static final String EMPTY = "empty token array: nothing to score or embed";

    private String validate(int[] tokens) {
        if (tokens == null || tokens.length == 0) return EMPTY;
        for (int i = 0; i < tokens.length; i++) {
            String e = checkToken(tokens[i], i);
            if (e != null) return e;
        }
        return null;
    }

    /** Hybrids: why a sequence of n tokens is refused (its KV cache would pass the cap), or null. */
    private String attentionLimit(int n) {
        long perToken = engine.config().kvCacheBytesPerToken();
        if (perToken == 0 || n <= maxAttentionTokens) return null;
        return String.format("document of %d tokens is longer than max attention tokens %d (--max-attention-tokens): this model's %d attention"
                + " layers keep every token's keys and values, %s a token, %s for this document; raise the cap if memory"
                + " allows or split the document", n, maxAttentionTokens, engine.config().attentionLayers(), size(perToken), size(perToken * n));
    }

    private static String size(long bytes) {
        if (bytes < 1L << 20) return String.format("%.1f KiB", bytes / 1024.0);
        if (bytes < 1L << 30) return String.format("%.1f MiB", bytes / (double) (1 << 20));
        return String.format("%.1f GiB", bytes / (double) (1L << 30));
    }

    private String checkToken(int t, int pos) {
        int v = engine.config().vocabSize;
        if (t >= 0 && t < v) return null;
        return (pos < 0 ? "BOS id " + t : "token id " + t + " at position " + pos) + " is outside the model's vocabulary [0, " + v + ")";
    }

    @Override
    public String toString() { return "DocumentRunner[" + engine.backend() + "]"; }
}
