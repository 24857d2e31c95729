package ssdspark.rapids;

import ai.rapids.cudf.ColumnVector;
import ai.rapids.cudf.DType;
import ai.rapids.cudf.HostColumnVector;
import ai.rapids.cudf.HostColumnVector.BasicType;
import ai.rapids.cudf.HostColumnVector.DataType;
import ai.rapids.cudf.HostColumnVector.ListType;
import ai.rapids.cudf.HostColumnVector.StructData;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import ssdspark.pipeline.sql.SqlDocuments;
import ssdspark.udf.Doc;
import ssdspark.udf.JobSpec;

import java.util.ArrayList;
import java.util.List;

/**
 * The columnar (RAPIDS) evaluation of mamba2_score / mamba2_embed over one batch of a LIST&lt;INT&gt; column.
 *
 * <p>The column is copied to the host (4 bytes a token) and runs through {@link SqlDocuments#run}, the jobs' batched
 * code, on the executor's engine; the result is built on the host as the job's rows and copied to the device as
 * one cuDF column of numRows rows: NULL for a NULL input row; for a row the model cannot take, score gives a struct
 * with only error set and embed gives NULL, as the row-at-a-time path. (An engine entry point that reads the
 * column's device buffers in place would save the two copies; the GPU engine has none yet.)
 */
public final class ColumnarDocuments {
    private ColumnarDocuments() {}

    /** The result column of spec over args (exactly one LIST&lt;integer&gt; column of numRows rows). */
    public static ColumnVector evaluate(JobSpec spec, int numRows, ColumnVector... args) {
        if (args.length != 1)
            throw new IllegalArgumentException("mamba2_" + spec.task().cliName() + " takes one argument (an array of token ids), got " + args.length);
        ColumnVector in = args[0];
        if (in.getType() != DType.LIST)
            throw new IllegalArgumentException("mamba2_" + spec.task().cliName() + " takes an array of token ids, got a column of " + in.getType());
        if (in.getRowCount() != numRows)
            throw new IllegalStateException("the argument has " + in.getRowCount() + " rows but the batch has " + numRows);
        List<Row> rows = rowsOf(spec, in, numRows);
        try (HostColumnVector host = hostColumn(spec, rows)) {
            return host.copyToDevice();
        }
    }

    private static List<Row> rowsOf(JobSpec spec, ColumnVector in, int numRows) {
        try (HostColumnVector host = in.copyToHost()) {
            return SqlDocuments.run(spec, docs(host));
        }
    }

    /** The documents of a host LIST column: null for a NULL row, else the row's ids checked as the row path checks them. */
    public static List<Doc> docs(HostColumnVector tokens) {
        int n = Math.toIntExact(tokens.getRowCount());
        List<Doc> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(tokens.isNull(i) ? null : SqlDocuments.tokenDoc(tokens.getList(i)));
        return out;
    }

    /**
     * The result column on the host: score, the struct of {@link SqlDocuments#scoreType} (NULL where the job row is
     * null); embed, LIST&lt;FLOAT32&gt; (NULL where the row is null or has an error).
     */
    public static HostColumnVector hostColumn(JobSpec spec, List<Row> jobRows) {
        if (spec.task() == JobSpec.Task.EMBED) {
            @SuppressWarnings("unchecked")
            List<Float>[] lists = new List[jobRows.size()];
            for (int i = 0; i < lists.length; i++) {
                float[] v = SqlDocuments.embedding(jobRows.get(i));
                lists[i] = v == null ? null : boxed(v);
            }
            return HostColumnVector.fromLists(new ListType(true, new BasicType(false, DType.FLOAT32)), lists);
        }
        StructType sparkType = SqlDocuments.scoreType(spec);
        List<DataType> children = new ArrayList<>();
        for (StructField f : sparkType.fields()) children.add(cudfType(f.dataType()));
        List<StructData> values = new ArrayList<>(jobRows.size());
        for (Row r : jobRows) {
            Row s = SqlDocuments.scoreStruct(spec, r);
            if (s == null) { values.add(null); continue; }
            Object[] v = new Object[s.length()];
            for (int k = 0; k < v.length; k++) v[k] = s.get(k) instanceof float[] f ? boxed(f) : s.get(k);
            values.add(new StructData(v));
        }
        return HostColumnVector.fromStructs(new HostColumnVector.StructType(true, children), values);
    }

    private static DataType cudfType(org.apache.spark.sql.types.DataType t) {
        if (t instanceof org.apache.spark.sql.types.IntegerType) return new BasicType(true, DType.INT32);
        if (t instanceof org.apache.spark.sql.types.DoubleType) return new BasicType(true, DType.FLOAT64);
        if (t instanceof org.apache.spark.sql.types.StringType) return new BasicType(true, DType.STRING);
        if (t instanceof org.apache.spark.sql.types.ArrayType a && a.elementType() instanceof org.apache.spark.sql.types.FloatType)
            return new ListType(true, new BasicType(false, DType.FLOAT32));
        throw new IllegalStateException("no cuDF type for " + t.simpleString());
    }

    private static List<Float> boxed(float[] v) {
        List<Float> l = new ArrayList<>(v.length);
        for (float x : v) l.add(x);
        return l;
    }
}
