package ssdspark.udf;

import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import ssdspark.model.DocumentRunner;
import ssdspark.model.DocumentRunner.EmbedResult;
import ssdspark.model.DocumentRunner.ScoreOptions;
import ssdspark.model.DocumentRunner.ScoreResult;

import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * Scores or embeds a partition of (id, tokens) rows, one output row per input row, in input order.
 * It streams: each row is computed when Spark pulls it, so a partition is never held in memory, and
 * the model comes from the executor's {@link ModelCache} on the first row.
 *
 * <p>Output values, in the column order of the pipeline's output schema:
 * score: id, num_tokens, num_scored, sum_logprob, mean_nll, perplexity, [token_logprobs,] error;
 * embed: id, num_tokens, embedding, error. A document the model cannot take (null or empty tokens,
 * ids outside the vocabulary) becomes a row with the message in error and nulls elsewhere; anything
 * else (a broken model, out of memory) fails the task as usual.
 */
public final class DocumentFunction implements MapPartitionsFunction<Row, Row> {
    private final JobSpec spec;
    private final JobCounters counters; // null: no accounting

    public DocumentFunction(JobSpec spec, JobCounters counters) {
        this.spec = spec;
        this.counters = counters;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        return new Iterator<>() {
            private DocumentRunner runner; // on first row: an empty partition loads nothing

            @Override
            public boolean hasNext() { return rows.hasNext(); }

            @Override
            public Row next() {
                if (!rows.hasNext()) throw new NoSuchElementException();
                Row in = rows.next();
                if (runner == null) runner = new DocumentRunner(ModelCache.get(spec.modelPath(), spec.device()));
                return apply(runner, in);
            }
        };
    }

    /** One (id, tokens) row to its output row. */
    public Row apply(DocumentRunner runner, Row in) {
        Object id = in.get(0);
        int[] tokens;
        try {
            tokens = tokensOf(in, 1);
            Row out = spec.task() == JobSpec.Task.SCORE ? score(runner, id, tokens) : embed(runner, id, tokens);
            if (counters != null) counters.add(tokens.length, false);
            return out;
        } catch (IllegalArgumentException e) {
            if (counters != null) counters.add(0, true);
            return errorRow(id, e.getMessage() == null ? e.toString() : e.getMessage());
        }
    }

    private Row score(DocumentRunner runner, Object id, int[] tokens) {
        ScoreResult r = runner.score(tokens, new ScoreOptions(spec.chunkTokens(), spec.bosId(), spec.perToken()));
        Double meanNll = r.numScored() == 0 ? null : r.meanNll();
        Double ppl = r.numScored() == 0 ? null : r.perplexity();
        return spec.perToken()
                ? RowFactory.create(id, r.numTokens(), r.numScored(), r.sumLogprob(), meanNll, ppl, r.tokenLogprobs(), null)
                : RowFactory.create(id, r.numTokens(), r.numScored(), r.sumLogprob(), meanNll, ppl, null);
    }

    private Row embed(DocumentRunner runner, Object id, int[] tokens) {
        EmbedResult r = runner.embed(tokens, spec.chunkTokens());
        float[] v = spec.pooling() == JobSpec.Pooling.LAST ? r.last() : r.mean();
        return RowFactory.create(id, r.numTokens(), v, null);
    }

    private Row errorRow(Object id, String message) {
        if (spec.task() == JobSpec.Task.EMBED) return RowFactory.create(id, null, null, message);
        return spec.perToken()
                ? RowFactory.create(id, null, null, null, null, null, null, message)
                : RowFactory.create(id, null, null, null, null, null, message);
    }

    /**
     * The token ids of column i (array of integral numbers) as int[]. Ids beyond int range are
     * reported as outside the vocabulary, like any other too-large id.
     */
    static int[] tokensOf(Row row, int i) {
        if (row.isNullAt(i)) throw new IllegalArgumentException("tokens is null: nothing to score or embed");
        List<Object> list = row.getList(i);
        int[] out = new int[list.size()];
        for (int p = 0; p < out.length; p++) {
            Object v = list.get(p);
            if (v == null) throw new IllegalArgumentException("token at position " + p + " is null");
            if (!(v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte))
                throw new IllegalArgumentException("token at position " + p + " is a " + v.getClass().getSimpleName() + ", not an integer");
            long t = ((Number) v).longValue();
            if (t < Integer.MIN_VALUE || t > Integer.MAX_VALUE)
                throw new IllegalArgumentException("token id " + t + " at position " + p + " is outside the model's vocabulary");
            out[p] = (int) t;
        }
        return out;
    }
}
