package ssdspark.model.bench;

import org.junit.jupiter.api.Test;
import ssdspark.model.Json;
import ssdspark.model.Mamba2Config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The parts of the GPU benchmark that need no GPU: the work counts, the kernel families, the JSON, the flags. */
class GpuBenchmarkTest {
    private static GpuBenchmark.Workload score130m() {
        return new GpuBenchmark.Workload("score-130m", GpuBenchmark.Size.M130, GpuBenchmark.Mode.SCORE, 16, 2048, false);
    }

    @Test
    void gemmAndHeadFlopsOf130mMatchAHandCount() {
        Mamba2Config c = GpuBenchmark.Size.M130.config();
        assertEquals(3352, c.dInProj()); // 2 * 1536 + 2 * 128 + 24 heads
        assertEquals(50288, c.paddedVocab);
        GpuBenchmark.Work w = GpuBenchmark.Work.of(c, score130m(), 128);
        // 24 layers x 2 x 32768 tokens x 768 x (3352 + 1536) = 5 904 506 290 176
        assertEquals(5_904_506_290_176.0, w.gemmFlops(), 0);
        // 2 x 32768 x 768 x 50288
        assertEquals(2_531_077_914_624.0, w.headFlops(), 0);
        GpuBenchmark.Workload embed = new GpuBenchmark.Workload("embed-130m", GpuBenchmark.Size.M130, GpuBenchmark.Mode.EMBED, 16, 2048, false);
        assertEquals(0, GpuBenchmark.Work.of(c, embed, 128).headFlops());
    }

    @Test
    void ssdFlopsCountEveryChunkIncludingAShortLastOne() {
        // H = 2 heads of P = 3, N = 4, G = 1, two layers; 5 tokens in chunks of 2, 2, 1.
        Mamba2Config c = Mamba2Config.parse("{\"d_model\": 3, \"n_layer\": 2, \"vocab_size\": 10, \"ssm_cfg\": {\"layer\": \"Mamba2\","
                + " \"d_state\": 4, \"headdim\": 3, \"expand\": 2, \"ngroups\": 1}}");
        GpuBenchmark.Workload wl = new GpuBenchmark.Workload("t", GpuBenchmark.Size.M130, GpuBenchmark.Mode.SCORE, 3, 5, false);
        // per chunk of n: 2n²·N·G + 4n·N·P·H + 2n²·P·H + 2·H·P·N = 20n² + 96n + 48 -> 320, 320, 164 = 804 per sequence
        assertEquals(2 * 3 * 804.0, GpuBenchmark.Work.of(c, wl, 2).ssdFlops(), 0);
    }

    @Test
    void kernelsGroupByPrefixAndUnknownNamesAreListed() {
        assertEquals("gemm", GpuBenchmark.Families.family("gemm_bf16_tn_s4"));
        assertEquals("ssd", GpuBenchmark.Families.family("ssd_chunk_scan_tc"));
        assertEquals("lm_head", GpuBenchmark.Families.family("lm_head_finish"));
        assertEquals("norms_conv_elementwise", GpuBenchmark.Families.family("causal_conv1d_fwd_k4"));
        assertEquals("norms_conv_elementwise", GpuBenchmark.Families.family("add_rmsnorm_bf16"));
        assertEquals("other", GpuBenchmark.Families.family("wgmma_fused_thing"));

        Map<String, double[]> prof = new LinkedHashMap<>();
        prof.put("gemm_bf16_tn", new double[] {24.0, 48});
        prof.put("ssd_chunk_scan", new double[] {10.0, 24});
        prof.put("ssd_chunk_state", new double[] {2.0, 24});
        prof.put("lm_head_bf16", new double[] {5.0, 1});
        prof.put("gated_rmsnorm_bf16", new double[] {1.0, 24});
        prof.put("new_fused_kernel", new double[] {0.5, 2});
        Mamba2Config c = GpuBenchmark.Size.M130.config();
        Map<String, Object> out = GpuBenchmark.Families.of(prof, c, score130m(), 128);
        assertEquals(42.5, (double) out.get("kernel_ms"), 1e-12);
        @SuppressWarnings("unchecked") Map<String, Map<String, Object>> f = (Map<String, Map<String, Object>>) out.get("families");
        assertEquals(24.0, (double) f.get("gemm").get("ms"));
        assertEquals(5_904_506_290_176.0 / 0.024 / 1e12, (double) f.get("gemm").get("tflop_s"), 1e-9);
        assertEquals(12.0, (double) f.get("ssd").get("ms"));
        assertEquals(0.5, (double) f.get("ssd").get("ms_per_layer"), 1e-12);
        assertEquals(48L, f.get("ssd").get("launches"));
        assertEquals(List.of("new_fused_kernel"), f.get("other").get("kernels"));
        assertEquals(0.5, (double) f.get("other").get("ms"));
    }

    @Test
    void jsonOutputReadsBack() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "a \"quoted\"\\ name\n");
        m.put("n", 32768);
        m.put("x", 1.5e-7);
        m.put("nan", Double.NaN);
        m.put("flag", true);
        m.put("list", List.of(Map.of("k", 2L), "s"));
        m.put("arr", new double[] {1, 2.25});
        m.put("empty", Map.of());
        Map<String, Object> back = Json.parseObject(GpuBenchmark.JsonOut.write(m));
        assertEquals("a \"quoted\"\\ name\n", back.get("name"));
        assertEquals(32768L, back.get("n"));
        assertEquals(1.5e-7, ((Number) back.get("x")).doubleValue(), 1e-12);
        assertNull(back.get("nan"));
        assertEquals(true, back.get("flag"));
        assertEquals(List.of(Map.of("k", 2L), "s"), back.get("list"));
        assertEquals(2.25, ((Number) ((List<?>) back.get("arr")).get(1)).doubleValue());
        assertEquals(Map.of(), back.get("empty"));
    }

    @Test
    void timingsReportTheirMedian() {
        assertEquals(3.0, GpuBenchmark.median(new double[] {5, 1, 3}));
        assertEquals(2.5, GpuBenchmark.median(new double[] {4, 1, 3, 2}));
    }

    @Test
    void flagsAreCheckedBeforeAnyGpuWork() {
        assertThrows(IllegalArgumentException.class, () -> GpuBenchmark.parse(new String[] {"--workloads", "score-7b"}));
        assertThrows(IllegalArgumentException.class, () -> GpuBenchmark.parse(new String[] {"--len", "1"}));
        assertThrows(IllegalArgumentException.class, () -> GpuBenchmark.parse(new String[] {"--iters", "0"}));
        assertThrows(IllegalArgumentException.class, () -> GpuBenchmark.parse(new String[] {"--bogus"}));
        assertThrows(IllegalArgumentException.class, () -> GpuBenchmark.parse(new String[] {"--json"}));
        assertThrows(IllegalArgumentException.class, () -> GpuBenchmark.parse(new String[] {"--streams", "0"}));
        assertEquals(1, GpuBenchmark.parse(new String[] {}).streams);
        assertEquals(4, GpuBenchmark.parse(new String[] {"--streams", "4"}).streams);
        GpuBenchmark.Options o = GpuBenchmark.parse(new String[] {"--workloads", "sweep,score-1.3b,score-130m", "--sweep", "1,4"});
        assertEquals(List.of("sweep-130m-1x2048", "sweep-130m-4x2048", "score-130m", "score-1.3b"),
                GpuBenchmark.plan(o).stream().map(GpuBenchmark.Workload::name).toList());
    }

    @Test
    void runnerWorkloadsScoreTheSameTokensThroughTheRunner() {
        GpuBenchmark.Options o = GpuBenchmark.parse(new String[] {"--workloads", "runner-lognormal-130m,runner-lognormal-130m-host,runner-fixed-130m"});
        List<GpuBenchmark.Workload> plan = GpuBenchmark.plan(o);
        assertEquals(GpuBenchmark.Mode.RUNNER, plan.get(0).mode());
        assertEquals(GpuBenchmark.Mode.RUNNER_HOST, plan.get(1).mode());
        for (GpuBenchmark.Workload w : plan) assertEquals(64 * 2048, w.tokens(), w.name());
        assertEquals(64, plan.get(2).seqs());
        // the log-normal documents include ones longer than a piece (carried states), and the two variants are the same
        assertArrayEquals(plan.get(0).lens(), plan.get(1).lens());
        assertTrue(java.util.Arrays.stream(plan.get(0).lens()).anyMatch(n -> n > 2048));
        // they score: the LM head's work is counted
        assertTrue(GpuBenchmark.Work.of(GpuBenchmark.Size.M130.config(), plan.get(0), 128).headFlops() > 0);
    }
}
