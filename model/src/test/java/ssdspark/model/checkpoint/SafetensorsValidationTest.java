package ssdspark.model.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Safetensors headers checked as the format (and its reference implementation, safetensors' validate) requires:
 * offsets contiguous from 0, non-overlapping, covering the data block exactly; strict UTF-8 JSON of the right
 * shape, bounded in size and depth. Every refusal names the file and is quick.
 */
class SafetensorsValidationTest {
    @TempDir Path tmp;

    /** A file with exactly this header text and dataBytes bytes of data (value i at byte i). */
    private Path file(String header, int dataBytes) throws IOException {
        return file(header.getBytes(StandardCharsets.UTF_8), dataBytes);
    }

    private Path file(byte[] h, int dataBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        for (int i = 0; i < dataBytes; i++) b.put((byte) i);
        Path p = tmp.resolve("crafted.safetensors");
        Files.write(p, b.array());
        return p;
    }

    private static String t(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    private static String refused(Path p) {
        String m = assertTimeoutPreemptively(Duration.ofSeconds(10),
                () -> assertThrows(IllegalArgumentException.class, () -> SafetensorsFile.open(p)).getMessage());
        assertTrue(m.contains(p.toString()), "names the file: " + m);
        return m;
    }

    @Test
    void overlappingOffsetsAreRefused() throws IOException {
        // b's bytes are a's last 4: each length matches its shape, only the overlap is wrong
        String m = refused(file("{" + t("a", "F32", "[2]", 0, 8) + "," + t("b", "F32", "[2]", 4, 12) + "}", 12));
        assertTrue(m.contains("tensor b") && m.contains("overlap tensor a"), m);
        // the same bytes for two tensors (aliasing) is an overlap too
        m = refused(file("{" + t("a", "F32", "[2]", 0, 8) + "," + t("b", "F32", "[2]", 0, 8) + "}", 8));
        assertTrue(m.contains("overlap"), m);
    }

    @Test
    void gapsAndTrailingBytesAreRefused() throws IOException {
        String m = refused(file("{" + t("a", "F32", "[1]", 0, 4) + "," + t("b", "F32", "[1]", 8, 12) + "}", 12));
        assertTrue(m.contains("tensor b") && m.contains("4 bytes unaccounted"), m);
        m = refused(file("{" + t("a", "F32", "[1]", 4, 8) + "}", 8));
        assertTrue(m.contains("tensor a") && m.contains("unaccounted"), m);
        m = refused(file("{" + t("a", "F32", "[1]", 0, 4) + "}", 9));
        assertTrue(m.contains("cover 4 bytes of a data block of 9") && m.contains("trailing"), m);
    }

    /** Offsets need not follow the header's order: sorted, they tile the block, and each tensor reads its own bytes. */
    @Test
    void headerOrderDiffersFromDataOrder() throws IOException {
        Path p = file("{" + t("second", "U8", "[3]", 2, 5) + "," + t("first", "U8", "[2]", 0, 2) + "}", 5);
        try (SafetensorsFile st = SafetensorsFile.open(p)) {
            assertEquals(List.of("second", "first"), List.copyOf(st.names()));
            ByteBuffer b = st.rawBytes("second");
            assertEquals(2, b.get(0));
            assertEquals(4, b.get(2));
        }
    }

    @Test
    void endBeforeBeginAndOutsideTheBlock() throws IOException {
        String m = refused(file("{" + t("a", "F32", "[0]", 8, 4) + "}", 8));
        assertTrue(m.contains("end before they begin"), m);
        m = refused(file("{" + t("a", "U8", "[1000]", 0, 1000) + "}", 8));
        assertTrue(m.contains("outside the data block"), m);
    }

    @Test
    void shapesThatOverflowAndNumbersThatAreNotOffsets() throws IOException {
        String m = refused(file("{" + t("a", "F32", "[4294967296,4294967296]", 0, 8) + "}", 8));
        assertTrue(m.contains("too large"), m);
        m = refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551624]}}", 8));
        assertTrue(m.contains("data_offsets") && m.contains("non-negative integers"), m);
        m = refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8));
        assertTrue(m.contains("shape"), m);
        m = refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,16]}}", 8));
        assertTrue(m.contains("list of 2"), m);
    }

    @Test
    void headerShapeIsEnforced() throws IOException {
        assertTrue(refused(file("[]", 0)).contains("does not start with '{'"));
        assertTrue(refused(file("{\"a\": 5}", 0)).contains("tensor a: its header entry must be an object"));
        assertTrue(refused(file("{\"__metadata__\": {\"format\": 1}}", 0)).contains("__metadata__"));
        assertTrue(refused(file("{\"a\":{\"shape\":[],\"data_offsets\":[0,0]}}", 0)).contains("missing \"dtype\""));
        String m = refused(file("{" + t("a", "F32", "[1]", 0, 4) + "," + t("a", "F32", "[1]", 4, 8) + "}", 8));
        assertTrue(m.contains("Duplicate") && m.contains("'a'"), m);
        m = refused(file("{} trailing", 0));
        assertTrue(m.contains("not valid JSON"), m);
    }

    @Test
    void headerMustBeUtf8() throws IOException {
        byte[] h = "{\"\u00e9\":1}".getBytes(StandardCharsets.ISO_8859_1); // é as a lone 0xE9 byte
        assertTrue(refused(file(h, 0)).contains("not valid UTF-8"));
    }

    /** A nested header (a StackOverflowError before) is refused at the depth bound; so is a deep value in an unknown key. */
    @Test
    void deepNestingIsRefusedQuickly() throws IOException {
        String m = refused(file("{\"a\":" + "{\"b\":".repeat(500_000) + "}", 0));
        assertTrue(m.contains("nested deeper"), m);
        m = refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":" + "{\"y\":".repeat(200_000) + "}", 4));
        assertTrue(m.contains("nested deeper"), m);
    }

    /** The reference caps the header at 100,000,000 bytes: a larger length is refused before anything is read. */
    @Test
    void headerSizeCapIsTheReferences() throws IOException {
        assertEquals(100_000_000L, SafetensorsFile.MAX_HEADER);
        Path p = tmp.resolve("big.safetensors");
        try (var ch = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 100_000_001L));
            ch.write(ByteBuffer.wrap(new byte[] {'{'}), 200_000_000L); // sparse file long enough for the claim
        }
        String m = refused(p);
        assertTrue(m.contains("header length 100000001") && m.contains("at most 100000000"), m);
    }

    @Test
    void validFileStillReads() throws IOException {
        Path p = new SafetensorsWriter().f32("a", new long[] {2}, 1f, 2f).f32("b", new long[] {1}, 3f).write(tmp.resolve("ok.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(p)) {
            assertArrayEquals(new float[] {3f}, st.readFloats("b"));
            assertEquals("pt", st.metadata().get("format"));
        }
    }
}
