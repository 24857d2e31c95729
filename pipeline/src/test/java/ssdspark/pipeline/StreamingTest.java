package ssdspark.pipeline;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.jdk.javaapi.CollectionConverters;
import ssdspark.pipeline.text.StreamingTokenizer;
import ssdspark.pipeline.text.TokenizerSpec;
import ssdspark.udf.BatchSource;
import ssdspark.udf.DocumentFunction;
import ssdspark.udf.JobSpec;
import ssdspark.udf.ModelCache;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A partition is streamed, never held: the partition function reads only a bounded number of rows ahead of what
 * it has handed out (the batch being run, the prefetched ones, the one being tokenized), and a partition far
 * larger than the heap goes through a JVM with a small heap.
 */
class StreamingTest {
    static final String MODEL = "/nonexistent/streaming-fake-model";
    static final FastEngine ENGINE = new FastEngine();
    static TokenizerSpec tokenizer;

    @BeforeAll
    static void setUp() throws Exception {
        ModelCache.put(MODEL, "cpu", ENGINE);
        tokenizer = TokenizerSpec.read(Path.of(StreamingTest.class.getResource("/text/tiny-tokenizer.json").toURI()).toString(), new Configuration());
    }

    @AfterAll
    static void tearDown() { ModelCache.evict(MODEL, "cpu"); }

    /** rows generated on demand: (id, text) or (id, tokens); counts how many were pulled. */
    static Iterator<Row> generated(long n, boolean text, AtomicLong pulled) {
        return new Iterator<>() {
            @Override public boolean hasNext() { return pulled.get() < n; }

            @Override public Row next() {
                long i = pulled.getAndIncrement();
                int words = 1 + (int) (i % 13);
                if (text) return RowFactory.create(i, "hello world ".repeat(words));
                Object[] ids = new Object[2 * words];
                for (int k = 0; k < ids.length; k++) ids[k] = (k % 2 == 0) ? 259 : 264;
                return RowFactory.create(i, CollectionConverters.asScala(List.of(ids)).toSeq());
            }
        };
    }

    private static void checkBounded(BatchSource source, boolean text, int prefetch) { checkBounded(source, text, prefetch, 1); }

    private static void checkBounded(BatchSource source, boolean text, int prefetch, int tokenizerThreads) {
        int maxDocs = 8;
        JobSpec spec = JobSpec.score(MODEL, "cpu", 16, -1, false).withBatching(64, maxDocs);
        long n = 20_000;
        AtomicLong pulled = new AtomicLong();
        Iterator<Row> out = new DocumentFunction(spec, null, source).call(generated(n, text, pulled));
        long bound = (long) (prefetch + 2) * maxDocs + 1; // current batch + queued + the one being built (+ its look-ahead)
        // several tokenizing threads: the blocks in flight and the one being handed out
        if (tokenizerThreads > 1) bound += (2L * tokenizerThreads + 1) * StreamingTokenizer.BLOCK_DOCS;
        long emitted = 0, worst = 0;
        while (out.hasNext()) {
            Row r = out.next();
            assertEquals(emitted, ((Number) r.get(0)).longValue(), "input order");
            assertNull(r.get(r.length() - 1), "no error");
            emitted++;
            worst = Math.max(worst, pulled.get() - emitted);
            assertTrue(pulled.get() - emitted <= bound, "read " + pulled.get() + " rows with " + emitted + " handed out (bound " + bound + ")");
        }
        assertEquals(n, emitted, "every input row gives one output row");
        assertTrue(ENGINE.largestCall <= 64, "engine batches stay within the token budget: " + ENGINE.largestCall);
        System.out.println("streaming " + (text ? "text" : "tokens") + ": at most " + worst + " rows read ahead of the output (bound " + bound + ")");
    }

    @Test
    void textPartitionsReadABoundedNumberOfRowsAhead() {
        checkBounded(BatchSources.text(tokenizer, 2), true, 2);
        checkBounded(BatchSources.text(tokenizer, 2, 3), true, 2, 3);
        checkBounded(BatchSources.text(tokenizer, 0, 2), true, 0, 2);
    }

    @Test
    void tokenPartitionsReadABoundedNumberOfRowsAhead() {
        checkBounded(BatchSources.tokens(2), false, 2);
        checkBounded(BatchSources.tokens(0), false, 0);
    }

    /**
     * 96 MB of text in one partition through a JVM with a 32 MB heap: tokenized, batched with prefetching, run
     * (on a fast stand-in engine) and turned into rows, which are dropped as they come, the way Spark's writer
     * consumes them. Holding the partition would need several times the heap.
     */
    @Test
    void aPartitionLargerThanTheHeapStreamsThrough() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx32m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                LargePartition.class.getName(), Long.toString(96L << 20))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.PIPE).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out: " + log);
        assertEquals(0, p.exitValue(), log);
        assertTrue(log.contains("LARGE-PARTITION OK"), log);
        System.out.print(log);
    }

    /** The child JVM of {@link #aPartitionLargerThanTheHeapStreamsThrough}. */
    public static final class LargePartition {
        public static void main(String[] args) throws Exception {
            long bytes = Long.parseLong(args[0]);
            ModelCache.put(MODEL, "cpu", ENGINE);
            TokenizerSpec t = TokenizerSpec.read(Path.of(LargePartition.class.getResource("/text/tiny-tokenizer.json").toURI()).toString(),
                    new Configuration());
            String doc = "hello world ".repeat(6000); // 72 kB, 12k tokens (cheap to tokenize: two merged tokens per 12 bytes)
            long docs = bytes / doc.length() + 1;
            AtomicLong pulled = new AtomicLong();
            Iterator<Row> rows = new Iterator<>() {
                @Override public boolean hasNext() { return pulled.get() < docs; }

                @Override public Row next() { return RowFactory.create(pulled.getAndIncrement(), doc); }
            };
            JobSpec spec = JobSpec.embed(MODEL, "cpu", 2048, JobSpec.Pooling.MEAN);
            Iterator<Row> out = new DocumentFunction(spec, null, BatchSources.text(t, 2, 2)).call(rows);
            long n = 0, tokens = 0;
            while (out.hasNext()) {
                Row r = out.next();
                if (!r.isNullAt(3)) throw new IllegalStateException("error row: " + r);
                tokens += r.getInt(1);
                n++;
            }
            if (n != docs) throw new IllegalStateException(n + " rows for " + docs + " documents");
            long heap = Runtime.getRuntime().maxMemory();
            System.out.printf("LARGE-PARTITION OK: %d documents, %d MB of text, %d tokens through a %d MB heap (2 tokenizing threads);"
                            + " prefetch threads left: %d%n", n, docs * doc.length() >> 20, tokens, heap >> 20,
                    Thread.getAllStackTraces().keySet().stream().filter(th -> th.getName().startsWith(Prefetcher.THREAD_PREFIX) && th.isAlive()).count());
            if (docs * doc.length() < 3 * heap) throw new IllegalStateException("the partition is not larger than the heap");
        }
    }

}
