package ssdspark.udf;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;
import scala.jdk.javaapi.CollectionConverters;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

class TokenBudgetBatcherTest {
    /** Documents d0, d1, ... of the given lengths (negative: a failed document), counting how many were pulled. */
    static final class CountingDocs implements Iterator<Doc> {
        final int[] lengths;
        int pulled;

        CountingDocs(int... lengths) { this.lengths = lengths; }

        @Override public boolean hasNext() { return pulled < lengths.length; }

        @Override public Doc next() {
            if (!hasNext()) throw new NoSuchElementException();
            int i = pulled++;
            return lengths[i] < 0 ? Doc.failed("d" + i, "bad", null) : Doc.of("d" + i, new int[lengths[i]], null);
        }
    }

    static List<List<String>> ids(Iterator<List<Doc>> batches) {
        List<List<String>> out = new ArrayList<>();
        batches.forEachRemaining(b -> out.add(b.stream().map(d -> (String) d.id()).collect(Collectors.toList())));
        return out;
    }

    @Test
    void packsByBudgetInOrder() {
        // lengths 3, 4, 2, 5, 1, 1 with budget 7: [3,4] [2,5] [1,1]
        assertEquals(List.of(List.of("d0", "d1"), List.of("d2", "d3"), List.of("d4", "d5")),
                ids(new TokenBudgetBatcher(new CountingDocs(3, 4, 2, 5, 1, 1), 7, 100)));
        // 3 + 3 > 5: never over the budget, however little is left
        assertEquals(List.of(List.of("d0"), List.of("d1"), List.of("d2")), ids(new TokenBudgetBatcher(new CountingDocs(3, 3, 3), 5, 100)));
    }

    @Test
    void longDocumentIsItsOwnBatch() {
        assertEquals(List.of(List.of("d0"), List.of("d1"), List.of("d2", "d3"), List.of("d4")),
                ids(new TokenBudgetBatcher(new CountingDocs(2, 25, 2, 2, 11), 10, 100)));
    }

    @Test
    void aDocumentOfKPiecesGetsKBudgetsOfCompany() {
        // budget 10, pieces of 10: d1 (25 tokens, 3 pieces) makes its batch 3 budgets: d1 + d2 = 30
        assertEquals(List.of(List.of("d0"), List.of("d1", "d2"), List.of("d3"), List.of("d4"), List.of("d5", "d6")),
                ids(new TokenBudgetBatcher(new CountingDocs(9, 25, 5, 6, 7, 5, 2), 10, 100, 10)));
        // pieces of 4: d0 (2 pieces) -> 20 tokens; d1 (13 tokens, 4 pieces) joins and the batch grows to 40: 5+13+9+9
        assertEquals(List.of(List.of("d0", "d1", "d2", "d3"), List.of("d4", "d5")),
                ids(new TokenBudgetBatcher(new CountingDocs(5, 13, 9, 9, 8, 4), 10, 100, 4)));
        // documents per batch grow the same way: d0 (2 pieces) allows 2 x 2 documents
        assertEquals(List.of(List.of("d0", "d1", "d2", "d3"), List.of("d4", "d5")),
                ids(new TokenBudgetBatcher(new CountingDocs(8, 1, 1, 1, 1, 1), 100, 2, 4)));
        // at most MAX_PASSES budgets: a 100-piece document takes 64 x 10 tokens of company, 100 + 540
        int[] lens = new int[1001];
        java.util.Arrays.fill(lens, 1);
        lens[0] = 100;
        List<List<String>> b = ids(new TokenBudgetBatcher(new CountingDocs(lens), 10, 100_000, 1));
        assertEquals(64, TokenBudgetBatcher.MAX_PASSES);
        assertEquals(541, b.get(0).size());
        // one budget a batch without pieces: a long document stays alone
        assertEquals(List.of(List.of("d0"), List.of("d1", "d2")), ids(new TokenBudgetBatcher(new CountingDocs(12, 5, 5), 10, 100)));
    }

    @Test
    void capsDocumentsPerBatch() {
        assertEquals(List.of(List.of("d0", "d1"), List.of("d2", "d3"), List.of("d4")),
                ids(new TokenBudgetBatcher(new CountingDocs(1, 1, 1, 1, 1), 1000, 2)));
    }

    @Test
    void failedDocumentsRideAlongWithoutTokens() {
        // budget 4: [2, failed, 2] is 4 tokens; the failed one counts as a document, not as tokens
        assertEquals(List.of(List.of("d0", "d1", "d2"), List.of("d3", "d4")),
                ids(new TokenBudgetBatcher(new CountingDocs(2, -1, 2, 3, -1), 4, 100)));
    }

    /** The read-ahead bound: a batch pulls its own documents and at most the one that did not fit. */
    @Test
    void pullsOnlyWhatABatchNeeds() {
        int[] fours = new int[1000];
        java.util.Arrays.fill(fours, 4);
        CountingDocs docs = new CountingDocs(fours);
        TokenBudgetBatcher b = new TokenBudgetBatcher(docs, 10, 100);
        assertEquals(0, docs.pulled, "nothing is read before the first batch is asked for");
        assertEquals(2, b.next().size());
        assertEquals(3, docs.pulled, "two documents plus the one that did not fit");
        b.next();
        assertEquals(5, docs.pulled);
        CountingDocs exactDocs = new CountingDocs(fours);
        TokenBudgetBatcher exact = new TokenBudgetBatcher(exactDocs, 8, 100);
        assertEquals(2, exact.next().size());
        assertEquals(2, exactDocs.pulled, "a batch exactly at the budget needs no look-ahead");
        CountingDocs capped = new CountingDocs(fours);
        new TokenBudgetBatcher(capped, 1000, 3).next();
        assertEquals(3, capped.pulled, "a batch full by count needs no look-ahead");
    }

    /** Random lengths, budgets and caps: the rule, greedy packing, input order and the read-ahead bound, batch by batch. */
    @Test
    void neverOverBudgetUnlessOneDocumentAloneIs() {
        Random r = new Random(8);
        for (int trial = 0; trial < 300; trial++) {
            int budget = 1 + r.nextInt(40), maxDocs = 1 + r.nextInt(8);
            int[] lengths = new int[r.nextInt(60)];
            for (int i = 0; i < lengths.length; i++) lengths[i] = r.nextInt(10) == 0 ? -1 : r.nextInt(budget * 2 + 1);
            CountingDocs docs = new CountingDocs(lengths);
            TokenBudgetBatcher b = new TokenBudgetBatcher(docs, budget, maxDocs);
            int emitted = 0;
            while (b.hasNext()) {
                List<Doc> batch = b.next();
                long tokens = batch.stream().mapToLong(Doc::length).sum();
                String what = "trial " + trial + ", budget " + budget + ", maxDocs " + maxDocs + ", batch " + batch.size() + " docs / " + tokens + " tokens";
                assertFalse(batch.isEmpty(), what);
                assertTrue(tokens <= budget || batch.size() == 1, what);
                assertTrue(batch.size() <= maxDocs, what);
                for (Doc d : batch) assertEquals("d" + emitted++, d.id(), "input order");
                assertTrue(docs.pulled <= emitted + 1, "read ahead more than one document: " + what);
                // greedy: a batch below the budget and the cap closes only when the next document would not fit
                if (emitted < lengths.length && batch.size() < maxDocs && tokens < budget)
                    assertTrue(tokens + Math.max(0, lengths[emitted]) > budget, "the batch could have taken the next document: " + what);
            }
            assertEquals(lengths.length, emitted);
        }
    }

    /** Pre-tokenized rows go through the same batcher. */
    @Test
    void tokenRowsAreBatchedByTheSameRule() {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 3; i++) rows.add(RowFactory.create("r" + i, CollectionConverters.asScala(List.<Object>of(1, 2, 3)).toSeq()));
        rows.add(RowFactory.create("bad", null));
        JobSpec spec = JobSpec.score("/m", "cpu", 8, -1, false).withBatching(5, 100);
        List<List<Doc>> batches = new ArrayList<>();
        BatchSource.tokenRows().open(rows.iterator(), spec).forEachRemaining(batches::add);
        assertEquals(List.of(List.of("r0"), List.of("r1"), List.of("r2", "bad")),
                batches.stream().map(x -> x.stream().map(d -> (String) d.id()).collect(Collectors.toList())).collect(Collectors.toList()),
                "3 + 3 tokens > 5: one row a batch; the row without tokens rides along");
        assertTrue(batches.get(2).get(1).error().contains("null"));
    }

    @Test
    void emptyInputHasNoBatches() {
        TokenBudgetBatcher b = new TokenBudgetBatcher(new CountingDocs(), 10, 10);
        assertFalse(b.hasNext());
        assertThrows(NoSuchElementException.class, b::next);
        assertThrows(IllegalArgumentException.class, () -> new TokenBudgetBatcher(new CountingDocs(), 0, 10));
        assertThrows(IllegalArgumentException.class, () -> new TokenBudgetBatcher(new CountingDocs(), 10, 0));
    }
}
