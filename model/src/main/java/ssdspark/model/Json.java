package ssdspark.model;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.json.JsonReadFeature;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON for config files, shard indexes and safetensors headers, read with Jackson's streaming parser: objects
 * become {@link LinkedHashMap} (keys in file order), arrays {@link ArrayList}, integers {@link Long} (BigInteger
 * beyond), other numbers {@link Double}, plus the {@code Infinity}, {@code -Infinity} and {@code NaN} that
 * Python's json module writes. Hostile input is refused in bounded time and memory: nesting beyond
 * {@link #MAX_DEPTH}, documents beyond {@link #MAX_DOCUMENT} characters, duplicate keys (ambiguous: Python keeps
 * the last, other readers the first) and trailing content are errors ({@link IllegalArgumentException}).
 */
public final class Json {
    /** Far deeper than any config (HF configs nest 3 levels) or safetensors header (3). */
    public static final int MAX_DEPTH = 64;
    /** Largest document read into a tree: a shard index of 100k tensors is ~10 MB. */
    public static final int MAX_DOCUMENT = 32 << 20;

    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build())
            .build();

    private Json() {}

    /**
     * A parser over text with the limits above, for callers that read a known shape without building a tree
     * (the safetensors header). Its exceptions go through {@link #error}.
     */
    public static JsonParser parser(String text) {
        try {
            return FACTORY.createParser(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a String source does no I/O
        }
    }

    /** The message of a parser failure: what is wrong and where, without Jackson's source excerpt. */
    public static IllegalArgumentException error(JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
        String what = e.getOriginalMessage().lines().findFirst().orElse("");
        if (e instanceof StreamConstraintsException)
            what = what.contains("nesting depth") ? "nested deeper than " + MAX_DEPTH + " levels" : what.replaceAll(", from `[^`]*`", "");
        else what = what.replaceAll(" \\(code \\d+\\)", "");
        return new IllegalArgumentException("malformed JSON" + where + ": " + what, e);
    }

    public static Object parse(String text) {
        if (text.length() > MAX_DOCUMENT)
            throw new IllegalArgumentException("JSON document of " + text.length() + " characters is larger than the " + MAX_DOCUMENT + " read here");
        try (JsonParser p = parser(text)) {
            JsonToken t = p.nextToken();
            if (t == null) throw new IllegalArgumentException("malformed JSON: the document is empty");
            Object v = value(p, t);
            if (p.nextToken() != null)
                throw new IllegalArgumentException("malformed JSON at line " + p.currentLocation().getLineNr() + ", column "
                        + p.currentLocation().getColumnNr() + ": trailing characters after the top-level value");
            return v;
        } catch (JsonProcessingException e) {
            throw error(e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String text) {
        Object v = parse(text);
        if (!(v instanceof Map)) throw new IllegalArgumentException("expected a JSON object at the top level");
        return (Map<String, Object>) v;
    }

    /** A JSON object from a UTF-8 file, refusing a file too large to be a config before reading it. */
    public static Map<String, Object> parseObjectFile(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_DOCUMENT)
            throw new IllegalArgumentException("is " + size + " bytes, larger than any config or index (at most " + MAX_DOCUMENT
                    + "); is it the right file?");
        return parseObject(Files.readString(file, StandardCharsets.UTF_8));
    }

    /** Depth is bounded by the parser's constraint, so this recursion is too. */
    private static Object value(JsonParser p, JsonToken t) throws IOException {
        switch (t) {
            case START_OBJECT: {
                Map<String, Object> m = new LinkedHashMap<>();
                for (JsonToken k = p.nextToken(); k != JsonToken.END_OBJECT; k = p.nextToken()) {
                    if (k != JsonToken.FIELD_NAME) throw new JsonParseException(p, "expected a key");
                    String key = p.currentName();
                    m.put(key, value(p, p.nextToken()));
                }
                return m;
            }
            case START_ARRAY: {
                List<Object> a = new ArrayList<>();
                for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
                    if (e == null) throw new JsonParseException(p, "unexpected end of input");
                    a.add(value(p, e));
                }
                return a;
            }
            case VALUE_STRING: return p.getText();
            case VALUE_NUMBER_INT: return p.getNumberType() == JsonParser.NumberType.BIG_INTEGER ? p.getBigIntegerValue() : (Object) p.getLongValue();
            case VALUE_NUMBER_FLOAT: return p.getDoubleValue();
            case VALUE_TRUE: return Boolean.TRUE;
            case VALUE_FALSE: return Boolean.FALSE;
            case VALUE_NULL: return null;
            default: throw new JsonParseException(p, t == null ? "unexpected end of input" : "unexpected token " + t);
        }
    }
}
