package ssdspark.udf;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.jdk.javaapi.CollectionConverters;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class DocumentFunctionTest {
    private static final String MODEL = "/nonexistent/fake-model";
    private static final FakeEngine ENGINE = new FakeEngine();

    @BeforeAll
    static void register() { ModelCache.put(MODEL, "cpu", ENGINE); }

    @AfterAll
    static void drop() { ModelCache.evict(MODEL, "cpu"); }

    /** A row as Spark hands it over: arrays arrive as Scala sequences. */
    private static Row row(Object id, Object... tokens) {
        return RowFactory.create(id, tokens == null ? null : CollectionConverters.asScala(List.of(tokens)).toSeq());
    }

    private static List<Row> run(JobSpec spec, List<Row> in) throws Exception {
        List<Row> out = new ArrayList<>();
        new DocumentFunction(spec, null).call(in.iterator()).forEachRemaining(out::add);
        return out;
    }

    @Test
    void scoresEveryRowInOrderWithErrorRowsInPlace() throws Exception {
        JobSpec spec = JobSpec.score(MODEL, "cpu", 2, -1, true);
        List<Row> out = run(spec, List.of(
                row("a", 1L, 2L, 3L),
                row("empty"),
                RowFactory.create("null", null),
                row("big", 1L, 10L),
                row("huge", 3_000_000_000L),
                row("one", 4L),
                row(7L, 0L, 9L)));
        assertEquals(7, out.size());
        assertEquals(List.of("a", "empty", "null", "big", "huge", "one", 7L), out.stream().map(r -> r.get(0)).toList());

        Row a = out.get(0);
        assertEquals(8, a.length());
        assertEquals(3, a.getInt(1));
        assertEquals(2, a.getInt(2));
        assertEquals(-0.3 - 0.4, a.getDouble(3), 1e-6);
        assertEquals(0.35, a.getDouble(4), 1e-6);
        assertEquals(Math.exp(0.35), a.getDouble(5), 1e-6);
        assertArrayEquals(new float[] {-0.3f, -0.4f}, (float[]) a.get(6));
        assertNull(a.get(7));

        assertTrue(out.get(1).getString(7).contains("empty"), out.get(1).getString(7));
        assertTrue(out.get(2).getString(7).contains("null"), out.get(2).getString(7));
        assertTrue(out.get(3).getString(7).contains("token id 10 at position 1"), out.get(3).getString(7));
        assertTrue(out.get(4).getString(7).contains("3000000000"), out.get(4).getString(7));
        for (int i = 1; i <= 4; i++)
            for (int c = 1; c <= 6; c++) assertTrue(out.get(i).isNullAt(c), "row " + i + " column " + c);

        Row one = out.get(5); // a 1-token document has nothing to score
        assertEquals(1, one.getInt(1));
        assertEquals(0, one.getInt(2));
        assertTrue(one.isNullAt(4) && one.isNullAt(5));
        assertNull(one.get(7));
    }

    @Test
    void bosScoresTheFirstTokenAndRowsWithoutPerTokenHaveNoArray() throws Exception {
        Row r = run(JobSpec.score(MODEL, "cpu", 2048, 0, false), List.of(row("a", 1, 2))).get(0);
        assertEquals(7, r.length());
        assertEquals(2, r.getInt(1));
        assertEquals(2, r.getInt(2));
        assertEquals(-0.2 - 0.3, r.getDouble(3), 1e-6);
    }

    @Test
    void embedsWithMeanOrLastPooling() throws Exception {
        List<Row> mean = run(JobSpec.embed(MODEL, "cpu", 1, JobSpec.Pooling.MEAN), List.of(row("a", 1, 3), row("e")));
        assertArrayEquals(new float[] {2, 3, 4, 5}, (float[]) mean.get(0).get(2), 1e-6f);
        assertEquals(2, mean.get(0).getInt(1));
        assertTrue(mean.get(1).isNullAt(1) && mean.get(1).isNullAt(2));
        assertTrue(mean.get(1).getString(3).contains("empty"));
        Row last = run(JobSpec.embed(MODEL, "cpu", 1, JobSpec.Pooling.LAST), List.of(row("a", 1, 3))).get(0);
        assertArrayEquals(new float[] {3, 4, 5, 6}, (float[]) last.get(2), 1e-6f);
    }

    @Test
    void streamsABatchAtATime() throws Exception {
        int[] pulled = {0};
        Iterator<Row> source = new Iterator<>() {
            @Override public boolean hasNext() { return pulled[0] < 1000; }

            @Override public Row next() { pulled[0]++; return row(pulled[0], 1, 2); }
        };
        // 2 tokens a document, a budget of 8 tokens: batches of 4 documents
        JobSpec spec = JobSpec.score(MODEL, "cpu", 8, -1, false).withBatching(8, 100);
        Iterator<Row> out = new DocumentFunction(spec, null).call(source);
        assertEquals(0, pulled[0], "nothing is read before the first row is asked for");
        for (int i = 1; i <= 1000; i++) {
            assertEquals(i, ((Number) out.next().get(0)).intValue(), "input order");
            int batchEnd = ((i + 3) / 4) * 4;
            assertEquals(batchEnd, pulled[0], "only the batch of row " + i + " has been read");
        }
        assertFalse(out.hasNext());
        // and at most maxBatchDocs documents whatever the budget
        pulled[0] = 0;
        Iterator<Row> few = new DocumentFunction(JobSpec.score(MODEL, "cpu", 8, -1, false).withBatching(1 << 20, 3), null).call(source);
        few.next();
        assertEquals(3, pulled[0]);
    }

    @Test
    void aBatchOfDocumentsIsOnePackedEngineCall() throws Exception {
        int before = ENGINE.packed.get();
        List<Row> in = new ArrayList<>();
        for (int i = 0; i < 10; i++) in.add(row("d" + i, 1, 2, 3));
        List<Row> out = run(JobSpec.score(MODEL, "cpu", 2048, -1, false).withBatching(30, 100), in);
        assertEquals(10, out.size());
        assertEquals(1, ENGINE.packed.get() - before, "30 tokens in one packed call");
        for (Row r : out) assertEquals(-0.3 - 0.4, r.getDouble(3), 1e-6);
    }

    @Test
    void carriedColumnsFollowTheirRows() throws Exception {
        Row a = RowFactory.create("a", CollectionConverters.asScala(List.<Object>of(1, 2)).toSeq(), "en", 7);
        Row b = RowFactory.create("b", null, "de", 8);
        List<Row> out = run(JobSpec.embed(MODEL, "cpu", 4, JobSpec.Pooling.MEAN), List.of(a, b));
        assertEquals(6, out.get(0).length());
        assertEquals("en", out.get(0).get(4));
        assertEquals(7, out.get(0).get(5));
        assertNull(out.get(0).get(3));
        assertEquals("de", out.get(1).get(4));
        assertEquals(8, out.get(1).get(5));
        assertTrue(out.get(1).getString(3).contains("null"));
    }

    @Test
    void anEmptyPartitionNeverAsksForTheModel() throws Exception {
        JobSpec spec = JobSpec.score("/nonexistent/never-loaded", "cpu", 8, -1, false);
        assertFalse(new DocumentFunction(spec, null).call(List.<Row>of().iterator()).hasNext());
        assertFalse(ModelCache.isLoaded("/nonexistent/never-loaded", "cpu"));
    }
    @Test
    void tokenWindowsScoreEachWindowAndAddUpToTheDocument() throws Exception {
        // tokens 1..5, no BOS: token 1 is context; log p = -(t+1)/10 for t = 2..5
        JobSpec spec = JobSpec.score(MODEL, "cpu", 3, -1, false).withInput(false, SpanMode.parse("tokens:2"));
        Row r = run(spec, List.of(row("a", 1, 2, 3, 4, 5), row("e"))).get(0);
        assertEquals(8, r.length());
        List<Row> spans = List.of((Row[]) r.get(6));
        assertEquals(3, spans.size());
        // [start, end, num_tokens, num_scored, sum_logprob, mean_nll]
        Row w0 = spans.get(0), w1 = spans.get(1), w2 = spans.get(2);
        assertEquals(List.of(0, 2, 2, 1), List.of(w0.get(0), w0.get(1), w0.get(2), w0.get(3)));
        assertEquals(-0.3, w0.getDouble(4), 1e-6);
        assertEquals(0.3, w0.getDouble(5), 1e-6);
        assertEquals(List.of(2, 4, 2, 2), List.of(w1.get(0), w1.get(1), w1.get(2), w1.get(3)));
        assertEquals(-0.4 - 0.5, w1.getDouble(4), 1e-6);
        assertEquals(List.of(4, 5, 1, 1), List.of(w2.get(0), w2.get(1), w2.get(2), w2.get(3)));
        assertEquals(-0.6, w2.getDouble(4), 1e-6);
        assertEquals(r.getDouble(3), w0.getDouble(4) + w1.getDouble(4) + w2.getDouble(4), 1e-9);
        Row e = run(spec, List.of(row("e"))).get(0);
        assertTrue(e.isNullAt(6), "an error row has no spans");
        assertNotNull(e.getString(7));
    }

    @Test
    void textRowsCarryBytesAndBitsPerByteAndTheirTextSpans() throws Exception {
        JobSpec spec = JobSpec.score(MODEL, "cpu", 1, 0, true).withInput(true, SpanMode.parse("line"));
        // as the text pipeline hands them over: tokens 1 2 | 3 over the lines [0, 4) and [4, 9); 9 bytes scored
        Doc d = Doc.of("t", new int[] {1, 2, 3}, null).withText(9, new DocSpans(new int[] {4, 9}, new int[] {2, 3}));
        Doc one = Doc.of("one", new int[] {4}, null).withText(0, new DocSpans(new int[] {1}, new int[] {1}));
        List<Row> out = new DocumentFunction(spec, null).apply(new ssdspark.model.DocumentRunner(ENGINE), List.of(d, one));
        Row r = out.get(0);
        // id, num_tokens, num_scored, sum_logprob, mean_nll, perplexity, num_bytes, bits_per_byte, token_logprobs, spans, error
        assertEquals(11, r.length());
        double sum = -0.2 - 0.3 - 0.4; // BOS 0: tokens 1, 2, 3 all scored
        assertEquals(sum, r.getDouble(3), 1e-6);
        assertEquals(9L, r.getLong(6));
        assertEquals(-sum / Math.log(2) / 9, r.getDouble(7), 1e-6);
        List<Row> spans = List.of((Row[]) r.get(9));
        assertEquals(List.of(0, 4, 2, 2), List.of(spans.get(0).get(0), spans.get(0).get(1), spans.get(0).get(2), spans.get(0).get(3)));
        assertEquals(-0.2 - 0.3, spans.get(0).getDouble(4), 1e-6);
        assertEquals(List.of(4, 9, 1, 1), List.of(spans.get(1).get(0), spans.get(1).get(1), spans.get(1).get(2), spans.get(1).get(3)));
        assertNull(r.get(10));
        assertTrue(out.get(1).isNullAt(7), "no bytes scored: no bits per byte");
        assertNotNull(out.get(1).get(3), "but the score is there");
    }

    @Test
    void spansMustMatchTheInput() {
        assertThrows(IllegalArgumentException.class, () -> JobSpec.score(MODEL, "cpu", 3, -1, false).withInput(false, SpanMode.parse("line")));
        assertThrows(IllegalArgumentException.class, () -> JobSpec.score(MODEL, "cpu", 3, -1, false).withInput(true, SpanMode.parse("tokens:4")));
        assertThrows(IllegalArgumentException.class, () -> JobSpec.embed(MODEL, "cpu", 3, JobSpec.Pooling.MEAN).withInput(true, SpanMode.parse("line")));
        for (String bad : new String[] {"tokens:0", "tokens:x", "words", ""})
            assertThrows(IllegalArgumentException.class, () -> SpanMode.parse(bad), bad);
        assertEquals("tokens:16", SpanMode.parse("tokens:16").cliName());
        assertArrayEquals(new int[] {4, 8, 9}, SpanMode.parse("tokens:4").windowEnds(9));
        assertArrayEquals(new int[] {1}, SpanMode.parse("tokens:4").windowEnds(1));
    }
}
