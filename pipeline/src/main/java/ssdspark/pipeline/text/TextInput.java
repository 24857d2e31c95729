package ssdspark.pipeline.text;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import ssdspark.pipeline.Corpus;
import ssdspark.pipeline.DataFormat;
import ssdspark.pipeline.InputSplits;
import ssdspark.udf.JobCounters;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Reads a text corpus as rows of (id, text), the input of {@link StreamingTokenizer}. Each partition
 * keeps its input order. Plain text: see {@link TextFiles}; ids are strings. JSON lines and Parquet:
 * the id column keeps its type, the text column must be a string.
 */
public final class TextInput {
    private TextInput() {}

    /** Columns of plain-text input (id = path or path:line). */
    public static final StructType TEXT_SCHEMA = DataTypes.createStructType(new StructField[] {
            DataTypes.createStructField("id", DataTypes.StringType, false),
            DataTypes.createStructField("text", DataTypes.StringType, false)});

    public static Dataset<Row> read(SparkSession spark, TextInputOptions o) { return read(spark, o, List.of(), null); }

    /**
     * Rows of (id, text, carried...). carried names input columns passed through to the output (JSON and Parquet
     * only: plain text has no other columns). counters, when given, counts the bytes the plain-text reader reads
     * (Spark's own input metrics count the others).
     */
    public static Dataset<Row> read(SparkSession spark, TextInputOptions o, List<String> carried, JobCounters counters) {
        if (o.format() == TextInputOptions.Format.TEXT) {
            if (!carried.isEmpty())
                throw new IllegalArgumentException("plain-text input has no columns besides id and text, so " + carried
                        + " cannot be kept or partitioned by; use JSON lines or Parquet input for --partition-by/--keep-cols");
            return readText(spark, o, counters);
        }
        DataFormat f = o.format() == TextInputOptions.Format.JSON ? DataFormat.JSON : DataFormat.PARQUET;
        return select(Corpus.read(spark, o.path(), f), o.idCol(), o.textCol(), carried);
    }

    /** (id, text) from a table, renamed; a message naming the flag to change when a column does not fit. */
    public static Dataset<Row> select(Dataset<Row> in, String idCol, String textCol) { return select(in, idCol, textCol, List.of()); }

    /** (id, text, carried...) from a table; id and text renamed, carried columns under their own names. */
    public static Dataset<Row> select(Dataset<Row> in, String idCol, String textCol, List<String> carried) {
        StructType schema = in.schema();
        Corpus.checkParsedAsJson(schema);
        String have = Arrays.stream(schema.fields()).map(f -> f.name() + " " + f.dataType().simpleString())
                .collect(Collectors.joining(", "));
        StructField id = Corpus.field(schema, idCol);
        if (id == null)
            throw new IllegalArgumentException("input has no column '" + idCol + "' for the document id; pass --id-col NAME (columns: " + have + ")");
        StructField text = Corpus.field(schema, textCol);
        if (text == null)
            throw new IllegalArgumentException("input has no column '" + textCol + "' for the document text; pass --text-col NAME (columns: " + have + ")");
        if (idCol.equals(textCol))
            throw new IllegalArgumentException("--id-col and --text-col both name '" + idCol + "'");
        if (!text.dataType().equals(DataTypes.StringType))
            throw new IllegalArgumentException("column '" + textCol + "' is " + text.dataType().simpleString()
                    + ", not a string of text; pass --text-col NAME (columns: " + have + ")");
        Corpus.checkCarried(schema, carried, idCol, textCol, "--text-col");
        List<Column> cols = new ArrayList<>(List.of(Corpus.col(idCol).as("id"), Corpus.col(textCol).as("text")));
        for (String c : carried) {
            if (c.equals("id") || c.equals("text"))
                throw new IllegalArgumentException("input column '" + c + "' cannot be kept: the document's id and text take those names");
            cols.add(Corpus.col(c));
        }
        return in.select(cols.toArray(new Column[0]));
    }

    private static Dataset<Row> readText(SparkSession spark, TextInputOptions o, JobCounters counters) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        List<List<TextFiles.Entry>> groups = groups(spark, o);
        // one group per slice: parallelize cuts a list of n into n slices of one
        JavaRDD<Row> rows = JavaSparkContext.fromSparkContext(spark.sparkContext())
                .parallelize(groups, groups.size())
                .mapPartitions(new TextFiles.ReadGroup(conf, o.unit(), o.skipBlankLines(), counters, o.strictUtf8()));
        return spark.createDataFrame(rows, TEXT_SCHEMA);
    }

    /** The files of each partition {@link #read} makes of plain-text input (a file is never split), as input parts. */
    public static List<List<InputSplits.Split>> parts(SparkSession spark, TextInputOptions o) {
        List<List<InputSplits.Split>> parts = new ArrayList<>();
        for (List<TextFiles.Entry> g : groups(spark, o))
            parts.add(g.stream().map(e -> new InputSplits.Split(e.path, 0, e.length, e.length, e.mtime)).toList());
        return parts;
    }

    private static List<List<TextFiles.Entry>> groups(SparkSession spark, TextInputOptions o) {
        InputSplits.Settings s = InputSplits.Settings.of(spark);
        return TextFiles.group(TextFiles.list(o.path(), spark.sparkContext().hadoopConfiguration()), s.maxPartitionBytes(),
                s.openCostInBytes(), s.minPartitionNum());
    }
}
