package ssdspark.model;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** mamba_ssm hybrid configs: attn_layer_idx, attn_cfg (MHA's arguments and defaults) and d_intermediate. */
class HybridConfigTest {
    /** The shape of state-spaces' mamba2attn-2.7b config.json. */
    static final String MAMBA2ATTN = """
            {"d_model": 2560, "d_intermediate": 0, "n_layer": 64, "vocab_size": 50277, "ssm_cfg": {"layer": "Mamba2"},
             "attn_layer_idx": [9, 18, 27, 36, 45, 56],
             "attn_cfg": {"causal": true, "d_conv": 4, "head_dim": 128, "num_heads": 30, "out_proj_bias": false,
                          "qkv_proj_bias": false, "rotary_emb_dim": 64},
             "rms_norm": true, "residual_in_fp32": true, "fused_add_norm": true, "pad_vocab_size_multiple": 16, "tie_embeddings": true}""";

    static final String SMALL = """
            {"d_model": 64, "d_intermediate": DI, "n_layer": 4, "vocab_size": 100, "ssm_cfg": {"layer": "Mamba2", "headdim": 16, "d_state": 16},
             "attn_layer_idx": [1, 3], "attn_cfg": {ATTN}, "pad_vocab_size_multiple": 8}""";

    static String small(String attn) { return small(attn, 0); }

    static String small(String attn, int dIntermediate) {
        return SMALL.replace("ATTN", attn).replace("DI", Integer.toString(dIntermediate));
    }

    @Test
    void mamba2attnShape() {
        Mamba2Config c = Mamba2Config.parse(MAMBA2ATTN);
        assertTrue(c.isHybrid());
        assertEquals(6, c.attentionLayers());
        assertTrue(c.isAttention(9) && c.isAttention(56));
        assertFalse(c.isAttention(0) || c.isAttention(10) || c.isAttention(63));
        Mamba2Config.AttnConfig a = c.attn;
        assertEquals(30, a.numHeads());
        assertEquals(30, a.numHeadsKv());          // num_heads_kv defaults to num_heads
        assertEquals(128, a.headDim());
        assertEquals(3 * 30 * 128, a.qkvDim());
        assertEquals(0, a.mlpDim());
        assertFalse(a.qkvProjBias() || a.outProjBias());
        assertEquals((float) (1 / Math.sqrt(128)), a.softmaxScale());
        assertEquals(64, a.rotaryDim());
        assertEquals(10000.0, a.rotaryBase());
        assertFalse(a.rotaryInterleaved());
        assertEquals(4, a.dConv());
        assertEquals(0, c.dIntermediate);
        assertEquals(4L * 6 * 2 * 30 * 128, c.kvCacheBytesPerToken()); // 184,320 bytes a token
    }

    @Test
    void mhaDefaultsAndRoundings() {
        Mamba2Config c = Mamba2Config.parse(small("\"causal\": true, \"num_heads\": 4, \"mlp_dim\": 300", 100));
        Mamba2Config.AttnConfig a = c.attn;
        assertEquals(16, a.headDim());              // d_model / num_heads
        assertEquals(4, a.numHeadsKv());
        assertTrue(a.qkvProjBias() && a.outProjBias());
        assertEquals(0, a.rotaryDim());
        assertEquals(0, a.dConv());
        assertEquals(512, a.mlpDim());              // ceil(300 / 256) * 256
        assertEquals(64 + 2 * 64 + 512, a.inProjRows());
        assertEquals(64 + 256, a.outProjCols());
        assertEquals(128, c.dIntermediate);         // GatedMLP rounds up to a multiple of 128
        assertEquals(0.25f, a.softmaxScale());
        Mamba2Config g = Mamba2Config.parse(small("\"causal\": true, \"num_heads\": 8, \"num_heads_kv\": 2, \"head_dim\": 12,"
                + " \"softmax_scale\": 0.5, \"rotary_emb_dim\": 8, \"rotary_emb_base\": 500, \"rotary_emb_interleaved\": true"));
        assertEquals(2, g.attn.numHeadsKv());
        assertEquals(8 * 12 + 2 * 2 * 12, g.attn.qkvDim());
        assertEquals(0.5f, g.attn.softmaxScale());
        assertEquals(500.0, g.attn.rotaryBase());
        assertTrue(g.attn.rotaryInterleaved());
        assertFalse(g.isHybrid() && g.dIntermediate > 0);
    }

    @Test
    void mlpBlocksWithoutAttention() {
        Mamba2Config c = Mamba2Config.parse(Mamba2ConfigTest.MAMBA_SSM.replace("\"d_intermediate\": 0", "\"d_intermediate\": 1024"));
        assertTrue(c.isHybrid());
        assertNull(c.attn);
        assertEquals(1024, c.dIntermediate);
        assertEquals(0, c.kvCacheBytesPerToken());
        // attn_cfg without attention layers is ignored, as mamba_ssm ignores it
        assertFalse(Mamba2Config.parse(Mamba2ConfigTest.MAMBA_SSM.replace("\"attn_cfg\": {}", "\"attn_cfg\": {\"num_heads\": 3}")).isHybrid());
    }

    @Test
    void refusals() {
        assertRefused(small("\"num_heads\": 4"), "attn_cfg.causal is absent (mamba_ssm's default: false)");
        assertRefused(small("\"causal\": false, \"num_heads\": 4"), "needs causal attention");
        assertRefused(small("\"causal\": true"), "attn_cfg.num_heads");
        assertRefused(small("\"causal\": true, \"num_heads\": 4, \"window_size\": 128"), "attn_cfg.window_size is not a key");
        assertRefused(small("\"causal\": true, \"num_heads\": 6, \"num_heads_kv\": 4"), "multiple of num_heads_kv");
        assertRefused(small("\"causal\": true, \"num_heads\": 4, \"num_heads_kv\": 8"), "attn_cfg.num_heads_kv = 8 is outside [1, 4]");
        assertRefused(small("\"causal\": true, \"num_heads\": 5"), "no head_dim and d_model (64) is not a multiple of num_heads (5)");
        assertRefused(small("\"causal\": true, \"num_heads\": 4, \"rotary_emb_dim\": 7"), "rotary_emb_dim = 7 must be even");
        assertRefused(small("\"causal\": true, \"num_heads\": 4, \"rotary_emb_dim\": 32"), "in [0, head_dim 16]");
        assertRefused(small("\"causal\": true, \"num_heads\": 4, \"rotary_emb_base\": -1"), "rotary_emb_base");
        assertRefused(small("\"causal\": true, \"num_heads\": 4, \"softmax_scale\": 0"), "softmax_scale");
        assertRefused(small("\"causal\": true, \"num_heads\": 4, \"d_conv\": -1"), "attn_cfg.d_conv = -1");
        assertRefused(small("\"causal\": true, \"num_heads\": 4, \"mlp_dim\": 99999999"), "attn_cfg.mlp_dim");
        assertRefused(small("\"causal\": true, \"num_heads\": 4, \"qkv_proj_bias\": 1"), "'attn_cfg.qkv_proj_bias' must be true or false");
        assertRefused(small("\"causal\": true, \"num_heads\": 4", -5), "d_intermediate = -5");
        assertRefused(small("\"causal\": true, \"num_heads\": 4").replace("[1, 3]", "[1, 4]"), "attn_layer_idx[1] = 4 must be a layer index in [0, n_layer 4)");
        assertRefused(small("\"causal\": true, \"num_heads\": 4").replace("[1, 3]", "[1, 1]"), "lists layer 1 twice");
        assertRefused(small("\"causal\": true, \"num_heads\": 4").replace("[1, 3]", "[1.5]"), "attn_layer_idx[0] = 1.5");
        assertRefused(small("\"causal\": true, \"num_heads\": 4").replace("[1, 3]", "3"), "attn_layer_idx must be a list");
        // bounded in long arithmetic before anything is allocated
        assertRefused(small("\"causal\": true, \"num_heads\": 4096, \"head_dim\": 4096"), "attention in_proj would be");
        assertRefused(small("\"causal\": true, \"num_heads\": 4", 1 << 20).replace("\"d_model\": 64", "\"d_model\": 8192"), "mlp.fc1 would be");
    }

    @Test
    void hfLayoutHasNoHybrids() {
        String hf = """
                {"model_type": "mamba2", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100, "head_dim": 16, EXTRA}""";
        assertRefused(hf.replace("EXTRA", "\"attn_layer_idx\": [1]"), "transformers' Mamba-2 has no attention layers");
        assertRefused(hf.replace("EXTRA", "\"d_intermediate\": 256"), "a hybrid must come in mamba_ssm's layout");
        assertFalse(Mamba2Config.parse(hf.replace("EXTRA", "\"attn_layer_idx\": [], \"d_intermediate\": 0")).isHybrid());
    }

    private static void assertRefused(String json, String mentions) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Mamba2Config.parse(json));
        assertTrue(e.getMessage().contains(mentions), "message '" + e.getMessage() + "' should name " + mentions);
    }
}
