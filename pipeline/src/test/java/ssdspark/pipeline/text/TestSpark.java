package ssdspark.pipeline.text;

import org.apache.spark.sql.SparkSession;

/** One local[2] session for this package's tests, started on first use and left to die with the JVM. */
final class TestSpark {
    private TestSpark() {}

    private static SparkSession spark;

    static synchronized SparkSession session() {
        if (spark == null)
            spark = SparkSession.builder().master("local[2]").appName("ssdspark-text-tests")
                    .config("spark.ui.enabled", "false")
                    .config("spark.sql.shuffle.partitions", "2")
                    .config("spark.driver.host", "127.0.0.1")
                    .getOrCreate();
        return spark;
    }
}
