package ssdspark.pipeline.output;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import ssdspark.pipeline.InputSplits;
import ssdspark.pipeline.InputSplits.Split;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code _ssdspark_manifest.json}: what an output folder is made of, part by part. Written before any task runs
 * (the settings, how the input was cut, and each part's input files with size and modification time) and again
 * when the job completes (each part's output files and row, error and token counts, from the markers tasks
 * write when they commit: {@code _ssdspark_parts/part-NNNNN.json}, see {@link PartCommitProtocol}). A resumed
 * run compares itself with it and redoes the parts without a marker.
 */
public final class RunManifest {
    private RunManifest() {}

    public static final String FILE = "_ssdspark_manifest.json";
    /** Settings that may change between a killed run and its resumption: they do not change any output value. */
    static final Set<String> MAY_CHANGE = Set.of("--max-error-rate", "--prefetch");

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** A committed part: its output files (relative to the output folder) and counts. */
    public record PartDone(int part, List<String> files, long rows, long errors, long tokens, Map<String, Long> errorKinds) {}

    /** A run's settings (the output metadata's pairs), how its input was cut, and the parts. */
    public record Plan(Map<String, String> settings, InputSplits.Settings splitting, List<List<Split>> parts) {}

    /** The plan of the output folder out; null when it has no manifest. */
    public static Plan read(String out, Configuration conf) {
        Path p = new Path(out, FILE);
        try {
            FileSystem fs = p.getFileSystem(conf);
            if (!fs.exists(p)) return null;
            JsonNode root;
            try (InputStream in = fs.open(p)) {
                root = JSON.readTree(in);
            }
            Map<String, String> settings = new LinkedHashMap<>();
            root.path("settings").fields().forEachRemaining(e -> settings.put(e.getKey(), e.getValue().asText()));
            JsonNode s = root.path("splitting");
            InputSplits.Settings splitting = new InputSplits.Settings(s.path("max_partition_bytes").asLong(),
                    s.path("open_cost_in_bytes").asLong(), s.path("min_partition_num").asInt());
            List<List<Split>> parts = new ArrayList<>();
            for (JsonNode part : root.path("parts")) {
                List<Split> inputs = new ArrayList<>();
                for (JsonNode i : part.path("inputs"))
                    inputs.add(new Split(i.path("path").asText(), i.path("start").asLong(), i.path("length").asLong(),
                            i.path("size").asLong(), i.path("mtime").asLong()));
                parts.add(inputs);
            }
            return new Plan(settings, splitting, parts);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("cannot read " + p + " (" + e.getMessage() + "); pass --overwrite to start the output again", e);
        }
    }

    /** Writes the manifest of plan into out (replacing it whole); done, when given, adds each committed part's files and counts. */
    public static void write(String out, Configuration conf, Plan plan, Map<Integer, PartDone> done) {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", "ssdspark-manifest/1");
        ObjectNode settings = root.putObject("settings");
        plan.settings().forEach(settings::put);
        ObjectNode s = root.putObject("splitting");
        s.put("max_partition_bytes", plan.splitting().maxPartitionBytes());
        s.put("open_cost_in_bytes", plan.splitting().openCostInBytes());
        s.put("min_partition_num", plan.splitting().minPartitionNum());
        ArrayNode parts = root.putArray("parts");
        for (int k = 0; k < plan.parts().size(); k++) {
            ObjectNode part = parts.addObject();
            part.put("part", k);
            ArrayNode inputs = part.putArray("inputs");
            for (Split i : plan.parts().get(k))
                inputs.addObject().put("path", i.path()).put("start", i.start()).put("length", i.length()).put("size", i.size()).put("mtime", i.mtime());
            PartDone d = done == null ? null : done.get(k);
            if (d != null) {
                ArrayNode files = part.putArray("files");
                d.files().forEach(files::add);
                part.put("rows", d.rows()).put("error_rows", d.errors()).put("tokens", d.tokens());
            }
        }
        Path root0 = new Path(out);
        try {
            FileSystem fs = root0.getFileSystem(conf);
            fs.mkdirs(root0);
            replace(fs, new Path(root0, FILE), JSON.writeValueAsBytes(root), "manifest");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + new Path(out, FILE) + ": " + e.getMessage(), e);
        }
    }

    /**
     * Why the run now cannot resume the one that wrote before, or null when it can: a setting that changes the
     * output, the model, tokenizer or backend, or the input files (a file added, removed, grown or touched).
     */
    public static String difference(Plan before, Plan now) {
        Map<String, String> a = comparable(before.settings()), b = comparable(now.settings());
        for (String k : union(a.keySet(), b.keySet())) {
            if (!Objects.equals(a.get(k), b.get(k)))
                return (k.startsWith("--") ? k : "'" + k + "'") + " was " + show(a.get(k)) + " and is now " + show(b.get(k));
        }
        if (before.parts().size() != now.parts().size())
            return "the input is now cut into " + now.parts().size() + " parts, not " + before.parts().size() + " (files added or removed?)";
        for (int k = 0; k < now.parts().size(); k++) {
            if (before.parts().get(k).equals(now.parts().get(k))) continue;
            List<Split> x = before.parts().get(k), y = now.parts().get(k);
            for (int i = 0; i < Math.max(x.size(), y.size()); i++) {
                Split p = i < x.size() ? x.get(i) : null, q = i < y.size() ? y.get(i) : null;
                if (Objects.equals(p, q)) continue;
                if (p != null && q != null && p.path().equals(q.path()))
                    return "input file " + q.path() + " changed since (size " + p.size() + " → " + q.size() + ", modified " + p.mtime() + " → " + q.mtime() + ")";
                return "the input files changed since (part " + k + " read " + (p == null ? "nothing" : p.path()) + ", now " + (q == null ? "nothing" : q.path()) + ")";
            }
        }
        return null;
    }

    /** The output settings with options that may change unpacked and removed. */
    private static Map<String, String> comparable(Map<String, String> settings) {
        Map<String, String> m = new TreeMap<>(settings);
        String opts = m.remove("ssdspark.options");
        if (opts != null) {
            for (Map.Entry<String, String> e : OutputMetadata.parse(opts).entrySet())
                if (!MAY_CHANGE.contains(e.getKey())) m.put(e.getKey(), e.getValue());
        }
        return m;
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> u = new java.util.TreeSet<>(a);
        u.addAll(b);
        return u;
    }

    private static String show(String v) { return v == null ? "not set" : v.length() > 80 ? v.substring(0, 80) + "…" : v; }

    /** The parts committed in out, by part number (markers that do not parse are not committed). */
    public static Map<Integer, PartDone> committed(String out, Configuration conf) {
        Map<Integer, PartDone> done = new TreeMap<>();
        Path dir = new Path(out, PartCommitProtocol.PARTS);
        try {
            FileSystem fs = dir.getFileSystem(conf);
            if (!fs.exists(dir)) return done;
            for (FileStatus f : fs.listStatus(dir)) {
                String n = f.getPath().getName();
                if (!n.startsWith("part-") || !n.endsWith(".json")) continue;
                try (InputStream in = fs.open(f.getPath())) {
                    JsonNode m = JSON.readTree(in);
                    List<String> files = new ArrayList<>();
                    m.path("files").forEach(x -> files.add(x.asText()));
                    Map<String, Long> kinds = new LinkedHashMap<>();
                    m.path("error_kinds").fields().forEachRemaining(e -> kinds.put(e.getKey(), e.getValue().asLong()));
                    PartDone d = new PartDone(m.path("part").asInt(), files, m.path("rows").asLong(), m.path("error_rows").asLong(),
                            m.path("tokens").asLong(), kinds);
                    done.put(d.part(), d);
                } catch (IOException | RuntimeException e) {
                    // a marker cut short is no commit: the part is redone
                }
            }
            return done;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Deletes the data files of parts not in committed, and the temporary folder: what a killed run's tasks left. */
    public static int clearUncommitted(String out, Configuration conf, Set<Integer> committed, int parts) {
        Path root = new Path(out);
        try {
            FileSystem fs = root.getFileSystem(conf);
            fs.delete(new Path(root, PartCommitProtocol.TEMP), true);
            return clear(fs, root, committed, parts);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clear the unfinished parts of " + out + ": " + e.getMessage(), e);
        }
    }

    private static int clear(FileSystem fs, Path dir, Set<Integer> committed, int parts) throws IOException {
        int n = 0;
        for (FileStatus f : fs.listStatus(dir)) {
            String name = f.getPath().getName();
            if (f.isDirectory()) {
                if (!name.startsWith("_") && !name.startsWith(".")) n += clear(fs, f.getPath(), committed, parts);
                continue;
            }
            for (int k = 0; k < parts; k++) {
                if (!committed.contains(k) && PartCommitProtocol.isFileOfPart(name, k)) {
                    fs.delete(f.getPath(), false);
                    n++;
                    break;
                }
            }
        }
        return n;
    }

    /** Writes part's marker: to a temporary name, then renamed, so a marker is whole or absent. */
    static void writeMarker(FileSystem fs, Path root, PartDone part, String attempt) throws IOException {
        ObjectNode m = JSON.createObjectNode();
        m.put("part", part.part());
        ArrayNode files = m.putArray("files");
        part.files().forEach(files::add);
        m.put("rows", part.rows()).put("error_rows", part.errors()).put("tokens", part.tokens());
        ObjectNode kinds = m.putObject("error_kinds");
        part.errorKinds().forEach(kinds::put);
        Path dir = new Path(root, PartCommitProtocol.PARTS);
        replace(fs, new Path(dir, PartCommitProtocol.fileName(part.part(), ".json")), JSON.writeValueAsBytes(m), attempt);
    }

    private static void replace(FileSystem fs, Path target, byte[] content, String tag) throws IOException {
        Path tmp = new Path(target.getParent(), "." + target.getName() + "." + tag + ".tmp");
        try (OutputStream os = fs.create(tmp, true)) {
            os.write(content);
        }
        if (fs.rename(tmp, target)) return; // atomic, replacing the target, on local disks
        // file systems whose rename does not replace (HDFS): a gap in which the part counts as not committed
        fs.delete(target, false);
        if (!fs.rename(tmp, target)) throw new IOException("could not move " + tmp + " to " + target);
    }
}
