package ssdspark.jobs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A Spark standalone cluster on this machine for tests: a master and workers, each in its own JVM with only Spark's
 * jars on its classpath (the job jar reaches executors the way it does on a real cluster: through spark-submit).
 * Workers launch executors as child JVMs from a made-up SPARK_HOME whose jars/ links Spark's jars. {@link #close()}
 * kills every JVM it started and their descendants (executors, drivers), also when a test fails half-way.
 */
final class StandaloneCluster implements AutoCloseable {
    private static final Duration STARTUP = Duration.ofSeconds(120);

    /** java, the classpath and the JVM options every child gets. */
    record Jvm(Path java, String classpath, List<String> options, Map<String, String> env) {
        Process start(String mainClass, List<String> args, Path log, String heap) throws IOException {
            List<String> cmd = new ArrayList<>(List.of(java.toString(), "-Xmx" + heap));
            cmd.addAll(options);
            cmd.addAll(List.of("-cp", classpath, mainClass));
            cmd.addAll(args);
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().putAll(env);
            return pb.start();
        }
    }

    private final Jvm jvm;
    private final Path dir;
    private final List<Process> started = new ArrayList<>();
    private final List<Process> workers = new ArrayList<>();
    private final List<Path> workDirs = new ArrayList<>();
    private final Thread cleanup = new Thread(this::killAll, "standalone-cluster-cleanup");
    private String masterUrl;

    /**
     * Starts a master and n workers of cores cores and memory each (e.g. "1g") under dir (logs, work dirs, SPARK_HOME).
     * sparkJars: Spark's jars (the jobs module's target/spark.classpath).
     */
    static StandaloneCluster start(Path dir, List<String> sparkJars, List<String> jvmOptions, int n, int cores, String memory)
            throws IOException, InterruptedException {
        Path home = dir.resolve("spark-home");
        Files.createDirectories(home.resolve("jars"));
        Files.writeString(home.resolve("RELEASE"), "a SPARK_HOME for tests: jars/ links the build's Spark jars\n");
        for (String j : sparkJars) {
            Path jar = Path.of(j);
            Path link = home.resolve("jars").resolve(jar.getFileName());
            if (!Files.exists(link)) Files.createSymbolicLink(link, jar.toAbsolutePath());
        }
        // Workers build executor command lines from SPARK_HOME/jars; SPARK_LOCAL_IP keeps everything on loopback.
        Map<String, String> env = Map.of("SPARK_HOME", home.toString(), "SPARK_SCALA_VERSION", "2.13", "SPARK_LOCAL_IP", "127.0.0.1",
                "SPARK_CONF_DIR", Files.createDirectories(dir.resolve("conf")).toString());
        Jvm jvm = new Jvm(Path.of(System.getProperty("java.home"), "bin", "java"), String.join(java.io.File.pathSeparator, sparkJars),
                jvmOptions, env);
        StandaloneCluster c = new StandaloneCluster(jvm, dir);
        try {
            c.startAll(n, cores, memory);
            return c;
        } catch (IOException | InterruptedException | RuntimeException | Error e) {
            c.close();
            throw e;
        }
    }

    private StandaloneCluster(Jvm jvm, Path dir) {
        this.jvm = jvm;
        this.dir = dir;
        Runtime.getRuntime().addShutdownHook(cleanup); // a test JVM that exits early still takes its children along
    }

    private void startAll(int n, int cores, String memory) throws IOException, InterruptedException {
        Path masterLog = dir.resolve("master.log");
        started.add(jvm.start("org.apache.spark.deploy.master.Master",
                List.of("--host", "127.0.0.1", "--port", "0", "--webui-port", "0"), masterLog, "256m"));
        Matcher m = awaitLine(masterLog, Pattern.compile("Starting Spark master at (spark://\\S+)"), started.get(0));
        masterUrl = m.group(1);
        List<Path> logs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Path work = Files.createDirectories(dir.resolve("worker-" + i));
            Path log = dir.resolve("worker-" + i + ".log");
            Process w = jvm.start("org.apache.spark.deploy.worker.Worker", List.of("--host", "127.0.0.1", "--port", "0",
                    "--webui-port", "0", "--cores", String.valueOf(cores), "--memory", memory, "--work-dir", work.toString(), masterUrl),
                    log, "256m");
            started.add(w);
            workers.add(w);
            workDirs.add(work);
            logs.add(log);
        }
        for (int i = 0; i < n; i++) awaitLine(logs.get(i), Pattern.compile("Successfully registered with master"), workers.get(i));
    }

    String masterUrl() { return masterUrl; }

    Jvm jvm() { return jvm; }

    int workers() { return workers.size(); }

    /** Worker i's work dir: app-ID/EXECUTOR_ID/{stdout,stderr} per executor it launched. */
    Path workDir(int i) { return workDirs.get(i); }

    /** Starts a JVM (a spark-submit driver) that {@link #close()} kills too. */
    Process startChild(String mainClass, List<String> args, Path log, String heap) throws IOException {
        Process p = jvm.start(mainClass, args, log, heap);
        started.add(p);
        return p;
    }

    /** The executor JVM worker i runs now (a descendant running CoarseGrainedExecutorBackend), if any. */
    Optional<ProcessHandle> executorOf(int i) {
        return workers.get(i).descendants()
                .filter(p -> p.info().arguments().map(a -> String.join(" ", a).contains("CoarseGrainedExecutorBackend")).orElse(false))
                .findFirst();
    }

    /** Waits until pattern matches a line of log, failing early (with the log) when process exits. */
    static Matcher awaitLine(Path log, Pattern pattern, Process process) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + STARTUP.toNanos();
        while (true) {
            String text = Files.exists(log) ? Files.readString(log) : "";
            Matcher m = pattern.matcher(text);
            if (m.find()) return m;
            if (!process.isAlive())
                throw new AssertionError("process exited (" + process.exitValue() + ") before logging /" + pattern + "/; " + log + ":\n" + tail(text));
            if (System.nanoTime() > deadline)
                throw new AssertionError("no line /" + pattern + "/ in " + log + " after " + STARTUP.toSeconds() + " s:\n" + tail(text));
            Thread.sleep(100);
        }
    }

    /** The last lines of a log, for failure messages. */
    static String tail(String text) {
        String[] lines = text.split("\n");
        return String.join("\n", java.util.Arrays.copyOfRange(lines, Math.max(0, lines.length - 40), lines.length));
    }

    static String tail(Path log) {
        try {
            return Files.exists(log) ? tail(Files.readString(log)) : "(no " + log + ")";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The stderr files of the executors that worker i launched for application dirs matching appDir. */
    List<Path> executorLogs(int i, java.util.function.Predicate<String> appDir) throws IOException {
        try (Stream<Path> s = Files.walk(workDir(i), 3)) {
            return s.filter(p -> p.getFileName().toString().equals("stderr"))
                    .filter(p -> appDir.test(p.getParent().getParent().getFileName().toString())).sorted().toList();
        }
    }

    /** Kills executors and drivers first (a worker killed with SIGKILL would orphan its executor), then workers and the master. */
    private synchronized void killAll() {
        List<ProcessHandle> all = new ArrayList<>();
        for (Process p : started) p.descendants().forEach(all::add);
        for (int i = started.size() - 1; i >= 0; i--) all.add(started.get(i).toHandle());
        for (ProcessHandle h : all) h.destroyForcibly();
        for (ProcessHandle h : all) {
            try {
                h.onExit().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                // reported by the caller's assertions if it matters; cleanup goes on
            }
        }
    }

    @Override
    public void close() {
        killAll();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook runs anyway
        }
    }
}
