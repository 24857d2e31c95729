package ssdspark.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class DataFormatTest {
    @Test
    void infersFromTheName() {
        assertEquals(DataFormat.JSON, DataFormat.infer("corpus.jsonl"));
        assertEquals(DataFormat.JSON, DataFormat.infer("hdfs://nn/x/corpus.json.gz"));
        assertEquals(DataFormat.JSON, DataFormat.infer("a.NDJSON"));
        assertEquals(DataFormat.PARQUET, DataFormat.infer("s3a://b/tokens.parquet/"));
        assertNull(DataFormat.infer("s3a://b/tokens"));
    }

    @Test
    void infersALocalFolderFromItsDataFiles(@TempDir Path dir) throws Exception {
        Path p = Files.createDirectories(dir.resolve("out"));
        Files.writeString(p.resolve("_SUCCESS"), "");
        Files.writeString(p.resolve(".part-0.crc"), "");
        Files.writeString(p.resolve("part-00000-x.zstd.parquet"), "");
        assertEquals(DataFormat.PARQUET, DataFormat.infer(p.toString()));
        Files.writeString(p.resolve("notes.json"), "");
        assertNull(DataFormat.infer(p.toString()), "mixed folders need --format");
    }

    @Test
    void parsesFlagValues() {
        assertEquals(DataFormat.JSON, DataFormat.parse("JSON"));
        assertEquals(DataFormat.PARQUET, DataFormat.parse("parquet"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DataFormat.parse("csv")).getMessage().contains("json or parquet"));
    }

    @Test
    void localPaths() {
        assertEquals(Path.of("/a/b"), LocalPaths.local("file:///a/b"));
        assertEquals(Path.of("/a/b"), LocalPaths.local("file:/a/b"));
        assertEquals(Path.of("rel/x"), LocalPaths.local("rel/x"));
        assertNull(LocalPaths.local("hdfs://nn/a"));
        assertNull(LocalPaths.local("/data/*.parquet"));
    }
}
