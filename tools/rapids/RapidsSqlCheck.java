import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import ssdspark.model.DocumentRunner;
import ssdspark.model.DocumentRunner.EmbedResult;
import ssdspark.model.DocumentRunner.Outcome;
import ssdspark.model.DocumentRunner.ScoreOptions;
import ssdspark.model.DocumentRunner.ScoreResult;
import ssdspark.pipeline.sql.Mamba2Functions;
import ai.rapids.cudf.Rmm;
import ssdspark.kernels.gpu.DeviceBuffer;
import ssdspark.kernels.gpu.DeviceMemory;
import ssdspark.kernels.gpu.GpuDevice;
import ssdspark.model.gpu.GpuEngine;
import ssdspark.rapids.ColumnarDocuments;
import ssdspark.rapids.RmmDeviceMemory;
import ssdspark.udf.TokenRows;
import ssdspark.udf.ModelCache;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * mamba2_score / mamba2_embed in a Spark SQL query over a Parquet file of token arrays, with the RAPIDS Accelerator
 * (spark.plugins=com.nvidia.spark.SQLPlugin, local mode, GPU 0) running them on columnar batches, checked row by row
 * against the CPU engine run directly (DocumentRunner, no Spark). Rows: the tiny model's corpus, a long row (many
 * chunks), NULL, an empty array, an id outside the vocabulary and a NULL id. Then the same query with the functions registered
 * on the CPU engine (the columnar host path) must equal the CPU engine exactly.
 *
 * <p>With the plugin it also checks that the GPU engine's device memory comes from the plugin's RMM: the engine's
 * device allocates through ssdspark.rapids.RmmDeviceMemory, nothing of it through cuMemAlloc, its bytes at least the
 * weights; RMM's own counter (its tracking adaptor) rises by at least the weights; a 1 GiB buffer allocated through
 * the engine's device moves RMM's counter by 1 GiB while cuMemGetInfo's free memory, which a 1 GiB cuMemAlloc beside
 * it moves, tells whether the pool had the memory reserved. And that a table whose rows hold NULL ids next to good
 * rows runs every batch on the device, the NULL-id rows getting the host path's error.
 *
 * <p>usage: RapidsSqlCheck MODEL_DIR CORPUS_JSONL OUT_DIR [--no-plugin]   (--no-plugin: a dry run without a GPU: no
 * plugin, the row-at-a-time functions on the CPU engine). Exit status 0 when every check passes; OUT_DIR gets
 * result.txt, plan.txt and the Parquet input.
 */
public final class RapidsSqlCheck {
    private static final int CHUNK = 64, BUDGET = 512;
    private static final List<String> failures = new ArrayList<>();
    private static final StringBuilder report = new StringBuilder();
    private static final Map<String, Integer> firstNull = new HashMap<>();
    private static final long GIB = 1L << 30;

    /**
     * Where the GPU engine's device memory comes from. Made before the first GPU query (RMM's counter then), checked
     * after it, when the engine exists.
     */
    private static final class RmmEvidence {
        private final long rmmBefore = Rmm.getTotalBytesAllocated(); // 0 while RMM is not set up: nothing came from it yet

        void check(GpuEngine engine) {
            if (!Rmm.isInitialized()) {
                failures.add("the plugin has not initialised RMM");
                return;
            }
            boolean tracked = Rmm.getTracker() != null;
            GpuDevice dev = engine.device();
            long weights = engine.weightBytes();
            if (!(dev.memory() instanceof RmmDeviceMemory rmm)) {
                failures.add("the GPU engine's device memory does not come from RMM but from " + dev.memory().describe());
                return;
            }
            note(String.format("RMM: the engine's device allocates through %s: %.1f MiB live (weights %.1f MiB); %.1f MiB through %s before RMM",
                    rmm.describe(), mib(rmm.allocatedBytes()), mib(weights), mib(rmm.before().allocatedBytes()), rmm.before().describe()));
            expect(rmm.before().allocatedBytes() == 0, "engine memory allocated outside RMM: " + mib(rmm.before().allocatedBytes()) + " MiB");
            expect(rmm.allocatedBytes() >= weights, "less allocated through RMM than the weights");
            if (tracked) {
                long rose = Rmm.getTotalBytesAllocated() - rmmBefore;
                note(String.format("RMM: its tracking counter rose by %.1f MiB over the first GPU query (engine created in it)", mib(rose)));
                expect(rose >= weights, "RMM's counter rose by less than the weights: " + rose + " < " + weights);
            } else note("RMM: no tracking adaptor installed, its counter is not available");
            // 1 GiB through the engine's device (RMM), then 1 GiB with cuMemAlloc beside it
            long free0 = dev.memoryInfo()[0], rmm0 = Rmm.getTotalBytesAllocated();
            long freeRmm, rmmRose;
            try (DeviceBuffer b = dev.alloc(GIB)) {
                freeRmm = dev.memoryInfo()[0];
                rmmRose = Rmm.getTotalBytesAllocated() - rmm0;
            }
            long free1 = dev.memoryInfo()[0];
            dev.makeCurrent();
            DeviceMemory.Allocation a = DeviceMemory.cuMemAlloc().allocate(dev, GIB);
            long freeCu = dev.memoryInfo()[0];
            dev.makeCurrent();
            a.free();
            note(String.format("RMM: 1 GiB through the engine's device: RMM's counter +%.1f MiB, cuMemGetInfo free %+.1f MiB;"
                    + " 1 GiB with cuMemAlloc beside it: free %+.1f MiB (a pool that reserved its memory up front shows ~0 for the first)",
                    mib(rmmRose), mib(freeRmm - free0), mib(freeCu - free1)));
            if (tracked) expect(rmmRose >= GIB, "a 1 GiB buffer of the engine's device did not come from RMM (counter +" + rmmRose + ")");
            expect(free1 - freeCu >= GIB - (64L << 20), "the cuMemAlloc control did not move cuMemGetInfo by 1 GiB: the free-memory reading says nothing");
            if (free0 - freeRmm >= GIB - (64L << 20) && Rmm.isPoolingEnabled())
                failures.add("with an RMM pool, 1 GiB from the engine's device still left cuMemGetInfo's free memory: it did not come from the pool");
        }
    }

    private static double mib(long b) { return b / 1048576.0; }

    public static void main(String[] args) throws Exception {
        String model = Path.of(args[0]).toAbsolutePath().toString();
        Path out = Path.of(args[2]).toAbsolutePath();
        boolean plugin = !(args.length > 3 && args[3].equals("--no-plugin"));
        Files.createDirectories(out);
        // spark-submit runs an application under a MutableURLClassLoader, which the RAPIDS Accelerator extends with its
        // Spark-version shim (the jar's spark401/ classes); a plain `java -cp` launch must provide one itself
        Thread.currentThread().setContextClassLoader(
                new org.apache.spark.util.MutableURLClassLoader(new java.net.URL[0], RapidsSqlCheck.class.getClassLoader()));
        SparkSession.Builder b = SparkSession.builder().master("local[2]").appName("ssdspark-rapids-check")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2");
        if (plugin)
            b.config("spark.plugins", "com.nvidia.spark.SQLPlugin").config("spark.rapids.sql.enabled", "true")
                    .config("spark.rapids.sql.explain", "NOT_ON_GPU").config("spark.rapids.memory.gpu.allocFraction", "0.5")
                    .config("spark.rapids.sql.concurrentGpuTasks", "2");
        SparkSession spark = b.getOrCreate();

        List<Row> rows = new ArrayList<>();
        List<int[]> docs = new ArrayList<>();
        for (Row r : spark.read().json(args[1]).selectExpr("id", "CAST(tokens AS ARRAY<INT>) AS tokens").collectAsList()) {
            rows.add(r);
            docs.add(r.getList(1).stream().mapToInt(x -> (Integer) x).toArray());
        }
        int[] longDoc = docs.stream().limit(8).flatMapToInt(Arrays::stream).toArray();
        rows.add(RowFactory.create("long", boxed(longDoc)));
        rows.add(RowFactory.create("null", null));
        rows.add(RowFactory.create("empty", new Integer[0]));
        rows.add(RowFactory.create("bad", new Integer[] {1, 2, 99999, 4}));
        rows.add(RowFactory.create("nullid", new Integer[] {3, null, 4}));
        StructType schema = DataTypes.createStructType(List.of(DataTypes.createStructField("id", DataTypes.StringType, false),
                DataTypes.createStructField("tokens", DataTypes.createArrayType(DataTypes.IntegerType, true), true)));
        String parquet = out.resolve("tokens.parquet").toString();
        spark.createDataFrame(rows, schema).repartition(2).write().mode("overwrite").parquet(parquet);
        spark.read().parquet(parquet).createOrReplaceTempView("t");
        // the same without the rows that send a batch to the host (an id the device refuses) or fail (a NULL id):
        // every batch of this one should be read in place
        List<Row> clean = rows.stream().filter(r -> !List.of("bad", "nullid").contains(r.getString(0))).toList();
        String cleanParquet = out.resolve("clean.parquet").toString();
        spark.createDataFrame(clean, schema).repartition(2).write().mode("overwrite").parquet(cleanParquet);
        spark.read().parquet(cleanParquet).createOrReplaceTempView("clean");
        // good rows with rows holding NULL ids among them (first, middle, last position, two in one row, one in a long
        // row): read in place too, the NULL-id rows getting their error and the others their values
        List<Row> withNullIds = new ArrayList<>(clean);
        for (int k = 0; k < 6; k++) {
            Integer[] ids = boxed(docs.get(k));
            if (ids.length == 0) continue;
            int at = new int[] {0, ids.length / 2, ids.length - 1, 1, 2, ids.length - 2}[k];
            ids[Math.max(0, Math.min(ids.length - 1, at))] = null;
            if (k == 3 && ids.length > 3) ids[3] = null;
            withNullIds.add(RowFactory.create("nullid" + k, ids));
        }
        Integer[] longNull = boxed(longDoc);
        longNull[longDoc.length - 70] = null;
        withNullIds.add(RowFactory.create("nullid-long", longNull));
        rows.addAll(withNullIds.subList(clean.size(), withNullIds.size())); // for the reference map below
        String nullIdsParquet = out.resolve("nullids.parquet").toString();
        spark.createDataFrame(withNullIds, schema).repartition(2).write().mode("overwrite").parquet(nullIdsParquet);
        spark.read().parquet(nullIdsParquet).createOrReplaceTempView("nullids");

        // the reference: the CPU engine, directly
        DocumentRunner cpu = new DocumentRunner(ModelCache.get(model, "cpu"));
        Map<String, int[]> byId = new HashMap<>();
        for (Row r : rows) {
            Object[] ids = r.get(1) == null ? null : toArray(r.get(1));
            if (ids == null) continue;
            int nullAt = Arrays.asList(ids).indexOf(null);
            byId.put(r.getString(0), nullAt >= 0 ? null : Arrays.stream(ids).mapToInt(x -> (Integer) x).toArray());
            if (nullAt >= 0) firstNull.put(r.getString(0), nullAt);
        }

        String device = plugin ? "gpu" : "cpu";
        if (plugin) {
            RmmEvidence rmm = new RmmEvidence();
            // (the example corpus itself holds an id past the vocabulary, so the long row is an error row here too)
            compare("device gpu fp32, rows without NULL ids", query(spark, model, device, "fp32", "clean").collectAsList(), byId, cpu, 2e-4);
            long[] clean0 = ColumnarDocuments.batchCounts();
            note("columnar batches of those rows: " + clean0[0] + " read in place on the device, " + clean0[1] + " copied to the host"
                    + (clean0[1] > 0 ? " " + ColumnarDocuments.hostPathReasons() : ""));
            if (clean0[0] == 0) failures.add("no batch of the rows without NULL ids took the device path");
            if (clean0[1] > 0) failures.add("batches of the rows without NULL ids went to the host: " + ColumnarDocuments.hostPathReasons());
            rmm.check((GpuEngine) ModelCache.get(model, "gpu", 0, "fp32"));

            compare("device gpu fp32, good rows and rows holding NULL ids", query(spark, model, device, "fp32", "nullids").collectAsList(), byId, cpu, 2e-4);
            long[] nulls = ColumnarDocuments.batchCounts();
            note("columnar batches of those rows: " + (nulls[0] - clean0[0]) + " read in place on the device, " + (nulls[1] - clean0[1]) + " copied to the host");
            if (nulls[0] == clean0[0]) failures.add("no batch of the rows with NULL ids took the device path");
            if (nulls[1] > clean0[1]) failures.add("batches with NULL ids went to the host: " + ColumnarDocuments.hostPathReasons());
        } else {
            note("RMM: not checked (no plugin)");
            compare("device cpu, good rows and rows holding NULL ids", query(spark, model, device, "fp32", "nullids").collectAsList(), byId, cpu, 0);
        }
        Dataset<Row> q = query(spark, model, device, "fp32", "t");
        String registered = Mamba2Functions.functions(Map.of("model", model), null).get(0).udf().getClass().getName();
        note("mamba2_score is " + registered);
        expect(registered.equals("ssdspark.rapids.RapidsScoreTokensFunction"), "the columnar class was not registered (RAPIDS jar missing?)");
        Files.writeString(out.resolve("plan.txt"), q.queryExecution().executedPlan().toString());
        compare("device " + device + " fp32", q.collectAsList(), byId, cpu, plugin ? 2e-4 : 0);
        long[] batches = ColumnarDocuments.batchCounts();
        note("columnar batches so far: " + batches[0] + " read in place on the device, " + batches[1] + " copied to the host");
        if (plugin && batches[0] == 0) failures.add("no columnar batch took the device path (plan in plan.txt)");
        // bad ids and NULL ids are judged per row on the device: no batch of any table goes to the host
        if (plugin && batches[1] > 0) failures.add("batches went to the host: " + ColumnarDocuments.hostPathReasons());
        if (plugin) {
            long hostBefore = batches[1];
            compare("device cpu under the plugin (columnar host path)", query(spark, model, "cpu", "fp32", "t").collectAsList(), byId, cpu, 0);
            if (ColumnarDocuments.batchCounts()[1] == hostBefore) failures.add("the CPU-engine query ran no columnar batch");
        }
        spark.stop();
        note(failures.isEmpty() ? "PASS" : "FAIL: " + String.join("; ", failures));
        Files.writeString(out.resolve("result.txt"), report.toString());
        System.out.print(report);
        System.exit(failures.isEmpty() ? 0 : 1);
    }

    private static Dataset<Row> query(SparkSession spark, String model, String device, String precision, String table) {
        Mamba2Functions.register(spark, Map.of("model", model, "device", device, "precision", precision,
                "chunk_tokens", String.valueOf(CHUNK), "token_budget", String.valueOf(BUDGET), "per_token", "true"));
        return spark.sql("SELECT id, mamba2_score(tokens) AS s, mamba2_embed(tokens) AS e FROM " + table);
    }

    /** Every row against the CPU engine: sums within tol per scored token (0: exactly), embeddings within tol. */
    private static void compare(String what, List<Row> got, Map<String, int[]> byId, DocumentRunner cpu, double tol) {
        double maxSum = 0, maxLp = 0, maxEmb = 0;
        int checked = 0, nullIds = 0;
        for (Row r : got) {
            String id = r.getString(0);
            Row s = r.getStruct(1);
            if (!byId.containsKey(id)) { expect(s == null && r.get(2) == null, what + ": NULL row '" + id + "' did not give NULL"); continue; }
            int[] t = byId.get(id);
            if (t == null) { // a NULL id inside the row: that row's error, as the row path reports it
                String e = s == null ? null : s.getAs("error");
                String want = TokenRows.nullToken(firstNull.get(id));
                expect(want.equals(e) && r.get(2) == null, what + ": row '" + id + "' with a NULL id gave error '" + e + "', want '" + want + "'");
                nullIds++;
                continue;
            }
            Outcome<ScoreResult> want = cpu.scoreAll(List.of(t), new ScoreOptions(CHUNK, -1, true), BUDGET).get(0);
            Outcome<EmbedResult> wantE = cpu.embedAll(List.of(t), CHUNK, BUDGET).get(0);
            String err = s.getAs("error");
            if (!want.ok()) {
                expect(want.error().equals(err), what + ": row '" + id + "' error '" + err + "', want '" + want.error() + "'");
                expect(r.get(2) == null, what + ": row '" + id + "' has an embedding despite its error");
                continue;
            }
            expect(err == null, what + ": row '" + id + "' failed: " + err);
            if (err != null) continue;
            ScoreResult w = want.result();
            double dSum = Math.abs(w.sumLogprob() - s.<Double>getAs("sum_logprob"));
            maxSum = Math.max(maxSum, dSum / Math.max(1, w.numScored()));
            expect(dSum <= tol * Math.max(1, w.numScored()), what + ": row '" + id + "' sum_logprob " + s.getAs("sum_logprob") + " vs " + w.sumLogprob());
            expect(w.numScored() == s.<Integer>getAs("num_scored"), what + ": row '" + id + "' num_scored");
            List<Float> lp = s.getList(s.fieldIndex("token_logprobs"));
            for (int i = 0; i < lp.size(); i++) maxLp = Math.max(maxLp, Math.abs(lp.get(i) - w.tokenLogprobs()[i]));
            List<Float> e = r.getList(2);
            float[] we = wantE.result().mean();
            expect(e.size() == we.length, what + ": row '" + id + "' embedding size");
            for (int i = 0; i < Math.min(e.size(), we.length); i++) maxEmb = Math.max(maxEmb, Math.abs(e.get(i) - we[i]));
            checked++;
        }
        expect(maxLp <= Math.max(tol * 50, 0) && maxEmb <= Math.max(tol * 50, 0), what + ": per-token log-prob or embedding off by more than " + tol * 50);
        note(String.format("%s: %d rows checked against the CPU engine%s; max |Δ sum_logprob| per scored token %.3g, max |Δ token log-prob| %.3g, max |Δ embedding| %.3g",
                what, checked, nullIds > 0 ? ", " + nullIds + " rows holding NULL ids against the host path's error" : "", maxSum, maxLp, maxEmb));
    }

    private static void expect(boolean ok, String failure) { if (!ok) failures.add(failure); }

    private static void note(String line) { report.append(line).append('\n'); }

    private static Integer[] boxed(int[] v) { return Arrays.stream(v).boxed().toArray(Integer[]::new); }

    private static Object[] toArray(Object v) {
        if (v instanceof Object[] a) return a;
        if (v instanceof List<?> l) return l.toArray();
        if (v instanceof scala.collection.Seq<?> s) return scala.jdk.javaapi.CollectionConverters.asJava(s).toArray();
        throw new IllegalStateException("not an array: " + v.getClass());
    }

    private RapidsSqlCheck() {}
}
