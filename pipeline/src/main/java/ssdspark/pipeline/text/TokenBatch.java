package ssdspark.pipeline.text;

import java.util.Collections;
import java.util.List;

/** Consecutive documents of a partition, in input order, whose tokens together fit the token budget. */
public final class TokenBatch {
    private final List<TokenizedDoc> docs;
    private final long tokens;
    private final int longest;

    TokenBatch(List<TokenizedDoc> docs) {
        this.docs = Collections.unmodifiableList(docs);
        long t = 0;
        int m = 0;
        for (TokenizedDoc d : docs) {
            t += d.length();
            m = Math.max(m, d.length());
        }
        this.tokens = t;
        this.longest = m;
    }

    public List<TokenizedDoc> docs() { return docs; }

    public int size() { return docs.size(); }

    /** Tokens of all documents together. */
    public long tokens() { return tokens; }

    /** Tokens of the longest document. */
    public int longest() { return longest; }

    @Override
    public String toString() { return docs.size() + " docs, " + tokens + " tokens"; }
}
