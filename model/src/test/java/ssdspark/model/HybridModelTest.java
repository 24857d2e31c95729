package ssdspark.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The hybrid fixtures' weights and carried state (KV cache, conv window, rotary position). */
class HybridModelTest {
    static final String GQA = "mssm_hybrid_gqa_rotary"; // attention at 1 and 3, GQA 4/2, conv 4, mlp_dim 256, d_intermediate 128

    @Test
    void weightsHaveTheHybridShapes() {
        Mamba2Weights w = Mamba2Model.loadWeights(Fixtures.load(GQA).dir());
        Mamba2Config c = w.cfg;
        assertEquals(128, c.dIntermediate);
        for (int l = 0; l < c.nLayer; l++) {
            Mamba2Weights.Layer layer = w.layers[l];
            assertEquals(l == 1 || l == 3, c.isAttention(l));
            assertEquals(c.isAttention(l), layer.attention != null);
            assertEquals(c.isAttention(l), layer.aLog == null);
            assertNotNull(layer.mlp);
            assertEquals(2 * 128 * c.dModel, layer.mlp.fc1().length);
        }
        Mamba2Weights.Attention a = w.layers[1].attention;
        assertEquals((4 * 16 + 2 * 2 * 16 + 256) * 64, a.inProj().length);
        assertEquals(128 * 4, a.convWeight().length);
        assertEquals(64 * (4 * 16 + 128), a.outProj().length);
    }

    @Test
    void stateHoldsTheKvCacheOfEveryTokenSeen() {
        Fixtures.Case fx = Fixtures.load(GQA);
        try (Engine e = Mamba2Model.cpu(fx.dir())) {
            Mamba2Config c = e.config();
            int[] tokens = fx.docs().get(4).tokens(); // 21 tokens
            Mamba2State s = e.newState();
            assertNull(s.kv[0]);
            assertEquals(3 * c.attn.qkvDim(), s.conv[1].length);   // attention conv window: d_conv - 1 inputs
            assertEquals(0, s.ssm[1].length);
            s.reserveTokens(30);
            long fixed = 0; // conv windows and SSM states: independent of tokens
            for (int l = 0; l < c.nLayer; l++) fixed += 4L * (s.conv[l].length + s.ssm[l].length);
            assertEquals(fixed + 30L * c.kvCacheBytesPerToken(), s.bytes(), "30 reserved KV rows in both attention layers");
            e.forward(tokens, 0, 5, s);
            Mamba2State at5 = s.copy();
            float[] rest = e.forward(tokens, 5, 16, s);
            assertEquals(21, s.tokensSeen);
            assertEquals(21, s.kv[1].length());
            assertEquals(21, s.kv[3].length());
            assertTrue(s.bytes() >= 21 * c.kvCacheBytesPerToken(), "state bytes count the KV caches");
            // the copy is deep: continuing it gives what continuing the original gave
            assertEquals(5, at5.tokensSeen);
            assertEquals(5, at5.kv[1].length());
            assertArrayEquals(rest, e.forward(tokens, 5, 16, at5), 1e-6f);
        }
    }

    @Test
    void checkpointThatDoesNotMatchTheConfigIsRefused(@TempDir Path tmp) throws IOException {
        Path src = Fixtures.load(GQA).dir();
        String config = Files.readString(src.resolve("config.json"));
        assertRefused(tmp, src, config.replace("\"attn_layer_idx\": [\n    1,\n    3\n  ]", "\"attn_layer_idx\": [1, 2]"),
                "backbone.layers.2.mixer.A_log (a Mamba-2 mixer) at a layer that attn_layer_idx makes an attention layer");
        assertRefused(tmp, src, config.replace("\"num_heads_kv\": 2", "\"num_heads_kv\": 4"),
                "tensor backbone.layers.1.mixer.in_proj.weight has shape [384, 64] but the config implies [448, 64]");
        assertRefused(tmp, src, config.replace("\"d_intermediate\": 96", "\"d_intermediate\": 0"),
                "has tensor backbone.layers.0.mlp.fc1.weight but the config says d_intermediate is 0");
        assertRefused(tmp, src, config.replace("\"rotary_emb_dim\": 8,\n    \"d_conv\": 4", "\"rotary_emb_dim\": 8, \"d_conv\": 0"), "conv1d.weight but the config says attn_cfg.d_conv is 0");
    }

    private static void assertRefused(Path tmp, Path src, String config, String mentions) throws IOException {
        Path dir = Files.createTempDirectory(tmp, "m");
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("config.json"), config);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Mamba2Model.loadWeights(dir));
        assertTrue(e.getMessage().contains(mentions), "message '" + e.getMessage() + "' should say " + mentions);
    }
}
