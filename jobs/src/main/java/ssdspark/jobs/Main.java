package ssdspark.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import ssdspark.model.Engine;
import ssdspark.pipeline.DocumentPipeline;
import ssdspark.pipeline.InputSplits;
import ssdspark.pipeline.OnError;
import ssdspark.pipeline.StagedOutput;
import ssdspark.pipeline.output.ModelFingerprint;
import ssdspark.pipeline.output.OutputMetadata;
import ssdspark.pipeline.output.RunManifest;
import ssdspark.pipeline.report.RunReport;
import ssdspark.pipeline.report.RunStats;
import ssdspark.udf.JobCounters;
import ssdspark.udf.JobSpec;
import ssdspark.udf.ModelCache;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Entry point of {@code bin/ssdspark} and of {@code spark-submit --class ssdspark.jobs.Main}.
 * Exit status: 0 done, 2 something to fix in the command line or input, 1 anything else.
 */
public final class Main {
    private Main() {}

    /** The side file every output folder gets: metadata and the run's summary as JSON (Spark skips _ files). */
    public static final String SIDE_FILE = "_ssdspark.json";

    /** The side file's key for the quantiles: {"perplexity": {"p1": ..., "p99": ...}, "bits_per_byte": {...}}. */
    public static final String QUANTILES_KEY = "ssdspark.quantiles";

    /** Task slots of a local-mode run on a GPU when --master is not given. */
    static final int LOCAL_GPU_SLOTS = 4;

    public static void main(String[] args) {
        int rc = run(args, System.out, System.err, null);
        if (rc != 0) System.exit(rc);
    }

    /**
     * Runs one job. With spark null it starts (and stops) its own session; tests pass theirs.
     */
    public static int run(String[] args, PrintStream out, PrintStream err, SparkSession spark) {
        String prog = System.getProperty("ssdspark.prog", "ssdspark");
        JobOptions o;
        Preflight.Plan plan;
        try {
            o = JobOptions.parse(args, home());
            if (o.help) {
                out.print(JobOptions.usage(prog));
                return 0;
            }
            plan = Preflight.check(o);
        } catch (UsageException e) {
            err.println("error: " + e.getMessage());
            err.println("run '" + prog + " --help' for every flag and its default");
            return 2;
        }

        StartLog started = new StartLog();
        started.mark("preflight");
        String task = o.task.cliName();
        boolean masterGiven = spark != null || o.master != null || new SparkConf().contains("spark.master");
        String master = spark != null ? spark.sparkContext().master()
                : o.master != null ? o.master : new SparkConf().get("spark.master", "local[*]");
        boolean local = master.startsWith("local");
        // a GPU in local mode without --master: every task slot gets its own GPU stream and workspace, a few keep the GPU
        // busy, all cores would not (a --device gpu that loads is on the GPU; --device auto: known once the model loaded)
        if (local && !masterGiven && o.device.equals(ModelCache.GPU)) master = "local[" + LOCAL_GPU_SLOTS + "]";
        String backend = o.device.equals(ModelCache.CPU) ? "cpu" : o.device + " (" + o.precision + ")";

        // What does not need the model runs beside its load: the model's fingerprint for the output's metadata, and
        // in local mode the Spark session with the input read and cut into parts (JobStart).
        String modelPath = plan.spec().modelPath();
        java.util.concurrent.Callable<ModelFingerprint> hash = () -> {
            long t = System.nanoTime();
            ModelFingerprint f = ModelFingerprint.of(Path.of(modelPath));
            started.mark("model fingerprint", (System.nanoTime() - t) / 1_000_000);
            return f;
        };
        Background<ModelFingerprint> fingerprint = JobStart.serial() ? Background.deferred(hash)
                : Background.start("ssdspark-model-fingerprint", hash);
        // local mode: the executors share this JVM, so their first tasks find the tokenizer (DJL's native library and
        // the vocabulary) ready; a tokenizer that cannot open fails in the tasks as it would have
        if (local && plan.tokenizer() != null && !JobStart.serial()) Background.start("ssdspark-tokenizer-warm-up", plan.tokenizer()::open);
        JobStart start = new JobStart(o, plan, task, spark, master, started);
        if (local && JobStart.canOverlap(o, masterGiven, spark == null)) start.inBackground();
        long modelLoaded = System.nanoTime();
        try {
            if (o.example) out.println("running the bundled example: " + o.model + " on " + o.input);
            else if (o.exampleModel) out.println("using the bundled example model " + o.model);
            // The executors live in this JVM: load once here (GPU 0 in local mode) so a bad checkpoint or an
            // unusable --device gpu fails before the job runs, and the metadata names the real backend.
            if (local) {
                long t = System.nanoTime();
                Engine e = ModelCache.get(modelPath, plan.spec().device(), 0, plan.spec().precision());
                modelLoaded = System.nanoTime();
                started.mark("model loaded", (modelLoaded - t) / 1_000_000);
                backend = e.backend();
                if (!masterGiven && backend.startsWith("gpu")) {
                    master = "local[" + LOCAL_GPU_SLOTS + "]"; // --device auto found a GPU (--device gpu: set above already)
                    start.master(master);
                    out.println("running on " + backend + " with " + LOCAL_GPU_SLOTS + " task slots (--master local[N] to change)");
                }
            }
        } catch (IllegalArgumentException | UnsupportedOperationException | UncheckedIOException e) {
            err.println("error: cannot load model " + modelPath + ": " + e.getMessage());
            return abandon(start, fingerprint);
        } catch (RuntimeException e) { // CUDA: no device, no driver, out of memory
            err.println("error: cannot open model " + modelPath + " on --device " + o.device + ": " + rootMessage(e)
                    + (o.device.equals(ModelCache.GPU) ? " (use --device cpu, or auto to fall back to the CPU)" : ""));
            return abandon(start, fingerprint);
        }

        Progress progress = null;
        try {
            JobStart.Input ready = start.join(out);
            spark = ready.spark();
            plan = ready.plan();
            // the summary's clock: from the session being up and the model loaded (what overlapped the load is not counted, as the load is not)
            long t0 = Math.max(ready.sessionUpNanos(), modelLoaded);
            Configuration hadoop = ready.hadoop();
            JobCounters counters = ready.counters();
            progress = new Progress(spark.sparkContext(), counters, out, task, o.progressSeconds);
            RunManifest.Plan before = ready.before();
            InputSplits.Settings splitting = ready.splitting();
            Dataset<Row> rows = ready.rows(); // (id, tokens or text, carried...)
            Progress.Measure measure = ready.measure(); // what the progress line's "% of input" counts
            List<List<InputSplits.Split>> parts = ready.parts();

            Map<String, String> options = o.provenance(plan.isText(), plan.resolvedFlags());
            Map<String, String> kv = OutputMetadata.of(fingerprint.join(), plan.tokenizer(), backend, options);
            RunManifest.Plan now = new RunManifest.Plan(kv, splitting, parts == null ? List.of() : parts);
            spark.sparkContext().setJobDescription("ssdspark " + task + " " + plan.input() + " -> " + plan.output());
            // --overwrite of an existing folder builds the new output beside it and swaps it in when complete
            StagedOutput staged = o.overwrite && StagedOutput.exists(plan.output(), hadoop) ? StagedOutput.of(plan.output(), hadoop) : null;
            String writeTo = staged == null ? plan.output() : staged.staging();
            Set<Integer> todo = new TreeSet<>();
            for (int k = 0; k < now.parts().size(); k++) todo.add(k);
            if (before != null) {
                if (parts == null) throw new UsageException("this input cannot be resumed part by part; pass --overwrite to run it again");
                String changed = RunManifest.difference(before, now);
                if (changed != null)
                    throw new UsageException("cannot --resume " + plan.output() + ": " + changed + "; its parts would not belong together:"
                            + " run with the earlier settings and input, or pass --overwrite to start it again");
                Map<Integer, RunManifest.PartDone> done = RunManifest.committed(writeTo, hadoop);
                todo.removeAll(done.keySet());
                RunManifest.clearUncommitted(writeTo, hadoop, done.keySet(), now.parts().size());
                for (RunManifest.PartDone d : done.values())
                    counters.addEarlier(new JobCounters.TaskCounts(d.rows(), d.errors(), d.tokens(), d.errorKinds()));
                out.printf(Locale.ROOT, "resuming %s: %d of %d parts were written (%d rows); writing the other %d%n", plan.output(),
                        done.size(), now.parts().size(), counters.rows(), todo.size());
            } else {
                if (!o.overwrite && StagedOutput.exists(plan.output(), hadoop)) // local outputs: Preflight said so already
                    throw new UsageException("output " + plan.output() + " already exists; pick another --output, or pass --overwrite");
                RunManifest.write(writeTo, hadoop, now, null);
            }
            // the progress line's total: the bytes of the parts to write (Parquet: their rows, from the footers)
            long earlierRows = counters.rows(), todoBytes = 0;
            for (int k : todo) for (InputSplits.Split sp : now.parts().get(k)) todoBytes += sp.length();
            if (measure == Progress.Measure.ROWS) startRowCount(progress, rows.inputFiles(), hadoop, earlierRows);
            else progress.total(measure, parts == null ? sizeInBytes(rows) : todoBytes);
            progress.begin();
            started.mark("write submitted");
            started.log();
            Dataset<Row> input = before == null ? rows : spark.createDataFrame(InputSplits.keep(rows.javaRDD(), todo), rows.schema());
            Dataset<Row> result = plan.isText()
                    ? DocumentPipeline.transformText(input, plan.tokenizer(), plan.spec(), counters, o.prefetch, o.tokenizerThreads)
                    : DocumentPipeline.transformTokens(input, o.idCol, plan.tokensCol(), plan.carried(), plan.spec(), counters, o.prefetch);
            if (before == null || !todo.isEmpty())
                DocumentPipeline.writeParts(o.onError.apply(result), writeTo, plan.outputFormat(), o.partitionBy, kv,
                        before == null ? null : InputSplits.partNumbers(todo));
            else touch(writeTo, "_SUCCESS", hadoop); // every part was there: the killed run got as far as its last commit
            RunManifest.write(writeTo, hadoop, now, RunManifest.committed(writeTo, hadoop));
            progress.close();

            double s = (System.nanoTime() - t0) / 1e9;
            List<String> seen = counters.backends();
            String ran = seen.isEmpty() ? backend : String.join(", ", seen);
            out.printf(Locale.ROOT, "%s: %d rows (%d with errors), %d tokens in %.1f s, %s tok/s on %s -> %s (%s)%n", task, counters.rows(),
                    counters.errors(), counters.tokens(), s, Progress.count(Math.round(counters.tokens() / Math.max(s, 1e-9))), ran,
                    plan.output(), plan.outputFormat().sparkName());
            if (counters.memorySplits() > 0)
                out.printf(Locale.ROOT, "  %,d engine passes ran out of GPU memory and were split into smaller ones (same results;"
                        + " a smaller --token-budget avoids the retries)%n", counters.memorySplits());
            if (counters.errors() > 0) {
                counters.errorKinds().forEach((kind, n) -> out.printf(Locale.ROOT, "  %,d x %s%n", n, kind));
                out.println(o.onError == OnError.SKIP ? "rows with errors were left out (--on-error skip)"
                        : "rows with errors have a message in the 'error' column and nulls in the others");
            }
            if (counters.invalidUtf8Docs() > 0)
                out.printf(Locale.ROOT, "  %,d documents had invalid UTF-8 (%,d malformed byte sequences): %s%n", counters.invalidUtf8Docs(),
                        counters.invalidUtf8Sequences(), o.strictUtf8 ? "error rows (--strict-utf8)"
                                : "scored with U+FFFD in place of each bad sequence (--strict-utf8 makes them error rows)");
            RunStats stats = null;
            if (o.task == JobSpec.Task.SCORE) {
                // The output is complete by now: a report that cannot be made is a warning, not a failed job.
                try {
                    stats = ScoreReport.stats(spark, writeTo, plan.outputFormat(), result.schema());
                } catch (Exception e) { // Spark's AnalysisException is a checked one
                    err.println("warning: no quantiles and no run report: reading the output back failed: " + rootMessage(e));
                }
                if (stats != null) {
                    try {
                        ScoreReport.write(writeTo, hadoop, task, plan, ran, counters, s, stats, progress.samples());
                        out.println("report: " + new org.apache.hadoop.fs.Path(plan.output(), RunReport.FILE));
                    } catch (RuntimeException | LinkageError e) { // LinkageError: a JVM without usable fonts for the charts
                        err.println("warning: the run report was not written: " + rootMessage(e));
                    }
                }
            }
            writeSideFile(writeTo, hadoop, kv, counters, s, seen, stats);
            if (staged != null) staged.swap();
            if (o.reportBy != null)
                PerplexityReport.format(o.reportBy, PerplexityReport.groups(spark, plan.output(), plan.outputFormat(), o.reportBy))
                        .forEach(out::println);
            double rate = counters.rows() == 0 ? 0 : (double) counters.errors() / counters.rows();
            if (rate > o.maxErrorRate) {
                err.printf(Locale.ROOT, "error: %d of %d rows (%.1f%%) have errors, more than --max-error-rate %s allows; the output is kept in %s%n",
                        counters.errors(), counters.rows(), 100 * rate, o.maxErrorRate, plan.output());
                return 1;
            }
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return 2;
        } catch (Exception e) { // Spark's SparkException (a failed job) is a checked exception Scala throws undeclared
            String rowFailed = rowFailed(e);
            if (rowFailed != null) {
                err.println("error: " + task + " stopped: " + rowFailed);
                return 1;
            }
            err.println("error: " + task + " failed: " + rootMessage(e));
            e.printStackTrace(err);
            return 1;
        } finally {
            if (progress != null) progress.close();
            fingerprint.cancel(); // done by now, unless the job failed first
            start.close();
        }
    }

    /** A model that did not load: the start beside it is stopped (its session too) before the job returns 2. */
    private static int abandon(JobStart start, Background<ModelFingerprint> fingerprint) {
        fingerprint.cancel();
        start.abandon();
        return 2;
    }

    /**
     * Bytes of the files a file-based Dataset reads, from the file listing Spark already has (the relations'
     * own sizes: the plan's statistics would scale them by the selected columns); -1 when unknown.
     */
    static long sizeInBytes(Dataset<Row> in) {
        try {
            long n = 0;
            for (var leaf : scala.jdk.javaapi.CollectionConverters.asJava(in.queryExecution().analyzed().collectLeaves())) {
                if (!(leaf instanceof org.apache.spark.sql.execution.datasources.LogicalRelation)) return -1;
                n += ((org.apache.spark.sql.execution.datasources.LogicalRelation) leaf).relation().sizeInBytes();
            }
            return n > 0 ? n : -1;
        } catch (RuntimeException e) {
            return -1;
        }
    }

    private static void touch(String dir, String name, Configuration conf) throws IOException {
        org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(dir, name);
        p.getFileSystem(conf).create(p, true).close();
    }

    /**
     * Parquet knows its row count from the footers: read them on a driver thread, the job does not wait. The total is
     * their rows less the earlier rows a resumed run does not write again.
     */
    private static void startRowCount(Progress progress, String[] files, Configuration conf, long earlierRows) {
        Thread t = new Thread(() -> {
            long rows = 0;
            for (String f : files) {
                try (org.apache.parquet.hadoop.ParquetFileReader r = org.apache.parquet.hadoop.ParquetFileReader.open(
                        org.apache.parquet.hadoop.util.HadoopInputFile.fromPath(new org.apache.hadoop.fs.Path(f), conf))) {
                    rows += r.getRecordCount();
                } catch (IOException | RuntimeException e) {
                    return; // no ETA then
                }
            }
            progress.total(Progress.Measure.ROWS, rows - earlierRows);
        }, "ssdspark-row-count");
        t.setDaemon(true);
        t.start();
    }

    /**
     * output/_ssdspark.json: the footer metadata (for JSON output the only copy), the summary, and for score jobs the
     * quantiles of perplexity and bits per byte (stats null: none).
     */
    private static void writeSideFile(String output, Configuration conf, Map<String, String> kv, JobCounters c, double seconds,
                                      List<String> backends, RunStats stats) {
        Map<String, Object> doc = new LinkedHashMap<>(kv);
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("rows", c.rows());
        summary.put("error_rows", c.errors());
        summary.put("error_kinds", c.errorKinds());
        summary.put("tokens", c.tokens());
        summary.put("gpu_memory_splits", c.memorySplits());
        summary.put("invalid_utf8_documents", c.invalidUtf8Docs());
        summary.put("invalid_utf8_sequences", c.invalidUtf8Sequences());
        summary.put("seconds", Math.round(seconds * 1000) / 1000.0);
        summary.put("tokens_per_second", Math.round(c.tokens() / Math.max(seconds, 1e-9)));
        summary.put("backends", backends);
        doc.put("ssdspark.summary", summary);
        if (stats != null) doc.put(QUANTILES_KEY, stats.quantilesJson());
        try {
            org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(output, SIDE_FILE);
            FileSystem fs = p.getFileSystem(conf);
            try (OutputStream os = fs.create(p, true)) {
                os.write(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(doc));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("the output is written but " + SIDE_FILE + " is not: " + e.getMessage(), e);
        }
    }

    /** Where examples/ lives: -Dssdspark.home (bin/ssdspark sets it), $SSDSPARK_HOME, else the current folder. */
    static Path home() {
        String h = System.getProperty("ssdspark.home");
        if (h == null || h.isBlank()) h = System.getenv("SSDSPARK_HOME");
        return Path.of(h == null || h.isBlank() ? "" : h).toAbsolutePath();
    }

    /** The message of --on-error fail's row, if that is what stopped the job (in a task: the cause, or in its text). */
    private static String rowFailed(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof OnError.RowFailed) return c.getMessage();
        }
        String m = String.valueOf(t.getMessage());
        int at = m.indexOf(OnError.RowFailed.class.getName() + ": ");
        return at < 0 ? null : m.substring(at + OnError.RowFailed.class.getName().length() + 2).lines().findFirst().orElse("");
    }

    private static String rootMessage(Throwable t) {
        Throwable r = t;
        while (r.getCause() != null && r.getCause() != r) r = r.getCause();
        String m = r.getMessage();
        return r.getClass().getSimpleName() + (m == null ? "" : ": " + m.lines().findFirst().orElse(""));
    }
}
