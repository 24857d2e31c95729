package ssdspark.pipeline;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * --overwrite without a window of loss: the new output is built in a sibling folder ({@code .NAME.ssdspark-new})
 * and swapped in only when complete (the old one is renamed to {@code .NAME.ssdspark-old}, the new one into
 * place, then the old one deleted). A run killed while building leaves the earlier output untouched; a later
 * --overwrite clears the leftover staging folder. Renames are atomic on HDFS and local disks; on object stores
 * they are copies, so the swap is not atomic there (but the old output is still only removed after the new
 * one is in place).
 */
public final class StagedOutput {
    private final FileSystem fs;
    private final Path target, staging, old;

    private StagedOutput(FileSystem fs, Path target) {
        this.fs = fs;
        this.target = target;
        this.staging = new Path(target.getParent(), "." + target.getName() + ".ssdspark-new");
        this.old = new Path(target.getParent(), "." + target.getName() + ".ssdspark-old");
    }

    /** For an output folder that exists and will be replaced: clears a stale staging folder of an earlier killed run. */
    public static StagedOutput of(String output, Configuration conf) {
        try {
            Path t = new Path(output);
            StagedOutput s = new StagedOutput(t.getFileSystem(conf), t.getFileSystem(conf).makeQualified(t));
            if (s.fs.exists(s.staging)) s.fs.delete(s.staging, true);
            return s;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the replacement of " + output + ": " + e.getMessage(), e);
        }
    }

    /** True when output exists (so --overwrite builds beside it). */
    public static boolean exists(String output, Configuration conf) {
        try {
            Path t = new Path(output);
            return t.getFileSystem(conf).exists(t);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot check " + output + ": " + e.getMessage(), e);
        }
    }

    /** Where to write the new output. */
    public String staging() { return staging.toString(); }

    /** Puts the complete staging folder in place of the target; the old output goes last. */
    public void swap() {
        try {
            if (fs.exists(old)) fs.delete(old, true);
            if (fs.exists(target) && !fs.rename(target, old))
                throw new IOException("could not move the earlier output aside to " + old);
            if (!fs.rename(staging, target))
                throw new IOException("could not move the new output from " + staging + " into place (the earlier output is in " + old + ")");
            fs.delete(old, true);
        } catch (IOException e) {
            throw new UncheckedIOException("the new output is complete in " + staging + " but replacing " + target + " failed: " + e.getMessage(), e);
        }
    }
}
