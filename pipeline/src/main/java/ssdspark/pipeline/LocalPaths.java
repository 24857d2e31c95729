package ssdspark.pipeline;

import java.net.URI;
import java.nio.file.Path;

/** Checks that only make sense for paths on this machine's file system (no scheme, or file:). */
public final class LocalPaths {
    private LocalPaths() {}

    /** The local path, or null for other file systems (hdfs:, s3a:, ...) and glob patterns. */
    public static Path local(String path) {
        if (path == null || path.isBlank() || path.matches(".*[*?\\[{].*")) return null;
        if (path.startsWith("file:")) return Path.of(URI.create(path.startsWith("file://") ? path : "file://" + path.substring(5)));
        if (path.matches("^[A-Za-z][A-Za-z0-9+.-]*:.*")) return null;
        return Path.of(path);
    }

    /** Files Spark and Hadoop skip when reading a folder: _SUCCESS, .crc, and friends. */
    static boolean hidden(String name) {
        return name.startsWith("_") || name.startsWith(".");
    }
}
