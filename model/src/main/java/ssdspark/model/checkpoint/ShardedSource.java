package ssdspark.model.checkpoint;

import ssdspark.model.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A checkpoint split over shards by an index file (model.safetensors.index.json or pytorch_model.bin.index.json):
 * {"metadata": {...}, "weight_map": {tensor name: shard file name}}. Every shard is opened up front so a
 * missing shard or a tensor the index misplaces is reported before any weights are read.
 */
final class ShardedSource implements TensorSource {
    private final Path index;
    private final Map<String, TensorSource> byTensor;
    private final List<TensorSource> shards;

    private ShardedSource(Path index, Map<String, TensorSource> byTensor, List<TensorSource> shards) {
        this.index = index;
        this.byTensor = byTensor;
        this.shards = shards;
    }

    static ShardedSource open(Path index, Function<Path, TensorSource> opener) {
        Map<String, Object> json;
        try {
            json = Json.parseObjectFile(index);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + index + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(index + ": not valid JSON (" + e.getMessage() + ")", e);
        }
        if (!(json.get("weight_map") instanceof Map<?, ?> weightMap) || weightMap.isEmpty())
            throw new IllegalArgumentException(index + ": has no \"weight_map\" object mapping tensor names to shard files");
        Path dir = index.toAbsolutePath().getParent().normalize();
        Map<String, TensorSource> opened = new LinkedHashMap<>();
        Map<String, TensorSource> byTensor = new LinkedHashMap<>();
        try {
            for (Map.Entry<?, ?> e : weightMap.entrySet()) {
                String tensor = String.valueOf(e.getKey());
                if (!(e.getValue() instanceof String shard))
                    throw new IllegalArgumentException(index + ": weight_map entry for " + tensor + " is not a file name");
                TensorSource src = opened.get(shard);
                if (src == null) {
                    Path p = dir.resolve(shard).normalize();
                    // Shards live next to the index; a name that climbs out of the folder is refused.
                    if (!p.getParent().equals(dir))
                        throw new IllegalArgumentException(index + ": shard name " + shard + " is not a plain file name in " + dir);
                    if (!Files.isRegularFile(p))
                        throw new IllegalArgumentException(index + ": shard " + shard + " (listed for tensor " + tensor + ") does not exist in " + dir);
                    src = opener.apply(p);
                    opened.put(shard, src);
                }
                if (!src.has(tensor))
                    throw new IllegalArgumentException(index + ": says tensor " + tensor + " is in " + shard + ", but that shard has no such tensor");
                byTensor.put(tensor, src);
            }
        } catch (RuntimeException ex) {
            opened.values().forEach(TensorSource::close);
            throw ex;
        }
        return new ShardedSource(index, Collections.unmodifiableMap(byTensor), new ArrayList<>(opened.values()));
    }

    @Override
    public Set<String> names() { return byTensor.keySet(); }

    @Override
    public long[] shape(String name) { return get(name).shape(name); }

    @Override
    public float[] readFloats(String name) { return get(name).readFloats(name); }

    private TensorSource get(String name) {
        TensorSource s = byTensor.get(name);
        if (s == null) throw new IllegalArgumentException(index + ": no tensor named " + name + " in the weight_map");
        return s;
    }

    @Override
    public String description() { return index + " (" + shards.size() + " shards)"; }

    @Override
    public void close() {
        for (TensorSource s : shards) s.close();
    }
}
