package ssdspark.jobs;

import org.apache.spark.rdd.RDDOperationScope;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.encoders.ExpressionEncoder;
import org.apache.spark.sql.catalyst.encoders.ExpressionEncoder$;
import org.apache.spark.sql.catalyst.encoders.RowEncoder$;
import org.apache.spark.sql.catalyst.expressions.NamedExpression;
import org.apache.spark.sql.catalyst.optimizer.SimpleTestOptimizer$;
import org.apache.spark.sql.catalyst.plans.logical.LocalRelation;
import org.apache.spark.sql.catalyst.plans.logical.LocalRelation$;
import org.apache.spark.sql.catalyst.plans.logical.Project;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.util.concurrent.CountDownLatch;

/**
 * Spark SQL's biggest one-time initialisations, started on their own threads while the Spark context starts (and
 * the model loads): the built-in function registry (hundreds of expressions described by reflection) and the SQL
 * parser (ANTLR's grammar tables), which a new session's SQL state builds on (its first {@code spark.conf().set}:
 * ~1.3 s on a cold 2-core JVM, ~0.2 s after this); then the code generator (Janino) and the JSON mapper of Spark's RDD
 * operation scopes (Jackson with its Scala module: the first RDD the input's plan makes), and on a second thread
 * Catalyst's analyzer and optimizer ({@link #planning}). These are JVM-wide objects of Spark's and need no session.
 * The job waits for the first two before its first SQL call ({@link #awaitSqlState}), so they never initialise
 * concurrently with the session's own use of them (the second thread waits for them too); the rest is thread-safe
 * (tasks compile concurrently, and each analyzer and optimizer has its own rules) and is not waited for. Nothing here
 * can fail the job: a Spark without these objects just starts cold.
 *
 * <p>Why the second thread: after the session is up, a cold JVM spends most of the input read and split in first uses
 * (repeated in the same JVM they take 45 and 80 ms instead of ~0.8 and ~1.0 s on the build machine;
 * tools/pipeline/RESULTS.md, session 12): Catalyst's rules (~1,000 classes loaded and run once), Jackson, the
 * encoders. What of that needs no session is done here, beside the context's start, where the GPU host has idle cores.
 */
final class SqlWarmUp {
    private final CountDownLatch sqlState = new CountDownLatch(1);

    private SqlWarmUp() {}

    static SqlWarmUp start() {
        SqlWarmUp w = new SqlWarmUp();
        daemon(w::run, "ssdspark-sql-warm-up");
        daemon(w::planning, "ssdspark-plan-warm-up");
        return w;
    }

    private static void daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
    }

    /** Waits until the function registry and the parser are ready (or failed to warm up). */
    void awaitSqlState() throws InterruptedException {
        sqlState.await();
    }

    /** The shape of the job's input rows, (id, tokens): what the warm-ups compile and plan. */
    private static StructType rows() {
        return new StructType().add("id", DataTypes.StringType).add("tokens", DataTypes.createArrayType(DataTypes.IntegerType));
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
            org.apache.spark.sql.catalyst.expressions.UnsafeProjection.create(rows()); // compiles one class: Janino's first use
            new RDDOperationScope("ssdspark warm-up", scala.Option.empty(), "0").toJson(); // Jackson's Scala module: ~0.25 s cold
        } catch (RuntimeException | LinkageError ignored) { // as above
        }
    }

    /**
     * Catalyst's analyzer and optimizer, run once without a session on a plan of the job's row shape: the row encoder
     * resolved and bound (Spark's SimpleAnalyzer; what a Dataset of rows and its {@code rdd()} go through) and its
     * deserializer made, then SimpleTestOptimizer (the optimizer's rule batches over an empty catalog) on a projection of
     * a local relation. The session's own analyzer and optimizer then find their rule classes loaded and run before.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private void planning() {
        try {
            sqlState.await(); // the analyzer's catalog builds on the function registry and the parser: not concurrently
            StructType row = rows();
            ExpressionEncoder<Row> enc = ExpressionEncoder$.MODULE$.apply(RowEncoder$.MODULE$.encoderFor(row));
            enc.resolveAndBind(enc.resolveAndBind$default$1(), enc.resolveAndBind$default$2()).createDeserializer();
            LocalRelation rel = LocalRelation$.MODULE$.apply(row);
            scala.collection.immutable.Seq<NamedExpression> columns = (scala.collection.immutable.Seq) rel.output();
            SimpleTestOptimizer$.MODULE$.execute(new Project(columns, rel));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | LinkageError ignored) { // another Spark version: the session's first plans run cold
        }
    }
}
