package ssdspark.model.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import ssdspark.model.Json;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static ssdspark.model.checkpoint.SafetensorsFileTest.resource;

/** torch.save archives made by tools/checkpoint/make_fixtures.py, and broken or hostile variants of them. */
class TorchCheckpointTest {
    @TempDir Path tmp;

    private static final String PLACEHOLDER = "/tmp/ssdspark-pwned-" + "0".repeat(32);

    @SuppressWarnings("unchecked")
    private static Map<String, Object> expected() throws IOException {
        return Json.parseObject(Files.readString(resource("torch_expected.json")));
    }

    private static float[] floats(Object list) {
        List<?> l = (List<?>) list;
        float[] out = new float[l.size()];
        for (int i = 0; i < out.length; i++) out[i] = ((Number) l.get(i)).floatValue();
        return out;
    }

    private static long[] longs(Object list) {
        return ((List<?>) list).stream().mapToLong(x -> ((Number) x).longValue()).toArray();
    }

    private static String failure(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run).getMessage();
    }

    /** Protocol 2 little-endian, protocol 4 big-endian, protocol 5 zip64 without a byteorder record: same tensors. */
    @ParameterizedTest
    @ValueSource(strings = {"torch_p2", "torch_p4_big", "torch_p5_zip64"})
    @SuppressWarnings("unchecked")
    void matchesNumpyDerivedValues(String fixture) throws IOException {
        Map<String, Object> want = expected();
        try (TorchCheckpoint ck = TorchCheckpoint.open(resource(fixture + "/pytorch_model.bin"))) {
            assertEquals(List.copyOf(want.keySet()), List.copyOf(ck.names()), "state dict order is kept");
            for (Map.Entry<String, Object> e : want.entrySet()) {
                Map<String, Object> t = (Map<String, Object>) e.getValue();
                String name = e.getKey();
                assertArrayEquals(longs(t.get("shape")), ck.shape(name), name);
                assertEquals(t.get("storage"), ck.storageType(name), name);
                if (t.containsKey("values")) assertArrayEquals(floats(t.get("values")), ck.readFloats(name), name);
            }
        }
    }

    /** The same facts written down by hand, so a mistake shared by the generator and reader would still show. */
    @Test
    void stridesOffsetsAndTiedWeights() {
        try (TorchCheckpoint ck = TorchCheckpoint.open(resource("torch_p2/pytorch_model.bin"))) {
            // ramp = arange(10) * 0.5 - 1
            assertArrayEquals(new float[]{1.0f, 1.5f, 2.0f}, ck.readFloats("sliced"), "storage offset 4");
            assertArrayEquals(new float[]{-0.5f, 0.5f, 1.5f, 2.5f}, ck.readFloats("sliced_strided"), "offset 1, strides (4, 2)");
            assertArrayEquals(new float[]{1, 4, 2, 5, 3, 6}, ck.readFloats("transposed"), "[[1,2,3],[4,5,6]].t()");
            assertArrayEquals(new float[]{1, 4, 2, 5, 3, 6}, ck.readFloats("f16_transposed"), "half, transposed");
            assertArrayEquals(new float[]{-1f, -0.5f, 0f, 0.5f, 1f, 1.5f, 2f, 2.5f, 3f, 3.5f}, ck.readFloats("param"), "Parameter");
            assertArrayEquals(ck.readFloats("backbone.embedding.weight"), ck.readFloats("lm_head.weight"), "tied");
            assertArrayEquals(new float[]{42.25f}, ck.readFloats("scalar"));
            assertArrayEquals(new long[0], ck.shape("scalar"));
            assertEquals(0, ck.readFloats("empty").length);
            float[] h = ck.readFloats("f16");
            assertEquals(Math.scalb(1f, -24), h[4], "subnormal");
            assertEquals(Float.POSITIVE_INFINITY, h[2]);
            assertEquals(65504f, h[7]);
            float[] b = ck.readFloats("bf16");
            assertArrayEquals(new float[]{1f, -2.5f, 0.15625f, 1.5f * (float) Math.pow(2, 127), -0.0f, Math.scalb(1f, -133)}, b);
        }
    }

    @Test
    void unsupportedDtypeFailsOnlyWhenRead() {
        try (TorchCheckpoint ck = TorchCheckpoint.open(resource("torch_p2/pytorch_model.bin"))) {
            assertArrayEquals(new long[]{2}, ck.shape("int64_buffer"));
            String m = failure(() -> ck.readFloats("int64_buffer"));
            assertTrue(m.contains("int64_buffer") && m.contains("unsupported dtype") && m.contains("LongStorage"), m);
        }
    }

    @Test
    void missingTensorNamesIt() {
        try (TorchCheckpoint ck = TorchCheckpoint.open(resource("torch_p2/pytorch_model.bin"))) {
            String m = failure(() -> ck.readFloats("backbone.layers.9.mixer.A_log"));
            assertTrue(m.contains("backbone.layers.9.mixer.A_log") && m.contains("pytorch_model.bin"), m);
            m = failure(() -> ck.shape("nope"));
            assertTrue(m.contains("nope"), m);
        }
    }

    @Test
    void refusesTheCommittedMaliciousFile() {
        String m = failure(() -> TorchCheckpoint.open(resource("malicious/pytorch_model.bin")));
        assertTrue(m.contains("pytorch_model.bin") && m.contains("refusing to load"), m);
        assertTrue(m.contains("posix.system") && m.contains("os.system"), m);
        assertTrue(m.contains("Nothing was executed"), m);
    }

    /** The malicious pickle, re-targeted at a fresh path: loading must refuse and the file must not appear. */
    @Test
    void maliciousPickleRunsNothing() throws IOException {
        String target = "/tmp/ssdspark-pwned-" + UUID.randomUUID().toString().replace("-", "");
        assertEquals(PLACEHOLDER.length(), target.length());
        Path bin = repack(resource("malicious/pytorch_model.bin"), tmp.resolve("evil/pytorch_model.bin"), true, entries -> {
            byte[] pkl = entries.get("archive/data.pkl");
            String s = new String(pkl, StandardCharsets.ISO_8859_1);
            assertTrue(s.contains(PLACEHOLDER));
            entries.put("archive/data.pkl", s.replace(PLACEHOLDER, target).getBytes(StandardCharsets.ISO_8859_1));
        });
        String m = failure(() -> Checkpoints.open(bin.getParent()));
        assertTrue(m.contains("refusing to load") && m.contains("os.system"), m);
        assertFalse(Files.exists(Path.of(target)), "nothing was executed");
    }

    /** An archive re-zipped with compression: entries are inflated instead of mapped, values unchanged. */
    @Test
    void deflatedArchive() throws IOException {
        Path bin = repack(resource("torch_p2/pytorch_model.bin"), tmp.resolve("pytorch_model.bin"), true, e -> {});
        try (TorchCheckpoint a = TorchCheckpoint.open(bin); TorchCheckpoint b = TorchCheckpoint.open(resource("torch_p2/pytorch_model.bin"))) {
            for (String n : b.names()) {
                if (n.equals("int64_buffer")) continue;
                assertArrayEquals(b.readFloats(n), a.readFloats(n), n);
            }
        }
    }

    @Test
    void missingStorageRecord() throws IOException {
        Path bin = repack(resource("torch_p2/pytorch_model.bin"), tmp.resolve("pytorch_model.bin"), false,
                e -> e.remove("pytorch_model/data/0"));
        String m = failure(() -> TorchCheckpoint.open(bin));
        assertTrue(m.contains("backbone.embedding.weight") && m.contains("pytorch_model/data/0") && m.contains("missing"), m);
    }

    @Test
    void shortStorageRecord() throws IOException {
        Path bin = repack(resource("torch_p2/pytorch_model.bin"), tmp.resolve("pytorch_model.bin"), false,
                e -> e.put("pytorch_model/data/0", Arrays.copyOf(e.get("pytorch_model/data/0"), 40)));
        String m = failure(() -> TorchCheckpoint.open(bin));
        assertTrue(m.contains("backbone.embedding.weight") && m.contains("truncated"), m);
    }

    @Test
    void bigEndianMarkerIsHonoured() throws IOException {
        // Declaring the little-endian fixture big-endian must byte-swap every value: proves the record is read.
        Path bin = repack(resource("torch_p2/pytorch_model.bin"), tmp.resolve("pytorch_model.bin"), false,
                e -> e.put("pytorch_model/byteorder", "big".getBytes(StandardCharsets.US_ASCII)));
        try (TorchCheckpoint ck = TorchCheckpoint.open(bin)) {
            float[] s = ck.readFloats("scalar");
            assertEquals(Float.intBitsToFloat(Integer.reverseBytes(Float.floatToRawIntBits(42.25f))), s[0]);
        }
        Path odd = repack(resource("torch_p2/pytorch_model.bin"), tmp.resolve("odd/pytorch_model.bin"), false,
                e -> e.put("pytorch_model/byteorder", "middle".getBytes(StandardCharsets.US_ASCII)));
        String m = failure(() -> TorchCheckpoint.open(odd));
        assertTrue(m.contains("byteorder") && m.contains("middle"), m);
    }

    @Test
    void truncatedArchive() throws IOException {
        byte[] all = Files.readAllBytes(resource("torch_p2/pytorch_model.bin"));
        Path p = tmp.resolve("pytorch_model.bin");
        Files.write(p, Arrays.copyOf(all, all.length / 2));
        String m = failure(() -> TorchCheckpoint.open(p));
        assertTrue(m.contains("pytorch_model.bin") && m.contains("not a readable zip archive"), m);
    }

    @Test
    void legacyAndForeignFiles() throws IOException {
        Path p = tmp.resolve("pytorch_model.bin");
        Files.write(p, new byte[]{(byte) 0x80, 2, (byte) 0x8a, 10, 0, 0, 0, 0, 0, 0, 0, 0});
        String m = failure(() -> TorchCheckpoint.open(p));
        assertTrue(m.contains("legacy") && m.contains("safetensors"), m);
        Files.writeString(p, "hello world");
        m = failure(() -> TorchCheckpoint.open(p));
        assertTrue(m.contains("not a torch.save zip"), m);
    }

    @Test
    void zipWithoutDataPkl() throws IOException {
        Path bin = repack(resource("torch_p2/pytorch_model.bin"), tmp.resolve("pytorch_model.bin"), false, e -> {
            e.remove("pytorch_model/data.pkl");
            e.put("pytorch_model/constants.pkl", new byte[]{(byte) 0x80, 2, ')', '.'});
        });
        String m = failure(() -> TorchCheckpoint.open(bin));
        assertTrue(m.contains("data.pkl") && m.contains("TorchScript"), m);
    }

    @Test
    void rootThatIsNotADict() throws IOException {
        // pickle.dumps([1], protocol=2)
        byte[] list = {(byte) 0x80, 2, ']', 'q', 0, 'K', 1, 'a', '.'};
        Path bin = repack(resource("torch_p2/pytorch_model.bin"), tmp.resolve("pytorch_model.bin"), false,
                e -> e.put("pytorch_model/data.pkl", list));
        String m = failure(() -> TorchCheckpoint.open(bin));
        assertTrue(m.contains("not a state dict"), m);
    }

    @Test
    void nestedCheckpointGetsAHint() throws IOException {
        // pickle.dumps({'model': {}}, protocol=2)
        byte[] nested = {(byte) 0x80, 2, '}', 'q', 0, 'X', 5, 0, 0, 0, 'm', 'o', 'd', 'e', 'l', 'q', 1, '}', 'q', 2, 's', '.'};
        Path bin = repack(resource("torch_p2/pytorch_model.bin"), tmp.resolve("pytorch_model.bin"), false,
                e -> e.put("pytorch_model/data.pkl", nested));
        String m = failure(() -> TorchCheckpoint.open(bin));
        assertTrue(m.contains("no tensors") && m.contains("[model]") && m.contains("state_dict"), m);
    }

    @Test
    void zipBombIsRefused() throws IOException {
        Path bin = repack(resource("torch_p2/pytorch_model.bin"), tmp.resolve("pytorch_model.bin"), true,
                e -> e.put("pytorch_model/data/1", new byte[5_000_000]));
        // Rewrite the central directory's uncompressed size of data/1 to claim 2 GB from a few KB.
        byte[] all = Files.readAllBytes(bin);
        byte[] name = "pytorch_model/data/1".getBytes(StandardCharsets.US_ASCII);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(all).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i + 46 < all.length; i++) {
            if (b.getInt(i) == 0x02014b50 && Arrays.equals(Arrays.copyOfRange(all, i + 46, i + 46 + name.length), name)) b.putInt(i + 24, 2_000_000_000);
        }
        Files.write(bin, all);
        try (TorchCheckpoint ck = TorchCheckpoint.open(bin)) {
            String m = failure(() -> ck.readFloats("sliced"));
            assertTrue(m.contains("data/1") && m.contains("corrupt"), m);
        }
    }

    /** A few hundred bytes of data.pkl that describe 2^60 tuple leaves: refused in well under a second, file named. */
    @Test
    void smallHostilePickleInARealArchiveIsRefusedQuickly() throws IOException {
        java.io.ByteArrayOutputStream p = new java.io.ByteArrayOutputStream();
        p.writeBytes(new byte[] {(byte) 0x80, 2, '}', ')'});
        for (int i = 0; i < 60; i++) p.writeBytes(new byte[] {'q', 0, 'h', 0, (byte) 0x86});
        p.writeBytes(new byte[] {'N', 's', '.'});
        Path bin = repack(resource("torch_p2/pytorch_model.bin"), tmp.resolve("pytorch_model.bin"), false,
                e -> e.put("pytorch_model/data.pkl", p.toByteArray()));
        String m = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(10),
                () -> failure(() -> TorchCheckpoint.open(bin)));
        assertTrue(m.contains(bin.toString()) && m.contains("nests values"), m);
    }

    /** A data.pkl whose declared size is beyond any state dict's is refused from the directory, before inflating. */
    @Test
    void oversizedPickleIsRefusedBeforeInflating() throws IOException {
        Path bin = repack(resource("torch_p2/pytorch_model.bin"), tmp.resolve("pytorch_model.bin"), true, e -> {});
        byte[] all = Files.readAllBytes(bin);
        byte[] name = "pytorch_model/data.pkl".getBytes(StandardCharsets.US_ASCII);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(all).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i + 46 < all.length; i++) {
            if (b.getInt(i) == 0x02014b50 && Arrays.equals(Arrays.copyOfRange(all, i + 46, i + 46 + name.length), name))
                b.putInt(i + 24, (int) TorchCheckpoint.MAX_PICKLE + 1);
        }
        Files.write(bin, all);
        String m = failure(() -> TorchCheckpoint.open(bin));
        assertTrue(m.contains("data.pkl is " + (TorchCheckpoint.MAX_PICKLE + 1) + " bytes"), m);
    }

    /**
     * Copies a zip entry by entry through an edit; entries are STORED (with sizes up front) or DEFLATED.
     * java.util.zip writes no alignment padding, which the reader must not need.
     */
    static Path repack(Path src, Path dst, boolean deflate, Consumer<Map<String, byte[]>> edit) throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        try (ZipFile z = new ZipFile(src.toFile())) {
            for (ZipEntry e : java.util.Collections.list(z.entries())) entries.put(e.getName(), z.getInputStream(e).readAllBytes());
        }
        edit.accept(entries);
        Files.createDirectories(dst.getParent());
        try (OutputStream out = Files.newOutputStream(dst); ZipOutputStream zo = new ZipOutputStream(out)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                ZipEntry ze = new ZipEntry(e.getKey());
                if (!deflate) {
                    CRC32 crc = new CRC32();
                    crc.update(e.getValue());
                    ze.setMethod(ZipEntry.STORED);
                    ze.setSize(e.getValue().length);
                    ze.setCompressedSize(e.getValue().length);
                    ze.setCrc(crc.getValue());
                }
                zo.putNextEntry(ze);
                zo.write(e.getValue());
                zo.closeEntry();
            }
        }
        return dst;
    }
}
