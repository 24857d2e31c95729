package ssdspark.jobs.bench;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Writes a corpus file of {@link EngineAlone} (tools/pipeline/make_gpu_inputs.py) as Parquet (zstd) of (id string,
 * tokens array&lt;int&gt;), in FILES files of consecutive documents, so the job and the engine alone see the same
 * documents in the same order.
 *
 * <pre>java ... ssdspark.jobs.bench.CorpusToParquet CORPUS.bin OUT_DIR [FILES]</pre>
 */
public final class CorpusToParquet {
    private CorpusToParquet() {}

    public static void main(String[] args) {
        String bin = Path.of(args[0]).toAbsolutePath().toString(), out = args[1];
        int files = args.length > 2 ? Integer.parseInt(args[2]) : 16;
        long t0 = System.nanoTime();
        SparkSession spark = SparkSession.builder().master("local[" + Math.min(files, Runtime.getRuntime().availableProcessors()) + "]")
                .appName("corpus-to-parquet").config("spark.ui.enabled", "false").getOrCreate();
        try {
            int n = docs(bin);
            List<int[]> ranges = new ArrayList<>();
            for (int k = 0; k < files; k++) ranges.add(new int[] {(int) ((long) n * k / files), (int) ((long) n * (k + 1) / files)});
            StructType schema = new StructType().add("id", DataTypes.StringType, false)
                    .add("tokens", DataTypes.createArrayType(DataTypes.IntegerType, false), false);
            var rows = JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(ranges, files).flatMap(r -> {
                List<int[]> slice = EngineAlone.read(Path.of(bin), r[0], r[1]);
                List<Row> part = new ArrayList<>(slice.size());
                for (int i = r[0]; i < r[1]; i++) part.add(RowFactory.create(String.format(Locale.ROOT, "doc-%07d", i), slice.get(i - r[0])));
                return part.iterator();
            });
            spark.createDataFrame(rows, schema).write().mode("overwrite").option("compression", "zstd").parquet(out);
            System.out.printf(Locale.ROOT, "corpus-to-parquet: %d docs -> %s (%d files) in %.1f s%n", n, out, files, (System.nanoTime() - t0) / 1e9);
        } finally {
            spark.stop();
        }
    }

    private static int docs(String bin) {
        try (var ch = java.nio.channels.FileChannel.open(Path.of(bin))) {
            var b = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(b);
            return b.getInt(4);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
