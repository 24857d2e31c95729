package ssdspark.rapids;

import ai.rapids.cudf.BaseDeviceMemoryBuffer;
import ai.rapids.cudf.ColumnVector;
import ai.rapids.cudf.ColumnView;
import ai.rapids.cudf.Cuda;
import ai.rapids.cudf.DType;
import ai.rapids.cudf.HostColumnVector;
import ai.rapids.cudf.HostColumnVector.BasicType;
import ai.rapids.cudf.HostColumnVector.DataType;
import ai.rapids.cudf.HostColumnVector.ListType;
import ai.rapids.cudf.HostColumnVector.StructData;
import ai.rapids.cudf.HostMemoryBuffer;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ssdspark.model.DocumentRunner;
import ssdspark.model.DocumentRunner.DeviceDocs;
import ssdspark.model.DocumentRunner.Outcome;
import ssdspark.model.Engine;
import ssdspark.model.gpu.GpuEngine;
import ssdspark.pipeline.sql.SqlDocuments;
import ssdspark.udf.Doc;
import ssdspark.udf.JobSpec;
import ssdspark.udf.ModelCache;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The columnar (RAPIDS) evaluation of mamba2_score / mamba2_embed over one batch of a LIST&lt;INT&gt; column.
 *
 * <p><b>Device path</b> (the executor's engine is a GPU engine on the batch's device): only the column's offsets
 * (4 bytes a row) and validity mask cross to the host, and the child's mask (1 bit an id) when some id is NULL; the
 * ids are read in place from the column's child data by
 * {@link DocumentRunner#scoreAll(DeviceDocs, DocumentRunner.ScoreOptions, int)} / {@code embedAll}, packed into
 * engine passes of the token budget, longer rows in chunks with their state carried, as the jobs run them. A row
 * holding a NULL id is that row's error (as on the host path, {@link ListLayout}); the other rows run.
 *
 * <p><b>Host path</b> (everything else): the column is copied to the host (4 bytes a token) and runs through
 * {@link SqlDocuments#run}, the jobs' batched code. It is taken when the engine is on the CPU or another GPU, when
 * prepend_bos is set (a BOS cannot be put in front of ids in device memory), and when the ids are 64-bit. An id outside
 * the vocabulary is its row's error on the device path ({@link ssdspark.model.BadTokenId}: the runner names the row and
 * position as the host path does and runs the others).
 *
 * <p>Device memory: with the RAPIDS Accelerator running, the GPU engine allocates through its RMM
 * ({@link RmmDeviceMemory}, installed by {@link RmmEngineSetup} before the executor's engine is created).
 *
 * <p>Both paths build the rows with the jobs' code and return one cuDF column of numRows rows, copied from the host:
 * NULL for a NULL input row; for a row the model cannot take, score gives a struct with only error set and embed
 * gives NULL, as the row-at-a-time path.
 */
public final class ColumnarDocuments {
    private static final Logger LOG = LoggerFactory.getLogger(ColumnarDocuments.class);
    private static final Set<String> LOGGED = ConcurrentHashMap.newKeySet();
    private static final AtomicLong DEVICE_BATCHES = new AtomicLong(), HOST_BATCHES = new AtomicLong();
    private static final Map<String, Long> HOST_REASONS = new ConcurrentHashMap<>();

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
        List<Row> rows = null;
        if (numRows > 0 && in.getNullCount() < numRows) {
            Engine engine = ModelCache.forTask(spec);
            DType ids;
            try (ColumnView child = in.getChildColumnView(0)) {
                ids = child.getType();
            }
            String hostReason = hostPathReason(spec, ids, engine instanceof GpuEngine g ? g.device().ordinal : null, Cuda.getDevice());
            if (hostReason == null) {
                rows = onDevice(spec, new DocumentRunner(engine, spec.maxAttentionTokens()), in);
                if (rows == null) hostReason = "the device path refused the batch (the executor log says why): the host path names the row";
            }
            if (hostReason != null) {
                HOST_REASONS.merge(hostReason, 1L, Long::sum);
                if (LOGGED.add(hostReason)) LOG.info("ssdspark: mamba2_{} copies its columnar batches to the host: {}", spec.task().cliName(), hostReason);
            }
        }
        (rows != null ? DEVICE_BATCHES : HOST_BATCHES).incrementAndGet();
        if (rows == null) rows = rowsOf(spec, in, numRows);
        try (HostColumnVector host = hostColumn(spec, rows)) {
            return host.copyToDevice();
        }
    }

    /** Columnar batches this JVM ran with the ids read in place on the device, and with the ids copied to the host. */
    public static long[] batchCounts() { return new long[] {DEVICE_BATCHES.get(), HOST_BATCHES.get()}; }

    /** Why batches of non-NULL rows took the host path in this JVM: reason -> batches (a NULL-only batch has none). */
    public static Map<String, Long> hostPathReasons() { return new TreeMap<>(HOST_REASONS); }

    /**
     * Why a batch of spec with ids of type idType must take the host path; null when the device path takes it.
     *
     * @param engineGpu  the CUDA ordinal of the executor's GPU engine; null when the engine is not a GPU engine
     * @param cudfDevice the device cuDF works on in this thread (where the column is)
     */
    static String hostPathReason(JobSpec spec, DType idType, Integer engineGpu, int cudfDevice) {
        if (engineGpu == null) return "the model runs on the CPU engine (device '" + spec.device() + "')";
        if (engineGpu != cudfDevice) return "the model is on GPU " + engineGpu + ", the column on GPU " + cudfDevice;
        if (spec.bosId() >= 0) return "prepend_bos puts a token in front of each row, which the ids in device memory lack";
        if (spec.spans() != null) return "span scores are computed from the host";
        if (idType != DType.INT32) return "the token ids are " + idType + "; the device path reads INT32";
        return null;
    }

    /**
     * The device path; null when it refuses the batch (an IllegalArgumentException other than a row's bad id, which the
     * runner makes that row's error): the host path then reports it per row.
     */
    private static List<Row> onDevice(JobSpec spec, DocumentRunner runner, ColumnVector in) {
        // A column cut from a larger one (a cuDF slice) has offsets and a mask that start elsewhere; a device copy
        // (cuDF rebases its offsets and child) is cheap next to the model and keeps the reading below simple.
        boolean sliced;
        try (BaseDeviceMemoryBuffer offsets = in.getOffsets()) { sliced = offsets == null || offsets.getLength() != 4L * (in.getRowCount() + 1); }
        try (ColumnVector copy = sliced ? in.copyToColumnVector() : null) {
            ColumnView col = copy != null ? copy : in;
            ListLayout layout = layoutOf(col);
            List<Doc> docs = docs(layout);
            long address;
            try (ColumnView child = col.getChildColumnView(0); BaseDeviceMemoryBuffer data = child.getData()) {
                address = data == null ? 0 : data.getAddress(); // no data: every row is empty or NULL
            }
            DeviceDocs onDevice = layout.docs(address);
            try {
                List<? extends Outcome<?>> outcomes = spec.task() == JobSpec.Task.SCORE
                        ? runner.scoreAll(onDevice, spec.scoreOptions(), spec.tokenBudget())
                        : runner.embedAll(onDevice, spec.chunkTokens(), spec.tokenBudget());
                return SqlDocuments.rows(spec, docs, outcomes);
            } catch (IllegalArgumentException badId) {
                LOG.info("ssdspark: the device refused a batch of mamba2_{} ({}); running it from the host", spec.task().cliName(), badId.getMessage());
                return null;
            }
        }
    }

    /**
     * The documents handed to {@link SqlDocuments#rows} for a batch: null for a NULL row, the row's error for a row the
     * layout refuses (a NULL id), and an id-less document for a row the engine runs (its ids stay on the device).
     */
    static List<Doc> docs(ListLayout layout) {
        List<Doc> docs = new ArrayList<>(layout.rows());
        for (int i = 0; i < layout.rows(); i++)
            docs.add(!layout.present(i) ? null : layout.error(i) != null ? Doc.failed(null, layout.error(i), null) : Doc.of(null, null, null));
        return docs;
    }

    /**
     * The offsets and validity of an unsliced LIST column, and its child's validity when some id is NULL, copied to
     * the host. The synchronous copy on cuDF's stream also orders us after whatever wrote the column there; the
     * engine's own streams read the ids after it.
     */
    private static ListLayout layoutOf(ColumnView col) {
        int rows = Math.toIntExact(col.getRowCount());
        int[] offsets = new int[rows + 1];
        try (BaseDeviceMemoryBuffer d = col.getOffsets(); HostMemoryBuffer h = HostMemoryBuffer.allocate(d.getLength())) {
            h.copyFromDeviceBuffer(d);
            h.getInts(offsets, 0, 0, rows + 1);
        }
        byte[] validity = col.getNullCount() > 0 ? mask(col, rows) : null;
        byte[] childValidity;
        try (ColumnView child = col.getChildColumnView(0)) {
            childValidity = child.getNullCount() > 0 ? mask(child, Math.toIntExact(child.getRowCount())) : null;
        }
        Cuda.DEFAULT_STREAM.sync();
        return ListLayout.of(rows, offsets, validity, childValidity);
    }

    /** The first ceil(n / 8) bytes of col's validity mask, on the host. */
    private static byte[] mask(ColumnView col, int n) {
        byte[] mask = new byte[(n + 7) / 8];
        try (BaseDeviceMemoryBuffer d = col.getValid(); HostMemoryBuffer h = HostMemoryBuffer.allocate(d.getLength())) {
            h.copyFromDeviceBuffer(d);
            h.getBytes(mask, 0, 0, mask.length);
        }
        return mask;
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
