package ssdspark.jobs;

import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.util.concurrent.CountDownLatch;

/**
 * Spark SQL's biggest one-time initialisations, started on their own thread while the Spark context starts (and
 * the model loads): the built-in function registry (hundreds of expressions described by reflection) and the SQL
 * parser (ANTLR's grammar tables), which a new session's SQL state builds on (its first {@code spark.conf().set}:
 * ~1.3 s on a cold 2-core JVM, ~0.2 s after this); then the code generator (Janino), which planning the input
 * and the write job use. These are JVM-wide objects of Spark's and need no session. The job waits for the first
 * two before its first SQL call ({@link #awaitSqlState}), so they never initialise concurrently with the
 * session's own use of them; the code generator is thread-safe (tasks compile concurrently) and is not waited
 * for. Nothing here can fail the job: a Spark without these objects just starts cold.
 */
final class SqlWarmUp {
    private final CountDownLatch sqlState = new CountDownLatch(1);

    private SqlWarmUp() {}

    static SqlWarmUp start() {
        SqlWarmUp w = new SqlWarmUp();
        Thread t = new Thread(w::run, "ssdspark-sql-warm-up");
        t.setDaemon(true);
        t.start();
        return w;
    }

    /** Waits until the function registry and the parser are ready (or failed to warm up). */
    void awaitSqlState() throws InterruptedException {
        sqlState.await();
    }

    private void run() {
        try {
            org.apache.spark.sql.catalyst.analysis.FunctionRegistry$.MODULE$.builtin();
            org.apache.spark.sql.catalyst.parser.CatalystSqlParser$.MODULE$.parseDataType("struct<id: string, tokens: array<int>>");
        } catch (RuntimeException | LinkageError ignored) { // another Spark version: the session initialises them itself
        } finally {
            sqlState.countDown();
        }
        try {
            StructType row = new StructType().add("id", DataTypes.StringType).add("tokens", DataTypes.createArrayType(DataTypes.IntegerType));
            org.apache.spark.sql.catalyst.expressions.UnsafeProjection.create(row); // compiles one class: Janino's first use
        } catch (RuntimeException | LinkageError ignored) { // as above
        }
    }
}
