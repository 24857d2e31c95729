package ssdspark.model.checkpoint;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import ssdspark.model.checkpoint.TorchUnpickler.StorageRef;
import ssdspark.model.checkpoint.TorchUnpickler.StorageType;

/**
 * The torch.save reader on any bytes: a zip archive (then data.pkl through the unpickler, then the tensors), and
 * the unpickler alone on raw pickles. Open and read, or IllegalArgumentException; nothing else.
 * Regression inputs: src/test/resources/ssdspark/model/checkpoint/TorchCheckpointFuzzTestInputs/{archive,pickle}/.
 */
class TorchCheckpointFuzzTest {
    @FuzzTest(maxDuration = "6s")
    @DictionaryEntries({"PK\u0003\u0004", "PK\u0001\u0002", "PK\u0005\u0006", "PK\u0006\u0006", "PK\u0006\u0007", "data.pkl",
            "pytorch_model/data/0", "byteorder", "big", "little"})
    void archive(byte[] data) {
        try (TorchCheckpoint ck = TorchCheckpoint.open(FuzzFiles.write("pytorch_model.bin", data))) {
            FuzzFiles.readAll(ck);
        } catch (IllegalArgumentException refused) {
            // expected
        }
    }

    @FuzzTest(maxDuration = "6s")
    @DictionaryEntries({"torch._utils", "_rebuild_tensor_v2", "_rebuild_parameter", "collections", "OrderedDict", "torch",
            "FloatStorage", "BFloat16Storage", "storage", "cpu"})
    void pickle(byte[] data) {
        try {
            TorchUnpickler.load(data, "fuzz.pkl", pid -> {
                if (pid.size() == 5 && pid.get(1) instanceof StorageType t && pid.get(2) instanceof String k
                        && pid.get(3) instanceof String loc && pid.get(4) instanceof Long n)
                    return new StorageRef(t, k, loc, n);
                throw new IllegalArgumentException("persistent id");
            });
        } catch (IllegalArgumentException refused) {
            // expected
        }
    }
}
