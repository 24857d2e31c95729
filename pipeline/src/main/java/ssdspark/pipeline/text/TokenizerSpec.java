package ssdspark.pipeline.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

import ssdspark.pipeline.Sha256;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A tokenizer.json read once on the driver, checked, hashed, and shipped to executors inside the task
 * closure (Spark broadcasts a stage's closure once per executor). Executors therefore never open the
 * file themselves: a path that only exists on the driver (a local file in cluster mode) works, and
 * every task tokenizes with exactly the bytes whose hash goes into the output metadata.
 * Use {@link #open()} on executors; it returns the JVM-wide shared {@link HfTokenizer}.
 */
public final class TokenizerSpec implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String path;
    private final byte[] json;
    private final String sha256;
    private final int vocabSize;
    private final Map<String, Integer> addedTokens;
    private final boolean addSpecialTokens;
    private final int bosId;

    private TokenizerSpec(String path, byte[] json, String sha256, int vocabSize, Map<String, Integer> addedTokens,
                          boolean addSpecialTokens, int bosId) {
        this.path = path;
        this.json = json;
        this.sha256 = sha256;
        this.vocabSize = vocabSize;
        this.addedTokens = addedTokens;
        this.addSpecialTokens = addSpecialTokens;
        this.bosId = bosId;
    }

    /**
     * Reads a tokenizer.json. path is a file, or a folder holding tokenizer.json (a model folder). A path
     * without a scheme is looked up on the local disk first, then on Hadoop's default file system;
     * hdfs:, s3a:, abfs:, gs:, file: and other schemes go through Hadoop with conf (pass
     * spark.sparkContext().hadoopConfiguration()).
     */
    public static TokenizerSpec read(String path, Configuration conf) {
        if (path == null || path.isBlank()) throw new IllegalArgumentException("--tokenizer is empty; pass the path of a Hugging Face tokenizer.json");
        byte[] bytes;
        String where;
        Path local = localPath(path);
        if (local != null && Files.exists(local)) {
            Path f = Files.isDirectory(local) ? local.resolve("tokenizer.json") : local;
            if (!Files.isRegularFile(f))
                throw new IllegalArgumentException("tokenizer path " + path + " is a folder without tokenizer.json; pass --tokenizer PATH/tokenizer.json");
            try {
                bytes = Files.readAllBytes(f);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read tokenizer " + f + ": " + e.getMessage(), e);
            }
            where = f.toAbsolutePath().toString();
        } else {
            org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(path);
            Configuration c = conf == null ? new Configuration() : conf;
            try {
                FileSystem fs = p.getFileSystem(c);
                if (!fs.exists(p)) throw new FileNotFoundException(p.toString());
                if (fs.getFileStatus(p).isDirectory()) p = new org.apache.hadoop.fs.Path(p, "tokenizer.json");
                try (InputStream in = fs.open(p)) {
                    bytes = in.readAllBytes();
                }
                where = fs.makeQualified(p).toString();
            } catch (FileNotFoundException e) {
                throw new IllegalArgumentException("tokenizer file not found: " + path
                        + (local != null ? " (neither on the local disk nor on the default file system " + FileSystem.getDefaultUri(c) + ")" : "")
                        + "; pass --tokenizer with the path of a Hugging Face tokenizer.json", e);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read tokenizer " + path + ": " + e.getMessage(), e);
            }
        }
        return fromBytes(where, bytes);
    }

    /** A tokenizer from the bytes of a tokenizer.json; name is where they came from, for messages and metadata. */
    public static TokenizerSpec fromBytes(String name, byte[] json) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException(name + " is not JSON (" + firstLine(e.getMessage())
                    + "); --tokenizer must be a Hugging Face tokenizer.json", e);
        }
        if (root == null || !root.isObject() || !root.path("model").isObject())
            throw new IllegalArgumentException(name + " has no \"model\" section, so it is not a Hugging Face tokenizer.json"
                    + " (tokenizer_config.json, vocab.json and sentencepiece .model files are not enough); pass --tokenizer PATH/tokenizer.json");
        Map<String, Integer> added = new HashMap<>();
        int maxId = maxModelId(root.path("model"), name);
        for (JsonNode t : root.path("added_tokens")) {
            int id = t.path("id").asInt(-1);
            if (id < 0 || !t.path("content").isTextual())
                throw new IllegalArgumentException(name + ": an entry of added_tokens has no id or content: " + t);
            added.put(t.path("content").asText(), id);
            maxId = Math.max(maxId, id);
        }
        if (maxId < 0) throw new IllegalArgumentException(name + ": the tokenizer's vocabulary is empty");
        return new TokenizerSpec(name, json, Sha256.of(json), maxId + 1, Collections.unmodifiableMap(added), false, -1);
    }

    /** Largest id of the model's own vocabulary: a token→id map (BPE, WordLevel, WordPiece) or a [piece, score] list (Unigram). */
    private static int maxModelId(JsonNode model, String name) {
        JsonNode vocab = model.path("vocab");
        if (vocab.isArray()) return vocab.size() - 1;
        if (!vocab.isObject())
            throw new IllegalArgumentException(name + ": model.vocab is missing or not a map/list; not a tokenizer.json this reader understands");
        int max = -1;
        for (Iterator<JsonNode> it = vocab.elements(); it.hasNext(); ) max = Math.max(max, it.next().asInt(-1));
        return max;
    }

    /**
     * Whether the tokenizer's post-processor adds its special tokens (e.g. a template's BOS/CLS). Off by
     * default: causal LMs such as Mamba are usually scored on the bare text.
     */
    public TokenizerSpec withSpecialTokens(boolean add) {
        return new TokenizerSpec(path, json, sha256, vocabSize, addedTokens, add, bosId);
    }

    /** Puts id in front of every non-empty document (a BOS token); -1 for none. */
    public TokenizerSpec withBos(int id) {
        if (id < -1 || id >= vocabSize)
            throw new IllegalArgumentException("BOS id " + id + " is outside the tokenizer's vocabulary 0.." + (vocabSize - 1));
        return new TokenizerSpec(path, json, sha256, vocabSize, addedTokens, addSpecialTokens, id);
    }

    /** Puts the added token with this content (e.g. "<|endoftext|>", "<s>") in front of every non-empty document. */
    public TokenizerSpec withBos(String token) {
        Integer id = addedTokens.get(token);
        if (id == null) {
            Set<String> names = new TreeSet<>(addedTokens.keySet());
            throw new IllegalArgumentException("the tokenizer has no added token '" + token + "' for BOS; its added tokens are " + names + "; or pass the id");
        }
        return withBos(id);
    }

    /** The JVM-wide tokenizer for these bytes and options, built on first use. */
    public HfTokenizer open() { return HfTokenizer.get(this); }

    /** Where the JSON was read from (a qualified path), as given to {@link #fromBytes}. */
    public String path() { return path; }

    /** SHA-256 of the tokenizer.json bytes, lower-case hex. */
    public String sha256() { return sha256; }

    /** 1 + the largest id the tokenizer can produce (model vocabulary and added tokens). */
    public int vocabSize() { return vocabSize; }

    /** Added tokens (special and not) by content. */
    public Map<String, Integer> addedTokens() { return addedTokens; }

    public boolean addSpecialTokens() { return addSpecialTokens; }

    /** The BOS id put in front of documents, or -1. */
    public int bosId() { return bosId; }

    String jsonText() { return new String(json, StandardCharsets.UTF_8); }

    @Override
    public String toString() {
        return "tokenizer " + path + " (sha256 " + sha256 + ", vocab " + vocabSize + ", special tokens " + addSpecialTokens
                + (bosId >= 0 ? ", bos " + bosId : "") + ")";
    }

    /** A path without a scheme as a local path; null when a scheme (file:, hdfs:, s3a:, ...) says to ask Hadoop. */
    private static Path localPath(String path) {
        return path.matches("^[A-Za-z][A-Za-z0-9+.-]*:.*") ? null : Path.of(path);
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof TokenizerSpec)) return false;
        TokenizerSpec t = (TokenizerSpec) o;
        return sha256.equals(t.sha256) && addSpecialTokens == t.addSpecialTokens && bosId == t.bosId;
    }

    @Override
    public int hashCode() { return sha256.hashCode() * 31 + bosId * 2 + (addSpecialTokens ? 1 : 0); }
}
