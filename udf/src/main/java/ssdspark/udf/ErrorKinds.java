package ssdspark.udf;

import org.apache.spark.util.AccumulatorV2;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Error rows counted by kind, for the summary: the kind is the message with its particulars (numbers,
 * quoted values, file paths) replaced, so "token id 400 at position 1 is outside ..." and "token id 9 at
 * position 7 is outside ..." are one kind. At most {@link #MAX_KINDS} kinds; further ones count as "other".
 *
 * <p>Synchronized: while the task thread adds, Spark reads running tasks' accumulators from other threads (the
 * executor's heartbeater serializes them; in local mode the driver calls {@link #value()} on the task's own copy),
 * and an unguarded TreeMap read during a put can throw ConcurrentModificationException or see a broken tree.
 */
public final class ErrorKinds extends AccumulatorV2<String, Map<String, Long>> {
    static final int MAX_KINDS = 32;
    static final String OTHER = "other";

    private final TreeMap<String, Long> counts = new TreeMap<>();

    /** The kind of an error message. */
    public static String kind(String message) {
        String k = message.lines().findFirst().orElse("")
                .replaceAll("'[^']*'", "'…'")
                .replaceAll("\"[^\"]*\"", "\"…\"")
                .replaceAll("(file:)?/[^\\s:,;)]+", "PATH")
                .replaceAll("(?<![\\w]-?)-?\\d+(\\.\\d+)?([eE][-+]?\\d+)?", "N"); // a number, not part of a name (UTF-8, bf16)
        return k.length() > 160 ? k.substring(0, 160) + "…" : k;
    }

    @Override public synchronized boolean isZero() { return counts.isEmpty(); }

    @Override
    public synchronized ErrorKinds copy() {
        ErrorKinds c = new ErrorKinds();
        c.counts.putAll(counts);
        return c;
    }

    @Override public synchronized void reset() { counts.clear(); }

    @Override public synchronized void add(String message) { count(kind(message), 1); }

    /** n rows of an already-classified kind (a kind from {@link #value()}). */
    void addCount(String kind, long n) { count(kind, n); }

    private void count(String kind, long n) {
        if (!counts.containsKey(kind) && counts.size() >= MAX_KINDS) kind = OTHER;
        counts.merge(kind, n, Long::sum);
    }

    @Override
    public synchronized void merge(AccumulatorV2<String, Map<String, Long>> other) {
        other.value().forEach(this::count);
    }

    /** Serialized (heartbeats, task results) under the lock, so never half-way through an add. */
    private synchronized void writeObject(java.io.ObjectOutputStream out) throws java.io.IOException { out.defaultWriteObject(); }

    /** Kinds by count, most frequent first. */
    @Override
    public synchronized Map<String, Long> value() {
        Map<String, Long> out = new LinkedHashMap<>();
        counts.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                .forEach(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }
}
