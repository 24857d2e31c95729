package ssdspark.model;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Mamba2ConfigTest {
    static final String MAMBA_SSM = """
            {"d_model": 768, "d_intermediate": 0, "n_layer": 24, "vocab_size": 50277,
             "ssm_cfg": {"layer": "Mamba2"}, "attn_layer_idx": [], "attn_cfg": {}, "rms_norm": true,
             "residual_in_fp32": true, "fused_add_norm": true, "pad_vocab_size_multiple": 16, "tie_embeddings": true}""";

    @Test
    void mambaSsmDefaultsAreMamba2s() {
        Mamba2Config c = Mamba2Config.parse(MAMBA_SSM);
        assertEquals(Mamba2Config.Layout.MAMBA_SSM, c.layout);
        assertEquals(1536, c.dInner);
        assertEquals(24, c.nheads);          // d_ssm 1536 / headdim 64
        assertEquals(128, c.dState);
        assertEquals(50288, c.paddedVocab);  // 50277 rounded up to a multiple of 16, as mamba_ssm pads
        assertEquals(1536 + 2 * 128, c.convDim());
        assertEquals(2 * 1536 + 2 * 128 + 24, c.dInProj());
        assertEquals(256, c.chunkSize);
        assertEquals(Float.POSITIVE_INFINITY, c.dtMax);
    }

    @Test
    void paddedVocabularyOf317Is320() {
        Mamba2Config c = Mamba2Config.parse(MAMBA_SSM.replace("50277", "317").replace("\"pad_vocab_size_multiple\": 16", "\"pad_vocab_size_multiple\": 8"));
        assertEquals(317, c.vocabSize);
        assertEquals(320, c.paddedVocab);
    }

    @Test
    void hfTimeStepLimitInAllItsSpellings() {
        String base = """
                {"model_type": "mamba2", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100, "state_size": 16,
                 "head_dim": 16, "num_heads": 8, "n_groups": 2, "expand": 2, "time_step_limit": LIMIT}""";
        assertEquals(Float.POSITIVE_INFINITY, Mamba2Config.parse(base.replace("LIMIT", "[0.0, {\"__float__\": \"Infinity\"}]")).dtMax);
        assertEquals(Float.POSITIVE_INFINITY, Mamba2Config.parse(base.replace("LIMIT", "[0.0, Infinity]")).dtMax);
        Mamba2Config c = Mamba2Config.parse(base.replace("LIMIT", "[0.001, 0.1]"));
        assertEquals(0.001f, c.dtMin);
        assertEquals(0.1f, c.dtMax);
        assertEquals(2, c.ngroups);
        assertEquals(Mamba2Config.Layout.HF, c.layout);
    }

    @Test
    void hfDefaultsAreTransformersDefaults() {
        // transformers' Mamba2Config: n_groups=8, tie_word_embeddings=False when the fields are absent
        Mamba2Config c = Mamba2Config.parse("""
                {"model_type": "mamba2", "hidden_size": 256, "num_hidden_layers": 2, "vocab_size": 100, "head_dim": 64}""");
        assertEquals(8, c.ngroups);
        assertEquals(false, c.tieEmbeddings);
        assertEquals(8, c.nheads);
    }

    @Test
    void unsupportedArchitecturesAreRefusedByField() {
        assertRefused(MAMBA_SSM.replace("\"layer\": \"Mamba2\"", "\"layer\": \"Mamba1\""), "ssm_cfg.layer");
        assertRefused("{\"model_type\": \"mamba\", \"hidden_size\": 8}", "model_type");
        assertRefused("{\"d_model\": 768}", "n_layer");
        assertRefused(MAMBA_SSM.replace("\"n_layer\": 24", "\"n_layer\": \"24\""), "n_layer");
        assertRefused("{\"d_model\": 768, ", "malformed JSON");
    }

    @Test
    void zeroOrNegativeSizesAreRefusedByFieldNotDividedBy() {
        String hf = """
                {"model_type": "mamba2", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100, "state_size": 16,
                 "head_dim": 16, "num_heads": 8, "n_groups": 2, "expand": 2}""";
        assertRefused(MAMBA_SSM.replace("\"layer\": \"Mamba2\"", "\"layer\": \"Mamba2\", \"headdim\": 0"), "ssm_cfg.headdim");
        assertRefused(MAMBA_SSM.replace("\"layer\": \"Mamba2\"", "\"layer\": \"Mamba2\", \"ngroups\": 0"), "ssm_cfg.ngroups");
        assertRefused(MAMBA_SSM.replace("\"layer\": \"Mamba2\"", "\"layer\": \"Mamba2\", \"d_state\": -16"), "ssm_cfg.d_state");
        assertRefused(hf.replace("\"head_dim\": 16", "\"head_dim\": 0"), "head_dim");
        assertRefused(hf.replace("\"n_groups\": 2", "\"n_groups\": 0"), "n_groups");
        assertRefused(hf.replace("\"state_size\": 16", "\"state_size\": 0"), "state_size");
    }

    private static void assertRefused(String json, String mentions) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Mamba2Config.parse(json));
        assertTrue(e.getMessage().contains(mentions), "message '" + e.getMessage() + "' should name " + mentions);
    }

    /**
     * Absurd sizes are refused by field, in long arithmetic, before anything is allocated or any int product
     * wraps (n_layer 2^32 + 2 used to become 2; d_model * expand used to overflow).
     */
    @Test
    void absurdSizesAreRefusedBeforeAllocation() {
        String hf = """
                {"model_type": "mamba2", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100, "state_size": 16,
                 "head_dim": 16, "num_heads": 8, "n_groups": 2, "expand": 2}""";
        assertRefused(MAMBA_SSM.replace("\"n_layer\": 24", "\"n_layer\": 4294967298"), "n_layer = 4294967298 is outside [1, 1024]");
        assertRefused(MAMBA_SSM.replace("\"d_model\": 768", "\"d_model\": 1000000000000"), "d_model = 1000000000000");
        assertRefused(MAMBA_SSM.replace("\"vocab_size\": 50277", "\"vocab_size\": 99999999999"), "vocab_size");
        assertRefused(MAMBA_SSM.replace("\"d_model\": 768", "\"d_model\": 1e300"), "d_model");
        assertRefused(MAMBA_SSM.replace("\"d_model\": 768", "\"d_model\": 123456789012345678901234567890"), "'d_model' must be an integer");
        assertRefused(MAMBA_SSM.replace("\"pad_vocab_size_multiple\": 16", "\"pad_vocab_size_multiple\": 2147483647"), "pad_vocab_size_multiple");
        assertRefused(MAMBA_SSM.replace("\"layer\": \"Mamba2\"", "\"layer\": \"Mamba2\", \"expand\": 1000000"), "ssm_cfg.expand");
        assertRefused(MAMBA_SSM.replace("\"layer\": \"Mamba2\"", "\"layer\": \"Mamba2\", \"d_ssm\": 100000"), "ssm_cfg.d_ssm = 100000 is outside [1, 1536]");
        assertRefused(hf.replace("\"state_size\": 16", "\"state_size\": 100000"), "state_size");
        assertRefused(hf.replace("\"num_heads\": 8", "\"num_heads\": 4294967304"), "num_heads");
        // each field within its bound, the product beyond a Java array: named by matrix
        assertRefused(MAMBA_SSM.replace("\"d_model\": 768", "\"d_model\": 65536").replace("\"layer\": \"Mamba2\"", "\"layer\": \"Mamba2\", \"expand\": 16"),
                "in_proj would be");
        assertRefused(MAMBA_SSM.replace("\"d_model\": 768", "\"d_model\": 8192").replace("\"vocab_size\": 50277", "\"vocab_size\": 16000000"),
                "embedding / lm_head would be 16000000 x 8192");
        assertRefused(hf.replace("\"expand\": 2", "\"expand\": 2, \"layer_norm_epsilon\": NaN"), "layer_norm_epsilon");
        assertRefused(hf.replace("\"expand\": 2", "\"expand\": 2, \"time_step_limit\": [NaN, 1.0]"), "time_step_limit");
    }

    /** The largest released shapes still load (no bound is too tight). */
    @Test
    void realShapesAreWithinTheBounds() {
        Mamba2Config c = Mamba2Config.parse(MAMBA_SSM.replace("\"d_model\": 768", "\"d_model\": 4096").replace("\"n_layer\": 24", "\"n_layer\": 64")
                .replace("\"layer\": \"Mamba2\"", "\"layer\": \"Mamba2\", \"ngroups\": 8").replace("\"vocab_size\": 50277", "\"vocab_size\": 256000"));
        assertEquals(8192, c.dInner);
        assertEquals(64, c.nLayer);
    }
}
