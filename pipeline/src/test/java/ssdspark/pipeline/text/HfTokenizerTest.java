package ssdspark.pipeline.text;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The tiny tokenizer (tools/tokenizer/make_tiny_tokenizer.py): ids 0..255 are the bytes (id == byte
 * value; ' ' is spelled 'Ġ'), 256 + rank are the merges in the order the script lists them, 316 is
 * <|endoftext|>. Expected ids below are worked out from that list by applying merges lowest rank first.
 */
class HfTokenizerTest {
    static Path json;
    static TokenizerSpec spec;
    static HfTokenizer tok;

    @BeforeAll
    static void load() throws Exception {
        json = Path.of(HfTokenizerTest.class.getResource("/text/tiny-tokenizer.json").toURI());
        spec = TokenizerSpec.read(json.toString(), new Configuration());
        tok = spec.open();
    }

    @Test
    void encodesByHandDerivedIds() {
        // "hello": he(r0) ll(r1) hell(r2) hello(r3) = 259; " world": Ġw(r4) or(r5) Ġwor Ġworl Ġworld(r8) = 264
        assertArrayEquals(new int[] {259, 264}, tok.encode("hello world"));
        // "the" = t+he → the(r9) 265; " mamba": ma(r21) mam(r22) ba(r23) mamba(r24) Ġmamba(r25) = 281;
        // " and": an(r11) and(r12) Ġand(r13) = 269; " spark": sp(r16) ar(r17) spar spark Ġspark(r20) = 276
        assertArrayEquals(new int[] {265, 281, 269, 276}, tok.encode("the mamba and spark"));
        // no merge applies: c a f, then é as its two UTF-8 bytes C3 A9
        assertArrayEquals(new int[] {'c', 'a', 'f', 0xC3, 0xA9}, tok.encode("café"));
        // " hello": no "Ġ he" merge, so the space stays alone: Ġ(32) hello(259)
        assertArrayEquals(new int[] {259, 32, 259}, tok.encode("hello hello"));
        // the GPT-2 split gives "a", " ", " b"; " b" merges to Ġb (r45) = 301; '\n' is byte 10
        assertArrayEquals(new int[] {'a', 32, 301, 10}, tok.encode("a  b\n"));
        // an added token in the text is matched as one id even without special tokens
        assertArrayEquals(new int[] {'h', 'i', 316}, tok.encode("hi<|endoftext|>"));
    }

    @Test
    void decodesBack() {
        for (String s : List.of("hello world", "the mamba and spark", "café ünïcödé 😀", "a  b\n\ttab"))
            assertEquals(s, tok.decode(tok.encode(s)));
    }

    @Test
    void describesTheFile() throws Exception {
        assertEquals(317, tok.vocabSize());
        String want = java.util.HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(json)));
        assertEquals(want, tok.sha256());
        assertTrue(tok.sha256().matches("[0-9a-f]{64}"));
        assertEquals(316, spec.addedTokens().get("<|endoftext|>"));
        assertEquals(json.toString(), spec.path());
    }

    @Test
    void emptyTextHasNoTokens() {
        assertEquals(0, tok.encode("").length);
        assertEquals(0, tok.encode(null).length);
        assertEquals(0, spec.withBos(316).open().encode("").length, "no lone BOS for an empty document");
        assertEquals(0, spec.withSpecialTokens(true).open().encode("").length);
    }

    @Test
    void specialTokensAndBosOnlyWhenAsked() {
        // the template post-processor puts <|endoftext|> first
        assertArrayEquals(new int[] {316, 259, 264}, spec.withSpecialTokens(true).open().encode("hello world"));
        assertArrayEquals(new int[] {316, 259, 264}, spec.withBos("<|endoftext|>").open().encode("hello world"));
        assertArrayEquals(new int[] {7, 259}, spec.withBos(7).open().encode("hello"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> spec.withBos("<s>"));
        assertTrue(e.getMessage().contains("<|endoftext|>"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> spec.withBos(317));
    }

    @Test
    void sharesOneNativeTokenizerPerContent() throws Exception {
        TokenizerSpec again = TokenizerSpec.read("file://" + json, new Configuration()); // through Hadoop's file system
        assertEquals(spec.sha256(), again.sha256());
        assertEquals(spec, again);
        assertArrayEquals(tok.encode("hello world"), again.open().encode("hello world"));
    }

    @Test
    void neverTruncatesEvenWhenTheJsonSaysSo(@TempDir Path dir) throws Exception {
        String text = Files.readString(json).replace("\"truncation\": null",
                "\"truncation\": {\"direction\": \"Right\", \"max_length\": 4, \"strategy\": \"LongestFirst\", \"stride\": 0}");
        Path f = dir.resolve("tokenizer.json");
        Files.writeString(f, text);
        HfTokenizer t = TokenizerSpec.read(dir.toString(), null).open(); // a folder holding tokenizer.json
        String doc = "hello" + " hello".repeat(4999);
        int[] ids = t.encode(doc);
        assertEquals(1 + 2 * 4999, ids.length);
        assertEquals(259, ids[ids.length - 1]);
    }

    @Test
    void concurrentEncodingAgrees() throws Exception {
        List<String> docs = new ArrayList<>();
        for (int i = 0; i < 200; i++) docs.add("the mamba and spark " + i + " café".repeat(i % 7) + " hello world".repeat(i % 13));
        List<int[]> want = new ArrayList<>();
        for (String d : docs) want.add(tok.encode(d));
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Boolean>> fs = new ArrayList<>();
            for (int t = 0; t < 8; t++)
                fs.add(pool.submit(() -> {
                    HfTokenizer mine = spec.open();
                    for (int r = 0; r < 5; r++)
                        for (int i = 0; i < docs.size(); i++)
                            if (!java.util.Arrays.equals(want.get(i), mine.encode(docs.get(i)))) return false;
                    return true;
                }));
            for (Future<Boolean> f : fs) assertTrue(f.get());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void saysWhatIsWrongWithThePath(@TempDir Path dir) throws Exception {
        Configuration conf = new Configuration();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TokenizerSpec.read(dir.resolve("nope.json").toString(), conf));
        assertTrue(e.getMessage().contains("tokenizer file not found") && e.getMessage().contains("nope.json"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TokenizerSpec.read("file://" + dir.resolve("nope.json"), conf));
        assertTrue(e.getMessage().contains("tokenizer file not found"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TokenizerSpec.read(dir.toString(), conf));
        assertTrue(e.getMessage().contains("without tokenizer.json"), e.getMessage());

        Path notJson = dir.resolve("spm.model");
        Files.write(notJson, new byte[] {0x0a, 0x12, 0x00, (byte) 0xff, 0x10});
        e = assertThrows(IllegalArgumentException.class, () -> TokenizerSpec.read(notJson.toString(), conf));
        assertTrue(e.getMessage().contains("is not JSON"), e.getMessage());

        Path config = dir.resolve("tokenizer_config.json");
        Files.writeString(config, "{\"bos_token\": \"<s>\", \"model_max_length\": 2048}", StandardCharsets.UTF_8);
        e = assertThrows(IllegalArgumentException.class, () -> TokenizerSpec.read(config.toString(), conf));
        assertTrue(e.getMessage().contains("not a Hugging Face tokenizer.json"), e.getMessage());

        // JSON shaped right for us but not for the Rust library
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"a\": 0}}}");
        e = assertThrows(IllegalArgumentException.class, () -> TokenizerSpec.read(bad.toString(), conf).open());
        assertTrue(e.getMessage().contains("rejected"), e.getMessage());
    }

    /** Texts that stress where a head of {@link HfTokenizer#HEAD_CHARS} characters is cut: words, whitespace and pairs across it. */
    static List<String> headCutTexts(long seed) {
        java.util.Random r = new java.util.Random(seed);
        String[] pieces = {"hello", " world", " the", " mamba", "\n", "\n\n", "  ", "\t", "é", "東京", "😀", "🚀x", ", ", ". ", "a",
                "<|endoftext|>", "0123", " spark", "ünïcödé"};
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            StringBuilder b = new StringBuilder();
            int target = 1 + r.nextInt(i % 4 == 0 ? 4000 : 600);
            if (i % 7 == 0) b.append("x".repeat(HfTokenizer.HEAD_CHARS - 1 - r.nextInt(3))); // one word across the cut
            if (i % 11 == 0) b.append(" ".repeat(HfTokenizer.HEAD_CHARS + r.nextInt(5)));     // leading whitespace past the cut
            if (i % 13 == 0) b.append("a".repeat(HfTokenizer.HEAD_CHARS - 1)).append("😀");     // a surrogate pair at the cut
            while (b.length() < target) b.append(pieces[r.nextInt(pieces.length)]);
            out.add(b.toString());
        }
        out.add("w".repeat(5000)); // one word far longer than the head
        out.add("");
        return out;
    }

    @Test
    void theFirstTokenEndFromTheHeadIsTheWholeTextsOne() throws Exception {
        TokenizerSpec demo = TokenizerSpec.read(Path.of(getClass().getResource("/text/demo-mamba2/tokenizer.json").toURI()).toString(), null);
        for (HfTokenizer t : List.of(tok, demo.open(), spec.withSpecialTokens(true).open(), spec.withBos(316).open())) {
            int viaHead = 0;
            for (String text : headCutTexts(3)) {
                TextEncoder.Encoded all = t.encodeWithEnds(text);
                TextEncoder.FirstEnd first = t.encodeWithFirstEnd(text);
                assertArrayEquals(all.ids(), first.ids(), text);
                assertEquals(all.ids().length == 0 ? -1 : all.ends()[0], first.firstEnd(), "first token's end of " + text);
                if (text.length() > 2 * HfTokenizer.HEAD_CHARS) viaHead++;
            }
            assertTrue(viaHead > 70, "texts long enough to take the head's offsets: " + viaHead);
        }
    }
}
