package ssdspark.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.metadata.FileMetaData;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.schema.Type;
import ssdspark.pipeline.text.TextInputOptions;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * The columns of a local JSON-lines or Parquet input, read from its first data file without Spark, so a wrong
 * --text-col, --tokens-col or --id-col, or a file that is not JSON lines, is reported in a second instead of after
 * Spark's start and the model's load. Spark still checks the full schema when it reads the input.
 */
final class InputColumns {
    /** JSON lines sampled for field names (Spark reads all of them; a field first seen later is very rare). */
    static final int JSON_SAMPLE_LINES = 1000;

    /**
     * The column names, and where they were read from (for messages); for Parquet the footer they were read from
     * (null for JSON), which the job reuses as the schema Spark would infer ({@link ParquetSchema}).
     */
    record Found(Set<String> names, String source, ParquetSchema.Footer footer) {
        Found(Set<String> names, String source) { this(names, source, null); }

        boolean has(String c) { return names.contains(c); }

        String list() { return names.isEmpty() ? "none" : String.join(", ", names); }
    }

    private InputColumns() {}

    /**
     * The columns of the local input (a file or a folder of part files); empty when they cannot be known here
     * (no data file, a compression other than gzip): then only Spark checks them.
     */
    static Optional<Found> of(Path input, TextInputOptions.Format format) {
        if (format == TextInputOptions.Format.TEXT) return Optional.empty();
        Path file = firstDataFile(input);
        if (file == null) return Optional.empty();
        Optional<Found> found = format == TextInputOptions.Format.JSON ? json(file) : Optional.of(parquet(file));
        // folders named col=value (Spark's partitioned layout) are columns too
        Set<String> partitions = new LinkedHashSet<>();
        for (Path part : input.relativize(file.getParent() == null ? file : file.getParent())) {
            int eq = part.toString().indexOf('=');
            if (eq > 0) partitions.add(part.toString().substring(0, eq));
        }
        return found.map(f -> {
            Set<String> all = new LinkedHashSet<>(f.names());
            all.addAll(partitions);
            return new Found(all, f.source(), f.footer());
        });
    }

    /** The input itself, or the first file (by path) under the folder whose names do not start with '_' or '.' (as Spark skips). */
    static Path firstDataFile(Path input) {
        if (Files.isRegularFile(input)) return input;
        if (!Files.isDirectory(input)) return null;
        try (Stream<Path> s = Files.walk(input, 8)) {
            return s.filter(Files::isRegularFile)
                    .filter(p -> {
                        for (Path part : input.relativize(p)) {
                            String n = part.toString();
                            if (n.startsWith("_") || n.startsWith(".")) return false;
                        }
                        return true;
                    })
                    .sorted().findFirst().orElse(null);
        } catch (IOException e) {
            throw new UsageException("cannot list input " + input + ": " + e.getMessage(), e);
        }
    }

    private static Optional<Found> json(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        boolean gz = name.endsWith(".gz");
        for (String z : new String[] {".bz2", ".zst", ".lz4", ".deflate", ".snappy", ".xz"})
            if (name.endsWith(z)) return Optional.empty();
        ObjectMapper json = new ObjectMapper();
        Set<String> names = new LinkedHashSet<>();
        int lines = 0, objects = 0;
        String firstBad = null;
        try (InputStream raw = Files.newInputStream(file);
             BufferedReader r = new BufferedReader(new InputStreamReader(gz ? new GZIPInputStream(raw) : raw, StandardCharsets.UTF_8))) {
            for (String line; lines < JSON_SAMPLE_LINES && (line = r.readLine()) != null; ) {
                if (line.isBlank()) continue; // Spark skips blank lines
                lines++;
                JsonNode n;
                try {
                    n = json.readTree(line);
                } catch (JsonProcessingException e) {
                    n = null;
                }
                // Spark reads an object per line, or an array of objects as several rows
                Iterator<JsonNode> rows = n == null ? null : n.isObject() ? java.util.List.of(n).iterator() : n.isArray() ? n.elements() : null;
                boolean any = false;
                while (rows != null && rows.hasNext()) {
                    JsonNode row = rows.next();
                    if (!row.isObject()) continue;
                    row.fieldNames().forEachRemaining(names::add);
                    any = true;
                }
                if (any) objects++;
                else if (firstBad == null) firstBad = "line " + lines + ": '" + abbreviate(line) + "'";
            }
        } catch (IOException e) {
            throw new UsageException("cannot read input " + file + ": " + e.getMessage(), e);
        }
        if (lines == 0) return Optional.empty(); // an empty file: Spark gives no rows, which is no error
        if (objects == 0)
            throw new UsageException("input " + file + " is not JSON lines: none of its first " + lines + " non-blank lines is a JSON object ("
                    + firstBad + "); JSON lines input has one object per line, such as {\"id\": 1, \"text\": \"...\"}."
                    + " For plain text pass --format text, for Parquet --format parquet");
        return Optional.of(new Found(names, "fields of the first " + lines + " lines of " + file));
    }

    private static Found parquet(Path file) {
        try (ParquetFileReader r = ParquetFileReader.open(HadoopInputFile.fromPath(
                new org.apache.hadoop.fs.Path(file.toUri()), new Configuration()))) {
            FileMetaData meta = r.getFooter().getFileMetaData();
            Set<String> names = new LinkedHashSet<>();
            for (Type t : meta.getSchema().getFields()) names.add(t.getName());
            return new Found(names, "columns of " + file, new ParquetSchema.Footer(file.toAbsolutePath().normalize(), meta));
        } catch (IOException | RuntimeException e) {
            throw new UsageException("input " + file + " is not a readable Parquet file (" + e.getMessage()
                    + "); for JSON lines pass --format json, for plain text --format text", e);
        }
    }

    private static String abbreviate(String s) {
        String t = s.strip();
        return t.length() <= 60 ? t : t.substring(0, 57) + "...";
    }
}
