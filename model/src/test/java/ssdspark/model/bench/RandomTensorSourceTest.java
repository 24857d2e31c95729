package ssdspark.model.bench;

import org.junit.jupiter.api.Test;
import ssdspark.model.CpuEngine;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2Weights;

import static org.junit.jupiter.api.Assertions.*;

/** Random checkpoints load as real ones do, hybrids included, and give a finite forward. */
class RandomTensorSourceTest {
    static final String HYBRID = "{\"d_model\": 64, \"n_layer\": 3, \"vocab_size\": 101, \"d_intermediate\": 40,"
            + " \"ssm_cfg\": {\"layer\": \"Mamba2\", \"d_state\": 16, \"headdim\": 16, \"chunk_size\": 8},"
            + " \"attn_layer_idx\": [1], \"attn_cfg\": {\"num_heads\": 4, \"num_heads_kv\": 2, \"head_dim\": 16,"
            + " \"rotary_emb_dim\": 8, \"d_conv\": 3, \"mlp_dim\": 64, \"qkv_proj_bias\": true, \"causal\": true},"
            + " \"rms_norm\": true, \"pad_vocab_size_multiple\": 8, \"tie_embeddings\": true}";

    @Test
    void hybridCheckpointsLoadAndRun() {
        Mamba2Config c = Mamba2Config.parse(HYBRID);
        for (RandomTensorSource src : new RandomTensorSource[] {new RandomTensorSource(c, 3), RandomTensorSource.perturbed(c, 3, 0.5)}) {
            Mamba2Weights w = Mamba2Weights.load(c, src);
            assertNotNull(w.layers[1].attention, src.description());
            assertNull(w.layers[0].attention);
            assertNotNull(w.layers[2].mlp);
            // an attention out_proj is [d_model][q_dim + mlp/2], mlp_dim rounded up to a multiple of 256 as mamba_ssm does
            assertArrayEquals(new long[] {64, 4 * 16 + 256 / 2}, src.shape("backbone.layers.1.mixer.out_proj.weight"));
            assertArrayEquals(new long[] {4 * 16 + 2 * 2 * 16, 1, 3}, src.shape("backbone.layers.1.mixer.conv1d.weight"));
            assertFalse(src.has("backbone.layers.1.mixer.A_log"));
            CpuEngine e = new CpuEngine(w);
            float[] h = e.forward(new int[] {1, 5, 9, 2, 7}, 0, 5, e.newState());
            for (float v : h) assertTrue(Float.isFinite(v), src.description());
        }
    }
}
