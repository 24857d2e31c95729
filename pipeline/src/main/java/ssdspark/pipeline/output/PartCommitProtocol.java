package ssdspark.pipeline.output;

import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.mapreduce.JobContext;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.spark.TaskContext;
import org.apache.spark.internal.io.FileCommitProtocol;
import org.apache.spark.internal.io.FileNameSpec;
import scala.Option;
import scala.collection.immutable.Seq;
import ssdspark.udf.JobCounters;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Spark's commit protocol for the jobs' output, one commit per task instead of one per job: task k (input part k,
 * see {@link ssdspark.pipeline.InputSplits}) writes {@code part-0000k-c000.EXT} (in {@code col=value/} folders with
 * --partition-by) under {@code _ssdspark_temporary/}, and its commit renames the files into place and then writes
 * the part's marker {@code _ssdspark_parts/part-0000k.json} (its files and counts; {@link RunManifest}). The marker
 * is the commit point: a run killed at any moment leaves every part either committed (marker present) or not, and
 * {@code --resume} redoes exactly the parts without one. Names do not change between runs, so a redone part
 * replaces its stray files. commitJob writes {@code _SUCCESS}.
 *
 * <p>Spark's speculation would let two attempts of a part commit one after the other (the later wins, whole);
 * the jobs leave it off.
 */
public final class PartCommitProtocol extends FileCommitProtocol implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Where tasks write before their commit. */
    public static final String TEMP = "_ssdspark_temporary";
    /** The committed parts' markers. */
    public static final String PARTS = "_ssdspark_parts";
    /** Hadoop conf key (a writer option): the part number of each partition written, when not 0, 1, 2, ... (a resumed run). */
    public static final String PART_NUMBERS = "ssdspark.part.numbers";
    /** The SQL setting that selects a commit protocol. */
    public static final String SETTING = "spark.sql.sources.commitProtocolClass";

    private final String path;
    private transient List<String[]> files; // per task: (temporary path, path relative to the output)

    public PartCommitProtocol(String jobId, String path, boolean dynamicPartitionOverwrite) {
        if (dynamicPartitionOverwrite)
            throw new UnsupportedOperationException("ssdspark's part commits do not support dynamic partition overwrite");
        this.path = path;
    }

    /** The file name of part k's first file with this suffix (".zstd.parquet"), as tasks name them. */
    public static String fileName(int part, String suffix) { return String.format(Locale.ROOT, "part-%05d%s", part, suffix); }

    /** The name prefix every file of part k has ("part-00007-", "part-00007."). */
    static boolean isFileOfPart(String name, int part) {
        String p = String.format(Locale.ROOT, "part-%05d", part);
        return name.startsWith(p + "-") || name.startsWith(p + ".");
    }

    @Override
    public void setupJob(JobContext job) {
        try {
            Path root = new Path(path);
            FileSystem fs = root.getFileSystem(job.getConfiguration());
            fs.mkdirs(new Path(root, TEMP));
            fs.mkdirs(new Path(root, PARTS));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare output " + path + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void setupTask(TaskAttemptContext task) { files = new ArrayList<>(); }

    @Override
    public String newTaskTempFile(TaskAttemptContext task, Option<String> dir, String ext) {
        return newTaskTempFile(task, dir, new FileNameSpec("", ext));
    }

    @Override
    public String newTaskTempFile(TaskAttemptContext task, Option<String> dir, FileNameSpec spec) {
        if (files == null) files = new ArrayList<>();
        String name = fileName(part(task), spec.prefix() + spec.suffix());
        String rel = dir.isDefined() ? dir.get() + "/" + name : name;
        Path tmp = new Path(attemptDir(task), rel);
        files.add(new String[] {tmp.toString(), rel});
        return tmp.toString();
    }

    @Override
    public String newTaskTempFileAbsPath(TaskAttemptContext task, String absoluteDir, String ext) {
        throw new UnsupportedOperationException("ssdspark's output has no partitions in custom locations");
    }

    @Override
    public TaskCommitMessage commitTask(TaskAttemptContext task) {
        int part = part(task);
        Path root = new Path(path);
        ArrayList<String> committed = new ArrayList<>();
        try {
            FileSystem fs = root.getFileSystem(task.getConfiguration());
            for (String[] f : files == null ? List.<String[]>of() : files) {
                Path tmp = new Path(f[0]), fin = new Path(root, f[1]);
                if (!fs.exists(tmp)) continue; // a writer that opened no file
                if (fs.exists(fin)) fs.delete(fin, false); // left by an attempt that did not commit
                fs.mkdirs(fin.getParent());
                if (!fs.rename(tmp, fin)) throw new IOException("could not move " + tmp + " to " + fin);
                committed.add(f[1]);
            }
            TaskContext tc = TaskContext.get();
            JobCounters.TaskCounts counts = JobCounters.ofTask(tc == null ? -1 : tc.taskAttemptId());
            RunManifest.writeMarker(fs, root, new RunManifest.PartDone(part, committed, counts.rows(), counts.errors(), counts.tokens(),
                    counts.errorKinds()), task.getTaskAttemptID().toString());
            fs.delete(attemptDir(task), true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot commit part " + part + " of " + path + ": " + e.getMessage(), e);
        }
        return new TaskCommitMessage(committed);
    }

    @Override
    public void abortTask(TaskAttemptContext task) {
        try {
            Path dir = attemptDir(task);
            dir.getFileSystem(task.getConfiguration()).delete(dir, true);
        } catch (IOException e) {
            // the next attempt or run clears it
        }
    }

    @Override
    public void commitJob(JobContext job, Seq<TaskCommitMessage> messages) {
        try {
            Path root = new Path(path);
            FileSystem fs = root.getFileSystem(job.getConfiguration());
            fs.delete(new Path(root, TEMP), true);
            fs.create(new Path(root, "_SUCCESS"), true).close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot finish output " + path + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void abortJob(JobContext job) {
        // committed parts stay for --resume; the temporary folder is cleared by the next run's setupJob/commitJob
    }

    private Path attemptDir(TaskAttemptContext task) {
        return new Path(new Path(path, TEMP), task.getTaskAttemptID().toString());
    }

    /** The part number of the task's partition: the partition index, or its entry in {@link #PART_NUMBERS}. */
    private static int part(TaskAttemptContext task) {
        int index = task.getTaskAttemptID().getTaskID().getId();
        String numbers = task.getConfiguration().get(PART_NUMBERS);
        if (numbers == null || numbers.isEmpty()) return index;
        return Integer.parseInt(numbers.split(",")[index]);
    }
}
