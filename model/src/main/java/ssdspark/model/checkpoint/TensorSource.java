package ssdspark.model.checkpoint;

import java.io.Closeable;
import java.util.Set;

/** Named tensors of a checkpoint, read on demand and widened to float32. */
public interface TensorSource extends Closeable {
    /** Every tensor name in the checkpoint. */
    Set<String> names();

    default boolean has(String name) { return names().contains(name); }

    /** The tensor's shape; throws IllegalArgumentException naming the tensor and the file if absent. */
    long[] shape(String name);

    /** The tensor's elements in row-major order, converted from F32, BF16 or F16 to float. */
    float[] readFloats(String name);

    /** Where the tensors come from, for messages. */
    String description();

    @Override
    void close();
}
