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
}
