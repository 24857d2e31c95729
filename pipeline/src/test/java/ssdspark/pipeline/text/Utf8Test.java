package ssdspark.pipeline.text;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Utf8Test {
    /** Random bytes, mostly ASCII and valid multi-byte sequences, some stray continuation and lead bytes. */
    private static byte[] randomText(Random r, int n) {
        StringBuilder s = new StringBuilder();
        while (s.length() < n) {
            int k = r.nextInt(10);
            s.append(k < 5 ? "ab\n" : k < 7 ? "é€\r\n" : k < 8 ? "😀\r" : "x");
        }
        byte[] b = s.toString().getBytes(StandardCharsets.UTF_8);
        for (int i = r.nextInt(4); i > 0; i--) b[r.nextInt(b.length)] = (byte) (0x80 + r.nextInt(0x80));
        return b;
    }

    @Test
    void decodesAsJavaDoesAndCountsWhatItReplaced() throws Exception {
        Random r = new Random(7);
        int withErrors = 0;
        for (int t = 0; t < 2000; t++) {
            byte[] b = randomText(r, 1 + r.nextInt(60));
            Utf8.Decoded d = Utf8.decode(b, 0, b.length);
            assertEquals(new String(b, StandardCharsets.UTF_8), d.text(), "the text Java's replacing decoder gives");
            boolean valid;
            try {
                StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(b));
                valid = true;
            } catch (CharacterCodingException e) {
                valid = false;
            }
            assertEquals(valid, d.malformed() == 0);
            if (!valid) {
                withErrors++;
                // the first bad byte: everything before it decodes cleanly, and it starts a sequence that does not
                byte[] before = java.util.Arrays.copyOf(b, (int) d.firstBad());
                StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(before));
            }
        }
        assertTrue(withErrors > 100, withErrors + " inputs with errors");
        byte[] b = "ok \u00e9".getBytes(StandardCharsets.UTF_8);
        byte[] bad = {'o', 'k', ' ', (byte) 0xff, 'x', (byte) 0xc3};
        assertEquals(new Utf8.Decoded("ok \u00e9", 0, -1), Utf8.decode(b, 0, b.length));
        assertEquals(new Utf8.Decoded("ok \uFFFDx\uFFFD", 2, 3), Utf8.decode(bad, 0, bad.length));
        assertEquals(new Utf8.Decoded("\uFFFDx", 1, 0), Utf8.decode(bad, 3, 2), "offsets count from off");
    }

    @Test
    void linesSplitAsBufferedReaderSplitsThem(@TempDir Path tmp) throws Exception {
        Random r = new Random(11);
        for (int t = 0; t < 50; t++) {
            byte[] b = randomText(r, r.nextInt(300));
            Path f = Files.write(tmp.resolve("f" + t + ".txt"), b);
            List<String> expected = new ArrayList<>();
            try (BufferedReader br = new BufferedReader(new InputStreamReader(new ByteArrayInputStream(b), StandardCharsets.UTF_8))) {
                for (String l; (l = br.readLine()) != null; ) expected.add(l);
            }
            List<String> got = new ArrayList<>();
            try (TextFiles.Docs docs = new TextFiles.Docs(List.of(new TextFiles.Entry(f.toString(), b.length)), new Configuration(),
                    TextInputOptions.Unit.LINE, false)) {
                docs.forEachRemaining(row -> got.add(row.getString(1)));
            }
            assertEquals(expected, got, "file " + t);
        }
    }

    @Test
    void strictDecodingNotesTheProblemForTheTokenizer(@TempDir Path tmp) throws Exception {
        Path f = Files.write(tmp.resolve("bad.txt"), new byte[] {'g', 'o', 'o', 'd', '\n', 'b', 'a', (byte) 0xe2, (byte) 0x82, 'd', '\n'});
        try (TextFiles.Docs docs = new TextFiles.Docs(List.of(new TextFiles.Entry(f.toString(), 11)), new Configuration(),
                TextInputOptions.Unit.LINE, false)) {
            docs.strictFor(42);
            List<Row> rows = new ArrayList<>();
            docs.forEachRemaining(rows::add);
            assertEquals("ba\uFFFDd", rows.get(1).getString(1));
            assertNull(Utf8.problem(42, rows.get(0).getString(0)), "a good line has no problem");
            assertEquals("invalid UTF-8: 1 malformed byte sequence, the first at byte 2 of " + f + " line 2 (without --strict-utf8 they are scored as U+FFFD)",
                    Utf8.problem(42, rows.get(1).getString(0)));
            assertNull(Utf8.problem(42, rows.get(1).getString(0)), "taken once");
        }
    }
}
