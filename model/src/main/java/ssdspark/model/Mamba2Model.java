package ssdspark.model;

import ssdspark.model.checkpoint.Checkpoints;
import ssdspark.model.checkpoint.TensorSource;

import java.nio.file.Files;
import java.nio.file.Path;

/** Loads a model folder (config.json + safetensors or pytorch_model.bin) into an engine. */
public final class Mamba2Model {
    private Mamba2Model() {}

    public static Mamba2Weights loadWeights(Path dir) {
        if (!Files.isDirectory(dir))
            throw new IllegalArgumentException("model path " + dir + " is not a folder; point --model at the folder holding config.json and the weights");
        Mamba2Config cfg = Mamba2Config.load(dir);
        try (TensorSource src = Checkpoints.open(dir)) {
            return Mamba2Weights.load(cfg, src);
        }
    }

    public static Engine cpu(Path dir) {
        return new CpuEngine(loadWeights(dir));
    }
}
