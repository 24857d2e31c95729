package ssdspark.pipeline.text;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;
import ssdspark.pipeline.BatchSources;
import ssdspark.pipeline.CloseableIterator;
import ssdspark.udf.Doc;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

class StreamingTokenizerTest {
    /** A fake tokenizer: one token per character, id = the character. */
    static final TextEncoder CHARS = s -> s.chars().toArray();

    /** Rows (d0, text0), (d1, text1), ... that count how many were pulled. */
    static final class CountingRows implements Iterator<Row> {
        final List<String> texts;
        final AtomicInteger pulled = new AtomicInteger();

        CountingRows(List<String> texts) { this.texts = texts; }

        @Override public boolean hasNext() { return pulled.get() < texts.size(); }

        @Override public Row next() {
            if (!hasNext()) throw new NoSuchElementException();
            int i = pulled.getAndIncrement();
            return RowFactory.create("d" + i, texts.get(i));
        }
    }

    @Test
    void tokenizesOneRowPerPull() {
        CountingRows rows = new CountingRows(List.of("abc", "de"));
        StreamingTokenizer t = new StreamingTokenizer(rows, CHARS);
        assertEquals(0, rows.pulled.get());
        Doc d = t.next();
        assertEquals(1, rows.pulled.get());
        assertEquals("d0", d.id());
        assertArrayEquals(new int[] {'a', 'b', 'c'}, d.tokens());
        assertNull(d.carried());
        assertEquals(2, t.next().length());
        assertFalse(t.hasNext());
    }

    @Test
    void emptyAndMissingTextsStayInPlaceWithAnError() {
        Iterator<Row> rows = List.of(RowFactory.create(1L, "ab", "en"), RowFactory.create(2L, "", "de"), RowFactory.create(3L, null, "fr"),
                RowFactory.create(4L, "boom", "it"), RowFactory.create(5L, "cd", "nl")).iterator();
        TextEncoder enc = s -> {
            if (s.equals("boom")) throw new IllegalStateException("bad text");
            return CHARS.encode(s);
        };
        List<Doc> docs = new ArrayList<>();
        new StreamingTokenizer(rows, enc).forEachRemaining(docs::add);
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), docs.stream().map(Doc::id).collect(Collectors.toList()));
        assertNull(docs.get(0).error());
        assertEquals(StreamingTokenizer.EMPTY, docs.get(1).error());
        assertEquals(StreamingTokenizer.MISSING, docs.get(2).error());
        assertTrue(docs.get(3).error().startsWith("tokenizer failed") && docs.get(3).error().contains("bad text"), docs.get(3).error());
        assertEquals(0, docs.get(3).length());
        assertNull(docs.get(4).error());
        assertEquals(List.of("en", "de", "fr", "it", "nl"), docs.stream().map(d -> d.carried()[0]).collect(Collectors.toList()),
                "the columns after id and text travel with every document, failed or not");
    }

    @Test
    void withTheRealTokenizerAndPrefetch() throws Exception {
        TokenizerSpec spec = TokenizerSpec.read(java.nio.file.Path.of(getClass().getResource("/text/tiny-tokenizer.json").toURI()).toString(), null);
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 50; i++) texts.add("hello world".repeat(i % 5)); // every fifth is empty
        try (CloseableIterator<List<Doc>> it = BatchSources.batches(new StreamingTokenizer(new CountingRows(texts), spec.open()), 16, 64, 2)) {
            List<Doc> docs = new ArrayList<>();
            while (it.hasNext()) {
                List<Doc> b = it.next();
                assertTrue(b.stream().mapToLong(Doc::length).sum() <= 16 || b.size() == 1, b.toString());
                docs.addAll(b);
            }
            assertEquals(50, docs.size());
            for (int i = 0; i < 50; i++) {
                assertEquals("d" + i, docs.get(i).id());
                assertEquals(i % 5 == 0 ? StreamingTokenizer.EMPTY : null, docs.get(i).error());
            }
            assertArrayEquals(new int[] {259, 264}, docs.get(1).tokens());
        }
    }

    /** Rows (i, text_i, "c" + i) of texts, a third column carried. */
    static List<Row> rowsOf(List<String> texts) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) rows.add(RowFactory.create((long) i, texts.get(i), "c" + i));
        return rows;
    }

    static List<Doc> all(StreamingTokenizer t) {
        List<Doc> docs = new ArrayList<>();
        try (t) {
            t.forEachRemaining(docs::add);
        }
        return docs;
    }

    static long liveTokenizerThreads() throws InterruptedException {
        long n = 0;
        for (int i = 0; i < 100; i++) { // shutdownNow does not wait: give the threads a moment to end
            n = Thread.getAllStackTraces().keySet().stream()
                    .filter(th -> th.getName().startsWith(StreamingTokenizer.THREAD_PREFIX) && th.isAlive()).count();
            if (n == 0) return 0;
            Thread.sleep(50);
        }
        return n;
    }

    /**
     * Several tokenizing threads give what one gives, document for document and in order: ids, errors, carried columns,
     * bytes scored and spans, with the demo model's tokenizer on texts from empty to many blocks long, nulls and
     * documents the tokenizer fails on among them.
     */
    @Test
    void threadsGiveTheSameDocumentsInInputOrder() throws Exception {
        TokenizerSpec demo = TokenizerSpec.read(java.nio.file.Path.of(getClass().getResource("/text/demo-mamba2/tokenizer.json").toURI()).toString(), null);
        HfTokenizer real = demo.open();
        TextEncoder enc = new TextEncoder() { // the real tokenizer, failing on marked texts
            @Override public int[] encode(String text) { return real.encode(check(text)); }

            @Override public Encoded encodeWithEnds(String text) { return real.encodeWithEnds(check(text)); }

            @Override public FirstEnd encodeWithFirstEnd(String text) { return real.encodeWithFirstEnd(check(text)); }

            private String check(String text) {
                if (text.startsWith("BOOM")) throw new IllegalStateException("bad text");
                return text;
            }
        };
        List<String> texts = new ArrayList<>(HfTokenizerTest.headCutTexts(9));
        java.util.Random r = new java.util.Random(2);
        for (int i = 0; i < 300; i++) texts.add(r.nextInt(texts.size()), switch (i % 4) {
            case 0 -> null;
            case 1 -> "BOOM " + i;
            case 2 -> "word ".repeat(r.nextInt(i % 40 == 2 ? 20_000 : 2_000)); // a few documents of several blocks
            default -> "";
        });
        List<Row> rows = rowsOf(texts);
        TextMeasure[] measures = {null, new TextMeasure(true, null), new TextMeasure(false, null),
                new TextMeasure(false, ssdspark.udf.SpanMode.parse("sentence"))};
        for (TextMeasure m : measures) {
            List<Doc> one = all(new StreamingTokenizer(rows.iterator(), enc, m, 1));
            assertEquals(texts.size(), one.size());
            for (int i = 0; i < texts.size(); i++) {
                String t = texts.get(i);
                if (t != null && !t.isEmpty() && !t.startsWith("BOOM")) assertArrayEquals(real.encode(t), one.get(i).tokens(), "document " + i);
            }
            for (int threads : m != null && m.needsFirstEnd() && m.spans() == null ? new int[] {2, 8} : new int[] {3}) {
                List<Doc> many = all(new StreamingTokenizer(rows.iterator(), enc, m, threads));
                assertEquals(one.size(), many.size());
                for (int i = 0; i < one.size(); i++) {
                    Doc a = one.get(i), b = many.get(i);
                    String what = "document " + i + " with " + threads + " threads, measure " + m;
                    assertEquals(a.id(), b.id(), what);
                    assertArrayEquals(a.tokens(), b.tokens(), what);
                    assertEquals(a.error(), b.error(), what);
                    assertArrayEquals(a.carried(), b.carried(), what);
                    assertEquals(a.numBytes(), b.numBytes(), what);
                    assertEquals(a.spans() == null, b.spans() == null, what);
                    if (a.spans() != null) {
                        assertArrayEquals(a.spans().ends(), b.spans().ends(), what);
                        assertArrayEquals(a.spans().tokenEnds(), b.spans().tokenEnds(), what);
                    }
                }
            }
        }
        assertEquals(0, liveTokenizerThreads(), "tokenizing threads outlived their iterator");
    }

    /** What a tokenizing thread throws besides a tokenizer's RuntimeException (an Error) reaches the reader after the documents before it. */
    @Test
    void aFatalErrorArrivesInOrderAndTheThreadsEnd() throws Exception {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 5000; i++) texts.add(i == 3000 ? "fatal" : "abc" + i);
        TextEncoder enc = s -> {
            if (s.equals("fatal")) throw new AssertionError("out of something");
            return CHARS.encode(s);
        };
        StreamingTokenizer t = new StreamingTokenizer(rowsOf(texts).iterator(), enc, null, 4);
        int seen = 0;
        AssertionError e = null;
        try {
            while (t.hasNext()) {
                assertEquals((long) seen, t.next().id());
                seen++;
            }
        } catch (AssertionError x) {
            e = x;
        }
        assertNotNull(e, "the error reaches the reader");
        assertEquals("out of something", e.getMessage());
        assertTrue(seen <= 3000 && seen >= 3000 - StreamingTokenizer.BLOCK_DOCS, "documents before the failing block first: " + seen);
        t.close();
        assertEquals(0, liveTokenizerThreads());
    }

    /** Closed half-way (a task that ends early): the threads end, nothing more is handed out, and reading stops. */
    @Test
    void closingHalfWayEndsTheThreadsAndStopsReading() throws Exception {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 100_000; i++) texts.add("hello world " + i);
        CountingRows rows = new CountingRows(texts);
        StreamingTokenizer t = new StreamingTokenizer(rows, CHARS, null, 3);
        for (int i = 0; i < 10; i++) assertEquals("d" + i, t.next().id());
        int pulled = rows.pulled.get();
        assertTrue(pulled <= (2 * 3 + 1) * StreamingTokenizer.BLOCK_DOCS, "rows read ahead: at most the blocks in flight: " + pulled);
        t.close();
        assertFalse(t.hasNext());
        assertEquals(pulled, rows.pulled.get());
        assertEquals(0, liveTokenizerThreads());
    }
}
