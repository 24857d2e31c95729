package ssdspark.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** model.Json: the values configs need, Python's non-standard numbers, and hostile documents refused in bounded time. */
class JsonTest {
    @TempDir Path tmp;

    private static String failure(String json) {
        return assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> assertThrows(IllegalArgumentException.class, () -> Json.parse(json)).getMessage());
    }

    @Test
    void valuesAndTheirJavaTypes() {
        Map<String, Object> m = Json.parseObject("""
                {"i": 7, "neg": -3, "big": 123456789012345678901234567890, "f": 0.5, "e": 1e3, "s": "a\\"\\u00e9\\n",
                 "t": true, "n": null, "l": [1, [2, {}]], "z": {"k": "v"}}""");
        assertEquals(List.of("i", "neg", "big", "f", "e", "s", "t", "n", "l", "z"), List.copyOf(m.keySet()), "file order kept");
        assertEquals(7L, m.get("i"));
        assertEquals(-3L, m.get("neg"));
        assertEquals(new BigInteger("123456789012345678901234567890"), m.get("big"));
        assertEquals(0.5, m.get("f"));
        assertEquals(1000.0, m.get("e"));
        assertEquals("a\"é\n", m.get("s"));
        assertEquals(Boolean.TRUE, m.get("t"));
        assertNull(m.get("n"));
        assertEquals(List.of(1L, List.of(2L, Map.of())), m.get("l"));
        assertEquals(Map.of("k", "v"), m.get("z"));
    }

    /** What Python's json.dumps writes for float('inf') and float('nan') (transformers' time_step_limit). */
    @Test
    void pythonNonFiniteNumbers() {
        List<?> l = assertInstanceOf(List.class, Json.parse("[Infinity, -Infinity, NaN, 0.0]"));
        assertEquals(Double.POSITIVE_INFINITY, l.get(0));
        assertEquals(Double.NEGATIVE_INFINITY, l.get(1));
        assertTrue(Double.isNaN((Double) l.get(2)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"d_model\": 64, ", "[1, 2", "{\"a\" 1}", "{\"a\": tru}", "{'a': 1}", "[1,]x", "\"\\u12\"", "{\"a\": 01}"})
    void malformedDocumentsNameThePlace(String json) {
        String m = failure(json);
        assertTrue(m.startsWith("malformed JSON") && (m.contains("line 1, column") || m.contains("end")), m);
    }

    @Test
    void emptyAndTrailing() {
        assertTrue(failure("").contains("empty"));
        assertTrue(failure("   ").contains("empty"));
        assertTrue(failure("{} {}").contains("trailing"), failure("{} {}"));
        assertTrue(failure("{}x").contains("malformed JSON"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Json.parseObject("[1]")).getMessage().contains("object"));
    }

    /** Python keeps the last of two equal keys, some readers the first: ambiguous, so refused, naming the key. */
    @Test
    void duplicateKeys() {
        String m = failure("{\"ssm_cfg\": {\"d_state\": 16, \"d_state\": 128}}");
        assertTrue(m.contains("d_state") && m.contains("Duplicate"), m);
    }

    /** Deep nesting (a StackOverflowError with a 1024-frame trace before) is refused at the limit, quickly. */
    @Test
    void deepNestingIsRefusedAtTheLimit() {
        int n = 1_000_000;
        for (String open : new String[] {"[", "{\"a\":"}) {
            String m = failure(open.repeat(n));
            assertTrue(m.contains("nested deeper than " + Json.MAX_DEPTH), m);
        }
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertEquals(List.of(), unwrap(Json.parse(ok), Json.MAX_DEPTH - 1));
        String m = failure("[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1));
        assertTrue(m.contains("nested deeper"), m);
    }

    private static Object unwrap(Object v, int levels) {
        for (int i = 0; i < levels; i++) v = ((List<?>) v).get(0);
        return v;
    }

    /** A huge file named config.json is refused from its size, before it is read into memory. */
    @Test
    void oversizedFileIsRefusedBeforeReading() throws IOException {
        Path f = tmp.resolve("config.json");
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(8L << 30); // sparse: 8 GiB claimed, nothing written
        }
        String m = assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> assertThrows(IllegalArgumentException.class, () -> Json.parseObjectFile(f)).getMessage());
        assertTrue(m.contains("8589934592 bytes") && m.contains("right file"), m);
        Files.writeString(f, "{\"a\": [1, 2]}");
        assertEquals(Map.of("a", List.of(1L, 2L)), Json.parseObjectFile(f));
    }

    @Test
    void longStringsAndNumbersAreBounded() {
        String m = failure("[" + "9".repeat(5000) + "]");
        assertTrue(m.contains("malformed JSON"), m);
        assertEquals("x".repeat(100_000), Json.parse("\"" + "x".repeat(100_000) + "\""));
    }
}
