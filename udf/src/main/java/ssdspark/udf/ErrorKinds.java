package ssdspark.udf;

import org.apache.spark.util.AccumulatorV2;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Error rows counted by kind, for the summary: the kind is the message with its particulars (numbers,
 * quoted values, file paths) replaced, so "token id 400 at position 1 is outside ..." and "token id 9 at
 * position 7 is outside ..." are one kind. At most {@link #MAX_KINDS} kinds; further ones count as "other".
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
                .replaceAll("-?\\d+(\\.\\d+)?([eE][-+]?\\d+)?", "N");
        return k.length() > 160 ? k.substring(0, 160) + "…" : k;
    }

    @Override public boolean isZero() { return counts.isEmpty(); }

    @Override
    public ErrorKinds copy() {
        ErrorKinds c = new ErrorKinds();
        c.counts.putAll(counts);
        return c;
    }

    @Override public void reset() { counts.clear(); }

    @Override public void add(String message) { count(kind(message), 1); }

    private void count(String kind, long n) {
        if (!counts.containsKey(kind) && counts.size() >= MAX_KINDS) kind = OTHER;
        counts.merge(kind, n, Long::sum);
    }

    @Override
    public void merge(AccumulatorV2<String, Map<String, Long>> other) {
        other.value().forEach(this::count);
    }

    /** Kinds by count, most frequent first. */
    @Override
    public Map<String, Long> value() {
        Map<String, Long> out = new LinkedHashMap<>();
        counts.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                .forEach(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }
}
