package ssdspark.jobs;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A job run by {@link Main} in a child JVM (this test JVM's classpath), to be killed with SIGKILL mid-run. */
final class ChildJob {
    private ChildJob() {}

    /**
     * Starts Main with args in a child JVM (output to log), waits until ready holds while it runs, then kills it with
     * SIGKILL; fails when the child ended first or ready did not come within 240 s.
     */
    static void killWhen(Path log, BooleanSupplier ready, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g"));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments())
            if (a.startsWith("--add-opens") || a.startsWith("-Djdk.reflect")) cmd.add(a);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
            while (!ready.getAsBoolean() && child.isAlive() && System.nanoTime() < deadline) Thread.sleep(20);
            assertTrue(ready.getAsBoolean() && child.isAlive(), "the child should be running when killed; log:\n" + Files.readString(log));
        } finally {
            child.destroyForcibly(); // SIGKILL on Linux
            child.waitFor(60, TimeUnit.SECONDS);
        }
        assertEquals(137, child.exitValue(), "killed by SIGKILL");
    }

    /** Files under dir (recursively) whose name starts with prefix; 0 while dir does not exist. */
    static long files(Path dir, String prefix) {
        if (!Files.isDirectory(dir)) return 0;
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> Files.isRegularFile(p) && p.getFileName().toString().startsWith(prefix)).count();
        } catch (IOException | java.io.UncheckedIOException e) {
            return 0; // files come and go while tasks commit
        }
    }
}
