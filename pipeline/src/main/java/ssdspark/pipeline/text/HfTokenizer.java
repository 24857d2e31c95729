package ssdspark.pipeline.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import ai.djl.huggingface.tokenizers.jni.LibUtils;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A Hugging Face tokenizer (DJL's binding of the Rust `tokenizers` library) that turns text into ids.
 * One native tokenizer per tokenizer.json content per JVM, shared by all tasks of an executor; encoding
 * is thread-safe (the Rust tokenizer is immutable once built). Get one with {@link TokenizerSpec#open()}.
 *
 * <p>No truncation and no padding, whatever the tokenizer.json says: documents of any length come back
 * whole, and the engine chunks them. Special tokens only when {@link TokenizerSpec#withSpecialTokens}
 * asked for them; the BOS of {@link TokenizerSpec#withBos} goes only in front of documents with at
 * least one token, so an empty document stays empty and is reported as such.
 */
public final class HfTokenizer implements TextEncoder {
    /** Native tokenizers by tokenizer.json SHA-256. Kept for the JVM's life, like the model cache. */
    private static final Map<String, HuggingFaceTokenizer> NATIVE = new ConcurrentHashMap<>();

    private final TokenizerSpec spec;
    private final HuggingFaceTokenizer tokenizer;

    private HfTokenizer(TokenizerSpec spec, HuggingFaceTokenizer tokenizer) {
        this.spec = spec;
        this.tokenizer = tokenizer;
    }

    static HfTokenizer get(TokenizerSpec spec) {
        // computeIfAbsent: concurrent first calls from several tasks wait for one build.
        return new HfTokenizer(spec, NATIVE.computeIfAbsent(spec.sha256(), k -> build(spec)));
    }

    private static HuggingFaceTokenizer build(TokenizerSpec spec) {
        DjlRuntime.configure();
        try {
            LibUtils.checkStatus();
        } catch (RuntimeException | LinkageError e) {
            throw new IllegalStateException("cannot load DJL's native tokenizers library for " + System.getProperty("os.name") + "/"
                    + System.getProperty("os.arch") + ": " + e.getMessage() + " (it is extracted from the DJL jar into DJL_CACHE_DIR,"
                    + " default ~/.djl.ai; point DJL_CACHE_DIR at a writable local folder)", e);
        }
        Map<String, String> options = Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false");
        try {
            return HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(spec.jsonText().getBytes(StandardCharsets.UTF_8)), options);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load tokenizer " + spec.path() + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("the Hugging Face tokenizers library rejected " + spec.path() + ": " + e.getMessage()
                    + " (is it a tokenizer.json saved by a recent `tokenizers`/`transformers`?)", e);
        }
    }

    @Override
    public int[] encode(String text) { return encode(text, false).ids(); }

    /**
     * The library's offsets are Unicode code points already: DJL encodes with the Rust library's
     * encode_char_offsets, which counts Rust chars (scalar values), not Java's UTF-16 units. DJL builds a Java
     * object per token for them, which makes tokenizing about 1.5 times slower, so only callers that need them ask.
     */
    @Override
    public Encoded encodeWithEnds(String text) { return encode(text, true); }

    /** Text of a document's head tokenized with offsets to find the first token's end (see {@link #encodeWithFirstEnd}). */
    static final int HEAD_CHARS = 64;

    /**
     * The ids of the whole text (no offsets), and the first token's end from the offsets of the text's first
     * {@link #HEAD_CHARS} characters only: offsets cost a Java object per token, which would make the common case (a
     * score job without --prepend-bos or --spans) about 1.5 times slower. The head's tokens are only trusted where
     * they are the whole text's: all but the head's last two tokens (a word cut at the head's end; a closing special
     * token) must equal the text's first ids, at least two of them, else the offsets of the whole text are asked for.
     */
    @Override
    public FirstEnd encodeWithFirstEnd(String text) {
        if (text == null || text.length() <= 2 * HEAD_CHARS) return firstEnd(encode(text, true));
        int[] ids = encode(text, false).ids();
        if (ids.length == 0) return new FirstEnd(ids, -1);
        int cut = Character.isHighSurrogate(text.charAt(HEAD_CHARS - 1)) ? HEAD_CHARS - 1 : HEAD_CHARS; // not inside a pair
        Encoded head = encode(text.substring(0, cut), true);
        int same = head.ids().length - 2;
        if (same >= 2 && same <= ids.length && Arrays.equals(head.ids(), 0, same, ids, 0, same)) return new FirstEnd(ids, head.ends()[0]);
        return firstEnd(encode(text, true));
    }

    private static FirstEnd firstEnd(Encoded e) { return new FirstEnd(e.ids(), e.ids().length == 0 ? -1 : e.ends()[0]); }

    private static final Encoded NOTHING = new Encoded(new int[0], new int[0]);

    private Encoded encode(String text, boolean withEnds) {
        if (text == null || text.isEmpty()) return NOTHING;
        // The JNI calls directly: Encoding would also build token strings (and offsets) we do not use.
        TokenizersLibrary lib = TokenizersLibrary.LIB;
        long enc = lib.encode(tokenizer.getHandle(), text, spec.addSpecialTokens());
        long[] ids;
        long[] special;
        CharSpan[] spans;
        try {
            ids = lib.getTokenIds(enc);
            special = spec.addSpecialTokens() ? lib.getSpecialTokenMask(enc) : null;
            spans = withEnds ? lib.getTokenCharSpans(enc) : null;
        } finally {
            lib.deleteEncoding(enc);
        }
        if (special != null && onlySpecial(special)) return NOTHING;
        if (ids.length == 0) return NOTHING;
        int bos = spec.bosId() >= 0 ? 1 : 0;
        int[] out = new int[ids.length + bos];
        int[] ends = withEnds ? new int[out.length] : null;
        if (bos == 1) out[0] = spec.bosId();
        for (int i = 0; i < ids.length; i++) {
            out[i + bos] = (int) ids[i];
            if (withEnds && spans[i] != null) ends[i + bos] = spans[i].getEnd(); // null: a token without text
        }
        return new Encoded(out, ends);
    }

    /** Text of ids, special tokens included (for messages and tests). */
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) l[i] = ids[i];
        return tokenizer.decode(l, false);
    }

    /** 1 + the largest id this tokenizer can produce; must not exceed the model's vocab_size. */
    public int vocabSize() { return spec.vocabSize(); }

    /** SHA-256 of the tokenizer.json bytes. */
    public String sha256() { return spec.sha256(); }

    public TokenizerSpec spec() { return spec; }

    private static boolean onlySpecial(long[] mask) {
        for (long m : mask) if (m == 0) return false;
        return true;
    }
}
