package ssdspark.pipeline.sql;

import org.apache.spark.sql.api.java.UDF1;
import ssdspark.pipeline.text.StreamingTokenizer;
import ssdspark.pipeline.text.TokenizerSpec;
import ssdspark.udf.Doc;
import ssdspark.udf.JobSpec;

import java.util.Collections;

/**
 * mamba2_score_text(text STRING) / mamba2_embed_text(text STRING): the text tokenized with the options' tokenizer
 * (as the text jobs do), then as mamba2_score / mamba2_embed. NULL text gives NULL; text that yields no tokens
 * gives the score struct with error 'empty document' (embed: NULL).
 */
public final class TextFunction implements UDF1<String, Object> {
    private static final long serialVersionUID = 1L;
    private final JobSpec spec;
    private final TokenizerSpec tokenizer;

    public TextFunction(JobSpec spec, TokenizerSpec tokenizer) {
        if (tokenizer == null) throw new IllegalArgumentException("a text function needs a tokenizer");
        this.spec = spec;
        this.tokenizer = tokenizer;
    }

    @Override
    public Object call(String text) {
        if (text == null) return null;
        Doc d = StreamingTokenizer.tokenize(tokenizer.open(), null, text, null);
        var row = SqlDocuments.run(spec, Collections.singletonList(d)).get(0);
        return spec.task() == JobSpec.Task.SCORE ? SqlDocuments.scoreStruct(spec, row) : SqlDocuments.embedding(row);
    }
}
