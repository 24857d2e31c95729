package ssdspark.pipeline.output;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.spark.sql.DataFrameWriter;

import ssdspark.pipeline.text.TokenizerSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * What produced an output, as Parquet footer key-value metadata: the model folder and its fingerprint,
 * the tokenizer and its hash, the backend, and the job's options. Keys start with "ssdspark.".
 */
public final class OutputMetadata {
    private OutputMetadata() {}

    /** Writer option (and Hadoop conf key) carrying the pairs as a JSON object. */
    public static final String OPTION = "ssdspark.parquet.metadata";

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The pairs for a job. model, tokenizer and backend may be null (e.g. a pre-tokenized input has no
     * tokenizer); options are the job's flags as given (sorted in the JSON).
     */
    public static Map<String, String> of(ModelFingerprint model, TokenizerSpec tokenizer, String backend, Map<String, String> options) {
        Map<String, String> kv = new LinkedHashMap<>();
        if (model != null) {
            kv.put("ssdspark.model.path", model.folder().toAbsolutePath().toString());
            kv.put("ssdspark.model.sha256", model.sha256());
            kv.put("ssdspark.model.files", json(model.files()));
        }
        if (tokenizer != null) {
            kv.put("ssdspark.tokenizer.path", tokenizer.path());
            kv.put("ssdspark.tokenizer.sha256", tokenizer.sha256());
            kv.put("ssdspark.tokenizer.vocab_size", Integer.toString(tokenizer.vocabSize()));
            kv.put("ssdspark.tokenizer.add_special_tokens", Boolean.toString(tokenizer.addSpecialTokens()));
            kv.put("ssdspark.tokenizer.bos_id", Integer.toString(tokenizer.bosId()));
        }
        if (backend != null) kv.put("ssdspark.backend", backend);
        if (options != null) kv.put("ssdspark.options", json(new TreeMap<>(options)));
        return kv;
    }

    /** w writing Parquet whose every file footer also holds kv. Set other options (compression, mode) as usual. */
    public static <T> DataFrameWriter<T> configure(DataFrameWriter<T> w, Map<String, String> kv) {
        return w.format(MetadataParquetFormat.class.getName()).option(OPTION, json(kv));
    }

    /** The key-value metadata of one Parquet file's footer (Spark's keys included). */
    public static Map<String, String> read(String parquetFile, Configuration conf) {
        try (ParquetFileReader r = ParquetFileReader.open(HadoopInputFile.fromPath(new Path(parquetFile), conf))) {
            return new LinkedHashMap<>(r.getFooter().getFileMetaData().getKeyValueMetaData());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the footer of " + parquetFile + ": " + e.getMessage(), e);
        }
    }

    /** A JSON object of strings, as this class writes the values of ssdspark.model.files and ssdspark.options. */
    public static Map<String, String> parse(String json) {
        try {
            return JSON.readValue(json, new TypeReference<LinkedHashMap<String, String>>() {});
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(OPTION + " must be a JSON object of strings: " + e.getOriginalMessage(), e);
        }
    }

    private static String json(Map<String, String> m) {
        try {
            return JSON.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
