package ssdspark.model.bench;

import ssdspark.kernels.Parallel;
import ssdspark.model.CpuEngine;
import ssdspark.model.DocumentRunner;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2Weights;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * CPU scoring throughput of the pure-Java engine on a random Mamba-2 model built in memory (no
 * files): by default the 130M shape (d_model 768, 24 layers, d_state 128, headdim 64, expand 2,
 * ngroups 1, vocab 50280 padded to 50288) scoring one document of 256 tokens in one forward, for
 * each thread count asked for. A benchmark, not a test: run it by hand or from tools/bench.
 *
 * <pre>
 *   java -cp kernels/target/classes:model/target/classes ssdspark.model.bench.CpuBenchmark --threads 1,2
 * </pre>
 * Prints one {@code RESULT threads=… tok_s=…} line per thread count (median over the timed runs).
 */
public final class CpuBenchmark {
    private CpuBenchmark() {}

    public static void main(String[] args) {
        List<Integer> threads = new ArrayList<>(List.of(Runtime.getRuntime().availableProcessors()));
        int tokens = 256, warmup = 3, iters = 5, layers = 24, dModel = 768, chunkTokens = -1;
        long seed = 1;
        boolean hybrid = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (a) {
                case "--threads" -> { threads = parseList(need(a, v)); i++; }
                case "--tokens" -> { tokens = Integer.parseInt(need(a, v)); i++; }
                case "--warmup" -> { warmup = Integer.parseInt(need(a, v)); i++; }
                case "--iters" -> { iters = Integer.parseInt(need(a, v)); i++; }
                case "--layers" -> { layers = Integer.parseInt(need(a, v)); i++; }
                case "--d-model" -> { dModel = Integer.parseInt(need(a, v)); i++; }
                case "--chunk-tokens" -> { chunkTokens = Integer.parseInt(need(a, v)); i++; }
                case "--seed" -> { seed = Long.parseLong(need(a, v)); i++; }
                case "--hybrid" -> hybrid = true;
                case "-h", "--help" -> { usage(); return; }
                default -> { System.err.println("unknown argument " + a); usage(); System.exit(2); }
            }
        }
        if (chunkTokens < 1) chunkTokens = tokens;
        if (tokens < 2 || warmup < 0 || iters < 1) throw new IllegalArgumentException("need --tokens >= 2, --warmup >= 0, --iters >= 1");

        String json = String.format(Locale.ROOT,
                "{\"d_model\": %d, \"n_layer\": %d, \"vocab_size\": 50280, \"pad_vocab_size_multiple\": 16,"
                        + " \"tie_embeddings\": true, \"ssm_cfg\": {\"layer\": \"Mamba2\", \"d_state\": 128, \"headdim\": 64,"
                        + " \"expand\": 2, \"ngroups\": 1, \"d_conv\": 4, \"chunk_size\": 256}%s}", dModel, layers,
                hybrid ? String.format(Locale.ROOT, ", \"attn_layer_idx\": [%d, %d], \"attn_cfg\": {\"causal\": true,"
                        + " \"num_heads\": %d, \"head_dim\": 64, \"rotary_emb_dim\": 32, \"d_conv\": 4, \"qkv_proj_bias\": false,"
                        + " \"out_proj_bias\": false}", layers / 3, 2 * layers / 3, Math.max(1, dModel / 64)) : "");
        Mamba2Config cfg = Mamba2Config.parse(json);
        long t0 = System.nanoTime();
        Mamba2Weights w;
        try (RandomTensorSource src = new RandomTensorSource(cfg, seed)) {
            w = Mamba2Weights.load(cfg, src);
        }
        CpuEngine engine = new CpuEngine(w);
        System.out.printf(Locale.ROOT, "model   %s%n", cfg);
        System.out.printf(Locale.ROOT, "setup   %.1f s (random weights, packing)%n", (System.nanoTime() - t0) / 1e9);
        System.out.printf(Locale.ROOT, "jvm     %s %s, %d cores visible, max heap %d MiB%n",
                System.getProperty("java.vm.name"), System.getProperty("java.runtime.version"),
                Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20);
        System.out.printf(Locale.ROOT, "run     1 x %d tokens, forward chunks of %d, %d warm-up + %d timed runs per thread count%n",
                tokens, chunkTokens, warmup, iters);

        int[] doc = new SplittableRandom(seed).ints(tokens, 0, cfg.vocabSize).toArray();
        DocumentRunner runner = new DocumentRunner(engine);
        DocumentRunner.ScoreOptions opts = new DocumentRunner.ScoreOptions(chunkTokens, -1, false);

        System.out.printf(Locale.ROOT, "%8s %10s %10s %10s %9s %12s%n", "threads", "median ms", "best ms", "tok/s", "cpu/wall", "mean NLL");
        for (int th : threads) {
            Parallel.setThreads(th);
            double nll = Double.NaN;
            for (int i = 0; i < warmup; i++) nll = runner.score(doc, opts).meanNll();
            double[] ms = new double[iters];
            long cpu0 = processCpuNanos(), wall0 = System.nanoTime();
            for (int i = 0; i < iters; i++) {
                long s = System.nanoTime();
                nll = runner.score(doc, opts).meanNll();
                ms[i] = (System.nanoTime() - s) / 1e6;
            }
            long cpu1 = processCpuNanos(), wall1 = System.nanoTime();
            // CPU seconds per wall second while timed: close to the thread count on an idle machine;
            // well below it means other processes took the cores (the tok/s then understates).
            double util = cpu0 < 0 || cpu1 < 0 ? Double.NaN : (double) (cpu1 - cpu0) / (wall1 - wall0);
            if (!Double.isFinite(nll)) throw new IllegalStateException("non-finite NLL " + nll + ": the engine is broken");
            Arrays.sort(ms);
            double med = ms[iters / 2], best = ms[0], tps = tokens / (med / 1e3);
            System.out.printf(Locale.ROOT, "%8d %10.1f %10.1f %10.1f %9.2f %12.4f%n", th, med, best, tps, util, nll);
            System.out.printf(Locale.ROOT, "RESULT threads=%d tokens=%d median_ms=%.1f best_ms=%.1f tok_s=%.1f best_tok_s=%.1f cpu_per_wall=%.2f%n",
                    th, tokens, med, best, tps, tokens / (best / 1e3), util);
        }
    }

    /** CPU time of the whole process (all threads, JIT and GC included), or -1 where the JVM does not say. */
    private static long processCpuNanos() {
        try {
            java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            if (os instanceof com.sun.management.OperatingSystemMXBean sun) return sun.getProcessCpuTime();
        } catch (Throwable ignored) {
            // a runtime without jdk.management
        }
        return -1;
    }

    private static String need(String flag, String v) {
        if (v == null) throw new IllegalArgumentException(flag + " needs a value");
        return v;
    }

    private static List<Integer> parseList(String s) {
        List<Integer> out = new ArrayList<>();
        for (String p : s.split(",")) {
            int n = Integer.parseInt(p.trim());
            if (n < 1) throw new IllegalArgumentException("thread counts must be >= 1, got " + n);
            out.add(n);
        }
        return out;
    }

    private static void usage() {
        System.out.println("CpuBenchmark [--threads 1,2,16] [--tokens 256] [--warmup 3] [--iters 5] [--layers 24]"
                + " [--d-model 768] [--chunk-tokens N (default: all tokens in one forward)] [--seed 1]"
                + " [--hybrid (attention at layers n/3 and 2n/3: d_model/64 heads of 64, rotary 32, conv 4)]");
    }
}
