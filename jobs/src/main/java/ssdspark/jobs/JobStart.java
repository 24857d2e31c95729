package ssdspark.jobs;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import ssdspark.pipeline.Corpus;
import ssdspark.pipeline.DataFormat;
import ssdspark.pipeline.InputSplits;
import ssdspark.pipeline.StagedOutput;
import ssdspark.pipeline.output.RunManifest;
import ssdspark.pipeline.text.TextInput;
import ssdspark.pipeline.text.TextInputOptions;
import ssdspark.udf.JobCounters;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The part of a job's start that does not need the model: the Spark session (when the job makes its own), its SQL
 * state, a remote tokenizer, an earlier run's manifest (--resume), and the input read and cut into parts. In local
 * mode it runs on its own thread while the driver loads the model ({@link #inBackground}); what it prints is held
 * back until the job takes its result, so the output reads as when the two ran one after the other.
 */
final class JobStart {
    /** What the job writes from: the input planned, in the session. */
    record Input(SparkSession spark, Configuration hadoop, Preflight.Plan plan, JobCounters counters, RunManifest.Plan before,
                 InputSplits.Settings splitting, Dataset<Row> rows, Progress.Measure measure, List<List<InputSplits.Split>> parts,
                 long sessionUpNanos) {}

    private final JobOptions o;
    private final Preflight.Plan plan;
    private final String task;
    private volatile String master;
    private final StartLog log;
    private final SqlWarmUp sqlWarmUp;
    /** The session: the caller's, or the one this start made (set as soon as it exists, so a failed start can stop it). */
    private volatile SparkSession spark;
    private final boolean own;
    /** Puts the caller's session settings back ({@link #pin}); null until pinned. */
    private volatile Runnable restoreConf;
    private final ByteArrayOutputStream held = new ByteArrayOutputStream();
    private PrintStream out;
    private Background<Input> running;

    /** A start in spark (null: make a session with master); the SQL warm-up begins now when the session is ours. */
    JobStart(JobOptions o, Preflight.Plan plan, String task, SparkSession spark, String master, StartLog log) {
        this.o = o;
        this.plan = plan;
        this.task = task;
        this.spark = spark;
        this.own = spark == null;
        this.master = master;
        this.log = log;
        this.sqlWarmUp = own && !serial() ? SqlWarmUp.start() : null;
    }

    /**
     * -Dssdspark.serialStart=true: the start one step after another, as before it overlapped the model load (model,
     * session, SQL state, input, fingerprint): for measuring what the overlap gains, in the same build.
     */
    static boolean serial() {
        return Boolean.getBoolean("ssdspark.serialStart");
    }

    /**
     * Whether the start may run beside the model load: the master does not wait for the model's backend (--device auto
     * without --master picks the task slots from it), and no Spark plugin starts with the session (the RAPIDS
     * Accelerator sets up GPU memory then; the model loads before it, as it always did).
     */
    static boolean canOverlap(JobOptions o, boolean masterGiven, boolean ownSession) {
        if (serial()) return false;
        if (!masterGiven && ssdspark.udf.ModelCache.AUTO.equals(o.device)) return false;
        if (!ownSession) return true;
        if (new SparkConf().contains("spark.plugins")) return false;
        for (JobOptions.Setting kv : o.conf) if (kv.key().equals("spark.plugins")) return false;
        return true;
    }

    /** The master the session is made with, when the model's backend decided it (--device auto): before {@link #join}. */
    void master(String m) {
        if (running != null && !m.equals(master))
            throw new IllegalStateException("the session started with " + master + " beside the model load, not " + m);
        master = m;
    }

    /** Starts the work on its own thread; {@link #join} takes its result. */
    void inBackground() {
        out = new PrintStream(held, true, StandardCharsets.UTF_8);
        running = Background.start("ssdspark-start", this::run);
    }

    /** The input: the background work's result (its exception if it failed), or the work done now on this thread. */
    Input join(PrintStream to) throws Exception {
        if (running == null) {
            out = to;
            return run();
        }
        try {
            Input in = running.join();
            SparkSession.setActiveSession(in.spark()); // as a session made on this thread would be
            return in;
        } finally {
            to.print(held.toString(StandardCharsets.UTF_8)); // what the start printed, before anything that follows it
        }
    }

    /** Abandons a start begun in the background (the model did not load): waits for it, then undoes it. Nothing it printed is shown. */
    void abandon() {
        if (running != null) running.await();
        close();
    }

    /** Puts the caller's session settings back, and stops the session this start made. */
    void close() {
        Runnable r = restoreConf;
        restoreConf = null;
        if (r != null) r.run();
        SparkSession s = spark;
        if (own && s != null) s.stop();
    }

    /** The thread the last start in this JVM ran on: ssdspark-start beside the model load, else the job's own (tests). */
    static volatile String lastThread;

    private Input run() throws Exception {
        lastThread = Thread.currentThread().getName();
        if (own) spark = session(o, task, master);
        long up = System.nanoTime();
        log.mark("session up");
        if (sqlWarmUp != null) sqlWarmUp.awaitSqlState();
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Preflight.Plan p = plan;
        if (p.tokenizerPath() != null && p.tokenizer() == null)
            p = p.withTokenizer(Preflight.readTokenizer(p.tokenizerPath(), hadoop)); // a remote tokenizer.json
        if (p.tokenizer() != null) out.println("tokenizer: " + p.tokenizer());
        JobCounters counters = new JobCounters(spark.sparkContext());

        // --resume: cut the input as the interrupted run did (its manifest), whatever this session's parallelism
        RunManifest.Plan before = o.resume ? RunManifest.read(p.output(), hadoop) : null;
        if (o.resume && before == null) {
            if (StagedOutput.exists(p.output(), hadoop)) // local outputs: Preflight said so already
                throw new UsageException("cannot --resume into " + p.output() + ": it has no " + RunManifest.FILE
                        + "; pass --overwrite to start it again, or pick another --output");
            out.println("nothing to resume in " + p.output() + ": starting it");
        }
        InputSplits.Settings splitting = before != null ? before.splitting() : InputSplits.Settings.of(spark);
        restoreConf = pin(spark, splitting);
        log.mark("session state");

        Dataset<Row> rows; // (id, tokens or text, carried...)
        Progress.Measure measure; // what the progress line's "% of input" counts
        List<List<InputSplits.Split>> parts;
        if (p.isText()) {
            rows = p.inputFormat() == TextInputOptions.Format.PARQUET // as TextInput.read, with the footer's schema: no schema job
                    ? TextInput.select(ParquetSchema.read(spark, p.input(), p.inputFooter()).rows(), p.text().idCol(), p.text().textCol(), p.carried())
                    : TextInput.read(spark, p.text(), p.carried(), counters);
            log.mark("input read");
            boolean plainText = p.inputFormat() == TextInputOptions.Format.TEXT;
            parts = plainText ? TextInput.parts(spark, p.text()) : InputSplits.of(rows.rdd());
            measure = plainText ? Progress.Measure.OWN_BYTES : p.inputFormat() == TextInputOptions.Format.JSON
                    ? Progress.Measure.SPARK_BYTES : Progress.Measure.ROWS;
        } else {
            if (p.inputFormat() == TextInputOptions.Format.TEXT)
                throw new UsageException("plain-text input needs --tokenizer");
            DataFormat f = p.inputFormat() == TextInputOptions.Format.JSON ? DataFormat.JSON : DataFormat.PARQUET;
            Dataset<Row> in = f == DataFormat.JSON ? Corpus.readJsonTokens(spark, p.input(), p.tokensCol())
                    : ParquetSchema.read(spark, p.input(), p.inputFooter()).rows(); // the footer's schema: no schema job
            rows = Corpus.select(in, o.idCol, p.tokensCol(), p.carried());
            log.mark("input read");
            parts = InputSplits.of(rows.rdd());
            measure = f == DataFormat.PARQUET ? Progress.Measure.ROWS : Progress.Measure.SPARK_BYTES;
        }
        log.mark("input split");
        return new Input(spark, hadoop, p, counters, before, splitting, rows, measure, parts, up);
    }

    /** Sets the input-cutting settings on the session; the returned action puts the earlier values back. */
    private static Runnable pin(SparkSession spark, InputSplits.Settings s) {
        Map<String, String> earlier = new LinkedHashMap<>();
        for (String k : InputSplits.Settings.KEYS) earlier.put(k, spark.conf().get(k, null));
        s.apply(spark);
        return () -> earlier.forEach((k, v) -> {
            if (v == null) spark.conf().unset(k);
            else spark.conf().set(k, v);
        });
    }

    private static SparkSession session(JobOptions o, String task, String master) {
        SparkSession.Builder b = SparkSession.builder().appName("ssdspark " + task).master(master);
        // Running tasks report their counts with executor heartbeats: often enough for the progress line,
        // unless the user set it.
        if (o.progressSeconds > 0 && !new SparkConf().contains("spark.executor.heartbeatInterval"))
            b.config("spark.executor.heartbeatInterval", Math.max(1, Math.min(o.progressSeconds, 10)) + "s");
        for (JobOptions.Setting kv : o.conf) b.config(kv.key(), kv.value());
        return b.getOrCreate();
    }
}
