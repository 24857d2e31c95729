package ssdspark.pipeline.text;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.*;

class TextInputTest {
    static SparkSession spark;

    @BeforeAll
    static void start() { spark = TestSpark.session(); }

    /** The id of a local file given by a path without a scheme: its absolute path, not Hadoop's file:/abs/path. */
    static String idOf(Path p) { return p.toAbsolutePath().toString(); }

    static List<List<Object>> rows(Dataset<Row> ds) {
        return ds.collectAsList().stream().map(r -> List.of(r.get(0), r.get(1))).collect(Collectors.toList());
    }

    static Path corpus(Path dir) throws Exception {
        Files.createDirectories(dir.resolve("b"));
        Files.writeString(dir.resolve("a.txt"), "alpha one\nalpha two\n");
        Files.writeString(dir.resolve("b/c.txt"), "\uFEFFcharlie\r\n\r\n  \r\nlast line without newline");
        Files.writeString(dir.resolve("empty.txt"), "");
        Files.writeString(dir.resolve("_SUCCESS"), "");
        Files.writeString(dir.resolve(".hidden"), "junk");
        Files.createDirectories(dir.resolve("_temporary"));
        Files.writeString(dir.resolve("_temporary/part"), "not input");
        return dir;
    }

    @Test
    void idsArePathsAsGiven(@TempDir Path tmp) throws Exception {
        Path d = corpus(tmp.resolve("corpus"));
        String plain = TextInput.read(spark, TextInputOptions.of(TextInputOptions.Format.TEXT, d.toString())).first().getString(0);
        assertEquals(d.resolve("a.txt").toAbsolutePath().toString(), plain, "a path without a scheme gives paths");
        String uri = TextInput.read(spark, TextInputOptions.of(TextInputOptions.Format.TEXT, "file:" + d)).first().getString(0);
        assertEquals("file:" + d.resolve("a.txt").toAbsolutePath(), uri, "a file: URI gives URIs");
    }

    @Test
    void aDocumentPerFile(@TempDir Path tmp) throws Exception {
        Path d = corpus(tmp.resolve("corpus"));
        Dataset<Row> ds = TextInput.read(spark, TextInputOptions.of(TextInputOptions.Format.TEXT, d.toString()));
        assertEquals(TextInput.TEXT_SCHEMA, ds.schema());
        assertEquals(List.of(
                List.of(idOf(d.resolve("a.txt")), "alpha one\nalpha two\n"),
                List.of(idOf(d.resolve("b/c.txt")), "charlie\r\n\r\n  \r\nlast line without newline"), // BOM dropped
                List.of(idOf(d.resolve("empty.txt")), "")), // an empty file is one empty document
                rows(ds));
    }

    @Test
    void aDocumentPerLine(@TempDir Path tmp) throws Exception {
        Path d = corpus(tmp.resolve("corpus"));
        TextInputOptions o = TextInputOptions.of(TextInputOptions.Format.TEXT, d.toString()).withUnit(TextInputOptions.Unit.LINE);
        String a = idOf(d.resolve("a.txt")), c = idOf(d.resolve("b/c.txt"));
        assertEquals(List.of(
                List.of(a + ":1", "alpha one"), List.of(a + ":2", "alpha two"),
                List.of(c + ":1", "charlie"), List.of(c + ":2", ""), List.of(c + ":3", "  "),
                List.of(c + ":4", "last line without newline")), // empty.txt: no lines, no documents
                rows(TextInput.read(spark, o)));
        assertEquals(List.of(
                List.of(a + ":1", "alpha one"), List.of(a + ":2", "alpha two"),
                List.of(c + ":1", "charlie"), List.of(c + ":4", "last line without newline")),
                rows(TextInput.read(spark, o.withSkipBlankLines(true))));
    }

    @Test
    void readsCompressedFilesAndGlobs(@TempDir Path tmp) throws Exception {
        Path gz = tmp.resolve("part-1.txt.gz");
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(gz))) {
            out.write("zipped one\nzipped two\n".getBytes(StandardCharsets.UTF_8));
        }
        Files.writeString(tmp.resolve("part-2.txt"), "plain");
        Files.writeString(tmp.resolve("other.md"), "not matched");
        TextInputOptions o = TextInputOptions.of(TextInputOptions.Format.TEXT, tmp + "/part-*").withUnit(TextInputOptions.Unit.LINE);
        assertEquals(List.of(
                List.of(idOf(gz) + ":1", "zipped one"), List.of(idOf(gz) + ":2", "zipped two"),
                List.of(idOf(tmp.resolve("part-2.txt")) + ":1", "plain")),
                rows(TextInput.read(spark, o)));
    }

    @Test
    void keepsOrderAcrossManyPartitions(@TempDir Path tmp) throws Exception {
        List<List<Object>> want = new ArrayList<>();
        for (int f = 0; f < 30; f++) {
            StringBuilder sb = new StringBuilder();
            Path p = tmp.resolve(String.format("f%02d.txt", f));
            for (int l = 1; l <= 20; l++) {
                sb.append("file ").append(f).append(" line ").append(l).append('\n');
                want.add(List.of(idOf(p) + ":" + l, "file " + f + " line " + l));
            }
            Files.writeString(p, sb);
        }
        spark.conf().set("spark.sql.files.maxPartitionBytes", "1k");
        spark.conf().set("spark.sql.files.openCostInBytes", "16");
        try {
            Dataset<Row> ds = TextInput.read(spark, TextInputOptions.of(TextInputOptions.Format.TEXT, tmp.toString()).withUnit(TextInputOptions.Unit.LINE));
            assertTrue(ds.rdd().getNumPartitions() >= 4, "files spread over several partitions: " + ds.rdd().getNumPartitions());
            assertEquals(want, rows(ds));
            // and each partition holds whole files
            List<List<String>> parts = ds.javaRDD().glom().collect().stream()
                    .map(p -> p.stream().map(r -> r.getString(0).replaceAll(":\\d+$", "")).distinct().collect(Collectors.toList()))
                    .collect(Collectors.toList());
            long distinctFiles = parts.stream().mapToLong(List::size).sum();
            assertEquals(30, distinctFiles, "no file is split over two partitions");
        } finally {
            spark.conf().unset("spark.sql.files.maxPartitionBytes");
            spark.conf().unset("spark.sql.files.openCostInBytes");
        }
    }

    @Test
    void groupsFilesInContiguousRuns() {
        List<TextFiles.Entry> files = new ArrayList<>();
        for (long len : new long[] {10, 10, 10, 50, 5, 5, 5, 100, 1}) files.add(new TextFiles.Entry("f" + files.size(), len));
        // openCost 2, maxBytes 30: runs of cost ≤ 30, a bigger file alone
        List<List<String>> g = TextFiles.group(files, 30, 2, 1).stream()
                .map(r -> r.stream().map(e -> e.path).collect(Collectors.toList())).collect(Collectors.toList());
        assertEquals(List.of(List.of("f0", "f1"), List.of("f2"), List.of("f3"), List.of("f4", "f5", "f6"), List.of("f7"), List.of("f8")), g);
        // costs 12 12 12 52 7 7 7 102 3 = 214 over 2 wanted partitions: runs of at most 107
        g = TextFiles.group(files, 1000, 2, 2).stream()
                .map(r -> r.stream().map(e -> e.path).collect(Collectors.toList())).collect(Collectors.toList());
        assertEquals(List.of(List.of("f0", "f1", "f2", "f3", "f4", "f5"), List.of("f6"), List.of("f7", "f8")), g);
    }

    @Test
    void jsonLinesWithChosenColumns(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("docs.jsonl");
        Files.writeString(f, "{\"doc_id\": 7, \"body\": \"seven\", \"lang\": \"en\"}\n"
                + "{\"doc_id\": 3, \"body\": \"three\"}\n"
                + "{\"doc_id\": 9}\n");
        TextInputOptions o = TextInputOptions.of(TextInputOptions.Format.JSON, f.toString()).withIdCol("doc_id").withTextCol("body");
        Dataset<Row> ds = TextInput.read(spark, o);
        assertEquals(List.of("id", "text"), List.of(ds.schema().fieldNames()));
        assertEquals(DataTypes.LongType, ds.schema().fields()[0].dataType());
        List<Row> got = ds.collectAsList();
        assertEquals(List.of(7L, 3L, 9L), got.stream().map(r -> r.get(0)).collect(Collectors.toList()));
        assertEquals("seven", got.get(0).getString(1));
        assertTrue(got.get(2).isNullAt(1), "a missing field is a null text (reported later as missing text)");

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TextInput.read(spark, o.withTextCol("content")));
        assertTrue(e.getMessage().contains("--text-col") && e.getMessage().contains("body string")
                && e.getMessage().contains("doc_id bigint") && e.getMessage().contains("lang string"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TextInput.read(spark, o.withIdCol("id")));
        assertTrue(e.getMessage().contains("--id-col"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TextInput.read(spark, o.withTextCol("doc_id").withIdCol("body")));
        assertTrue(e.getMessage().contains("not a string"), e.getMessage());
    }

    @Test
    void parquetWithDefaultColumns(@TempDir Path tmp) {
        StructType schema = DataTypes.createStructType(List.of(
                DataTypes.createStructField("text", DataTypes.StringType, true),
                DataTypes.createStructField("id", DataTypes.StringType, true),
                DataTypes.createStructField("n", DataTypes.IntegerType, true)));
        List<Row> in = new ArrayList<>();
        for (int i = 0; i < 50; i++) in.add(RowFactory.create("text " + i, "doc-" + i, i));
        String out = tmp.resolve("t.parquet").toString();
        spark.createDataFrame(in, schema).coalesce(1).write().parquet(out);
        Dataset<Row> ds = TextInput.read(spark, TextInputOptions.of(TextInputOptions.Format.PARQUET, out));
        List<Row> got = ds.collectAsList();
        assertEquals(50, got.size());
        for (int i = 0; i < 50; i++) {
            assertEquals("doc-" + i, got.get(i).getString(0));
            assertEquals("text " + i, got.get(i).getString(1));
        }
    }

    @Test
    void missingInputSaysSo(@TempDir Path tmp) throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TextInput.read(spark, TextInputOptions.of(TextInputOptions.Format.TEXT, tmp.resolve("nope").toString())));
        assertTrue(e.getMessage().contains("does not exist") && e.getMessage().contains("nope"), e.getMessage());
        Files.writeString(tmp.resolve("_SUCCESS"), "");
        e = assertThrows(IllegalArgumentException.class,
                () -> TextInput.read(spark, TextInputOptions.of(TextInputOptions.Format.TEXT, tmp.toString())));
        assertTrue(e.getMessage().contains("no input files"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TextInput.read(spark, TextInputOptions.of(TextInputOptions.Format.PARQUET, tmp.resolve("nope.parquet").toString())));
        assertTrue(e.getMessage().contains("cannot read parquet input"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TextInputOptions.Format.parse("csv"));
        assertEquals(TextInputOptions.Unit.LINE, TextInputOptions.Unit.parse(" Line "));
    }
}
