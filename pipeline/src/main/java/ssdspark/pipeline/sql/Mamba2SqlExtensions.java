package ssdspark.pipeline.sql;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.ExpressionInfo;
import org.apache.spark.sql.catalyst.expressions.ScalaUDF;
import scala.Option;
import scala.Tuple3;
import scala.collection.immutable.Seq;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

import java.io.Serializable;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The SQL functions by config, for the spark-sql shell and Thrift server:
 * <pre>spark-sql --jars ssdspark-jobs-VERSION-spark.jar \
 *   --conf spark.sql.extensions=ssdspark.pipeline.sql.Mamba2SqlExtensions \
 *   --conf spark.ssdspark.sql.model=/models/mamba2-130m --conf spark.ssdspark.sql.tokenizer=/models/mamba2-130m</pre>
 * Options are {@link Mamba2Functions}'s, as {@code spark.ssdspark.sql.OPTION}; they are read from the session's
 * config when a query first names a function (so {@code SET spark.ssdspark.sql.model=...} works too).
 */
public final class Mamba2SqlExtensions extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
    /** Prefix of the options in the Spark config. */
    public static final String PREFIX = "spark.ssdspark.sql.";

    /** Functions per distinct options: the tokenizer is read once, not per query. */
    private static final Map<Map<String, String>, List<Mamba2Functions.Function>> BUILT = new ConcurrentHashMap<>();

    @Override
    public BoxedUnit apply(SparkSessionExtensions ext) {
        for (String name : List.of(Mamba2Functions.SCORE, Mamba2Functions.EMBED, Mamba2Functions.SCORE_TEXT, Mamba2Functions.EMBED_TEXT)) {
            ExpressionInfo info = new ExpressionInfo(Mamba2Functions.class.getName(), null, name,
                    "_FUNC_(arg) - Mamba-2 " + (name.contains("score") ? "scores" : "embeds") + " a document; options spark.ssdspark.sql.*", "");
            ext.injectFunction(new Tuple3<>(new FunctionIdentifier(name), info, new Builder(name)));
        }
        return BoxedUnit.UNIT;
    }

    /** The options set in the active session's config, without the prefix. */
    static Map<String, String> options(SparkSession spark) {
        Map<String, String> o = new TreeMap<>();
        scala.collection.immutable.Map<String, String> all = spark.conf().getAll();
        scala.jdk.javaapi.CollectionConverters.asJava(all).forEach((k, v) -> {
            if (k.startsWith(PREFIX)) o.put(k.substring(PREFIX.length()), v);
        });
        return o;
    }

    private static final class Builder extends AbstractFunction1<Seq<Expression>, Expression> implements Serializable {
        private final String name;

        Builder(String name) { this.name = name; }

        @Override
        public Expression apply(Seq<Expression> children) {
            if (children.size() != 1)
                throw new IllegalArgumentException(name + " takes one argument (" + (name.endsWith("_text") ? "a string" : "an array of token ids")
                        + "), got " + children.size());
            SparkSession spark = SparkSession.active();
            Map<String, String> o = options(spark);
            if (!o.containsKey("model"))
                throw new IllegalArgumentException(name + ": set " + PREFIX + "model to the model folder (config.json + weights)");
            Mamba2Functions.Function f = BUILT.computeIfAbsent(o, k -> Mamba2Functions.functions(k, spark.sparkContext().hadoopConfiguration()))
                    .stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
            return new ScalaUDF(wrap(f.udf()), f.returnType(), children, noEncoders(),
                    Option.empty(), Option.apply(name), true, true);
        }
    }

    /** No input encoders: arguments are converted as for Java UDFs (CatalystTypeConverters). */
    @SuppressWarnings("unchecked")
    private static Seq<Option<org.apache.spark.sql.catalyst.encoders.ExpressionEncoder<?>>> noEncoders() {
        return (Seq<Option<org.apache.spark.sql.catalyst.encoders.ExpressionEncoder<?>>>) (Object) scala.collection.immutable.Nil$.MODULE$;
    }

    /**
     * The UDF as the Scala function ScalaUDF calls: a lambda capturing only the UDF, as Spark's own registration of
     * Java UDFs makes, which is where the RAPIDS Accelerator looks for a {@code RapidsUDF}.
     */
    @SuppressWarnings("unchecked")
    private static scala.Function1<Object, Object> wrap(UDF1<?, ?> udf) {
        UDF1<Object, Object> u = (UDF1<Object, Object>) udf;
        return (scala.Function1<Object, Object> & Serializable) x -> {
            try {
                return u.call(x);
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
    }
}
