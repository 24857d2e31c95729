package ssdspark.pipeline.text;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import ssdspark.udf.DocSpans;
import ssdspark.udf.SpanMode;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bytes scored and spans of a text, with offsets in code points: expected values are written out by hand
 * (the tiny tokenizer's byte-level ids are listed in {@link HfTokenizerTest}).
 */
class TextMeasureTest {
    static HfTokenizer tok;

    @BeforeAll
    static void load() throws Exception {
        tok = TokenizerSpec.read(Path.of(TextMeasureTest.class.getResource("/text/tiny-tokenizer.json").toURI()).toString(),
                new Configuration()).open();
    }

    /** The pieces of text between consecutive code-point ends. */
    static List<String> pieces(String text, int[] cpEnds) {
        List<String> out = new ArrayList<>();
        int start = 0;
        for (int e : cpEnds) {
            out.add(text.substring(text.offsetByCodePoints(0, start), text.offsetByCodePoints(0, e)));
            start = e;
        }
        return out;
    }

    @Test
    void linesKeepTheirNewlineAndCountCodePoints() {
        String t = "a🚀\r\nb\n\n東京";
        int[] ends = TextMeasure.cut(t, SpanMode.Kind.LINE);
        assertArrayEquals(new int[] {4, 6, 7, 9}, ends, "🚀 is one code point (two UTF-16 units)");
        assertEquals(List.of("a🚀\r\n", "b\n", "\n", "東京"), pieces(t, ends));
        assertArrayEquals(new int[] {2}, TextMeasure.cut("x\n", SpanMode.Kind.LINE), "no empty span after a final newline");
        assertArrayEquals(new int[] {0}, TextMeasure.cut("", SpanMode.Kind.LINE), "an empty text is one empty span");
    }

    @Test
    void paragraphsTakeTheBlankLinesAfterThem() {
        String t = "\n one 🚀\ntwo\n\n \t\nthree\n\n\nfour";
        assertEquals(List.of("\n one 🚀\ntwo\n\n \t\n", "three\n\n\n", "four"), pieces(t, TextMeasure.cut(t, SpanMode.Kind.PARAGRAPH)));
        assertEquals(List.of("only one\nparagraph\n"), pieces("only one\nparagraph\n", TextMeasure.cut("only one\nparagraph\n", SpanMode.Kind.PARAGRAPH)));
    }

    @Test
    void sentencesFollowUnicodeRulesWithAbbreviations() {
        String t = "Mr. Smith saw 🚀 rockets. 東京は大きい。次の文! Last line\nnew line";
        assertEquals(List.of("Mr. Smith saw 🚀 rockets. ", "東京は大きい。", "次の文! ", "Last line\n", "new line"),
                pieces(t, TextMeasure.cut(t, SpanMode.Kind.SENTENCE)));
    }

    @Test
    void bytesScoredAreAllWithABosAndWithoutTheFirstTokenOtherwise() {
        TextMeasure bos = new TextMeasure(true, null), noBos = new TextMeasure(false, null);
        assertFalse(bos.needsOffsets() || bos.needsFirstEnd());
        assertTrue(noBos.needsFirstEnd());
        assertFalse(noBos.needsOffsets(), "only spans need every token's offsets");
        String hello = "hello world";  // tokens hello | " world"
        assertEquals(11, bos.bytesScored(hello, null));
        assertEquals(6, noBos.bytesScored(hello, tok.encodeWithEnds(hello).ends()), "\" world\" after the first token");
        String tokyo = "東京 x";        // UTF-8: 3 + 3 + 1 + 1 bytes; byte-level tokens: 東 is three tokens, each ending after 東
        assertEquals(8, bos.bytesScored(tokyo, null));
        assertEquals(5, noBos.bytesScored(tokyo, tok.encodeWithEnds(tokyo).ends()),
                "a character split over byte tokens counts with the first token: 京 x = 3 + 1 + 1");
        assertEquals(5, noBos.bytesScored(tokyo, tok.encodeWithFirstEnd(tokyo).firstEnd()));
        assertEquals(4, TextMeasure.utf8Bytes("🚀", 0));
        assertEquals("a🚀é東".getBytes(StandardCharsets.UTF_8).length, TextMeasure.utf8Bytes("a🚀é東", 0));
        assertEquals(0, TextMeasure.utf8Bytes("ab", 2));
    }

    @Test
    void offsetsAreCodePointsAndATokenGoesWithItsLastCharacter() {
        String t = "東京 🚀. Xy";
        TextEncoder.Encoded e = tok.encodeWithEnds(t);
        assertEquals(e.ids().length, e.ends().length);
        assertEquals(8, e.ends()[e.ends().length - 1], "the last token ends at code point 8 (UTF-16 length 9)");
        assertEquals(List.of(1, 1, 1, 2, 2, 2), Arrays.stream(Arrays.copyOf(e.ends(), 6)).boxed().toList(),
                "the three byte tokens of a CJK character all end after it");

        DocSpans s = new TextMeasure(true, new SpanMode(SpanMode.Kind.SENTENCE, 0)).spansOf(t, e.ends());
        assertArrayEquals(new int[] {6, 8}, s.ends());
        assertEquals(List.of("東京 🚀. ", "Xy"), pieces(t, s.ends()));
        // the tiny vocabulary has no "ĠX": the space is a token of its own, ending (so scored) in the first sentence
        assertEquals("東京 🚀. ", tok.decode(Arrays.copyOfRange(e.ids(), 0, s.tokenEnds()[0])));
        assertEquals("Xy", tok.decode(Arrays.copyOfRange(e.ids(), s.tokenEnds()[0], s.tokenEnds()[1])));
        assertEquals(e.ids().length, s.tokenEnds()[1]);

        // "hello world. Hello": " world" and " Hello" are single tokens with their leading space
        String h = "hello world. hello";
        TextEncoder.Encoded he = tok.encodeWithEnds(h);
        DocSpans hs = new TextMeasure(true, new SpanMode(SpanMode.Kind.LINE, 0)).spansOf(h, he.ends());
        assertArrayEquals(new int[] {he.ids().length}, hs.tokenEnds(), "one line, all tokens");
        String h2 = "hello world.\n hello";
        TextEncoder.Encoded h2e = tok.encodeWithEnds(h2);
        DocSpans h2s = new TextMeasure(true, new SpanMode(SpanMode.Kind.LINE, 0)).spansOf(h2, h2e.ends());
        assertEquals("hello world.\n", tok.decode(Arrays.copyOfRange(h2e.ids(), 0, h2s.tokenEnds()[0])));
        assertEquals(" hello", tok.decode(Arrays.copyOfRange(h2e.ids(), h2s.tokenEnds()[0], h2s.tokenEnds()[1])),
                "a token with a leading space is scored in the span of its word");
    }

    @Test
    void tokensWithoutTextGoWithTheTokenBefore() {
        // a special token in front (ends at 0), two tokens of the first line, one of the second, a special token at the end (0)
        String t = "ab\nc";
        DocSpans s = new TextMeasure(false, new SpanMode(SpanMode.Kind.LINE, 0)).spansOf(t, new int[] {0, 2, 3, 4, 0});
        assertArrayEquals(new int[] {3, 4}, s.ends());
        assertArrayEquals(new int[] {3, 5}, s.tokenEnds());
        // a line without any token of its own (a token covering two newlines) keeps its place with 0 tokens
        DocSpans blank = new TextMeasure(false, new SpanMode(SpanMode.Kind.LINE, 0)).spansOf("a\n\nb", new int[] {1, 3, 4});
        assertArrayEquals(new int[] {2, 3, 4}, blank.ends());
        assertArrayEquals(new int[] {1, 2, 3}, blank.tokenEnds());
        assertEquals(0, new TextMeasure(false, null).bytesScored("ab", new int[0]));
    }
}
