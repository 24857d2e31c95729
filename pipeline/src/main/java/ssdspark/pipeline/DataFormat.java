package ssdspark.pipeline;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.Stream;

/** The file formats jobs read and write. */
public enum DataFormat {
    JSON, PARQUET;

    public String sparkName() { return name().toLowerCase(Locale.ROOT); }

    public static DataFormat parse(String s) {
        String t = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        switch (t) {
            case "json": case "jsonl": case "ndjson": return JSON;
            case "parquet": return PARQUET;
            default: throw new IllegalArgumentException("format must be json or parquet, got '" + s + "'");
        }
    }

    /**
     * The format a path's name says (.json, .jsonl, .ndjson, optionally compressed, or .parquet), else
     * for a local folder the one its data files share; null when neither tells.
     */
    public static DataFormat infer(String path) {
        DataFormat f = byName(path);
        if (f != null) return f;
        Path local = LocalPaths.local(path);
        if (local == null || !Files.isDirectory(local)) return null;
        try (Stream<Path> files = Files.walk(local, 3)) {
            DataFormat[] seen = files.filter(Files::isRegularFile)
                    .filter(p -> !LocalPaths.hidden(p.getFileName().toString()))
                    .map(p -> byName(p.getFileName().toString()))
                    .distinct().toArray(DataFormat[]::new);
            return seen.length == 1 ? seen[0] : null; // unknown or mixed: let the user say
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + path + ": " + e.getMessage(), e);
        }
    }

    private static DataFormat byName(String name) {
        String n = name.toLowerCase(Locale.ROOT).replaceAll("/+$", "");
        for (String z : new String[] {".gz", ".bz2", ".zst", ".deflate", ".snappy", ".lz4"})
            if (n.endsWith(z) && !n.endsWith(".parquet" + z)) n = n.substring(0, n.length() - z.length());
        if (n.endsWith(".json") || n.endsWith(".jsonl") || n.endsWith(".ndjson")) return JSON;
        if (n.endsWith(".parquet")) return PARQUET;
        return null;
    }
}
