package ssdspark.udf;

import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** Token rows to documents: arrays of integers, and the JSON text of a column Spark could not type, row by row. */
class TokenRowsTest {
    private static String error(Object tokens) {
        Doc d = TokenRows.toDoc(RowFactory.create("doc", tokens));
        return d.error();
    }

    @Test
    void integerArraysAndTheirJsonText() {
        assertArrayEquals(new int[] {1, 2, 3}, TokenRows.toDoc(RowFactory.create("a", scala.jdk.javaapi.CollectionConverters.asScala(List.of(1, 2, 3)).toSeq())).tokens());
        assertArrayEquals(new int[] {1, 2, 3}, TokenRows.toDoc(RowFactory.create("a", "[1, 2, 3]")).tokens());
        assertArrayEquals(new int[0], TokenRows.toDoc(RowFactory.create("a", "[]")).tokens());
        assertNull(error("[7]"));
    }

    /** Each row's own problem, with the position of the first bad token. */
    @Test
    void nonIntegersAreTheRowsErrorWithPosition() {
        assertEquals("token at position 1 is 2.5, not an integer token id", error("[5, 2.5, 7]"));
        assertEquals("token at position 2 is \"x\", not an integer token id", error("[5, 6, \"x\"]"));
        assertEquals("token at position 0 is null, not an integer token id", error("[null]"));
        assertEquals("token at position 1 is an array, not an integer token id", error("[1, [2]]"));
        assertEquals("token at position 0 is an object, not an integer token id", error("[{\"a\": 1}]"));
        assertEquals("token at position 0 is true, not an integer token id", error("[true]"));
        assertEquals("token id 4294967296 at position 0 is outside the model's vocabulary", error("[4294967296]"));
        assertEquals("token id 99999999999999999999999 at position 0 is outside the model's vocabulary", error("[99999999999999999999999]"));
        assertEquals("tokens is abc, not an array of integer token ids", error("abc"));
        assertEquals("tokens is {\"a\":1}, not an array of integer token ids", error("{\"a\":1}"));
        String m = error("[1, 2");
        assertEquals(true, m.startsWith("tokens is not valid JSON"), m);
        assertEquals("malformed JSON line in f.jsonl: {\"id", error(TokenRows.ROW_ERROR + "malformed JSON line in f.jsonl: {\"id"));
        assertEquals("tokens is null: nothing to score or embed", error(null));
    }

    @Test
    void errorKindsGroupMessagesByShape() {
        assertEquals("token id N at position N is outside the model's vocabulary [N, N)",
                ErrorKinds.kind("token id 400 at position 1 is outside the model's vocabulary [0, 317)"));
        assertEquals("token at position N is \"…\", not an integer token id", ErrorKinds.kind("token at position 2 is \"x\", not an integer token id"));
        assertEquals("malformed JSON line in PATH: {…", ErrorKinds.kind("malformed JSON line in file:/data/a.jsonl: {…"));
        assertEquals("invalid UTF-8: N malformed byte sequences, the first at byte N of PATH line N (bf16 N)",
                ErrorKinds.kind("invalid UTF-8: 3 malformed byte sequences, the first at byte 17 of /data/a.txt line 9 (bf16 -2)"));
        ErrorKinds k = new ErrorKinds();
        for (int i = 0; i < 3; i++) k.add("token id " + (400 + i) + " at position " + i + " is outside the model's vocabulary [0, 317)");
        k.add("tokens is null: nothing to score or embed");
        for (int i = 0; i < ErrorKinds.MAX_KINDS + 5; i++) k.add("kind " + "x".repeat(i));
        Map<String, Long> v = k.value();
        List<Long> counts = List.copyOf(v.values());
        for (int i = 1; i < counts.size(); i++) assertEquals(true, counts.get(i - 1) >= counts.get(i), "most frequent first: " + v);
        assertEquals(3L, v.get("token id N at position N is outside the model's vocabulary [N, N)"));
        assertEquals(ErrorKinds.MAX_KINDS + 1, v.size(), "at most MAX_KINDS kinds, plus other");
        assertEquals(7L, v.get(ErrorKinds.OTHER));
        assertEquals(ErrorKinds.MAX_KINDS + 5 + 4, v.values().stream().mapToLong(Long::longValue).sum(), "nothing lost: extra kinds count as other");
    }
}
