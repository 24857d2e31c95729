package ssdspark.pipeline.output;

import ssdspark.pipeline.Sha256;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * SHA-256 of a model folder's config.json and weight files, for the output's metadata: two outputs
 * with the same fingerprint came from the same bytes. Files are streamed (GB checkpoints are fine).
 *
 * <p>The folder hash is SHA-256 over one line per file, sorted by name: "NAME\tSIZE\tSHA256\n". It
 * can be checked by hand:
 * <pre>cd MODEL && ls | grep -E '^config\.json$|\.(safetensors|bin|pt|pth)$|\.(safetensors|bin)\.index\.json$' | LC_ALL=C sort |
 *   while read f; do printf '%s\t%s\t%s\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-64)"; done | sha256sum</pre>
 */
public final class ModelFingerprint {
    private final Path folder;
    private final String sha256;
    private final Map<String, String> files;
    private final long bytes;

    private ModelFingerprint(Path folder, String sha256, Map<String, String> files, long bytes) {
        this.folder = folder;
        this.sha256 = sha256;
        this.files = files;
        this.bytes = bytes;
    }

    /** config.json and the checkpoint files: *.safetensors, *.bin, *.pt, *.pth and their *.index.json. */
    public static boolean isHashed(String name) {
        return name.equals("config.json") || name.endsWith(".safetensors") || name.endsWith(".bin")
                || name.endsWith(".pt") || name.endsWith(".pth")
                || name.endsWith(".safetensors.index.json") || name.endsWith(".bin.index.json");
    }

    /** Hashes the model folder (the one --model names). */
    public static ModelFingerprint of(Path folder) {
        if (!Files.isDirectory(folder))
            throw new IllegalArgumentException("model path " + folder + " is not a folder; point --model at the folder holding config.json and the weights");
        if (!Files.isRegularFile(folder.resolve("config.json")))
            throw new IllegalArgumentException("model folder " + folder + " has no config.json");
        List<Path> picked;
        try (Stream<Path> s = Files.list(folder)) {
            picked = s.filter(Files::isRegularFile).filter(p -> isHashed(p.getFileName().toString()))
                    .sorted().collect(Collectors.toList());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list model folder " + folder + ": " + e.getMessage(), e);
        }
        if (picked.size() == 1)
            throw new IllegalArgumentException("model folder " + folder + " has config.json but no weights (.safetensors, .bin, .pt, .pth)");
        Map<String, String> each = new LinkedHashMap<>();
        MessageDigest all = Sha256.digest();
        long total = 0;
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        for (Path p : picked) {
            String name = p.getFileName().toString();
            long size;
            String h;
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                size = ch.size();
                h = hash(ch, buf);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + p + " to fingerprint the model: " + e.getMessage(), e);
            }
            each.put(name, h);
            total += size;
            all.update((name + "\t" + size + "\t" + h + "\n").getBytes(StandardCharsets.UTF_8));
        }
        return new ModelFingerprint(folder, Sha256.hex(all.digest()), Collections.unmodifiableMap(each), total);
    }

    private static String hash(FileChannel ch, ByteBuffer buf) throws IOException {
        MessageDigest md = Sha256.digest();
        buf.clear();
        while (ch.read(buf) != -1) {
            buf.flip();
            md.update(buf);
            buf.clear();
        }
        return Sha256.hex(md.digest());
    }

    public Path folder() { return folder; }

    /** The folder hash (see the class comment). */
    public String sha256() { return sha256; }

    /** SHA-256 per hashed file, by name, in name order. */
    public Map<String, String> files() { return files; }

    /** Bytes hashed. */
    public long bytes() { return bytes; }

    @Override
    public String toString() { return "model " + folder + " sha256 " + sha256 + " (" + files.size() + " files, " + bytes + " bytes)"; }
}
