package ssdspark.jobs;

import org.apache.spark.sql.SparkSession;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The CLI run in the test's own Spark session, as bin/ssdspark would run it. */
final class CliRun {
    private CliRun() {}

    /** Runs Main with args, asserts exit status 0 (the output is the message otherwise) and returns what it printed. */
    static String ok(SparkSession spark, String... args) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
        int rc = Main.run(args, ps, ps, spark);
        String out = buf.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, out);
        return out;
    }
}
