package ssdspark.udf;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * The batches of a partition, for token and text input alike: consecutive documents, in input order, of at
 * most tokenBudget tokens together and at most maxDocs documents. A batch never exceeds the budget unless it
 * is a single document longer than the budget on its own (the engine runs that one chunk by chunk, carrying
 * its state). Documents with an error bring no tokens and ride along in whichever batch is open.
 *
 * <p>Long documents: a document of k pieces (pieceTokens each, the runner's chunking) needs k engine passes one after
 * another, whatever else is in its batch. So a batch holding one gets k budgets of tokens (and k times maxDocs, at
 * most {@link #MAX_PASSES} times): the runner, which starts the longest documents first, fills those k passes with the
 * documents that follow, instead of running k passes of that document alone. Without pieceTokens, batches keep one
 * budget.
 *
 * <p>Lazy: building a batch pulls its documents plus at most one more, the one that did not fit (it opens the
 * next batch); a batch that is full by count or exactly at the budget pulls none. So the batcher holds at
 * most one batch and one document.
 */
public final class TokenBudgetBatcher implements Iterator<List<Doc>> {
    /** The most budgets one batch grows to for its long documents (beyond, a longer document's last passes run thin). */
    public static final int MAX_PASSES = 64;

    private final Iterator<Doc> docs;
    private final long tokenBudget, pieceTokens;
    private final int maxDocs;
    private Doc pending;

    /** Batches of one budget each, whatever the documents' lengths. */
    public TokenBudgetBatcher(Iterator<Doc> docs, long tokenBudget, int maxDocs) { this(docs, tokenBudget, maxDocs, Long.MAX_VALUE); }

    /** @param pieceTokens the runner's piece: the smaller of chunk tokens and the token budget */
    public TokenBudgetBatcher(Iterator<Doc> docs, long tokenBudget, int maxDocs, long pieceTokens) {
        if (tokenBudget < 1) throw new IllegalArgumentException("token budget must be at least 1, got " + tokenBudget);
        if (maxDocs < 1) throw new IllegalArgumentException("documents per batch must be at least 1, got " + maxDocs);
        if (pieceTokens < 1) throw new IllegalArgumentException("piece tokens must be at least 1, got " + pieceTokens);
        this.docs = docs;
        this.tokenBudget = tokenBudget;
        this.maxDocs = maxDocs;
        this.pieceTokens = pieceTokens;
    }

    /** The job's batches: spec's budget, documents per batch and pieces (the smaller of chunk tokens and the budget). */
    public static TokenBudgetBatcher of(Iterator<Doc> docs, JobSpec spec) {
        return new TokenBudgetBatcher(docs, spec.tokenBudget(), spec.maxBatchDocs(), Math.min(spec.chunkTokens(), spec.tokenBudget()));
    }

    @Override
    public boolean hasNext() { return pending != null || docs.hasNext(); }

    @Override
    public List<Doc> next() {
        if (!hasNext()) throw new NoSuchElementException();
        List<Doc> batch = new ArrayList<>();
        long sum = 0, passes = 1; // the passes the batch's longest document needs
        if (pending == null) pending = docs.next();
        while (pending != null) {
            int n = pending.length();
            if (!batch.isEmpty() && (sum + n > passes * tokenBudget || batch.size() >= passes * maxDocs)) break; // pending opens the next batch
            batch.add(pending);
            sum += n;
            passes = Math.max(passes, Math.min(MAX_PASSES, (n + pieceTokens - 1) / pieceTokens));
            pending = null;
            if (sum >= passes * tokenBudget || batch.size() >= passes * maxDocs) break; // full: do not pull a look-ahead yet
            if (docs.hasNext()) pending = docs.next();
        }
        return batch;
    }
}
