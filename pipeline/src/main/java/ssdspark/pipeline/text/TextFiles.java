package ssdspark.pipeline.text;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.hadoop.io.compress.CompressionCodec;
import org.apache.hadoop.io.compress.CompressionCodecFactory;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.TaskCompletionListener;
import ssdspark.pipeline.CloseableIterator;
import ssdspark.udf.JobCounters;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.TreeMap;

/**
 * Plain-text corpora read file by file. Spark's own text source splits large files across tasks, which
 * loses line numbers; here a file is never split, so "PATH:LINE" ids are exact and stable, and files
 * (sorted by path) are spread over partitions in contiguous runs of about the same size, like Spark
 * packs small files. The price: one huge file is read by one task; split it, or use JSON lines.
 */
final class TextFiles {
    private TextFiles() {}

    /** A file to read, its size in bytes, and the document id it gives (its path, see {@link #list}). */
    static final class Entry implements Serializable {
        private static final long serialVersionUID = 1L;
        final String path;
        final long length;
        final String id;
        final long mtime;

        Entry(String path, long length) { this(path, length, path, 0); }

        Entry(String path, long length, String id, long mtime) {
            this.path = path;
            this.length = length;
            this.id = id;
            this.mtime = mtime;
        }

        @Override
        public String toString() { return path + " (" + length + " B)"; }
    }

    /**
     * The files of path (a file, a folder read recursively, or a glob), sorted by path. Like Spark,
     * names starting with '_' or '.' inside a folder are skipped (_SUCCESS, .crc, hidden files).
     * Ids are file paths as the user wrote them: /abs/path for a path without a scheme (not Hadoop's
     * file:/abs/path), the full URI for one with a scheme (hdfs://..., file:/...).
     */
    static List<Entry> list(String path, Configuration conf) {
        Path p = new Path(path);
        boolean plainLocal = p.toUri().getScheme() == null;
        TreeMap<String, Entry> files = new TreeMap<>();
        try {
            FileSystem fs = p.getFileSystem(conf);
            FileStatus[] matched = fs.globStatus(p);
            if (matched == null || matched.length == 0)
                throw new IllegalArgumentException("input path does not exist: " + path);
            for (FileStatus s : matched) {
                if (!s.isDirectory()) {
                    files.put(s.getPath().toString(), entry(s, plainLocal));
                    continue;
                }
                String root = s.getPath().toUri().getPath();
                RemoteIterator<LocatedFileStatus> it = fs.listFiles(s.getPath(), true);
                while (it.hasNext()) {
                    LocatedFileStatus f = it.next();
                    if (hiddenBelow(root, f.getPath().toUri().getPath())) continue;
                    files.put(f.getPath().toString(), entry(f, plainLocal));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list input " + path + ": " + e.getMessage(), e);
        }
        if (files.isEmpty()) throw new IllegalArgumentException("no input files under " + path + " (files named _* or .* are skipped)");
        return new ArrayList<>(files.values());
    }

    private static Entry entry(FileStatus f, boolean plainLocal) {
        String uri = f.getPath().toString();
        return new Entry(uri, f.getLen(), plainLocal && "file".equals(f.getPath().toUri().getScheme()) ? f.getPath().toUri().getPath() : uri,
                f.getModificationTime());
    }

    /** Counts the bytes read through it (the file's own bytes, before decompression). */
    static final class CountingStream extends java.io.FilterInputStream {
        volatile long count;

        CountingStream(InputStream in) { super(in); }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) count++;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) count += n;
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long k = super.skip(n);
            if (k > 0) count += k;
            return k;
        }
    }

    private static boolean hiddenBelow(String root, String file) {
        String rel = file.startsWith(root) ? file.substring(root.length()) : file;
        for (String part : rel.split("/"))
            if (part.startsWith("_") || part.startsWith(".")) return true;
        return false;
    }

    /**
     * Contiguous runs of files, each about maxSplit bytes where every file also costs openCost, as
     * Spark's FilePartition does: maxSplit = min(maxBytes, max(openCost, total / minPartitions)).
     */
    static List<List<Entry>> group(List<Entry> files, long maxBytes, long openCost, int minPartitions) {
        long total = 0;
        for (Entry f : files) total += f.length + openCost;
        long target = Math.min(maxBytes, Math.max(openCost, total / Math.max(1, minPartitions)));
        List<List<Entry>> groups = new ArrayList<>();
        List<Entry> cur = new ArrayList<>();
        long bytes = 0;
        for (Entry f : files) {
            long cost = f.length + openCost;
            if (!cur.isEmpty() && bytes + cost > target) {
                groups.add(cur);
                cur = new ArrayList<>();
                bytes = 0;
            }
            cur.add(f);
            bytes += cost;
        }
        if (!cur.isEmpty()) groups.add(cur);
        return groups;
    }

    /** The partition function: a group of files → (id, text) rows. */
    static final class ReadGroup implements FlatMapFunction<Iterator<List<Entry>>, Row> {
        private static final long serialVersionUID = 1L;
        private final HadoopConf conf;
        private final TextInputOptions.Unit unit;
        private final boolean skipBlank;
        private final JobCounters counters;
        private final boolean strictUtf8;

        ReadGroup(Configuration conf, TextInputOptions.Unit unit, boolean skipBlank) { this(conf, unit, skipBlank, null, false); }

        ReadGroup(Configuration conf, TextInputOptions.Unit unit, boolean skipBlank, JobCounters counters, boolean strictUtf8) {
            this.conf = new HadoopConf(conf);
            this.unit = unit;
            this.skipBlank = skipBlank;
            this.counters = counters;
            this.strictUtf8 = strictUtf8;
        }

        @Override
        public Iterator<Row> call(Iterator<List<Entry>> groups) {
            List<Entry> files = new ArrayList<>();
            groups.forEachRemaining(files::addAll);
            Docs docs = new Docs(files, conf.get(), unit, skipBlank, counters);
            TaskContext task = TaskContext.get();
            if (task != null) {
                if (strictUtf8) docs.strictFor(task.taskAttemptId());
                task.addTaskCompletionListener((TaskCompletionListener) c -> {
                    docs.close();
                    Utf8.forgetTask(c.taskAttemptId());
                });
            }
            return docs;
        }
    }

    /**
     * Documents of files in order, one open file at a time, lines streamed. Bytes are decoded by {@link Utf8}: a
     * malformed sequence becomes U+FFFD and is counted, or with strict decoding the document's problem is noted
     * for the tokenizer (an error row).
     */
    static final class Docs implements CloseableIterator<Row> {
        private final List<Entry> files;
        private final Configuration conf;
        private final TextInputOptions.Unit unit;
        private final boolean skipBlank;
        private final JobCounters counters;
        private long strictTask = -1; // the task attempt whose tokenizer takes the problems; -1: replace and count
        private CompressionCodecFactory codecs;
        private CountingStream raw;
        private long reported;
        private int nextFile;
        private InputStream in;
        private final byte[] buf = new byte[1 << 16];
        private int bufPos, bufEnd;
        private byte[] line = new byte[256];
        private int lineLen;
        private String path, id;
        private long lineNo;
        private Row next;

        Docs(List<Entry> files, Configuration conf, TextInputOptions.Unit unit, boolean skipBlank) { this(files, conf, unit, skipBlank, null); }

        Docs(List<Entry> files, Configuration conf, TextInputOptions.Unit unit, boolean skipBlank, JobCounters counters) {
            this.files = files;
            this.conf = conf;
            this.unit = unit;
            this.skipBlank = skipBlank;
            this.counters = counters;
        }

        /** Documents with invalid UTF-8 get their problem noted for task's tokenizer instead of being scored with U+FFFD. */
        void strictFor(long taskAttempt) { strictTask = taskAttempt; }

        /** Adds the bytes read from the file system since the last report to the job's input-bytes counter. */
        private void report() {
            if (counters == null || raw == null) return;
            long n = raw.count;
            if (n > reported) {
                counters.addInputBytes(n - reported);
                reported = n;
            }
        }

        @Override
        public boolean hasNext() {
            if (next == null) next = advance();
            return next != null;
        }

        @Override
        public Row next() {
            if (!hasNext()) throw new NoSuchElementException();
            Row r = next;
            next = null;
            report();
            return r;
        }

        private Row advance() {
            try {
                while (true) {
                    if (in == null) {
                        if (nextFile >= files.size()) return null;
                        open(files.get(nextFile++));
                        if (unit == TextInputOptions.Unit.FILE) {
                            byte[] all = in.readAllBytes();
                            close();
                            return row(id, Utf8.decode(all, 0, all.length), id);
                        }
                    }
                    if (!readLine()) { // ends lines at \n, \r\n or \r, like Hadoop's LineReader
                        close();
                        continue;
                    }
                    lineNo++;
                    Utf8.Decoded d = Utf8.decode(line, 0, lineLen);
                    if (skipBlank && d.text().isBlank()) continue;
                    return row(id + ":" + lineNo, d, id + " line " + lineNo);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
            }
        }

        /** The row of a decoded document; a malformed one counted, and with strict decoding its problem noted. */
        private Row row(String docId, Utf8.Decoded d, String where) {
            String text = d.text();
            if (lineNo <= 1) text = stripBom(text);
            if (d.malformed() > 0) {
                if (counters != null) counters.addInvalidUtf8(d.malformed());
                if (strictTask >= 0) Utf8.noteProblem(strictTask, docId, Utf8.message(d, where));
            }
            return RowFactory.create(docId, text);
        }

        /** The next line's bytes into line[0, lineLen), without its end; false at the end of the file. */
        private boolean readLine() throws IOException {
            lineLen = 0;
            boolean any = false;
            while (true) {
                if (bufPos == bufEnd && !fill()) return any;
                any = true;
                byte b = buf[bufPos++];
                if (b == '\n') return true;
                if (b == '\r') {
                    if (bufPos < bufEnd || fill()) if (buf[bufPos] == '\n') bufPos++;
                    return true;
                }
                if (lineLen == line.length) line = java.util.Arrays.copyOf(line, Math.max(256, line.length * 2));
                line[lineLen++] = b;
            }
        }

        private boolean fill() throws IOException {
            int n = in.read(buf, 0, buf.length);
            if (n <= 0) return false;
            bufPos = 0;
            bufEnd = n;
            return true;
        }

        private void open(Entry f) throws IOException {
            Path p = new Path(f.path);
            raw = new CountingStream(p.getFileSystem(conf).open(p));
            reported = 0;
            InputStream s = raw;
            if (codecs == null) codecs = new CompressionCodecFactory(conf);
            CompressionCodec codec = codecs.getCodec(p); // by extension: .gz, .bz2, .zst, ...
            if (codec != null) s = codec.createInputStream(s);
            in = s;
            bufPos = bufEnd = 0;
            path = f.path;
            id = f.id;
            lineNo = 0;
        }

        private static String stripBom(String s) {
            return !s.isEmpty() && s.charAt(0) == '\uFEFF' ? s.substring(1) : s;
        }

        @Override
        public void close() {
            if (in == null) return;
            report();
            try {
                in.close();
            } catch (IOException ignored) {
                // read-only; nothing to lose
            }
            in = null;
        }
    }
}
