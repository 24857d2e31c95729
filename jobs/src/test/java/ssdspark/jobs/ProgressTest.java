package ssdspark.jobs;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ssdspark.udf.JobCounters;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The progress line counts what is scored, not what was read: not the jobs before the write, not a task's read-ahead. */
class ProgressTest {
    private static SparkSession spark;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[1]").appName("ssdspark-progress").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    @Test
    void aRunningTaskCountsTheShareOfItsBytesReadThatIsDone() {
        Progress.Counts c = new Progress.Counts();
        c.sparkBytes = 1000;
        c.ownBytes = 400;
        c.rowsRead = 10;
        c.rowsDone = 2.5; // two documents and half of the third one's engine passes
        c.estimate(false);
        assertEquals(250, c.doneBytes, 1e-9);
        assertEquals(100, c.doneOwnBytes, 1e-9);
        assertEquals(2.5, c.doneRows, 1e-9);
        c.estimate(true);
        assertEquals(1000, c.doneBytes, 1e-9, "a finished task read all its input and did it all");
        Progress.Counts none = new Progress.Counts();
        none.sparkBytes = 1000;
        assertEquals(0, none.estimate(false).doneBytes, "read ahead, nothing done yet");
    }

    @Test
    void jobsBeforeTheWriteDoNotCount() throws Exception {
        Path json = Files.writeString(tmp.resolve("in.jsonl"), "{\"id\":1,\"tokens\":[1,2,3]}\n".repeat(2000));
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        Progress p = new Progress(spark.sparkContext(), new JobCounters(spark.sparkContext()), new PrintStream(buf, true, StandardCharsets.UTF_8),
                "score", 3600);
        try {
            p.total(Progress.Measure.SPARK_BYTES, Files.size(json));
            spark.read().json(json.toString()).schema(); // schema inference: a job reading the whole input
            spark.sparkContext().listenerBus().waitUntilEmpty();
            assertEquals(0, p.now().doneBytes, "the inference job's bytes are not progress");
            p.begin();
            assertEquals(2000, spark.read().json(json.toString()).count());
            spark.sparkContext().listenerBus().waitUntilEmpty();
            assertTrue(p.now().doneBytes >= Files.size(json), "a finished task of the job after begin counts: " + p.now().doneBytes);
        } finally {
            p.close();
        }
    }
}
