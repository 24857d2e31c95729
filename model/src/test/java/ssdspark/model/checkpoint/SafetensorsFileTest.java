package ssdspark.model.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsFileTest {
    @TempDir Path tmp;

    private static long[] shape(long... s) { return s; }

    private static String failure(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run).getMessage();
    }

    static Path resource(String name) {
        try {
            return Path.of(SafetensorsFileTest.class.getResource("/checkpoint/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void roundTripsEveryFloatDtype() throws IOException {
        float[] f32 = {1.5f, -0.0f, Float.MIN_VALUE, Float.MAX_VALUE, Float.NEGATIVE_INFINITY, Float.NaN};
        Path p = new SafetensorsWriter()
                .f32("a.f32", shape(2, 3), f32)
                .bits16("b.bf16", "BF16", shape(4), 0x3F80, 0xC000, 0x7F80, 0x0001)
                .bits16("c.f16", "F16", shape(2, 2), 0x3C00, 0x7C00, 0x0001, 0x8000)
                .f64("d.f64", shape(2), 0.1, -1e300)
                .write(tmp.resolve("model.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(p)) {
            assertEquals(List.of("a.f32", "b.bf16", "c.f16", "d.f64"), List.copyOf(st.names()));
            assertEquals(Map.of("format", "pt"), st.metadata());
            assertArrayEquals(shape(2, 3), st.shape("a.f32"));
            assertArrayEquals(f32, st.readFloats("a.f32"));
            assertEquals("BF16", st.dtype("b.bf16"));
            assertArrayEquals(new float[]{1f, -2f, Float.POSITIVE_INFINITY, Math.scalb(1f, -133)}, st.readFloats("b.bf16"));
            assertArrayEquals(new float[]{1f, Float.POSITIVE_INFINITY, Math.scalb(1f, -24), -0.0f}, st.readFloats("c.f16"));
            assertArrayEquals(new float[]{0.1f, Float.NEGATIVE_INFINITY}, st.readFloats("d.f64"));
            assertTrue(st.has("c.f16") && !st.has("e"));
            assertTrue(st.description().endsWith("model.safetensors"));
        }
    }

    /** A file laid out by numpy the way the safetensors library does; numpy's float16 widening is the reference. */
    @Test
    void matchesNumpyWrittenFile() {
        try (SafetensorsFile st = SafetensorsFile.open(resource("safetensors_numpy/model.safetensors"))) {
            float[] half = st.readFloats("f16_bits"), widened = st.readFloats("f16_bits_widened");
            assertTrue(half.length > 8000, "sample covers subnormals, normals, inf and NaN");
            assertArrayEquals(widened, half);
            assertArrayEquals(st.readFloats("bf16_widened"), st.readFloats("bf16"));
            assertArrayEquals(new float[]{1e-3f, -7.5f, Float.POSITIVE_INFINITY}, st.readFloats("f64"));
        }
    }

    @Test
    void scalarAndEmptyTensors() throws IOException {
        Path p = new SafetensorsWriter().f32("s", shape(), 3.25f).f32("e", shape(0, 3)).write(tmp.resolve("x.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(p)) {
            assertArrayEquals(new float[]{3.25f}, st.readFloats("s"));
            assertArrayEquals(shape(0, 3), st.shape("e"));
            assertEquals(0, st.readFloats("e").length);
        }
    }

    @Test
    void missingTensorNamesTensorAndFile() throws IOException {
        Path p = new SafetensorsWriter().f32("w", shape(1), 1f).write(tmp.resolve("m.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(p)) {
            for (Runnable r : List.<Runnable>of(() -> st.shape("backbone.norm_f.weight"), () -> st.readFloats("backbone.norm_f.weight"))) {
                String m = failure(r);
                assertTrue(m.contains("backbone.norm_f.weight") && m.contains("m.safetensors"), m);
            }
        }
    }

    @Test
    void unreadableDtypesFailOnlyWhenRead() throws IOException {
        Path p = new SafetensorsWriter()
                .add("step", "I64", shape(1), ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(42).array())
                .add("packed", "F4", shape(3, 2), new byte[3])
                .f32("w", shape(2), 1f, 2f)
                .write(tmp.resolve("m.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(p)) {
            assertArrayEquals(new float[]{1f, 2f}, st.readFloats("w"));
            assertArrayEquals(shape(1), st.shape("step"));
            String m = failure(() -> st.readFloats("step"));
            assertTrue(m.contains("step") && m.contains("unsupported dtype I64"), m);
            m = failure(() -> st.readFloats("packed"));
            assertTrue(m.contains("packed") && m.contains("F4"), m);
            assertEquals(42L, st.rawBytes("step").getLong(0), "integer tensors stay reachable as raw bytes");
        }
    }

    /** As the reference implementation: a dtype name it does not know is a corrupt header, refused at open. */
    @Test
    void unknownDtypeIsRefusedAtOpen() throws IOException {
        Path p = new SafetensorsWriter().add("odd", "Q7", shape(3), new byte[5]).write(tmp.resolve("q.safetensors"));
        String m = failure(() -> SafetensorsFile.open(p));
        assertTrue(m.contains("q.safetensors") && m.contains("tensor odd") && m.contains("unknown dtype \"Q7\""), m);
    }

    @Test
    void headerLengthBeyondFile() throws IOException {
        Path p = tmp.resolve("trunc.safetensors");
        Files.write(p, ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array());
        String m = failure(() -> SafetensorsFile.open(p));
        assertTrue(m.contains("trunc.safetensors") && m.contains("header length 1000"), m);

        Files.write(p, new byte[3]);
        m = failure(() -> SafetensorsFile.open(p));
        assertTrue(m.contains("too small"), m);

        Files.write(p, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1).array());
        m = failure(() -> SafetensorsFile.open(p));
        assertTrue(m.contains("18446744073709551615"), m);
    }

    @Test
    void malformedHeaderJson() throws IOException {
        SafetensorsWriter w = new SafetensorsWriter().f32("w", shape(1), 1f);
        Path p = w.write(tmp.resolve("bad.safetensors"), "{\"w\": {\"dtype\": \"F32\",");
        String m = failure(() -> SafetensorsFile.open(p));
        assertTrue(m.contains("bad.safetensors") && m.contains("not valid JSON"), m);
        Path q = w.write(tmp.resolve("bad2.safetensors"), "{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}");
        m = failure(() -> SafetensorsFile.open(q));
        assertTrue(m.contains("tensor w") && m.contains("data_offsets"), m);
        Path r = w.write(tmp.resolve("bad3.safetensors"), "{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}");
        m = failure(() -> SafetensorsFile.open(r));
        assertTrue(m.contains("tensor w") && m.contains("shape"), m);
    }

    @Test
    void offsetsOutsideTheFile() throws IOException {
        SafetensorsWriter w = new SafetensorsWriter().f32("a", shape(2), 1f, 2f);
        Path p = w.write(tmp.resolve("o.safetensors"), "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}");
        String m = failure(() -> SafetensorsFile.open(p));
        assertTrue(m.contains("o.safetensors") && m.contains("tensor a") && m.contains("outside the data block"), m);
    }

    @Test
    void byteLengthMustMatchShape() throws IOException {
        SafetensorsWriter w = new SafetensorsWriter().f32("a", shape(2), 1f, 2f);
        Path p = w.write(tmp.resolve("l.safetensors"), "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}");
        String m = failure(() -> SafetensorsFile.open(p));
        assertTrue(m.contains("tensor a") && m.contains("F32 [3] needs 12"), m);
    }

    @Test
    void truncatedDataIsCaughtAtOpen() throws IOException {
        Path p = new SafetensorsWriter().f32("a", shape(2), 1f, 2f).f32("b", shape(3), 1f, 2f, 3f).write(tmp.resolve("t.safetensors"));
        byte[] all = Files.readAllBytes(p);
        Files.write(p, java.util.Arrays.copyOf(all, all.length - 5));
        String m = failure(() -> SafetensorsFile.open(p));
        assertTrue(m.contains("tensor b") && m.contains("truncated"), m);
    }

    @Test
    void readsAcrossWindowEdges() throws IOException {
        float[] v = new float[37];
        int[] halves = new int[37];
        for (int i = 0; i < v.length; i++) {
            v[i] = i * 0.25f - 3;
            halves[i] = 0x3C00 + i * 17;
        }
        Path p = new SafetensorsWriter().f32("f", shape(37), v).bits16("h", "F16", shape(37), halves).write(tmp.resolve("w.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(p); MappedFile mf = MappedFile.open(p)) {
            long dataStart = Files.size(p) - 37 * 6;
            for (int window : new int[]{4, 12, 20, 1000}) {
                float[] f = new float[37], h = new float[37];
                mf.region(dataStart, 37 * 4).readFloats(0, 37, Dtype.F32, ByteOrder.LITTLE_ENDIAN, f, window);
                mf.region(dataStart + 37 * 4, 37 * 2).readFloats(0, 37, Dtype.F16, ByteOrder.LITTLE_ENDIAN, h, window);
                assertArrayEquals(v, f, "window " + window);
                assertArrayEquals(st.readFloats("h"), h, "window " + window);
            }
        }
    }

    /** A sparse file whose last tensor starts past 2 GiB: offsets are longs and each read maps its own window. */
    @Test
    void tensorsBeyondTwoGiB() throws IOException {
        long pad = (1L << 31) + 12345;
        float[] tail = {1f, -2f, 3.5f, 4f};
        String header = "{\"pad\":{\"dtype\":\"U8\",\"shape\":[" + pad + "],\"data_offsets\":[0," + pad + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[" + pad + "," + (pad + 16) + "]}}";
        while (header.length() % 8 != 0) header += " ";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        Path p = tmp.resolve("big.safetensors");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
            f.write(h);
            f.seek(8 + h.length + pad);
            ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            for (float x : tail) b.putFloat(x);
            f.write(b.array());
        }
        assertTrue(Files.size(p) > (1L << 31));
        try (SafetensorsFile st = SafetensorsFile.open(p)) {
            assertArrayEquals(tail, st.readFloats("tail"));
            String m = failure(() -> st.readFloats("pad"));
            assertTrue(m.contains("unsupported dtype U8"), m);
        }
    }

    @Test
    void readAfterCloseFails() throws IOException {
        Path p = new SafetensorsWriter().f32("w", shape(1), 1f).write(tmp.resolve("c.safetensors"));
        SafetensorsFile st = SafetensorsFile.open(p);
        st.close();
        assertThrows(IllegalStateException.class, () -> st.readFloats("w"));
    }

    @Test
    void shardedIndex() throws IOException {
        Path dir = tmp.resolve("sharded");
        new SafetensorsWriter().f32("a", shape(2), 1f, 2f).bits16("b", "BF16", shape(1), 0x3F80)
                .write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafetensorsWriter().bits16("c", "F16", shape(2), 0x7C00, 0x0001).write(dir.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"metadata\": {\"total_size\": 14}, \"weight_map\": {"
                + "\"a\": \"model-00001-of-00002.safetensors\", \"b\": \"model-00001-of-00002.safetensors\","
                + "\"c\": \"model-00002-of-00002.safetensors\"}}");
        try (TensorSource src = Checkpoints.open(dir)) {
            assertInstanceOf(ShardedSource.class, src);
            assertEquals(List.of("a", "b", "c"), List.copyOf(src.names()));
            assertArrayEquals(new float[]{1f, 2f}, src.readFloats("a"));
            assertArrayEquals(new float[]{1f}, src.readFloats("b"));
            assertArrayEquals(new float[]{Float.POSITIVE_INFINITY, Math.scalb(1f, -24)}, src.readFloats("c"));
            assertArrayEquals(shape(2), src.shape("c"));
            assertTrue(src.description().contains("2 shards"), src.description());
            String m = failure(() -> src.readFloats("d"));
            assertTrue(m.contains("no tensor named d"), m);
        }
    }

    @Test
    void shardedIndexErrors() throws IOException {
        Path dir = tmp.resolve("broken");
        new SafetensorsWriter().f32("a", shape(1), 1f).write(dir.resolve("s1.safetensors"));
        Path index = dir.resolve("model.safetensors.index.json");

        Files.writeString(index, "{\"weight_map\": {\"a\": \"s1.safetensors\", \"z\": \"s2.safetensors\"}}");
        String m = failure(() -> Checkpoints.open(dir));
        assertTrue(m.contains("s2.safetensors") && m.contains("does not exist") && m.contains("tensor z"), m);

        Files.writeString(index, "{\"weight_map\": {\"a\": \"s1.safetensors\", \"q\": \"s1.safetensors\"}}");
        m = failure(() -> Checkpoints.open(dir));
        assertTrue(m.contains("tensor q") && m.contains("s1.safetensors") && m.contains("no such tensor"), m);

        Files.writeString(index, "{\"weight_map\": {\"a\": \"../elsewhere/s1.safetensors\"}}");
        m = failure(() -> Checkpoints.open(dir));
        assertTrue(m.contains("not a plain file name"), m);

        Files.writeString(index, "{\"metadata\": {}}");
        m = failure(() -> Checkpoints.open(dir));
        assertTrue(m.contains("weight_map"), m);

        Files.writeString(index, "{\"weight_map\": ");
        m = failure(() -> Checkpoints.open(dir));
        assertTrue(m.contains("index.json") && m.contains("not valid JSON"), m);
    }
}
