package ssdspark.pipeline.text;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

class TokenBudgetBatcherTest {
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

    static List<List<String>> ids(Iterator<TokenBatch> batches) {
        List<List<String>> out = new ArrayList<>();
        batches.forEachRemaining(b -> out.add(b.docs().stream().map(d -> (String) d.id()).collect(Collectors.toList())));
        return out;
    }

    @Test
    void packsByBudgetInOrder() {
        // lengths 3, 4, 2, 5, 1, 1 with budget 7: [3,4] [2,5] [1,1]
        List<String> texts = List.of("aaa", "bbbb", "cc", "ddddd", "e", "f");
        TokenBudgetBatcher b = new TokenBudgetBatcher(new StreamingTokenizer(new CountingRows(texts), CHARS), 7, 100);
        List<TokenBatch> all = new ArrayList<>();
        b.forEachRemaining(all::add);
        assertEquals(List.of(List.of("d0", "d1"), List.of("d2", "d3"), List.of("d4", "d5")),
                all.stream().map(x -> x.docs().stream().map(d -> (String) d.id()).collect(Collectors.toList())).collect(Collectors.toList()));
        assertEquals(List.of(7L, 7L, 2L), all.stream().map(TokenBatch::tokens).collect(Collectors.toList()));
        assertEquals(5, all.get(1).longest());
        long index = 0;
        for (TokenBatch x : all)
            for (TokenizedDoc d : x.docs()) {
                assertEquals(index++, d.index());
                assertTrue(x.tokens() <= 7);
            }
        assertArrayEquals(new int[] {'c', 'c'}, all.get(1).docs().get(0).tokens());
    }

    @Test
    void longDocumentIsItsOwnBatch() {
        List<String> texts = List.of("ab", "x".repeat(25), "cd", "ef", "y".repeat(11));
        assertEquals(List.of(List.of("d0"), List.of("d1"), List.of("d2", "d3"), List.of("d4")),
                ids(new TokenBudgetBatcher(new StreamingTokenizer(new CountingRows(texts), CHARS), 10, 100)));
    }

    @Test
    void capsDocumentsPerBatch() {
        List<String> texts = List.of("a", "b", "c", "d", "e");
        assertEquals(List.of(List.of("d0", "d1"), List.of("d2", "d3"), List.of("d4")),
                ids(new TokenBudgetBatcher(new StreamingTokenizer(new CountingRows(texts), CHARS), 1000, 2)));
    }

    @Test
    void emptyAndMissingTextsStayInPlaceWithAnError() {
        Iterator<Row> rows = List.of(RowFactory.create(1L, "ab"), RowFactory.create(2L, ""), RowFactory.create(3L, null),
                RowFactory.create(4L, "boom"), RowFactory.create(5L, "cd")).iterator();
        TextEncoder enc = s -> {
            if (s.equals("boom")) throw new IllegalStateException("bad text");
            return CHARS.encode(s);
        };
        List<TokenizedDoc> docs = new ArrayList<>();
        new TokenBudgetBatcher(new StreamingTokenizer(rows, enc), 4, 100).forEachRemaining(b -> docs.addAll(b.docs()));
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), docs.stream().map(TokenizedDoc::id).collect(Collectors.toList()));
        assertNull(docs.get(0).error());
        assertEquals(TokenizedDoc.EMPTY, docs.get(1).error());
        assertEquals(TokenizedDoc.MISSING, docs.get(2).error());
        assertTrue(docs.get(3).error().startsWith("tokenizer failed") && docs.get(3).error().contains("bad text"), docs.get(3).error());
        assertEquals(0, docs.get(3).length());
        assertNull(docs.get(4).error());
    }

    @Test
    void pullsOnlyWhatABatchNeeds() {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 1000; i++) texts.add("abcd"); // 4 tokens each
        CountingRows rows = new CountingRows(texts);
        TokenBudgetBatcher b = new TokenBudgetBatcher(new StreamingTokenizer(rows, CHARS), 10, 100);
        assertEquals(0, rows.pulled.get(), "nothing is read before the first batch is asked for");
        assertEquals(2, b.next().size());
        assertEquals(3, rows.pulled.get(), "two documents plus the one that did not fit");
        b.next();
        assertEquals(5, rows.pulled.get());
        CountingRows r2 = new CountingRows(texts);
        TokenBudgetBatcher exact = new TokenBudgetBatcher(new StreamingTokenizer(r2, CHARS), 8, 100);
        assertEquals(2, exact.next().size());
        assertEquals(2, r2.pulled.get(), "a full batch needs no look-ahead");
    }

    @Test
    void emptyInputHasNoBatches() {
        TokenBudgetBatcher b = new TokenBudgetBatcher(new StreamingTokenizer(new CountingRows(List.of()), CHARS), 10, 10);
        assertFalse(b.hasNext());
        assertThrows(NoSuchElementException.class, b::next);
        assertThrows(IllegalArgumentException.class, () -> new TokenBudgetBatcher(List.<TokenizedDoc>of().iterator(), 0, 10));
    }

    @Test
    void withTheRealTokenizerAndPrefetch() throws Exception {
        TokenizerSpec spec = TokenizerSpec.read(java.nio.file.Path.of(getClass().getResource("/text/tiny-tokenizer.json").toURI()).toString(), null);
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 50; i++) texts.add("hello world".repeat(i % 5)); // every fifth is empty
        try (CloseableIterator<TokenBatch> it = TextBatches.open(new CountingRows(texts), spec, 16, 64, 2)) {
            List<TokenizedDoc> docs = new ArrayList<>();
            while (it.hasNext()) {
                TokenBatch b = it.next();
                assertTrue(b.tokens() <= 16 || b.size() == 1, b.toString());
                docs.addAll(b.docs());
            }
            assertEquals(50, docs.size());
            for (int i = 0; i < 50; i++) {
                assertEquals("d" + i, docs.get(i).id());
                assertEquals(i % 5 == 0 ? TokenizedDoc.EMPTY : null, docs.get(i).error());
            }
            assertArrayEquals(new int[] {259, 264}, docs.get(1).tokens());
        }
    }
}
