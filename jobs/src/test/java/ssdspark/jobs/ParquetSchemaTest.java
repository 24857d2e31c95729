package ssdspark.jobs;

import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.MetadataBuilder;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import ssdspark.pipeline.text.TextInputOptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Parquet input read with the schema taken from the footer Preflight read (no schema job) against Spark's own
 * inference ({@code spark.read().parquet(path)}, the reference): the same DataFrame schema (names, types, partition
 * columns, nullability, metadata), the same files and rows; inputs where that cannot be shown beforehand are inferred by
 * Spark as before. And the job: no Spark job before the write with the footer's schema, the same output as with
 * Spark's schema job.
 */
class ParquetSchemaTest {
    static SparkSession spark;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("ssdspark-parquet-schema-test")
                .config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    @AfterEach
    void settingsBack() {
        spark.conf().unset("spark.sql.parquet.mergeSchema");
        System.clearProperty(ParquetSchema.INFER_PROPERTY);
    }

    private static int dirs;

    private static Path newDir(String name) {
        return tmp.resolve(name + "-" + dirs++);
    }

    private static StructType corpusSchema(DataType tokenType) {
        return new StructType().add("id", DataTypes.StringType).add("tokens", DataTypes.createArrayType(tokenType));
    }

    /** n documents (id, tokens) of random ids below 317 (the tiny model's vocabulary), tokens int or bigint. */
    private static List<Row> docs(int n, long seed, DataType tokenType, String prefix) {
        Random r = new Random(seed);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int len = 1 + r.nextInt(40);
            Object[] t = new Object[len];
            for (int k = 0; k < len; k++) t[k] = tokenType.equals(DataTypes.LongType) ? (Object) (long) r.nextInt(317) : (Object) r.nextInt(317);
            rows.add(RowFactory.create(prefix + i, Arrays.asList(t)));
        }
        return rows;
    }

    private static void write(List<Row> rows, StructType schema, int files, Path dir) {
        spark.createDataFrame(rows, schema).repartition(files).write().parquet(dir.toString());
    }

    private static List<Path> partFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("part-") && p.toString().endsWith(".parquet")).sorted().toList();
        }
    }

    /** The footer Preflight reads for a local input (its columns check). */
    private static ParquetSchema.Footer preflightFooter(Path input) {
        ParquetSchema.Footer f = InputColumns.of(input, TextInputOptions.Format.PARQUET).orElseThrow().footer();
        assertNotNull(f, "Preflight read a footer of " + input);
        return f;
    }

    /**
     * The input read from Preflight's footer and by Spark's inference: the same schema, files and rows. Returns why the
     * footer's schema was not used (null: it was).
     */
    private static String sameAsInference(Path input) {
        return sameAsInference(input.toString(), preflightFooter(input));
    }

    private static String sameAsInference(String input, ParquetSchema.Footer footer) {
        ParquetSchema.Read ours = ParquetSchema.read(spark, input, footer);
        Dataset<Row> inferred = spark.read().parquet(input);
        assertEquals(inferred.schema(), ours.rows().schema(), "the DataFrame schema (names, types, nullability, metadata)");
        assertEquals(inferred.schema().json(), ours.rows().schema().json());
        assertEquals(sorted(inferred.inputFiles()), sorted(ours.rows().inputFiles()), "the files read");
        assertEquals(rows(inferred), rows(ours.rows()), "the rows");
        return ours.inferredBecause();
    }

    private static List<String> sorted(String[] a) {
        return Arrays.stream(a).sorted().toList();
    }

    private static List<Row> rows(Dataset<Row> d) {
        List<Row> all = new ArrayList<>(d.collectAsList());
        all.sort(Comparator.comparing(Row::toString));
        assertFalse(all.isEmpty(), "the input has rows");
        return all;
    }

    @ParameterizedTest
    @ValueSource(strings = {"int", "bigint"})
    void oneFileAndManyFilesOfOneSchema(String tokenType) throws IOException {
        DataType t = DataType.fromDDL(tokenType);
        Path one = newDir("one"), many = newDir("many");
        write(docs(30, 1, t, "a"), corpusSchema(t), 1, one);
        write(docs(200, 2, t, "b"), corpusSchema(t), 6, many);
        assertEquals(6, partFiles(many).size());

        assertNull(sameAsInference(partFiles(one).get(0)), "a single file given as the input");
        assertNull(sameAsInference(one), "a folder of one file (and _SUCCESS, .crc files)");
        assertNull(sameAsInference(many), "a folder of 6 files");
        assertEquals(corpusSchema(t).asNullable(), ParquetSchema.read(spark, many.toString(), preflightFooter(many)).rows().schema());
    }

    @Test
    void filesWithDifferentSchemasReadAsSparkDoes() throws IOException {
        Path dir = newDir("mixed");
        Files.createDirectories(dir);
        Path narrow = newDir("narrow"), wide = newDir("wide");
        write(docs(20, 3, DataTypes.IntegerType, "n"), corpusSchema(DataTypes.IntegerType), 1, narrow);
        List<Row> w = new ArrayList<>();
        for (Row r : docs(20, 4, DataTypes.IntegerType, "w")) w.add(RowFactory.create(r.get(0), r.get(1), "source-" + r.getString(0)));
        write(w, corpusSchema(DataTypes.IntegerType).add("source", DataTypes.StringType), 1, wide);
        // Spark takes the first file's schema (by path) unless asked to merge: both orders, each as Spark reads it
        Files.copy(partFiles(narrow).get(0), dir.resolve("part-a.parquet"));
        Files.copy(partFiles(wide).get(0), dir.resolve("part-b.parquet"));
        assertNull(sameAsInference(dir));
        assertEquals(2, spark.read().parquet(dir.toString()).schema().size(), "inference took the narrow file's schema");
        Files.move(dir.resolve("part-a.parquet"), dir.resolve("part-c.parquet"));
        assertNull(sameAsInference(dir));
        assertEquals(3, spark.read().parquet(dir.toString()).schema().size(), "now the wide file's");

        spark.conf().set("spark.sql.parquet.mergeSchema", "true");
        String why = sameAsInference(dir);
        assertNotNull(why, "merging schemas reads every footer: Spark infers");
        assertTrue(why.contains("mergeSchema"), why);
    }

    @Test
    void aFileSparkDoesNotReadFirstIsNotTakenForTheSchema() throws IOException {
        // Spark reads no file of a sub-folder that is not a partition (col=value): Preflight's first file is not its
        Path dir = newDir("nested"), a = newDir("a"), b = newDir("b");
        write(docs(10, 5, DataTypes.IntegerType, "a"), corpusSchema(DataTypes.IntegerType), 1, a);
        write(docs(10, 6, DataTypes.LongType, "b"), corpusSchema(DataTypes.LongType), 1, b);
        Files.createDirectories(dir.resolve("a"));
        Files.copy(partFiles(a).get(0), dir.resolve("a/part-0.parquet"));
        Files.copy(partFiles(b).get(0), dir.resolve("b.parquet"));
        String why = sameAsInference(dir);
        assertNotNull(why);
        assertTrue(why.startsWith("Spark infers from " + dir.resolve("b.parquet")), why);
    }

    @Test
    void aSummaryFileIsWhatSparkReads() throws IOException {
        Path dir = newDir("summary"), other = newDir("other");
        write(docs(10, 7, DataTypes.IntegerType, "s"), corpusSchema(DataTypes.IntegerType), 1, dir);
        List<Row> w = new ArrayList<>();
        for (Row r : docs(5, 8, DataTypes.IntegerType, "o")) w.add(RowFactory.create(r.get(0), r.get(1), 1.5));
        write(w, corpusSchema(DataTypes.IntegerType).add("weight", DataTypes.DoubleType), 1, other);
        Files.copy(partFiles(other).get(0), dir.resolve("_common_metadata"));
        String why = sameAsInference(dir);
        assertTrue(spark.read().parquet(dir.toString()).schema().getFieldIndex("weight").isDefined(), "Spark took the summary file's schema");
        assertNotNull(why);
        assertTrue(why.startsWith("the input has a summary file"), why);
    }

    @Test
    void partitionedFolderKeepsItsPartitionColumnsAndTheirTypes() throws IOException {
        Path dir = newDir("partitioned");
        StructType schema = corpusSchema(DataTypes.LongType).add("lang", DataTypes.StringType).add("year", DataTypes.IntegerType);
        List<Row> rows = new ArrayList<>();
        int i = 0;
        for (Row r : docs(60, 9, DataTypes.LongType, "p")) {
            rows.add(RowFactory.create(r.get(0), r.get(1), i % 3 == 0 ? "en" : "de", 2023 + i % 2));
            i++;
        }
        spark.createDataFrame(rows, schema).repartition(3).write().partitionBy("lang", "year").parquet(dir.toString());
        assertNull(sameAsInference(dir));
        StructType got = ParquetSchema.read(spark, dir.toString(), preflightFooter(dir)).rows().schema();
        assertEquals(List.of("id", "tokens", "lang", "year"), Arrays.asList(got.fieldNames()));
        assertEquals(DataTypes.IntegerType, got.apply("year").dataType(), "year=2023 is inferred an int, as Spark does");
    }

    @Test
    void aPartitionColumnThatIsAlsoInTheFilesIsInferredBySpark() throws IOException {
        Path dir = newDir("overlap"), src = newDir("src");
        StructType schema = corpusSchema(DataTypes.IntegerType).add("year", DataTypes.StringType);
        List<Row> rows = new ArrayList<>();
        for (Row r : docs(10, 10, DataTypes.IntegerType, "y")) rows.add(RowFactory.create(r.get(0), r.get(1), "y2024"));
        write(rows, schema, 1, src);
        Files.createDirectories(dir.resolve("year=2024"));
        Files.copy(partFiles(src).get(0), dir.resolve("year=2024/part-0.parquet"));
        String why = sameAsInference(dir);
        assertNotNull(why);
        assertTrue(why.contains("column year is in the files and in the folder names"), why);
    }

    @Test
    void nullabilityAndMetadataAsSparkInfersThem() throws IOException {
        Path dir = newDir("required");
        Metadata comment = new MetadataBuilder().putString("comment", "token ids of the demo BPE").build();
        StructType schema = new StructType(new StructField[] {
                new StructField("id", DataTypes.StringType, false, Metadata.empty()),
                new StructField("tokens", new ArrayType(DataTypes.IntegerType, false), false, comment),
                new StructField("score", DataTypes.DoubleType, true, Metadata.empty())});
        List<Row> rows = new ArrayList<>();
        for (Row r : docs(15, 11, DataTypes.IntegerType, "q")) rows.add(RowFactory.create(r.get(0), r.get(1), r.getString(0).hashCode() % 2 == 0 ? null : 0.5));
        write(rows, schema, 2, dir);
        assertNull(sameAsInference(dir));
        StructType got = ParquetSchema.read(spark, dir.toString(), preflightFooter(dir)).rows().schema();
        assertTrue(got.apply("id").nullable() && ((ArrayType) got.apply("tokens").dataType()).containsNull(), "made nullable, as inference does");
        assertEquals("token ids of the demo BPE", got.apply("tokens").metadata().getString("comment"), "the column's metadata kept");
    }

    @Test
    void parquetWrittenWithoutSparkIsConvertedAsSparkDoes() throws IOException {
        // no Spark schema in the footer: the Parquet schema is converted; required columns, a legacy 2-level int32 list,
        // a 3-level int64 list, an int96 and an unannotated binary (session settings decide both)
        MessageType schema = MessageTypeParser.parseMessageType("message doc { required binary id (STRING); repeated int32 tokens;"
                + " optional group wide (LIST) { repeated group list { required int64 element; } } optional binary raw; optional int96 ts; }");
        Path dir = newDir("plain");
        Files.createDirectories(dir);
        SimpleGroupFactory g = new SimpleGroupFactory(schema);
        Random r = new Random(12);
        for (int f = 0; f < 2; f++) {
            List<Group> rows = new ArrayList<>();
            for (int i = 0; i < 7; i++) {
                Group row = g.newGroup().append("id", "d" + f + "-" + i);
                for (int k = 0; k < 1 + r.nextInt(9); k++) row.append("tokens", r.nextInt(317));
                Group list = row.addGroup("wide");
                for (int k = 0; k < 3; k++) list.addGroup("list").append("element", (long) r.nextInt(317));
                row.append("raw", "bytes " + i);
                row.append("ts", org.apache.parquet.io.api.Binary.fromConstantByteArray(new byte[12]));
                rows.add(row);
            }
            writeWithoutSpark(dir.resolve("part-" + f + ".parquet"), schema, rows);
        }
        assertNull(sameAsInference(dir));
        assertEquals(DataTypes.BinaryType, spark.read().parquet(dir.toString()).schema().apply("raw").dataType());
        spark.conf().set("spark.sql.parquet.binaryAsString", "true");
        try {
            assertNull(sameAsInference(dir), "the session's Parquet conversion settings are followed");
            assertEquals(DataTypes.StringType, spark.read().parquet(dir.toString()).schema().apply("raw").dataType());
        } finally {
            spark.conf().unset("spark.sql.parquet.binaryAsString");
        }
        // a schema Spark refuses to infer: the same refusal
        spark.conf().set("spark.sql.parquet.int96AsTimestamp", "false");
        try {
            ParquetSchema.Footer footer = preflightFooter(dir);
            Exception inferred = assertThrows(Exception.class, () -> spark.read().parquet(dir.toString()));
            Exception ours = assertThrows(Exception.class, () -> ParquetSchema.read(spark, dir.toString(), footer));
            assertTrue(inferred.getMessage().contains("INT96 is not supported"), inferred.getMessage());
            assertTrue(ours.getMessage().endsWith(inferred.getMessage().lines().findFirst().orElseThrow()), ours.getMessage());
        } finally {
            spark.conf().unset("spark.sql.parquet.int96AsTimestamp");
        }
    }

    @Test
    void columnsSparkRefusesAreRefusedTheSameWay() throws IOException {
        // "id" and "ID": duplicate names for Spark's default case-insensitive analysis
        MessageType schema = MessageTypeParser.parseMessageType("message doc { required binary id (STRING); required binary ID (STRING);"
                + " repeated int32 tokens; }");
        Path dir = newDir("dup");
        Files.createDirectories(dir);
        writeWithoutSpark(dir.resolve("part-0.parquet"), schema,
                List.of(new SimpleGroupFactory(schema).newGroup().append("id", "a").append("ID", "b").append("tokens", 5)));
        ParquetSchema.Footer footer = preflightFooter(dir);
        Exception inferred = assertThrows(Exception.class, () -> ssdspark.pipeline.Corpus.read(spark, dir.toString(), ssdspark.pipeline.DataFormat.PARQUET));
        Exception ours = assertThrows(Exception.class, () -> ParquetSchema.read(spark, dir.toString(), footer));
        assertTrue(inferred.getMessage().contains("COLUMN_ALREADY_EXISTS"), inferred.getMessage());
        assertEquals(inferred.getClass(), ours.getClass());
        assertEquals(inferred.getMessage(), ours.getMessage());
    }

    @Test
    void globsAndHiddenFilesAreLeftToSpark() throws IOException {
        Path dir = newDir("glob");
        write(docs(10, 13, DataTypes.IntegerType, "g"), corpusSchema(DataTypes.IntegerType), 2, dir);
        String why = sameAsInference(dir + "/*.parquet", preflightFooter(dir));
        assertNotNull(why);
        assertTrue(why.contains("glob"), why);

        // a single input file whose name Spark's listing skips: Spark finds no file (its error), so must we
        Path hidden = dir.resolve("_hidden.parquet");
        Files.copy(partFiles(dir).get(0), hidden);
        ParquetSchema.Footer footer = preflightFooter(hidden);
        IllegalArgumentException inferred = assertThrows(IllegalArgumentException.class,
                () -> ssdspark.pipeline.Corpus.read(spark, hidden.toString(), ssdspark.pipeline.DataFormat.PARQUET));
        IllegalArgumentException ours = assertThrows(IllegalArgumentException.class, () -> ParquetSchema.read(spark, hidden.toString(), footer));
        assertEquals(inferred.getMessage(), ours.getMessage());
    }

    // ---- the job: no schema job before the write, the same output

    /** Spark jobs started in this session, in order: their descriptions ("" when none). */
    private static final class Jobs extends SparkListener {
        final List<String> started = new ArrayList<>();

        @Override
        public synchronized void onJobStart(SparkListenerJobStart e) {
            String d = e.properties() == null ? null : e.properties().getProperty("spark.job.description");
            started.add(d == null ? "" : d);
        }

        /** Jobs started before the first one described as desc (the job's write). */
        synchronized long before(String desc) {
            int at = -1;
            for (int i = 0; i < started.size() && at < 0; i++) if (started.get(i).startsWith(desc)) at = i;
            assertTrue(at >= 0, "a job described '" + desc + "' ran: " + started);
            return at;
        }
    }

    private static Jobs run(Path input, Path out, boolean schemaJob, String... more) throws java.util.concurrent.TimeoutException {
        if (schemaJob) System.setProperty(ParquetSchema.INFER_PROPERTY, "true");
        Jobs jobs = new Jobs();
        spark.sparkContext().setJobDescription(null); // the start's thread inherits this thread's (an earlier run's) description
        spark.sparkContext().addSparkListener(jobs);
        try {
            List<String> args = new ArrayList<>(List.of("score", "--model", TinyModel.DIR.toString(), "--input", input.toString(),
                    "--output", out.toString(), "--output-format", "json", "--keep-cols", "lang", "--device", "cpu", "--progress", "0"));
            args.addAll(List.of(more));
            CliRun.ok(spark, args.toArray(String[]::new));
            spark.sparkContext().listenerBus().waitUntilEmpty();
        } finally {
            spark.sparkContext().removeSparkListener(jobs);
            System.clearProperty(ParquetSchema.INFER_PROPERTY);
        }
        return jobs;
    }

    @Test
    void theJobRunsNoSchemaJobAndWritesWhatItWroteWithIt() throws Exception {
        Path input = newDir("job-input");
        StructType schema = corpusSchema(DataTypes.LongType).add("lang", DataTypes.StringType);
        List<Row> rows = new ArrayList<>();
        int i = 0;
        for (Row r : docs(40, 14, DataTypes.LongType, "j")) rows.add(RowFactory.create(r.get(0), r.get(1), i++ % 2 == 0 ? "en" : "de"));
        spark.createDataFrame(rows, schema).repartition(2).write().partitionBy("lang").parquet(input.toString());
        Path withJob = newDir("job-out-inferred"), without = newDir("job-out-footer");

        Jobs inferred = run(input, withJob, true);
        assertEquals(1, inferred.before("ssdspark score " + input + " -> " + withJob),
                "with Spark's inference: its schema job, then the write: " + inferred.started);
        Jobs footer = run(input, without, false);
        assertEquals(0, footer.before("ssdspark score " + input + " -> " + without),
                "the footer's schema: the write is the job's first Spark job: " + footer.started);

        List<String> a = outputParts(withJob), b = outputParts(without);
        assertEquals(a.size(), b.size());
        assertFalse(a.isEmpty());
        for (int k = 0; k < a.size(); k++)
            assertEquals(Files.readString(withJob.resolve(a.get(k))), Files.readString(without.resolve(b.get(k))), a.get(k));
        List<Row> out = spark.read().json(without.toString()).collectAsList();
        assertEquals(40, out.size());
        assertTrue(out.stream().allMatch(r -> r.isNullAt(r.fieldIndex("error"))), "every document scored");
    }

    @Test
    void theTextJobOnParquetRunsNoSchemaJob() throws Exception {
        Path input = newDir("text-input"), out = newDir("text-out");
        StructType schema = new StructType().add("id", DataTypes.LongType).add("text", DataTypes.StringType).add("lang", DataTypes.StringType);
        List<Row> rows = new ArrayList<>();
        for (long i = 0; i < 12; i++) rows.add(RowFactory.create(i, "document " + i + " has a few words", i % 2 == 0 ? "en" : "de"));
        spark.createDataFrame(rows, schema).repartition(2).write().parquet(input.toString());
        Jobs jobs = run(input, out, false, "--tokenizer", TinyModel.TOKENIZER.toString());
        assertEquals(0, jobs.before("ssdspark score " + input + " -> " + out), "no schema job before the write: " + jobs.started);
        List<Row> got = spark.read().json(out.toString()).collectAsList();
        assertEquals(12, got.size());
        assertTrue(got.stream().allMatch(r -> r.isNullAt(r.fieldIndex("error")) && r.getString(r.fieldIndex("lang")) != null), got.toString());
    }

    private static List<String> outputParts(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("part-")).sorted().toList();
        }
    }

    /** A Parquet file written by parquet-mr's example writer: no Spark schema in its footer. */
    private static void writeWithoutSpark(Path file, MessageType schema, List<Group> rows) throws IOException {
        try (ParquetWriter<Group> w = ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(file.toUri()))
                .withConf(new Configuration()).withType(schema).build()) {
            for (Group row : rows) w.write(row);
        }
    }
}
