package ssdspark.model.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Opens the weights in a model folder: model.safetensors, a sharded *.safetensors.index.json, or pytorch_model.bin. */
public final class Checkpoints {
    private Checkpoints() {}

    static final String EXPECTED = "model.safetensors, model.safetensors.index.json with its shards, a single *.safetensors file, "
            + "or pytorch_model.bin (torch.save zip; pytorch_model.bin.index.json for shards)";

    /**
     * Picks, in order: model.safetensors, model.safetensors.index.json, the only *.safetensors, the only
     * *.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json. A file path is opened by its name.
     */
    public static TensorSource open(Path dir) {
        if (Files.isRegularFile(dir)) return openFile(dir);
        if (!Files.isDirectory(dir))
            throw new IllegalArgumentException("checkpoint folder " + dir + " does not exist; expected a folder with " + EXPECTED);
        Path st = dir.resolve("model.safetensors");
        if (Files.isRegularFile(st)) return SafetensorsFile.open(st);
        Path stIndex = dir.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(stIndex)) return ShardedSource.open(stIndex, SafetensorsFile::open);
        List<String> files = list(dir);
        List<String> single = files.stream().filter(n -> n.endsWith(".safetensors")).collect(Collectors.toList());
        if (single.size() == 1) return SafetensorsFile.open(dir.resolve(single.get(0)));
        List<String> indexes = files.stream().filter(n -> n.endsWith(".safetensors.index.json")).collect(Collectors.toList());
        if (indexes.size() == 1) return ShardedSource.open(dir.resolve(indexes.get(0)), SafetensorsFile::open);
        Path bin = dir.resolve("pytorch_model.bin");
        if (Files.isRegularFile(bin)) return TorchCheckpoint.open(bin);
        Path binIndex = dir.resolve("pytorch_model.bin.index.json");
        if (Files.isRegularFile(binIndex)) return ShardedSource.open(binIndex, TorchCheckpoint::open);
        String why = single.size() > 1 ? " (several .safetensors files " + single + " but no index saying how they fit together)" : "";
        throw new IllegalArgumentException("no checkpoint in " + dir + why + "; found " + (files.isEmpty() ? "nothing" : files)
                + ", expected " + EXPECTED);
    }

    private static TensorSource openFile(Path f) {
        String n = f.getFileName().toString();
        if (n.endsWith(".safetensors")) return SafetensorsFile.open(f);
        if (n.endsWith(".safetensors.index.json")) return ShardedSource.open(f, SafetensorsFile::open);
        if (n.endsWith(".bin.index.json")) return ShardedSource.open(f, TorchCheckpoint::open);
        if (n.endsWith(".bin") || n.endsWith(".pt") || n.endsWith(".pth")) return TorchCheckpoint.open(f);
        throw new IllegalArgumentException("cannot tell the format of " + f + " from its name; expected " + EXPECTED);
    }

    private static List<String> list(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }
}
