package ssdspark.udf;

import java.io.Serializable;
import java.util.Locale;

/**
 * How --spans cuts a document for per-span scores: text into lines, paragraphs or sentences (offsets in Unicode
 * code points), or pre-tokenized input into windows of a fixed number of tokens (offsets in tokens).
 *
 * @param windowTokens tokens per window for {@link Kind#TOKENS}; 0 otherwise
 */
public record SpanMode(Kind kind, int windowTokens) implements Serializable {
    public enum Kind {
        /** Up to and including each '\n'; a last line without one ends with the text. */
        LINE,
        /** Non-blank lines with the blank (whitespace-only) lines that follow them. */
        PARAGRAPH,
        /** Sentences as the JDK's sentence BreakIterator finds them (Unicode's rules), trailing spaces included. */
        SENTENCE,
        /** Windows of windowTokens tokens; the last may be shorter. */
        TOKENS;

        public boolean onText() { return this != TOKENS; }
    }

    public static final String SYNTAX = "line, paragraph, sentence or tokens:N";

    public SpanMode {
        if (kind == null) throw new IllegalArgumentException("span kind is required");
        if ((kind == Kind.TOKENS) != (windowTokens > 0))
            throw new IllegalArgumentException(kind == Kind.TOKENS ? "token windows need N >= 1 tokens, got " + windowTokens
                    : kind.name().toLowerCase(Locale.ROOT) + " spans take no window size");
    }

    /** "line", "paragraph", "sentence" or "tokens:N" (N >= 1). */
    public static SpanMode parse(String s) {
        String v = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        if (v.startsWith("tokens:")) {
            int n;
            try {
                n = Integer.parseInt(v.substring("tokens:".length()));
            } catch (NumberFormatException e) {
                n = 0;
            }
            if (n < 1) throw new IllegalArgumentException("--spans tokens:N needs a whole number N >= 1, got '" + s + "'");
            return new SpanMode(Kind.TOKENS, n);
        }
        for (Kind k : Kind.values())
            if (k.onText() && k.name().toLowerCase(Locale.ROOT).equals(v)) return new SpanMode(k, 0);
        throw new IllegalArgumentException("--spans must be " + SYNTAX + ", got '" + s + "'");
    }

    public String cliName() { return kind == Kind.TOKENS ? "tokens:" + windowTokens : kind.name().toLowerCase(Locale.ROOT); }

    @Override
    public String toString() { return cliName(); }

    /** The spans of a document to run: from its text (cut by the text pipeline), or its token windows. */
    public DocSpans spansOf(Doc d) {
        if (kind == Kind.TOKENS) return DocSpans.windows(windowEnds(d.tokens().length));
        if (d.spans() == null) throw new IllegalStateException("document " + d.id() + " came without the " + cliName() + " spans of its text");
        return d.spans();
    }

    /** The token windows of a document of n tokens, as cumulative ends. */
    public int[] windowEnds(int n) {
        if (kind != Kind.TOKENS) throw new IllegalStateException(cliName() + " spans come from the text, not from windows");
        int k = Math.max(1, (n + windowTokens - 1) / windowTokens);
        int[] ends = new int[k];
        for (int i = 0; i < k; i++) ends[i] = Math.min(n, (i + 1) * windowTokens);
        return ends;
    }
}
