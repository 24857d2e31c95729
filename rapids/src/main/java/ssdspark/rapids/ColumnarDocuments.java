package ssdspark.rapids;

import ai.rapids.cudf.BaseDeviceMemoryBuffer;
import ai.rapids.cudf.ColumnVector;
import ai.rapids.cudf.ColumnView;
import ai.rapids.cudf.Cuda;
import ai.rapids.cudf.DType;
import ai.rapids.cudf.DeviceMemoryBuffer;
import ai.rapids.cudf.HostColumnVector;
import ai.rapids.cudf.HostColumnVector.BasicType;
import ai.rapids.cudf.HostColumnVector.DataType;
import ai.rapids.cudf.HostColumnVector.ListType;
import ai.rapids.cudf.HostColumnVector.StructData;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import ssdspark.model.DevicePackedEngine;
import ssdspark.model.DocumentRunner.ScoreOptions;
import ssdspark.model.DocumentRunner.EmbedResult;
import ssdspark.model.DocumentRunner.ScoreResult;
import ssdspark.model.Engine;
import ssdspark.pipeline.sql.SqlDocuments;
import ssdspark.udf.Doc;
import ssdspark.udf.JobSpec;
import ssdspark.udf.ModelCache;
import ssdspark.udf.OutputRows;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The columnar (RAPIDS) evaluation of mamba2_score / mamba2_embed over one batch of a LIST&lt;INT&gt; column.
 *
 * <p>With an engine that takes device buffers ({@link DevicePackedEngine}: the GPU engine) and a LIST&lt;INT32&gt;
 * column without null elements, the column's offsets and child data go to the engine as they are, with scratch
 * memory from RMM ({@link DeviceMemoryBuffer}); only the per-row results come back to the host. Otherwise (the CPU
 * engine, other integer widths, null elements) the column is copied to the host and runs through
 * {@link SqlDocuments#run}, the jobs' batched code. Either way the result is built on the host as the job's
 * rows and copied to the device as one cuDF column of numRows rows: NULL for a NULL input row; for a row the
 * model cannot take, score gives a struct with only error set and embed gives NULL, as the row-at-a-time path.
 */
public final class ColumnarDocuments {
    private ColumnarDocuments() {}

    /** Rows built here carry no id or input columns: the SQL result is the row without them. */
    private static final Doc NO_DOC = Doc.of(null, null, null);

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
        Engine engine = ModelCache.forTask(spec);
        if (engine instanceof DevicePackedEngine device) {
            try (ColumnView child = in.getChildColumnView(0)) {
                if (child.getType() == DType.INT32 && child.getNullCount() == 0) return onDevice(spec, device, in, child, numRows);
            }
        }
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

    private static List<Row> onDevice(JobSpec spec, DevicePackedEngine engine, ColumnVector in, ColumnView child, int numRows) {
        BaseDeviceMemoryBuffer data = child.getData(), offsets = in.getOffsets(), valid = in.getValid();
        long tokens = data == null ? 0 : data.getAddress(); // an all-empty batch has no child data
        long validity = valid == null ? 0 : valid.getAddress();
        Cuda.DEFAULT_STREAM.sync(); // the plugin wrote the column on cuDF's stream; the engine reads it on its own
        List<Row> rows = new ArrayList<>(numRows);
        OutputRows out = OutputRows.of(spec);
        byte[] status;
        try (RmmMemory memory = new RmmMemory()) {
            if (spec.task() == JobSpec.Task.SCORE) {
                DevicePackedEngine.Scores s = engine.scoreDevice(tokens, offsets.getAddress(), validity, numRows,
                        new ScoreOptions(spec.chunkTokens(), spec.bosId(), spec.perToken()), spec.tokenBudget(), memory);
                status = s.status();
                for (int i = 0; i < numRows; i++) {
                    if (status[i] != DevicePackedEngine.OK) { rows.add(null); continue; }
                    float[] lp = spec.perToken()
                            ? Arrays.copyOfRange(s.tokenLogprobs(), s.tokenLogprobOffsets()[i], s.tokenLogprobOffsets()[i + 1]) : null;
                    rows.add(out.row(NO_DOC, new ScoreResult(s.numTokens()[i], s.numScored()[i], s.sumLogprob()[i], lp)));
                }
            } else {
                DevicePackedEngine.Embeddings e = engine.embedDevice(tokens, offsets.getAddress(), validity, numRows,
                        spec.chunkTokens(), spec.pooling() == JobSpec.Pooling.LAST, spec.tokenBudget(), memory);
                status = e.status();
                int d = e.embeddings().length / Math.max(1, numRows);
                boolean last = spec.pooling() == JobSpec.Pooling.LAST;
                for (int i = 0; i < numRows; i++) {
                    if (status[i] != DevicePackedEngine.OK) { rows.add(null); continue; }
                    float[] v = Arrays.copyOfRange(e.embeddings(), i * d, (i + 1) * d);
                    rows.add(out.row(NO_DOC, new EmbedResult(e.numTokens()[i], last ? null : v, last ? v : null)));
                }
            }
        }
        // Rows the engine refused (empty, ids outside the vocabulary) are rare: their messages come from the host
        // path, so they read exactly as the jobs' and the row path's.
        boolean refused = false;
        for (byte b : status) refused |= b == DevicePackedEngine.REFUSED;
        if (refused) {
            try (HostColumnVector host = in.copyToHost()) {
                List<Doc> all = docs(host);
                for (int i = 0; i < numRows; i++)
                    if (status[i] == DevicePackedEngine.REFUSED) rows.set(i, SqlDocuments.run(spec, List.of(all.get(i))).get(0));
            }
        }
        return rows;
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

    /** Device memory from RMM (the plugin's pool), freed when the batch is done. */
    private static final class RmmMemory implements DevicePackedEngine.DeviceMemory, AutoCloseable {
        private final Map<Long, DeviceMemoryBuffer> live = new HashMap<>();

        @Override
        public synchronized long allocate(long bytes) {
            DeviceMemoryBuffer b = DeviceMemoryBuffer.allocate(bytes);
            live.put(b.getAddress(), b);
            return b.getAddress();
        }

        @Override
        public synchronized void free(long address) {
            DeviceMemoryBuffer b = live.remove(address);
            if (b == null) throw new IllegalArgumentException("device address " + address + " was not allocated here");
            b.close();
        }

        @Override
        public synchronized void close() {
            for (DeviceMemoryBuffer b : live.values()) b.close();
            live.clear();
        }
    }
}
