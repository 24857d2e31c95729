package ssdspark.model.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Fuzz inputs as files (the readers map files): one scratch file per JVM, rewritten for each input. */
final class FuzzFiles {
    private FuzzFiles() {}

    private static Path dir;

    static synchronized Path write(String name, byte[] data) {
        try {
            if (dir == null) {
                dir = Files.createTempDirectory("ssdspark-fuzz");
                dir.toFile().deleteOnExit();
            }
            Path p = dir.resolve(name);
            Files.write(p, data);
            p.toFile().deleteOnExit();
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads every tensor a source claims, as the model loader would; refusals are the expected outcome. */
    static void readAll(TensorSource src) {
        for (String n : src.names()) {
            src.shape(n);
            try {
                float[] v = src.readFloats(n);
                if (v.length != SafetensorsFile.numel(src.shape(n))) throw new AssertionError("tensor " + n + " read " + v.length + " elements");
            } catch (IllegalArgumentException expected) {
                // unreadable dtype and the like: a message, not a crash
            }
        }
    }
}
