package ssdspark.pipeline;

import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.DataFrameReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.MetadataBuilder;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/** Reads a pre-tokenized corpus and narrows it to the (id, tokens) pair the partition function takes. */
public final class Corpus {
    private Corpus() {}

    /** The table at path; Spark's "path does not exist" and similar become a message naming the path. */
    public static Dataset<Row> read(SparkSession spark, String path, DataFormat format) {
        return read(spark, path, format, null);
    }

    /** The table at path read with schema as its files' schema (null: Spark infers it); errors as {@link #read(SparkSession, String, DataFormat)}. */
    public static Dataset<Row> read(SparkSession spark, String path, DataFormat format, StructType schema) {
        try {
            DataFrameReader r = spark.read().format(format.sparkName());
            return (schema == null ? r : r.schema(schema)).load(path);
        } catch (Exception e) {
            if (e instanceof AnalysisException || e.getClass().getName().contains("AnalysisException"))
                throw new IllegalArgumentException("cannot read " + format.sparkName() + " input " + path + ": " + firstLine(e.getMessage()), e);
            throw e;
        }
    }

    /** Where Spark's JSON reader puts a line it cannot parse (PERMISSIVE mode adds it when it meets one). */
    static final String CORRUPT = "_corrupt_record";

    /**
     * Pre-tokenized JSON lines, so that one bad row does not decide the column's type for all: when the tokens
     * column is not an integer array (a row has 2.5, "x" or a non-array; or a line is not JSON at all), the
     * file is read again with that column as text, which {@link ssdspark.udf.TokenRows} parses row by row
     * (an error row naming the position); a malformed line becomes the text of its own error, naming the file.
     */
    public static Dataset<Row> readJsonTokens(SparkSession spark, String path, String tokensCol) {
        Dataset<Row> in = read(spark, path, DataFormat.JSON);
        StructType schema = in.schema();
        StructField tokens = field(schema, tokensCol);
        boolean corrupt = field(schema, CORRUPT) != null;
        if (tokens == null || (isIntegerArray(tokens.dataType()) && !corrupt)) return in;
        StructType asText = new StructType(Arrays.stream(schema.fields())
                .map(f -> f.name().equals(tokensCol) ? new StructField(f.name(), DataTypes.StringType, true, JSON_TOKENS) : f)
                .toArray(StructField[]::new));
        Dataset<Row> again = spark.read().schema(asText).option("columnNameOfCorruptRecord", CORRUPT).json(path);
        if (!corrupt) return again.withMetadata(tokensCol, JSON_TOKENS);
        Column message = functions.concat(functions.lit(ssdspark.udf.TokenRows.ROW_ERROR + "malformed JSON line in "),
                functions.input_file_name(), functions.lit(": "), functions.substring(col(CORRUPT), 1, 80));
        return again.withColumn(tokensCol, functions.when(col(CORRUPT).isNotNull(), message).otherwise(col(tokensCol)))
                .withMetadata(tokensCol, JSON_TOKENS).drop(CORRUPT);
    }

    /**
     * Column (id, tokens) of the input, named as given, after checking that both exist and that tokens
     * is an array of integers. The id keeps its type and name; the pipeline renames it to "id".
     */
    public static Dataset<Row> select(Dataset<Row> input, String idCol, String tokensCol) {
        return select(input, idCol, tokensCol, List.of());
    }

    /** (id, tokens, carried...): as {@link #select(Dataset, String, String)}, plus input columns passed through to the output. */
    public static Dataset<Row> select(Dataset<Row> input, String idCol, String tokensCol, List<String> carried) {
        StructType schema = input.schema();
        validate(schema, idCol, tokensCol);
        checkCarried(schema, carried, idCol, tokensCol, "--tokens-col");
        List<Column> cols = new ArrayList<>(List.of(col(idCol), col(tokensCol)));
        for (String c : carried) cols.add(col(c));
        return input.select(cols.toArray(new Column[0]));
    }

    /**
     * Throws IllegalArgumentException naming the flag when a carried column (--partition-by, --keep-cols) is
     * missing from the input, repeated, or one of the document's own columns.
     */
    public static void checkCarried(StructType schema, List<String> carried, String idCol, String docCol, String docFlag) {
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (String c : carried) {
            if (field(schema, c) == null)
                throw new IllegalArgumentException("input has no column '" + c + "' to keep or partition by; check --partition-by and --keep-cols (columns: "
                        + Arrays.stream(schema.fields()).map(f -> f.name() + " " + f.dataType().simpleString()).collect(Collectors.joining(", ")) + ")");
            if (c.equals(idCol) || c.equals(docCol))
                throw new IllegalArgumentException("column '" + c + "' is the document's " + (c.equals(idCol) ? "--id-col" : docFlag)
                        + "; --partition-by and --keep-cols take other input columns");
            if (!seen.add(c)) throw new IllegalArgumentException("column '" + c + "' is named twice in --partition-by/--keep-cols");
        }
    }

    /**
     * Throws IllegalArgumentException when Spark's JSON reader found no JSON object at all (the schema is only
     * {@code _corrupt_record}): a column message would name a column the user never wrote.
     */
    public static void checkParsedAsJson(StructType schema) {
        if (schema.fields().length == 1 && schema.fields()[0].name().equals("_corrupt_record"))
            throw new IllegalArgumentException("the input is not JSON lines: no line parses as a JSON object (JSON lines input has one"
                    + " object per line, such as {\"id\": 1, \"text\": \"...\"}); for plain text pass --format text, for Parquet --format parquet");
    }

    /** Throws IllegalArgumentException saying which flag to change when the schema does not fit. */
    public static void validate(StructType schema, String idCol, String tokensCol) {
        checkParsedAsJson(schema);
        String have = Arrays.stream(schema.fields()).map(f -> f.name() + " " + f.dataType().simpleString())
                .collect(Collectors.joining(", "));
        StructField id = field(schema, idCol);
        if (id == null)
            throw new IllegalArgumentException("input has no column '" + idCol + "' for the document id; pass --id-col NAME (columns: " + have + ")");
        StructField tokens = field(schema, tokensCol);
        if (tokens == null)
            throw new IllegalArgumentException("input has no column '" + tokensCol + "' for the token ids; pass --tokens-col NAME (columns: " + have + ")");
        if (idCol.equals(tokensCol))
            throw new IllegalArgumentException("--id-col and --tokens-col both name '" + idCol + "'");
        if (!isTokens(tokens))
            throw new IllegalArgumentException("column '" + tokensCol + "' is " + tokens.dataType().simpleString()
                    + " but must be an array of integer token ids (array<int> or array<bigint>); tokenize the corpus first or pass --tokens-col NAME");
    }

    /** Marks the tokens column {@link #readJsonTokens} keeps as JSON text: only that text column is taken as tokens. */
    private static final Metadata JSON_TOKENS = new MetadataBuilder().putBoolean("ssdspark.json_tokens", true).build();

    /** An integer array, or the JSON text column of {@link #readJsonTokens}. */
    static boolean isTokens(StructField f) {
        return isIntegerArray(f.dataType()) || (f.dataType().equals(DataTypes.StringType) && f.metadata().contains("ssdspark.json_tokens"));
    }

    /** array of int, bigint, smallint or tinyint: what token columns may be. */
    public static boolean isIntegerArray(DataType t) {
        if (!(t instanceof ArrayType)) return false;
        DataType e = ((ArrayType) t).elementType();
        return e.equals(DataTypes.IntegerType) || e.equals(DataTypes.LongType)
                || e.equals(DataTypes.ShortType) || e.equals(DataTypes.ByteType);
    }

    /** The top-level field called exactly {@code name}, or null. */
    public static StructField field(StructType schema, String name) {
        for (StructField f : schema.fields()) if (f.name().equals(name)) return f;
        return null;
    }

    /** The top-level column called {@code name}: backquoted so names with dots or spaces are taken literally, not as struct paths. */
    public static Column col(String name) {
        return functions.col("`" + name.replace("`", "``") + "`");
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
