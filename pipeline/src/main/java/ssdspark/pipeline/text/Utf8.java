package ssdspark.pipeline.text;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;

/**
 * UTF-8 decoding that reports what it replaced: each malformed byte sequence becomes one U+FFFD, as Java's own
 * decoder does, and is counted with the offset of the first. Plain-text documents are decoded here; with
 * --strict-utf8 a document with a bad sequence becomes an error row ({@link #problem}).
 */
public final class Utf8 {
    private Utf8() {}

    /** Decoded text, the number of malformed sequences replaced, and the byte offset of the first (-1: none). */
    public record Decoded(String text, int malformed, long firstBad) {}

    /** bytes[off, off + len) decoded; offsets in the result count from off. */
    public static Decoded decode(byte[] bytes, int off, int len) {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes, off, len);
        CharBuffer out = CharBuffer.allocate(len); // UTF-8 never gives more chars than bytes (U+FFFD replaces at least one byte)
        int bad = 0;
        long first = -1;
        while (true) {
            CoderResult r = d.decode(in, out, true);
            if (r.isError()) {
                if (bad++ == 0) first = in.position() - off;
                in.position(in.position() + r.length());
                out.put('\uFFFD');
                continue;
            }
            if (r.isOverflow()) throw new IllegalStateException("UTF-8 gave more characters than bytes");
            d.flush(out);
            break;
        }
        out.flip();
        return new Decoded(out.toString(), bad, first);
    }

    /** The error message of a document with invalid UTF-8, where says where it is ("FILE" or "FILE line N"). */
    public static String message(Decoded d, String where) {
        return "invalid UTF-8: " + d.malformed() + (d.malformed() == 1 ? " malformed byte sequence" : " malformed byte sequences")
                + ", the first at byte " + d.firstBad() + " of " + where + " (without --strict-utf8 they are scored as U+FFFD)";
    }

    /**
     * Problems the plain-text reader found, for the tokenizer of the same task to turn into error rows: the reader
     * hands rows of (id, text) only, so a document's problem travels beside it, keyed by task attempt and id.
     */
    private static final ConcurrentHashMap<String, String> PROBLEMS = new ConcurrentHashMap<>();

    static void noteProblem(long taskAttempt, Object id, String message) { PROBLEMS.put(taskAttempt + "\u0000" + id, message); }

    /** The problem noted for document id in this task (and forgets it); null when none. */
    public static String problem(long taskAttempt, Object id) {
        return PROBLEMS.isEmpty() ? null : PROBLEMS.remove(taskAttempt + "\u0000" + id);
    }

    /** Forgets a task's problems left unclaimed (a task that stopped early). */
    static void forgetTask(long taskAttempt) {
        if (!PROBLEMS.isEmpty()) PROBLEMS.keySet().removeIf(k -> k.startsWith(taskAttempt + "\u0000"));
    }
}
