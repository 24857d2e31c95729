package ssdspark.pipeline.text;

import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.pipeline.BatchSources;
import ssdspark.pipeline.CloseableIterator;
import ssdspark.pipeline.Prefetcher;
import ssdspark.pipeline.output.ModelFingerprint;
import ssdspark.pipeline.output.OutputMetadata;
import ssdspark.udf.Doc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** The text building blocks inside real Spark tasks: read → tokenize → batch (prefetched) → rows; and footer metadata. */
class TextSparkTest {
    static SparkSession spark;
    static TokenizerSpec tokenizer;

    static final StructType OUT = DataTypes.createStructType(List.of(
            DataTypes.createStructField("id", DataTypes.StringType, false),
            DataTypes.createStructField("num_tokens", DataTypes.IntegerType, false),
            DataTypes.createStructField("batch", DataTypes.IntegerType, false),
            DataTypes.createStructField("error", DataTypes.StringType, true)));

    @BeforeAll
    static void start() throws Exception {
        spark = TestSpark.session();
        tokenizer = TokenizerSpec.read(Path.of(TextSparkTest.class.getResource("/text/tiny-tokenizer.json").toURI()).toString(),
                spark.sparkContext().hadoopConfiguration());
    }

    /** What the job's partition function will do, minus the model: one output row per document, in order. */
    static final class CountTokens implements MapPartitionsFunction<Row, Row> {
        private final TokenizerSpec spec;

        CountTokens(TokenizerSpec spec) { this.spec = spec; }

        @Override
        public Iterator<Row> call(Iterator<Row> rows) {
            List<Row> out = new ArrayList<>();
            int b = 0;
            try (CloseableIterator<List<Doc>> batches = BatchSources.batches(new StreamingTokenizer(rows, spec.open()), 6, 1000, 2)) {
                while (batches.hasNext()) {
                    for (Doc d : batches.next()) out.add(RowFactory.create(d.id(), d.length(), b, d.error()));
                    b++;
                }
            }
            return out.iterator();
        }
    }

    /** Lazy output, left unclosed on purpose: only the task-completion listener stops the producer. */
    static final class FirstDocOfEachBatch implements MapPartitionsFunction<Row, Row> {
        private final TokenizerSpec spec;

        FirstDocOfEachBatch(TokenizerSpec spec) { this.spec = spec; }

        @Override
        public Iterator<Row> call(Iterator<Row> rows) {
            // three tokenizing threads too: the task's end must stop them as well
            CloseableIterator<List<Doc>> it = BatchSources.batches(new StreamingTokenizer(rows, spec.open(), null, 3), 8, 1000, 2);
            return new Iterator<>() {
                @Override public boolean hasNext() { return it.hasNext(); }
                @Override public Row next() {
                    Doc d = it.next().get(0);
                    return RowFactory.create(d.id(), d.length(), 0, d.error());
                }
            };
        }
    }

    static long liveProducers() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> (t.getName().startsWith(Prefetcher.THREAD_PREFIX) || t.getName().startsWith(StreamingTokenizer.THREAD_PREFIX))
                        && t.isAlive()).count();
    }

    static void awaitNoProducers() throws InterruptedException {
        for (int i = 0; i < 200 && liveProducers() > 0; i++) Thread.sleep(10);
        assertEquals(0, liveProducers(), "prefetch or tokenizing threads outlived their tasks");
    }

    @Test
    void tokenizesAndBatchesInsideTasks(@TempDir Path tmp) throws Exception {
        Files.writeString(tmp.resolve("a.txt"), "hello world\n\nthe mamba and spark\n");
        Files.writeString(tmp.resolve("b.txt"), "café\nhello hello hello\n");
        TextInputOptions o = TextInputOptions.of(TextInputOptions.Format.TEXT, tmp.toString()).withUnit(TextInputOptions.Unit.LINE);
        Dataset<Row> in = TextInput.read(spark, o);
        List<Row> got = in.mapPartitions(new CountTokens(tokenizer), Encoders.row(OUT)).collectAsList();
        String a = tmp.resolve("a.txt").toString(), b = tmp.resolve("b.txt").toString(); // ids are paths, as given
        assertEquals(List.of(a + ":1", a + ":2", a + ":3", b + ":1", b + ":2"),
                got.stream().map(r -> r.getString(0)).collect(Collectors.toList()));
        // hello world = 2, "" = empty, the mamba and spark = 4, café = 5 bytes, hello hello hello = 5
        assertEquals(List.of(2, 0, 4, 5, 5), got.stream().map(r -> r.getInt(1)).collect(Collectors.toList()));
        assertEquals(StreamingTokenizer.EMPTY, got.get(1).getString(3));
        awaitNoProducers();
    }

    @Test
    void partlyConsumedPartitionsStopTheirProducers(@TempDir Path tmp) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 20000; i++) sb.append("the mamba and spark ").append(i).append('\n');
        Files.writeString(tmp.resolve("big.txt"), sb);
        Dataset<Row> in = TextInput.read(spark, TextInputOptions.of(TextInputOptions.Format.TEXT, tmp.toString()).withUnit(TextInputOptions.Unit.LINE));
        // the consumer here is Spark's limit: it stops pulling early, the task ends, the listener closes the prefetcher
        List<Row> few = in.mapPartitions(new FirstDocOfEachBatch(tokenizer), Encoders.row(OUT)).limit(3).collectAsList();
        assertEquals(3, few.size());
        awaitNoProducers();
    }

    @Test
    void parquetFootersCarryTheJobMetadata(@TempDir Path tmp) throws Exception {
        Path model = tmp.resolve("model");
        Files.createDirectories(model);
        Files.writeString(model.resolve("config.json"), "{\"d_model\": 8}");
        Files.write(model.resolve("model.safetensors"), new byte[] {1, 2, 3});
        ModelFingerprint fp = ModelFingerprint.of(model);
        Map<String, String> kv = OutputMetadata.of(fp, tokenizer.withBos(316), "cpu", Map.of("--token-budget", "4096", "--task", "score"));

        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 100; i++) rows.add(RowFactory.create("d" + i, i, 0, null));
        String out = tmp.resolve("out").toString();
        OutputMetadata.configure(spark.createDataFrame(rows, OUT).repartition(3).write().mode(SaveMode.Overwrite), kv)
                .option("compression", "zstd").save(out);

        List<Path> parts;
        try (Stream<Path> s = Files.list(Path.of(out))) {
            parts = s.filter(p -> p.getFileName().toString().endsWith(".parquet")).collect(Collectors.toList());
        }
        assertEquals(3, parts.size());
        for (Path p : parts) {
            assertTrue(p.getFileName().toString().contains(".zstd."), "compression option still applies: " + p);
            Map<String, String> footer = OutputMetadata.read(p.toString(), spark.sparkContext().hadoopConfiguration());
            assertEquals(fp.sha256(), footer.get("ssdspark.model.sha256"));
            assertEquals(model.toAbsolutePath().toString(), footer.get("ssdspark.model.path"));
            assertEquals(tokenizer.sha256(), footer.get("ssdspark.tokenizer.sha256"));
            assertEquals("317", footer.get("ssdspark.tokenizer.vocab_size"));
            assertEquals("316", footer.get("ssdspark.tokenizer.bos_id"));
            assertEquals("cpu", footer.get("ssdspark.backend"));
            assertEquals("{\"--task\":\"score\",\"--token-budget\":\"4096\"}", footer.get("ssdspark.options"));
            assertEquals(fp.files(), OutputMetadata.parse(footer.get("ssdspark.model.files")));
            assertNotNull(footer.get("org.apache.spark.version"), "Spark's own keys are kept");
            assertNotNull(footer.get("org.apache.spark.sql.parquet.row.metadata"));
        }
        // and Spark reads the output as plain Parquet
        assertEquals(100, spark.read().parquet(out).count());
        assertEquals(4950L, spark.read().parquet(out).selectExpr("sum(num_tokens)").first().getLong(0));
    }

    @Test
    void plainParquetHasNoneOfOurKeys(@TempDir Path tmp) throws IOException {
        String out = tmp.resolve("plain").toString();
        spark.range(3).coalesce(1).write().parquet(out);
        Path part;
        try (Stream<Path> s = Files.list(Path.of(out))) {
            part = s.filter(p -> p.getFileName().toString().endsWith(".parquet")).findFirst().orElseThrow();
        }
        assertTrue(OutputMetadata.read(part.toString(), spark.sparkContext().hadoopConfiguration()).keySet().stream()
                .noneMatch(k -> k.startsWith("ssdspark.")));
    }
}
