package ssdspark.model.checkpoint;

import java.nio.file.Path;

/** Opens the weights in a model folder: model.safetensors, a sharded *.safetensors.index.json, or pytorch_model.bin. */
public final class Checkpoints {
    private Checkpoints() {}

    public static TensorSource open(Path dir) {
        throw new UnsupportedOperationException("TODO: checkpoint readers");
    }
}
