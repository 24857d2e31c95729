package ssdspark.jobs;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import ssdspark.pipeline.DocumentPipeline;
import ssdspark.udf.JobCounters;
import ssdspark.udf.ModelCache;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Entry point of {@code bin/ssdspark} and of {@code spark-submit --class ssdspark.jobs.Main}.
 * Exit status: 0 done, 2 something to fix in the command line or input, 1 anything else.
 */
public final class Main {
    private Main() {}

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

        String task = o.task.cliName();
        String master = spark != null ? spark.sparkContext().master()
                : o.master != null ? o.master : new SparkConf().get("spark.master", "local[*]");
        try {
            if (o.example) out.println("running the bundled example: " + o.model + " on " + o.input);
            // The executors live in this JVM: load once here so a bad checkpoint fails before Spark starts.
            if (master.startsWith("local")) ModelCache.get(plan.spec().modelPath(), plan.spec().device());
        } catch (IllegalArgumentException | UnsupportedOperationException | java.io.UncheckedIOException e) {
            err.println("error: cannot load model " + plan.spec().modelPath() + ": " + e.getMessage());
            return 2;
        }

        boolean own = spark == null;
        try {
            if (own) spark = session(o, task, master);
            long t0 = System.nanoTime();
            JobCounters counters = new JobCounters(spark.sparkContext());
            DocumentPipeline.run(spark, plan.input(), plan.inputFormat(), o.idCol, o.tokensCol, plan.spec(), counters,
                    plan.output(), plan.outputFormat(), o.overwrite);
            double s = (System.nanoTime() - t0) / 1e9;
            out.printf(Locale.ROOT, "%s: %d rows (%d with errors), %d tokens in %.1f s -> %s (%s)%n", task, counters.rows(),
                    counters.errors(), counters.tokens(), s, plan.output(), plan.outputFormat().sparkName());
            if (counters.errors() > 0)
                out.println("rows with errors have a message in the 'error' column and nulls in the others");
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return 2;
        } catch (RuntimeException e) {
            err.println("error: " + task + " failed: " + rootMessage(e));
            e.printStackTrace(err);
            return 1;
        } finally {
            if (own && spark != null) spark.stop();
        }
    }

    private static SparkSession session(JobOptions o, String task, String master) {
        SparkSession.Builder b = SparkSession.builder().appName("ssdspark " + task).master(master);
        for (String[] kv : o.conf) b.config(kv[0], kv[1]);
        return b.getOrCreate();
    }

    /** Where examples/ lives: -Dssdspark.home (bin/ssdspark sets it), $SSDSPARK_HOME, else the current folder. */
    static Path home() {
        String h = System.getProperty("ssdspark.home");
        if (h == null || h.isBlank()) h = System.getenv("SSDSPARK_HOME");
        return Path.of(h == null || h.isBlank() ? "" : h).toAbsolutePath();
    }

    private static String rootMessage(Throwable t) {
        Throwable r = t;
        while (r.getCause() != null && r.getCause() != r) r = r.getCause();
        String m = r.getMessage();
        return r.getClass().getSimpleName() + (m == null ? "" : ": " + m.lines().findFirst().orElse(""));
    }
}
