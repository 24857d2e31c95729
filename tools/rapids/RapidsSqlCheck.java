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
import ssdspark.rapids.ColumnarDocuments;
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
 * <p>usage: RapidsSqlCheck MODEL_DIR CORPUS_JSONL OUT_DIR [--no-plugin]   (--no-plugin: a dry run without a GPU: no
 * plugin, the row-at-a-time functions on the CPU engine). Exit status 0 when every check passes; OUT_DIR gets
 * result.txt, plan.txt and the Parquet input.
 */
public final class RapidsSqlCheck {
    private static final int CHUNK = 64, BUDGET = 512;
    private static final List<String> failures = new ArrayList<>();
    private static final StringBuilder report = new StringBuilder();

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
        // the same without the rows that send a batch to the host (a NULL id, an id the device refuses): every batch of
        // this one should be read in place
        List<Row> clean = rows.stream().filter(r -> !List.of("bad", "nullid").contains(r.getString(0))).toList();
        String cleanParquet = out.resolve("clean.parquet").toString();
        spark.createDataFrame(clean, schema).repartition(2).write().mode("overwrite").parquet(cleanParquet);
        spark.read().parquet(cleanParquet).createOrReplaceTempView("clean");

        // the reference: the CPU engine, directly
        DocumentRunner cpu = new DocumentRunner(ModelCache.get(model, "cpu"));
        Map<String, int[]> byId = new HashMap<>();
        for (Row r : rows) {
            Object[] ids = r.get(1) == null ? null : toArray(r.get(1));
            if (ids != null) byId.put(r.getString(0), Arrays.asList(ids).contains(null) ? null : Arrays.stream(ids).mapToInt(x -> (Integer) x).toArray());
        }

        String device = plugin ? "gpu" : "cpu";
        if (plugin) {
            compare("device gpu fp32, rows without NULL or bad ids", query(spark, model, device, "fp32", "clean").collectAsList(), byId, cpu, 2e-4);
            long[] clean0 = ColumnarDocuments.batchCounts();
            note("columnar batches of those rows: " + clean0[0] + " read in place on the device, " + clean0[1] + " copied to the host");
            if (clean0[0] == 0) failures.add("no batch of the rows without NULL or bad ids took the device path");
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
        int checked = 0;
        for (Row r : got) {
            String id = r.getString(0);
            Row s = r.getStruct(1);
            if (!byId.containsKey(id)) { expect(s == null && r.get(2) == null, what + ": NULL row '" + id + "' did not give NULL"); continue; }
            int[] t = byId.get(id);
            if (t == null) { // a NULL id inside the row: that row's error, as the row path reports it
                String e = s == null ? null : s.getAs("error");
                expect(e != null && e.contains("null") && r.get(2) == null, what + ": row '" + id + "' with a NULL id gave error " + e);
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
        note(String.format("%s: %d rows checked against the CPU engine; max |Δ sum_logprob| per scored token %.3g, max |Δ token log-prob| %.3g, max |Δ embedding| %.3g",
                what, checked, maxSum, maxLp, maxEmb));
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
