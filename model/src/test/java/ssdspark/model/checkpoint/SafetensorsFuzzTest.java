package ssdspark.model.checkpoint;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Any bytes given to the safetensors reader either open (and then every tensor reads, or is refused by name) or are
 * refused with an IllegalArgumentException: never another exception, an error, a hang or a heap blow-up.
 * Regression inputs (seeds and past findings): src/test/resources/ssdspark/model/checkpoint/SafetensorsFuzzTestInputs/.
 */
class SafetensorsFuzzTest {
    @FuzzTest(maxDuration = "6s")
    @DictionaryEntries({"\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F32\"", "\"BF16\"", "\"F16\"",
            "\"F64\"", "\"I64\"", "\"F4\"", "\"U8\"", "Infinity", "NaN", "18446744073709551615", "{", "}", "[", "]"})
    void header(byte[] data) {
        try (SafetensorsFile st = SafetensorsFile.open(FuzzFiles.write("f.safetensors", data))) {
            FuzzFiles.readAll(st);
            st.metadata();
        } catch (IllegalArgumentException refused) {
            // the expected outcome for almost every input
        }
    }
}
