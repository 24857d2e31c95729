package ssdspark.pipeline.text;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * Packs consecutive documents into batches of at most tokenBudget tokens (and at most maxDocs
 * documents), keeping input order. A document longer than the budget is a batch of its own; the engine
 * runs it chunk by chunk, carrying its state. Documents with an error have no tokens and ride along in
 * whichever batch is open.
 *
 * <p>Lazy: building a batch pulls only its documents plus one look-ahead document (the one that did not
 * fit), so memory is one batch and one document.
 */
public final class TokenBudgetBatcher implements Iterator<TokenBatch> {
    private final Iterator<TokenizedDoc> docs;
    private final long tokenBudget;
    private final int maxDocs;
    private TokenizedDoc pending;

    public TokenBudgetBatcher(Iterator<TokenizedDoc> docs, long tokenBudget, int maxDocs) {
        if (tokenBudget < 1) throw new IllegalArgumentException("token budget must be at least 1, got " + tokenBudget);
        if (maxDocs < 1) throw new IllegalArgumentException("documents per batch must be at least 1, got " + maxDocs);
        this.docs = docs;
        this.tokenBudget = tokenBudget;
        this.maxDocs = maxDocs;
    }

    @Override
    public boolean hasNext() { return pending != null || docs.hasNext(); }

    @Override
    public TokenBatch next() {
        if (!hasNext()) throw new NoSuchElementException();
        List<TokenizedDoc> batch = new ArrayList<>();
        long sum = 0;
        if (pending == null) pending = docs.next();
        while (pending != null) {
            int n = pending.length();
            if (!batch.isEmpty() && (sum + n > tokenBudget || batch.size() >= maxDocs)) break; // pending opens the next batch
            batch.add(pending);
            sum += n;
            pending = null;
            if (sum >= tokenBudget || batch.size() >= maxDocs) break; // full: do not pull a look-ahead yet
            if (docs.hasNext()) pending = docs.next();
        }
        return new TokenBatch(batch);
    }
}
