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
 * <p>Lazy: building a batch pulls its documents plus at most one more, the one that did not fit (it opens the
 * next batch); a batch that is full by count or exactly at the budget pulls none. So the batcher holds at
 * most one batch and one document.
 */
public final class TokenBudgetBatcher implements Iterator<List<Doc>> {
    private final Iterator<Doc> docs;
    private final long tokenBudget;
    private final int maxDocs;
    private Doc pending;

    public TokenBudgetBatcher(Iterator<Doc> docs, long tokenBudget, int maxDocs) {
        if (tokenBudget < 1) throw new IllegalArgumentException("token budget must be at least 1, got " + tokenBudget);
        if (maxDocs < 1) throw new IllegalArgumentException("documents per batch must be at least 1, got " + maxDocs);
        this.docs = docs;
        this.tokenBudget = tokenBudget;
        this.maxDocs = maxDocs;
    }

    @Override
    public boolean hasNext() { return pending != null || docs.hasNext(); }

    @Override
    public List<Doc> next() {
        if (!hasNext()) throw new NoSuchElementException();
        List<Doc> batch = new ArrayList<>();
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
        return batch;
    }
}
