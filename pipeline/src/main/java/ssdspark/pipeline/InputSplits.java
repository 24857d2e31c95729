package ssdspark.pipeline;

import org.apache.spark.Dependency;
import org.apache.spark.OneToOneDependency;
import org.apache.spark.Partition;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.network.util.JavaUtils;
import org.apache.spark.rdd.PartitionPruningRDD;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.execution.datasources.FilePartition;
import org.apache.spark.sql.execution.datasources.PartitionedFile;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which input each task reads: one "part" per input partition, a list of file ranges. A job's output has one
 * file (set) per part (see {@link ssdspark.pipeline.output.PartCommitProtocol}), so a part is the unit a killed
 * run resumes by. Parts are what Spark's file splitting makes of the listing under three settings
 * ({@link Settings}); the same files under the same settings give the same parts.
 */
public final class InputSplits {
    private InputSplits() {}

    /** A byte range of one input file, with the file's size and modification time to tell a changed file. */
    public record Split(String path, long start, long length, long size, long mtime) implements Serializable {}

    /** The settings that decide how files are cut into parts (Spark's FilePartition, and the plain-text reader alike). */
    public record Settings(long maxPartitionBytes, long openCostInBytes, int minPartitionNum) {
        static final String MAX = "spark.sql.files.maxPartitionBytes", OPEN = "spark.sql.files.openCostInBytes",
                MIN = "spark.sql.files.minPartitionNum";
        /** The session settings {@link #apply} sets. */
        public static final List<String> KEYS = List.of(MAX, OPEN, MIN);

        /** The session's effective values (minPartitionNum defaults to the default parallelism, as Spark's does). */
        public static Settings of(SparkSession spark) {
            String leaf = spark.conf().get("spark.sql.leafNodeDefaultParallelism", "" + spark.sparkContext().defaultParallelism());
            return new Settings(JavaUtils.byteStringAsBytes(spark.conf().get(MAX, "128m")), JavaUtils.byteStringAsBytes(spark.conf().get(OPEN, "4m")),
                    Integer.parseInt(spark.conf().get(MIN, leaf)));
        }

        /** Pins them on the session, so a resumed run cuts its input as the interrupted one did whatever its parallelism. */
        public void apply(SparkSession spark) {
            spark.conf().set(MAX, Long.toString(maxPartitionBytes));
            spark.conf().set(OPEN, Long.toString(openCostInBytes));
            spark.conf().set(MIN, Integer.toString(minPartitionNum));
        }
    }

    /**
     * The parts of rows read from Spark's file sources (JSON, Parquet), by partition index; null when rdd does
     * not come from one file scan through narrow steps only (then it cannot be resumed by part).
     */
    public static List<List<Split>> of(RDD<?> rdd) {
        RDD<?> r = rdd;
        while (true) {
            Partition[] ps = r.partitions();
            if (ps.length > 0 && ps[0] instanceof FilePartition) {
                List<List<Split>> parts = new ArrayList<>(ps.length);
                for (Partition p : ps) {
                    List<Split> files = new ArrayList<>();
                    for (PartitionedFile f : ((FilePartition) p).files())
                        files.add(new Split(f.urlEncodedPath(), f.start(), f.length(), f.fileSize(), f.modificationTime()));
                    parts.add(files);
                }
                return parts;
            }
            List<Dependency<?>> deps = CollectionConverters.asJava(r.dependencies());
            if (deps.size() != 1 || !(deps.get(0) instanceof OneToOneDependency)) return ps.length == 0 ? List.of() : null;
            r = deps.get(0).rdd();
        }
    }

    /** Only the partitions of rdd whose index is in keep (renumbered from 0 in order: see {@link #partNumbers}). */
    public static <T> JavaRDD<T> keep(JavaRDD<T> rdd, Set<Integer> keep) {
        return JavaRDD.fromRDD(PartitionPruningRDD.create(rdd.rdd(), new Keep(new TreeSet<>(keep))), rdd.classTag());
    }

    /** "3,7,9": the part numbers of the partitions {@link #keep} leaves, for the commit protocol's file names. */
    public static String partNumbers(Set<Integer> keep) {
        return String.join(",", new TreeSet<>(keep).stream().map(String::valueOf).toList());
    }

    private static final class Keep extends AbstractFunction1<Object, Object> implements Serializable {
        private static final long serialVersionUID = 1L;
        private final TreeSet<Integer> keep;

        Keep(TreeSet<Integer> keep) { this.keep = keep; }

        @Override
        public Object apply(Object index) { return keep.contains((Integer) index); }
    }
}
