package ssdspark.pipeline.text;

import com.ibm.icu.text.BreakIterator;
import com.ibm.icu.util.ULocale;
import ssdspark.udf.DocSpans;
import ssdspark.udf.JobSpec;
import ssdspark.udf.SpanMode;

import java.io.Serializable;
import java.util.Arrays;

/**
 * What a document's text adds to its score: the UTF-8 bytes the score covers (for bits per byte) and, with
 * --spans, the text cut into spans with the tokens of each. Positions are Unicode code points (what Spark SQL's
 * substring and length count), as the Hugging Face tokenizers library reports token offsets.
 *
 * <p>Bytes scored: with a BOS every token is predicted, so all of the text's bytes count. Without one the first
 * token is context only, so its text does not count: num_bytes is the UTF-8 size of the text after the first
 * token's end (a special token the tokenizer adds has no text, so then all of the text counts).
 *
 * <p>Spans cover the text without gaps, so concatenated they give it back. A token belongs to the span holding
 * its last character, so " word" (a leading space, as byte-level BPE cuts it) goes with the sentence of "word";
 * a token without characters (a special token) goes with the token before it, or the first span.
 *
 * @param bosPrepended a BOS is put in front of every document (--prepend-bos)
 * @param spans        how to cut the text; null for no spans
 */
public record TextMeasure(boolean bosPrepended, SpanMode spans) implements Serializable {
    public TextMeasure {
        if (spans != null && !spans.kind().onText()) throw new IllegalArgumentException("--spans " + spans.cliName() + " does not cut text");
    }

    /** What spec asks of text documents; null when nothing (embed jobs, or rows without num_bytes). */
    public static TextMeasure of(JobSpec spec) {
        return spec.task() == JobSpec.Task.SCORE && spec.textInput() ? new TextMeasure(spec.bosId() >= 0, spec.spans()) : null;
    }

    /** Whether {@link #spansOf} needs every token's character offsets. */
    public boolean needsOffsets() { return spans != null; }

    /** Whether {@link #bytesScored} needs where the first token ends (no BOS: the first token is not scored). */
    public boolean needsFirstEnd() { return !bosPrepended; }

    /** UTF-8 bytes of the text the score covers; tokenEnds (see {@link TextEncoder.Encoded}) may be null with a BOS. */
    public long bytesScored(String text, int[] tokenEnds) {
        return bytesScored(text, tokenEnds == null || tokenEnds.length == 0 ? -1 : tokenEnds[0]);
    }

    /** As above from the first token's end (see {@link TextEncoder.FirstEnd}: -1 for no tokens); ignored with a BOS. */
    public long bytesScored(String text, int firstTokenEnd) {
        if (bosPrepended) return utf8Bytes(text, 0);
        return firstTokenEnd < 0 ? 0 : utf8Bytes(text, firstTokenEnd);
    }

    /** The text cut into spans, each with its tokens; tokenEnds are the tokens' exclusive end offsets in code points. */
    public DocSpans spansOf(String text, int[] tokenEnds) {
        int[] ends = cut(text, spans.kind());
        int[] tokens = new int[ends.length];
        int k = 0, key = 0;
        for (int t = 0; t < tokenEnds.length; t++) {
            key = Math.max(key, tokenEnds[t] - 1); // the token's last character; never before the previous token's
            while (k < ends.length - 1 && key >= ends[k]) k++;
            tokens[k]++;
        }
        for (int i = 1; i < tokens.length; i++) tokens[i] += tokens[i - 1];
        return new DocSpans(ends, tokens);
    }

    /** Exclusive span ends in code points; at least one span (an empty text is one empty span). */
    static int[] cut(String text, SpanMode.Kind kind) {
        int[] utf16Ends = switch (kind) {
            case LINE -> lines(text);
            case PARAGRAPH -> paragraphs(text);
            case SENTENCE -> sentences(text);
            case TOKENS -> throw new IllegalArgumentException("token windows do not cut text");
        };
        int[] out = new int[utf16Ends.length];
        int cp = 0, prev = 0;
        for (int i = 0; i < out.length; i++) {
            cp += text.codePointCount(prev, utf16Ends[i]);
            prev = utf16Ends[i];
            out[i] = cp;
        }
        return out;
    }

    /** Lines with their '\n' (and a '\r' before it); a last line without one ends with the text. */
    private static int[] lines(String text) {
        IntList ends = new IntList();
        for (int i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) ends.add(i + 1);
        if (ends.size() == 0 || ends.last() != text.length()) ends.add(text.length());
        return ends.toArray();
    }

    /** Runs of non-blank lines, each with the blank lines after it; blank lines before the first one join it. */
    private static int[] paragraphs(String text) {
        int[] lines = lines(text);
        IntList ends = new IntList();
        boolean sawText = false, blankAfterText = false;
        int start = 0;
        for (int end : lines) {
            boolean blank = text.substring(start, end).isBlank();
            if (!blank && blankAfterText) { // a new paragraph starts at this line
                ends.add(start);
                blankAfterText = false;
            }
            if (!blank) sawText = true;
            else if (sawText) blankAfterText = true;
            start = end;
        }
        ends.add(text.length());
        return ends.toArray();
    }

    /** Unicode sentences (UAX #29, ICU with the common English abbreviations such as "Mr." not ending one). */
    private static int[] sentences(String text) {
        BreakIterator it = BreakIterator.getSentenceInstance(SENTENCE_LOCALE);
        it.setText(text);
        IntList ends = new IntList();
        for (int e = it.next(); e != BreakIterator.DONE; e = it.next()) ends.add(e);
        if (ends.size() == 0) ends.add(text.length());
        return ends.toArray();
    }

    private static final ULocale SENTENCE_LOCALE = new ULocale("en@ss=standard");

    /** UTF-8 size of text from code point fromCodePoint on (an unpaired surrogate counts as U+FFFD, 3 bytes). */
    static long utf8Bytes(String text, int fromCodePoint) {
        int i = fromCodePoint == 0 ? 0 : text.offsetByCodePoints(0, Math.min(fromCodePoint, text.codePointCount(0, text.length())));
        long n = 0;
        while (i < text.length()) {
            int c = text.codePointAt(i);
            i += Character.charCount(c);
            n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        }
        return n;
    }

    /** A growable int array (spans per document are few, but a document may have many lines). */
    private static final class IntList {
        private int[] a = new int[8];
        private int n;

        void add(int v) {
            if (n == a.length) a = Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        int size() { return n; }

        int last() { return a[n - 1]; }

        int[] toArray() { return Arrays.copyOf(a, n); }
    }
}
