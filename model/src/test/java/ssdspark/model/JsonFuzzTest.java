package ssdspark.model;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;

import java.nio.charset.StandardCharsets;

/**
 * model.Json and the config reader on any text: a value or IllegalArgumentException; a config either parses to
 * sizes within their bounds or is refused. Regression inputs: src/test/resources/ssdspark/model/JsonFuzzTestInputs/.
 */
class JsonFuzzTest {
    @FuzzTest(maxDuration = "6s")
    @DictionaryEntries({"\"d_model\"", "\"n_layer\"", "\"vocab_size\"", "\"ssm_cfg\"", "\"layer\"", "\"Mamba2\"", "\"mamba2\"",
            "\"model_type\"", "\"hidden_size\"", "\"num_hidden_layers\"", "\"head_dim\"", "\"num_heads\"", "\"n_groups\"",
            "\"state_size\"", "\"expand\"", "\"time_step_limit\"", "\"__float__\"", "Infinity", "NaN", "-Infinity",
            "\"pad_vocab_size_multiple\"", "\"d_ssm\"", "\"headdim\"", "\"ngroups\"", "\"d_state\""})
    void config(byte[] data) {
        String text = new String(data, StandardCharsets.UTF_8);
        try {
            Json.parse(text);
        } catch (IllegalArgumentException refused) {
            // expected
        }
        try {
            Mamba2Config c = Mamba2Config.parse(text);
            if (c.dInProj() <= 0 || (long) c.dInProj() * c.dModel > Integer.MAX_VALUE || c.nheads <= 0 || c.convDim() <= 0)
                throw new AssertionError("config accepted with sizes out of range: " + c);
        } catch (IllegalArgumentException refused) {
            // expected
        }
    }
}
