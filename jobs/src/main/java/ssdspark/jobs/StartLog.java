package ssdspark.jobs;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;

/**
 * When each step of a job's start finished, in ms after the JVM started: one log line when the write job is
 * submitted (the first task logs its own start, {@code DocumentFunction}), so a cold job's first seconds can be read
 * from any run's log. Thread-safe: steps that run on other threads mark their ends too.
 */
final class StartLog {
    private static final Logger LOG = LoggerFactory.getLogger(StartLog.class);

    private record Mark(String step, long uptimeMs, long tookMs) {}

    private final List<Mark> marks = new ArrayList<>();

    /** Marks the end of step, which took tookMs (or -1: only its end matters). */
    synchronized void mark(String step, long tookMs) {
        marks.add(new Mark(step, ManagementFactory.getRuntimeMXBean().getUptime(), tookMs));
    }

    void mark(String step) { mark(step, -1); }

    /** Logs the marks so far, in the order of their ends. */
    synchronized void log() {
        StringJoiner j = new StringJoiner(", ", "start (ms after the JVM started): ", "");
        marks.stream().sorted(java.util.Comparator.comparingLong(Mark::uptimeMs)).forEach(m ->
                j.add(m.step() + " " + m.uptimeMs() + (m.tookMs() >= 0 ? " (" + m.tookMs() + " ms)" : "")));
        LOG.info(j.toString());
    }
}
