package ssdspark.udf;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import ssdspark.model.DocumentRunner;
import ssdspark.model.DocumentRunner.EmbedResult;
import ssdspark.model.DocumentRunner.ScoreResult;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * A job's output columns and each row's values, defined together: id, the task's result columns, error, then
 * the carried input columns (--partition-by, --keep-cols) unchanged.
 * Score: num_tokens, num_scored, sum_logprob, mean_nll, perplexity (both null when nothing is scored),
 * [num_bytes, bits_per_byte (text input)], [token_logprobs], [spans]; embed: num_tokens, embedding. A document with an error has its id, the message and its
 * carried values, and nulls in the result columns.
 */
public final class OutputRows {
    /** A result column: its name, type and value for one document and its result. */
    private record Column(String name, DataType type, BiFunction<Doc, Object, Object> value) {}

    /** One element of the spans column: [start, end) in code points of the text (tokens for token windows). */
    public static final StructType SPAN = DataTypes.createStructType(new StructField[] {
            DataTypes.createStructField("start", DataTypes.IntegerType, false),
            DataTypes.createStructField("end", DataTypes.IntegerType, false),
            DataTypes.createStructField("num_tokens", DataTypes.IntegerType, false),
            DataTypes.createStructField("num_scored", DataTypes.IntegerType, false),
            DataTypes.createStructField("sum_logprob", DataTypes.DoubleType, false),
            DataTypes.createStructField("mean_nll", DataTypes.DoubleType, true)});

    private final List<Column> columns;

    private OutputRows(List<Column> columns) { this.columns = columns; }

    public static OutputRows of(JobSpec spec) {
        List<Column> c = new ArrayList<>();
        DataType floats = DataTypes.createArrayType(DataTypes.FloatType, false);
        if (spec.task() == JobSpec.Task.SCORE) {
            c.add(column("num_tokens", DataTypes.IntegerType, ScoreResult::numTokens));
            c.add(column("num_scored", DataTypes.IntegerType, ScoreResult::numScored));
            c.add(column("sum_logprob", DataTypes.DoubleType, ScoreResult::sumLogprob));
            c.add(column("mean_nll", DataTypes.DoubleType, (ScoreResult r) -> r.numScored() == 0 ? null : r.meanNll()));
            c.add(column("perplexity", DataTypes.DoubleType, (ScoreResult r) -> r.numScored() == 0 ? null : r.perplexity()));
            if (spec.textInput()) {
                c.add(docColumn("num_bytes", DataTypes.LongType, (Doc d, ScoreResult r) -> d.numBytes() < 0 ? null : d.numBytes()));
                c.add(docColumn("bits_per_byte", DataTypes.DoubleType, (Doc d, ScoreResult r) -> bitsPerByte(r.sumLogprob(), r.numScored(), d.numBytes())));
            }
            if (spec.perToken()) c.add(column("token_logprobs", floats, ScoreResult::tokenLogprobs));
            SpanMode spans = spec.spans();
            if (spans != null)
                c.add(docColumn("spans", DataTypes.createArrayType(SPAN, false), (Doc d, ScoreResult r) -> spanRows(spans.spansOf(d), r.spans())));
        } else {
            boolean last = spec.pooling() == JobSpec.Pooling.LAST;
            c.add(column("num_tokens", DataTypes.IntegerType, EmbedResult::numTokens));
            c.add(column("embedding", floats, (EmbedResult r) -> last ? r.last() : r.mean()));
        }
        return new OutputRows(List.copyOf(c));
    }

    @SuppressWarnings("unchecked")
    private static <R> Column column(String name, DataType type, Function<R, Object> value) {
        return new Column(name, type, (d, r) -> value.apply((R) r));
    }

    @SuppressWarnings("unchecked")
    private static <R> Column docColumn(String name, DataType type, BiFunction<Doc, R, Object> value) {
        return new Column(name, type, (d, r) -> value.apply(d, (R) r));
    }

    /** −sum_logprob / ln 2 / num_bytes; null when nothing was scored or the scored text has no bytes. */
    static Double bitsPerByte(double sumLogprob, int numScored, long numBytes) {
        return numScored == 0 || numBytes <= 0 ? null : -sumLogprob / Math.log(2) / numBytes;
    }

    /** The spans column's value: one struct (start, end, num_tokens, num_scored, sum_logprob, mean_nll) per span. */
    private static Row[] spanRows(DocSpans ds, DocumentRunner.SpanScores s) {
        Row[] out = new Row[ds.size()]; // an array: Spark's row encoder takes arrays or Scala sequences, not Java lists
        for (int k = 0; k < ds.size(); k++)
            out[k] = RowFactory.create(ds.start(k), ds.ends()[k], s.numTokens(k), s.numScored()[k], s.sumLogprob()[k],
                    s.numScored()[k] == 0 ? null : s.meanNll(k));
        return out;
    }

    /** The document id and error columns, which every output has. */
    public static final String ID = "id", ERROR = "error";

    /** The output schema for ids of type idType and the carried input columns. */
    public StructType schema(DataType idType, List<StructField> carried) {
        List<StructField> f = new ArrayList<>();
        f.add(DataTypes.createStructField(ID, idType, true));
        for (Column c : columns) f.add(DataTypes.createStructField(c.name(), c.type(), true));
        f.add(DataTypes.createStructField(ERROR, DataTypes.StringType, true));
        for (StructField c : carried) {
            if (f.stream().anyMatch(x -> x.name().equals(c.name())))
                throw new IllegalArgumentException("input column '" + c.name() + "' cannot be kept: the output already has a column of that name");
            f.add(DataTypes.createStructField(c.name(), c.dataType(), true, c.metadata()));
        }
        return DataTypes.createStructType(f);
    }

    /** The row of a document the model ran: result is its {@link ScoreResult} or {@link EmbedResult}. */
    public Row row(Doc d, Object result) {
        Object[] v = values(d);
        for (int i = 0; i < columns.size(); i++) v[1 + i] = columns.get(i).value().apply(d, result);
        return RowFactory.create(v);
    }

    /** The row of a document that could not be run: id, nulls, the message, the carried values. */
    public Row errorRow(Doc d, String message) {
        Object[] v = values(d);
        v[1 + columns.size()] = message;
        return RowFactory.create(v);
    }

    /** id, room for the results and error, then the carried values. */
    private Object[] values(Doc d) {
        Object[] carried = d.carried() == null ? new Object[0] : d.carried();
        Object[] v = new Object[columns.size() + 2 + carried.length];
        v[0] = d.id();
        System.arraycopy(carried, 0, v, columns.size() + 2, carried.length);
        return v;
    }
}
