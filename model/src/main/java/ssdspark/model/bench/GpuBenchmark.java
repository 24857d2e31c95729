package ssdspark.model.bench;

import ssdspark.kernels.gpu.Cuda;
import ssdspark.kernels.gpu.GpuDevice;
import ssdspark.model.DocumentRunner;
import ssdspark.model.Engine;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2State;
import ssdspark.model.Mamba2Weights;
import ssdspark.model.gpu.GpuEngine;
import ssdspark.model.gpu.Precision;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * GPU throughput of {@link GpuEngine} on random Mamba-2 models built in memory ({@link RandomTensorSource}: mamba_ssm's
 * initialisation, no files), as a user of the engine sees it: whole batches through the public API, host transfers
 * included. Runs from the GPU bundle (kernels + model jars and JCuda; no Spark, no Maven): see tools/bench/README.md.
 *
 * <p>Workloads (fixed shapes, random tokens): {@code score-130m} (16 x 2048, next-token log-probs of every token via
 * {@link GpuEngine#logProbsBatch}), {@code embed-130m} (16 x 2048, {@link GpuEngine#embedBatch}, mean pooling),
 * {@code score-1.3b} (8 x 2048), {@code sweep} (score-130m at 1, 2, 4, ... sequences of 2048 tokens), and for hybrids
 * {@code score-130m-hybrid} (the 130M shape with attention at 2 of 24 layers, 16 x 2048) beside {@code long-130m} and
 * {@code long-130m-hybrid} (2 x 16384, --long-len), and {@code lognormal-130m}: the score-130m batch's 16 x len tokens
 * as documents of log-normal length (median 700) packed together, the shape of a real corpus. Through the
 * {@link DocumentRunner} as a job scores (64 x len tokens a "batch", pieces of len, passes of 8 x len tokens):
 * {@code runner-fixed-130m} (64 documents of len), {@code runner-lognormal-130m} (log-normal documents, the long ones
 * in pieces with carried states), and the same two with {@code -host} (the runner's path for engines that are not the
 * GPU engine: hidden states and carried states through host memory, as before states stayed on the device). Each runs on
 * a fresh engine (so its device memory is its own): warm-up batches, then timed batches (median), then one batch with
 * per-kernel profiling, whose kernels are grouped into op families with the FLOPs (or the bytes) the config implies.
 * With score-130m planned, the SSD scan alone on one of its layers follows ({@link SsdAlone}, top-level "ssd_alone").
 *
 * <p>Prints a table per workload and writes everything as JSON ({@code --json FILE}), which
 * tools/bench/gpu_compare.py reads beside tools/bench/gpu_mamba_ssm.py's.
 */
public final class GpuBenchmark {
    private GpuBenchmark() {}

    /** A model shape: mamba_ssm's released Mamba-2 configs (vocab 50277 padded to a multiple of 16 = 50288). */
    enum Size {
        M130("130m", 768, 24, ""), B13("1.3b", 2048, 48, ""),
        /** The 130M shape with attention (12 heads of 64, rotary on all 64 dims) at 2 of its 24 layers, as mamba2attn. */
        M130_HYBRID("130m-hybrid", 768, 24, ", \"attn_layer_idx\": [8, 16], \"attn_cfg\": {\"num_heads\": 12, \"head_dim\": 64,"
                + " \"rotary_emb_dim\": 64, \"causal\": true}");

        final String label;
        final int dModel, nLayer;
        private final String extra;

        Size(String label, int dModel, int nLayer, String extra) {
            this.label = label;
            this.dModel = dModel;
            this.nLayer = nLayer;
            this.extra = extra;
        }

        Mamba2Config config() {
            return Mamba2Config.parse(String.format(Locale.ROOT,
                    "{\"d_model\": %d, \"n_layer\": %d, \"vocab_size\": 50277, \"pad_vocab_size_multiple\": 16,"
                            + " \"rms_norm\": true, \"tie_embeddings\": true, \"ssm_cfg\": {\"layer\": \"Mamba2\","
                            + " \"d_state\": 128, \"headdim\": 64, \"expand\": 2, \"ngroups\": 1, \"d_conv\": 4,"
                            + " \"chunk_size\": 256}%s}", dModel, nLayer, extra));
        }
    }

    /** SCORE / EMBED: the engine's batch calls; RUNNER: DocumentRunner scoring; RUNNER_HOST: the same through host memory. */
    enum Mode {
        SCORE, EMBED, RUNNER, RUNNER_HOST;

        boolean scores() { return this != EMBED; }

        boolean runner() { return this == RUNNER || this == RUNNER_HOST; }
    }

    /** lens: every sequence's length (len of each for the fixed shapes; log-normal for the packed-corpus one). */
    record Workload(String name, Size size, Mode mode, int seqs, int len, boolean sweep, int[] lens) {
        Workload(String name, Size size, Mode mode, int seqs, int len, boolean sweep) {
            this(name, size, mode, seqs, len, sweep, java.util.Collections.nCopies(seqs, len).stream().mapToInt(Integer::intValue).toArray());
        }

        int tokens() { return java.util.Arrays.stream(lens).sum(); }

        /**
         * Documents of log-normal length (median 700 tokens, sigma 1, within [16, 16384], as tools/pipeline's corpus),
         * packed until the batch holds exactly {@code tokens} tokens (the last one cut).
         */
        static Workload logNormal(String name, Size size, int tokens, long seed) { return logNormal(name, size, Mode.SCORE, tokens, seed); }

        static Workload logNormal(String name, Size size, Mode mode, int tokens, long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            List<Integer> l = new ArrayList<>();
            int total = 0;
            while (total < tokens) {
                double u1 = r.nextDouble(), u2 = r.nextDouble();
                double g = Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
                int n = (int) Math.max(16, Math.min(16384, Math.round(700 * Math.exp(g))));
                n = Math.min(n, tokens - total);
                l.add(n);
                total += n;
            }
            int[] lens = l.stream().mapToInt(Integer::intValue).toArray();
            return new Workload(name, size, mode, lens.length, -1, false, lens);
        }
    }

    /** Options from the command line. */
    static final class Options {
        List<String> workloads = List.of("score-130m", "embed-130m", "score-1.3b", "sweep");
        int longLen = 16384;
        int[] sweep = {1, 2, 4, 8, 16, 32};
        int len = 2048, warmup = 3, iters = 10, device = 0;
        long seed = 1;
        Precision precision = Precision.BF16;
        Path json;
        boolean profile = true;
        String label = "";
        int streams = 1;
    }

    public static void main(String[] args) {
        Options o;
        try {
            o = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("GpuBenchmark: " + e.getMessage());
            usage();
            System.exit(2);
            return;
        }
        if (o == null) return; // --help
        String why = Cuda.unavailableReason(o.device);
        if (why != null) {
            System.err.println("GpuBenchmark: no usable CUDA device " + o.device + ": " + why);
            System.exit(1);
        }
        List<Workload> plan = plan(o);
        GpuDevice dev = Cuda.device(o.device);
        System.out.printf(Locale.ROOT, "device  %s, %.1f GiB%n", dev.describe(), dev.totalMemory / GIB);
        System.out.printf(Locale.ROOT, "jvm     %s %s, max heap %d MiB%n", System.getProperty("java.vm.name"),
                System.getProperty("java.runtime.version"), Runtime.getRuntime().maxMemory() >> 20);
        System.out.printf(Locale.ROOT, "run     %s, %d warm-up + %d timed batches per workload, precision %s%n",
                plan.stream().map(Workload::name).toList(), o.warmup, o.iters, o.precision);

        List<Map<String, Object>> results = new ArrayList<>();
        Size loaded = null;
        Mamba2Weights w = null;
        for (Workload wl : plan) {
            if (wl.size != loaded) {
                w = null; // let the previous model's host copy go before building the next
                long t0 = System.nanoTime();
                Mamba2Config c = wl.size.config();
                try (RandomTensorSource src = new RandomTensorSource(c, o.seed)) {
                    w = Mamba2Weights.load(c, src);
                }
                loaded = wl.size;
                System.out.printf(Locale.ROOT, "%nmodel   %s: %s (random weights in %.1f s)%n", wl.size.label, c,
                        (System.nanoTime() - t0) / 1e9);
            }
            Map<String, Object> r = run(dev, w, wl, o);
            results.add(r);
            print(r);
        }
        printSweep(results);
        // the SSD scan alone on one score-130m layer, as gpu_mamba_ssm.py times mamba_chunk_scan_combined beside it
        Map<String, Object> ssdAlone = null;
        if (plan.stream().anyMatch(x -> x.name.equals("score-130m"))) {
            ssdAlone = SsdAlone.run(dev, Size.M130.config(), 16, o.len, o.seed);
            System.out.printf(Locale.ROOT, "%nSSD alone: GpuSsdScan.forward 16 x %d, %d heads, headdim %d, d_state %d, chunk %d: "
                            + "%.3f ms (median of %s ms a call), %.0f TFLOP/s%n", o.len, ssdAlone.get("nheads"), ssdAlone.get("headdim"),
                    ssdAlone.get("d_state"), ssdAlone.get("chunk"), (double) ssdAlone.get("ms"),
                    Arrays.toString(Arrays.stream((double[]) ssdAlone.get("ms_rounds")).map(x -> Math.round(x * 1e3) / 1e3).toArray()),
                    (double) ssdAlone.get("tflop_s"));
        }

        if (o.json != null) {
            Map<String, Object> top = new LinkedHashMap<>();
            top.put("tool", "ssdspark GpuBenchmark");
            top.put("label", o.label);
            top.put("date", Instant.now().toString());
            top.put("device", dev.describe());
            top.put("device_total_gib", dev.totalMemory / GIB);
            top.put("jvm", System.getProperty("java.runtime.version"));
            top.put("precision", o.precision.toString());
            top.put("warmup", o.warmup);
            top.put("iters", o.iters);
            top.put("workloads", results);
            if (ssdAlone != null) top.put("ssd_alone", List.of(ssdAlone));
            try {
                if (o.json.getParent() != null) Files.createDirectories(o.json.getParent());
                Files.writeString(o.json, JsonOut.write(top) + "\n", StandardCharsets.UTF_8);
            } catch (IOException e) {
                System.err.println("GpuBenchmark: cannot write " + o.json + ": " + e.getMessage());
                System.exit(1);
            }
            System.out.println("wrote " + o.json);
        }
    }

    private static final double GIB = 1024.0 * 1024 * 1024;

    static List<Workload> plan(Options o) {
        List<Workload> out = new ArrayList<>();
        for (String name : o.workloads)
            switch (name) {
                case "score-130m" -> out.add(new Workload(name, Size.M130, Mode.SCORE, 16, o.len, false));
                case "embed-130m" -> out.add(new Workload(name, Size.M130, Mode.EMBED, 16, o.len, false));
                case "score-1.3b" -> out.add(new Workload(name, Size.B13, Mode.SCORE, 8, o.len, false));
                case "score-130m-hybrid" -> out.add(new Workload(name, Size.M130_HYBRID, Mode.SCORE, 16, o.len, false));
                case "long-130m" -> out.add(new Workload(name, Size.M130, Mode.SCORE, 2, o.longLen, false));
                case "lognormal-130m" -> out.add(Workload.logNormal(name, Size.M130, 16 * o.len, o.seed));
                case "long-130m-hybrid" -> out.add(new Workload(name, Size.M130_HYBRID, Mode.SCORE, 2, o.longLen, false));
                case "runner-fixed-130m" -> out.add(new Workload(name, Size.M130, Mode.RUNNER, 64, o.len, false));
                case "runner-fixed-130m-host" -> out.add(new Workload(name, Size.M130, Mode.RUNNER_HOST, 64, o.len, false));
                case "runner-lognormal-130m" -> out.add(Workload.logNormal(name, Size.M130, Mode.RUNNER, 64 * o.len, o.seed));
                case "runner-lognormal-130m-host" -> out.add(Workload.logNormal(name, Size.M130, Mode.RUNNER_HOST, 64 * o.len, o.seed));
                case "sweep" -> {
                    for (int s : o.sweep)
                        out.add(new Workload("sweep-130m-" + s + "x" + o.len, Size.M130, Mode.SCORE, s, o.len, true));
                }
                default -> throw new IllegalArgumentException("unknown workload '" + name
                        + "' (known: score-130m, embed-130m, score-1.3b, sweep, score-130m-hybrid, long-130m, long-130m-hybrid, lognormal-130m,"
                        + " runner-fixed-130m, runner-lognormal-130m and both with -host)");
            }
        // build each model once: 130m workloads first, in the order given
        out.sort((a, b) -> Integer.compare(a.size.ordinal(), b.size.ordinal()));
        return out;
    }

    /** One workload on a fresh engine: warm-up, timed batches, memory, one profiled batch. */
    static Map<String, Object> run(GpuDevice dev, Mamba2Weights w, Workload wl, Options o) {
        Mamba2Config c = w.cfg;
        int[][] docs = new int[wl.seqs][];
        SplittableRandom rnd = new SplittableRandom(o.seed * 31 + wl.seqs);
        for (int i = 0; i < wl.seqs; i++) docs[i] = rnd.ints(wl.lens[i], 0, c.vocabSize).toArray();
        int[][] targets = GpuEngine.nextTokenTargets(docs);

        long usedBefore = used(dev);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", wl.name);
        r.put("model", wl.size.label);
        r.put("mode", wl.mode.name().toLowerCase(Locale.ROOT));
        r.put("seqs", wl.seqs);
        r.put("len", wl.len);
        r.put("tokens", wl.tokens());
        r.put("sweep", wl.sweep);
        ExecutorService pool = null;
        try (GpuEngine e = GpuEngine.create(w, dev.ordinal, o.precision)) {
            Runnable batch;
            if (wl.mode.runner()) {
                int budget = 8 * o.len; // the job's default budget (16384): the call is 8 budgets, as a job's batch with an 8-piece document
                e.reserve(budget, 64);
                DocumentRunner runner = new DocumentRunner(wl.mode == Mode.RUNNER ? e : throughHost(e));
                List<int[]> list = Arrays.asList(docs);
                DocumentRunner.ScoreOptions opts = new DocumentRunner.ScoreOptions(o.len, -1, false);
                r.put("runner", Map.of("chunk_tokens", o.len, "token_budget", budget, "states", wl.mode == Mode.RUNNER ? "device" : "host"));
                batch = () -> checkRunner(runner.scoreAll(list, opts, budget));
            } else if (o.streams > 1) {
                r.put("streams", o.streams);
                batch = slices(e, wl, docs, targets, o.streams, pool = Executors.newFixedThreadPool(o.streams));
            } else {
                e.reserve(wl.tokens(), wl.seqs);
                batch = wl.mode == Mode.SCORE
                        ? () -> check(e.logProbsBatch(docs, targets, null))
                        : () -> check(e.embedBatch(docs, null));
            }
            for (int i = 0; i < o.warmup; i++) batch.run();
            double[] ms = new double[o.iters];
            for (int i = 0; i < o.iters; i++) {
                long t0 = System.nanoTime();
                batch.run();
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
            long usedAfter = used(dev);
            double med = median(ms);
            r.put("ms_median", med);
            r.put("ms_min", Arrays.stream(ms).min().orElseThrow());
            r.put("ms_all", ms);
            r.put("tok_s", wl.tokens() / (med / 1e3));
            r.put("backend", e.backend());
            r.put("chunk", e.chunkLength());
            Map<String, Object> mem = new LinkedHashMap<>();
            // workspaces only grow, so the memory in use after the timed batches is the peak of the workload
            mem.put("device_used_gib", usedAfter / GIB);
            mem.put("engine_gib", (usedAfter - usedBefore) / GIB);
            mem.put("weights_gib", e.weightBytes() / GIB);
            mem.put("workspace_gib", e.workspaceBytes() / GIB);
            r.put("memory", mem);
            if (wl.mode == Mode.SCORE) {
                float[][] lp = e.logProbsBatch(docs, targets, null);
                double s = 0;
                long n = 0;
                for (float[] a : lp) for (int t = 0; t + 1 < a.length; t++) { s += a[t]; n++; }
                r.put("mean_logprob", s / n); // about -ln(vocab) for random weights; NaN would mean a broken engine
            }
            if (o.profile && pool == null) { // a profile is a workspace's: one slice's would mislead
                e.setProfiling(true);
                e.takeProfile();
                batch.run();
                Map<String, double[]> prof = e.takeProfile();
                e.setProfiling(false);
                r.put("profile", Families.of(prof, c, wl, e.chunkLength()));
            }
        } finally {
            if (pool != null) pool.shutdown();
        }
        return r;
    }

    /**
     * The batch's sequences in {@code n} slices, each scored by its own thread (its own workspace and stream), so that
     * the slices' kernels may share the GPU; one batch ends when every slice is back.
     */
    private static Runnable slices(GpuEngine e, Workload wl, int[][] docs, int[][] targets, int n,
                                   ExecutorService pool) {
        List<Callable<Object>> tasks = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            int from = wl.seqs * k / n, to = wl.seqs * (k + 1) / n;
            int[][] d = Arrays.copyOfRange(docs, from, to), t = Arrays.copyOfRange(targets, from, to);
            tasks.add(() -> { // any pool thread may run a slice: the warm-up batches grow each thread's workspace
                if (wl.mode == Mode.SCORE) check(e.logProbsBatch(d, t, null));
                else check(e.embedBatch(d, null));
                return null;
            });
        }
        return () -> {
            try {
                for (var f : pool.invokeAll(tasks)) f.get();
            } catch (InterruptedException | ExecutionException ex) {
                throw new IllegalStateException("a slice failed", ex);
            }
        };
    }

    /** The median of the timings (the mean of the middle two for an even count). */
    static double median(double[] ms) {
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        int m = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }

    private static long used(GpuDevice dev) {
        long[] m = dev.memoryInfo();
        return m[1] - m[0];
    }

    /** The GPU engine behind the plain Engine API: the runner's general path (hidden and carried states on the host). */
    private static Engine throughHost(GpuEngine e) {
        return new Engine() {
            @Override public Mamba2Config config() { return e.config(); }

            @Override public String backend() { return e.backend() + " through host memory"; }

            @Override public float[] forward(int[] tokens, int off, int n, Mamba2State state) { return e.forward(tokens, off, n, state); }

            @Override public float[] forwardPacked(int[] tokens, int[] cu, Mamba2State[] states) { return e.forwardPacked(tokens, cu, states); }

            @Override public void logProbs(float[] hidden, int n, int[] targets, int tOff, float[] out, int outOff) {
                e.logProbs(hidden, n, targets, tOff, out, outOff);
            }

            @Override public void close() {}
        };
    }

    private static void checkRunner(List<DocumentRunner.Outcome<DocumentRunner.ScoreResult>> out) {
        for (DocumentRunner.Outcome<DocumentRunner.ScoreResult> x : out)
            if (!x.ok() || !Double.isFinite(x.result().sumLogprob()))
                throw new IllegalStateException("document not scored: " + (x.ok() ? x.result().sumLogprob() : x.error()));
    }

    private static void check(float[][] lp) {
        for (float[] a : lp)
            for (int t = 0; t + 1 < a.length; t++)
                if (!Float.isFinite(a[t])) throw new IllegalStateException("non-finite log-prob " + a[t] + ": the engine is broken");
    }

    private static void check(GpuEngine.Pooled[] p) {
        for (GpuEngine.Pooled x : p)
            if (!Double.isFinite(x.sum()[0])) throw new IllegalStateException("non-finite pooled state: the engine is broken");
    }

    /**
     * Kernel names grouped by prefix into op families, with the work the config implies. Names not matched land in
     * "other" (listed), so a renamed kernel shows up instead of vanishing.
     */
    static final class Families {
        static final String GEMM = "gemm", SSD = "ssd", ATTN = "attention", HEAD = "lm_head", ELEM = "norms_conv_elementwise", OTHER = "other";
        /** Prefixes of the kernels counted as norms + conv + elementwise (embedding gather, conversions, pooling). */
        static final List<String> ELEM_PREFIXES = List.of("add_rmsnorm", "rmsnorm", "gated_rmsnorm", "causal_conv1d",
                "conv", "embed", "convert", "pool", "silu", "residual", "varlen", "ids");

        static String family(String kernel) {
            if (kernel.startsWith("gemm") || kernel.startsWith("bf16_pretile")) return GEMM; // pretile: the tiled GEMM's pass over A
            if (kernel.startsWith("ssd")) return SSD;
            if (kernel.startsWith("attn")) return ATTN;
            if (kernel.startsWith("lm_head")) return HEAD;
            for (String p : ELEM_PREFIXES) if (kernel.startsWith(p)) return ELEM;
            return OTHER;
        }

        static Map<String, Object> of(Map<String, double[]> prof, Mamba2Config c, Workload wl, int q) {
            Map<String, double[]> fam = new LinkedHashMap<>(); // family -> {ms, launches}
            for (String f : List.of(GEMM, SSD, ATTN, HEAD, ELEM, OTHER)) fam.put(f, new double[2]);
            List<String> unknown = new ArrayList<>();
            double total = 0;
            for (Map.Entry<String, double[]> k : prof.entrySet()) {
                String f = family(k.getKey());
                if (f.equals(OTHER)) unknown.add(k.getKey());
                fam.get(f)[0] += k.getValue()[0];
                fam.get(f)[1] += k.getValue()[1];
                total += k.getValue()[0];
            }
            Work work = Work.of(c, wl, q);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("kernel_ms", total);
            Map<String, Object> fams = new LinkedHashMap<>();
            for (Map.Entry<String, double[]> f : fam.entrySet()) {
                if ((f.getKey().equals(HEAD) || f.getKey().equals(ATTN)) && f.getValue()[1] == 0) continue;
                Map<String, Object> x = new LinkedHashMap<>();
                double ms = f.getValue()[0];
                x.put("ms", ms);
                x.put("launches", (long) f.getValue()[1]);
                switch (f.getKey()) {
                    case GEMM -> putRate(x, "flops", work.gemmFlops, ms, 1e12, "tflop_s");
                    case SSD -> {
                        putRate(x, "flops", work.ssdFlops, ms, 1e12, "tflop_s");
                        x.put("ms_per_layer", ms / c.nLayer);
                    }
                    case HEAD -> putRate(x, "flops", work.headFlops, ms, 1e12, "tflop_s");
                    case ATTN -> putRate(x, "flops", work.attnFlops, ms, 1e12, "tflop_s");
                    case ELEM -> putRate(x, "bytes", work.elemBytes, ms, 1e9, "gb_s");
                    default -> x.put("kernels", unknown);
                }
                fams.put(f.getKey(), x);
            }
            out.put("families", fams);
            Map<String, Object> kernels = new TreeMap<>();
            for (Map.Entry<String, double[]> k : prof.entrySet()) {
                Map<String, Object> x = new LinkedHashMap<>();
                x.put("ms", k.getValue()[0]);
                x.put("launches", (long) k.getValue()[1]);
                kernels.put(k.getKey(), x);
            }
            out.put("kernels", kernels);
            return out;
        }

        private static void putRate(Map<String, Object> x, String what, double amount, double ms, double unit, String key) {
            x.put(what, amount);
            x.put(key, ms > 0 ? amount / (ms / 1e3) / unit : Double.NaN);
        }
    }

    /**
     * The work of one batch, from the config alone (not from what our kernels happen to do), so both stacks are
     * measured against the same numbers.
     * <ul>
     *   <li>GEMMs: 2·T·d·d_in_proj (in_proj) + 2·T·d_inner·d (out_proj) per layer;</li>
     *   <li>LM head: 2·T·d·vocab (padded), scoring only;</li>
     *   <li>hybrids: attention layers' in_proj / out_proj with the GEMMs, and as "attention" the causal q·kᵀ and p·v,
     *       4·H·D per visible (query, key) pair, len·(len+1)/2 pairs per sequence; gated MLPs with the GEMMs;</li>
     *   <li>SSD, chunked with chunk length Q, per chunk of q tokens and per layer: C·Bᵀ 2·q²·N·G, chunk states
     *       2·q·N·P·H, state passing 2·H·P·N, output from the states 2·q·N·P·H, intra-chunk output 2·q²·P·H (the
     *       dense q x q blocks, as the matmul units compute them);</li>
     *   <li>norms + conv + elementwise, as bytes: the fewest an unfused implementation moves with 2-byte
     *       activations, each tensor read or written once per op: add+RMSNorm 4·T·d, conv T·conv_dim in and out,
     *       gated RMSNorm 3·T·d_ssm per layer, plus the embedding gather and the final norm.</li>
     * </ul>
     */
    record Work(double gemmFlops, double headFlops, double ssdFlops, double attnFlops, double elemBytes) {
        static Work of(Mamba2Config c, Workload wl, int q) {
            double T = wl.tokens(), d = c.dModel, L = c.nLayer, A = 0;
            for (int l = 0; l < c.nLayer; l++) if (c.isAttention(l)) A++;
            double M = L - A; // Mamba-2 layers
            double gemm = M * (2 * T * d * c.dInProj() + 2 * T * c.dInner * d);
            double attn = 0;
            if (c.attn != null) { // in_proj / out_proj GEMMs; causal q.k and p.v over len(len+1)/2 pairs per sequence
                gemm += A * (2 * T * d * c.attn.inProjRows() + 2 * T * c.attn.outProjCols() * d);
                for (int n : wl.lens) attn += A * 4.0 * n * (n + 1.0) / 2 * c.attn.numHeads() * c.attn.headDim();
            }
            gemm += L * (2 * T * d * 2.0 * c.dIntermediate + 2 * T * c.dIntermediate * d); // gated MLPs: fc1, fc2 (0 without)
            double head = wl.mode.scores() ? 2 * T * d * c.paddedVocab : 0;
            double H = c.nheads, P = c.headdim, N = c.dState, G = c.ngroups;
            double all = 0;
            for (int len : wl.lens)
                for (int start = 0; start < len; start += q) {
                    double n = Math.min(q, len - start);
                    all += 2 * n * n * N * G + 4 * n * N * P * H + 2 * n * n * P * H + 2 * H * P * N;
                }
            double ssd = M * all;
            double elem = 2 * (M * (4 * T * d + 2 * T * c.convDim() + 3 * T * c.dSsm) + A * 4 * T * d + T * d + 4 * T * d);
            return new Work(gemm, head, ssd, attn, elem);
        }
    }

    // ------------------------------------------------------------------ printing

    private static void print(Map<String, Object> r) {
        @SuppressWarnings("unchecked") Map<String, Object> mem = (Map<String, Object>) r.get("memory");
        if ((int) r.get("len") < 0)
            System.out.printf(Locale.ROOT, "%n== %s (%s, %d documents of log-normal length, %d tokens)%n", r.get("name"), r.get("mode"),
                    r.get("seqs"), r.get("tokens"));
        else System.out.printf(Locale.ROOT, "%n== %s (%s, %d x %d tokens)%n", r.get("name"), r.get("mode"), r.get("seqs"), r.get("len"));
        System.out.printf(Locale.ROOT, "   %.0f tok/s: %.2f ms per batch (median; min %.2f), host transfers included%n",
                (double) r.get("tok_s"), (double) r.get("ms_median"), (double) r.get("ms_min"));
        System.out.printf(Locale.ROOT, "   memory: device in use %.2f GiB (whole device, CUDA context included), engine %.2f GiB"
                        + " (weights %.2f, workspace %.2f)%n", (double) mem.get("device_used_gib"),
                (double) mem.get("engine_gib"), (double) mem.get("weights_gib"), (double) mem.get("workspace_gib"));
        if (r.containsKey("mean_logprob"))
            System.out.printf(Locale.ROOT, "   mean log-prob %.3f%n", (double) r.get("mean_logprob"));
        @SuppressWarnings("unchecked") Map<String, Object> p = (Map<String, Object>) r.get("profile");
        if (p == null) return;
        System.out.printf(Locale.ROOT, "   kernel time of one profiled batch: %.2f ms (events around each launch)%n", (double) p.get("kernel_ms"));
        @SuppressWarnings("unchecked") Map<String, Map<String, Object>> fams = (Map<String, Map<String, Object>>) p.get("families");
        for (Map.Entry<String, Map<String, Object>> f : fams.entrySet()) {
            Map<String, Object> x = f.getValue();
            if (f.getKey().equals(Families.OTHER) && (long) x.get("launches") == 0) continue;
            String rate = x.containsKey("tflop_s") ? String.format(Locale.ROOT, "%7.1f TFLOP/s", (double) x.get("tflop_s"))
                    : x.containsKey("gb_s") ? String.format(Locale.ROOT, "%7.0f GB/s (nominal bytes)", (double) x.get("gb_s"))
                    : "kernels " + x.get("kernels");
            System.out.printf(Locale.ROOT, "   %-24s %8.2f ms %5d launches  %s%n", f.getKey(), (double) x.get("ms"),
                    (long) x.get("launches"), rate);
        }
    }

    private static void printSweep(List<Map<String, Object>> results) {
        List<Map<String, Object>> sw = results.stream().filter(r -> (boolean) r.get("sweep")).toList();
        if (sw.isEmpty()) return;
        System.out.printf(Locale.ROOT, "%n== sweep (score-130m)%n   %8s %12s %12s %10s%n", "tokens", "ms/batch", "tok/s", "GiB");
        for (Map<String, Object> r : sw) {
            @SuppressWarnings("unchecked") Map<String, Object> mem = (Map<String, Object>) r.get("memory");
            System.out.printf(Locale.ROOT, "   %8d %12.2f %12.0f %10.2f%n", (int) r.get("tokens"), (double) r.get("ms_median"),
                    (double) r.get("tok_s"), (double) mem.get("device_used_gib"));
        }
        for (Map<String, Object> r : results)
            System.out.printf(Locale.ROOT, "RESULT workload=%s tokens=%d ms=%.2f tok_s=%.0f%n", r.get("name"), (int) r.get("tokens"),
                    (double) r.get("ms_median"), (double) r.get("tok_s"));
    }

    // ------------------------------------------------------------------ command line

    static Options parse(String[] args) {
        Options o = new Options();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (a) {
                case "--workloads" -> { o.workloads = List.of(need(a, v).split(",")); i++; }
                case "--sweep" -> { o.sweep = ints(a, need(a, v)); i++; }
                case "--len" -> { o.len = positive(a, need(a, v)); i++; }
                case "--long-len" -> { o.longLen = positive(a, need(a, v)); i++; }
                case "--warmup" -> { o.warmup = nonNegative(a, need(a, v)); i++; }
                case "--iters" -> { o.iters = positive(a, need(a, v)); i++; }
                case "--device" -> { o.device = nonNegative(a, need(a, v)); i++; }
                case "--seed" -> { o.seed = Long.parseLong(need(a, v)); i++; }
                case "--precision" -> { o.precision = Precision.parse(need(a, v)); i++; }
                case "--json" -> { o.json = Path.of(need(a, v)); i++; }
                case "--label" -> { o.label = need(a, v); i++; }
                case "--streams" -> { o.streams = positive(a, need(a, v)); i++; }
                case "--no-profile" -> o.profile = false;
                case "-h", "--help" -> { usage(); return null; }
                default -> throw new IllegalArgumentException("unknown argument " + a);
            }
        }
        if (o.len < 2) throw new IllegalArgumentException("--len must be >= 2 (next-token scoring needs two tokens)");
        plan(o); // rejects unknown workload names here, before any GPU work
        return o;
    }

    private static String need(String flag, String v) {
        if (v == null) throw new IllegalArgumentException(flag + " needs a value");
        return v;
    }

    private static int[] ints(String flag, String s) {
        String[] p = s.split(",");
        int[] out = new int[p.length];
        for (int i = 0; i < p.length; i++) out[i] = positive(flag, p[i].trim());
        return out;
    }

    private static int positive(String flag, String s) {
        int n = nonNegative(flag, s);
        if (n < 1) throw new IllegalArgumentException(flag + " must be >= 1, got " + s);
        return n;
    }

    private static int nonNegative(String flag, String s) {
        int n;
        try {
            n = Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " needs an integer, got '" + s + "'");
        }
        if (n < 0) throw new IllegalArgumentException(flag + " must be >= 0, got " + s);
        return n;
    }

    private static void usage() {
        System.out.println("""
                GpuBenchmark [options]   (GPU throughput of GpuEngine on random Mamba-2 models; see tools/bench/README.md)
                  --workloads LIST   comma-separated, of score-130m, embed-130m, score-1.3b, sweep (default: all four);
                                     with score-130m also the SSD scan alone on one of its layers
                  --sweep LIST       sequences per batch for the sweep (default 1,2,4,8,16,32)
                  --len N            tokens per sequence (default 2048)
                  --warmup N         untimed batches first (default 3)
                  --iters N          timed batches; the median is reported (default 10)
                  --precision P      bf16 (default), fp16 or fp32
                  --device N         CUDA device (default 0)
                  --seed N           weights and tokens (default 1)
                  --json FILE        write every number as JSON
                  --label TEXT       stored in the JSON (e.g. the commit)
                  --streams N        score / embed each batch as N slices of its sequences, each from its own thread
                                     (workspace and stream), the slices' kernels sharing the GPU (default 1)
                  --no-profile       skip the profiled batch (op families)""");
    }

    /** A minimal JSON writer for maps, lists, strings, numbers, booleans and double/int arrays. */
    static final class JsonOut {
        private JsonOut() {}

        static String write(Object v) {
            StringBuilder b = new StringBuilder();
            write(b, v, "");
            return b.toString();
        }

        private static void write(StringBuilder b, Object v, String ind) {
            if (v == null) b.append("null");
            else if (v instanceof String s) string(b, s);
            else if (v instanceof Boolean x) b.append(x);
            else if (v instanceof Double || v instanceof Float) {
                double x = ((Number) v).doubleValue();
                b.append(Double.isFinite(x) ? String.format(Locale.ROOT, "%.6g", x) : "null");
            } else if (v instanceof Number n) b.append(n.longValue());
            else if (v instanceof double[] a) {
                b.append('[');
                for (int i = 0; i < a.length; i++) {
                    if (i > 0) b.append(", ");
                    write(b, a[i], ind);
                }
                b.append(']');
            } else if (v instanceof Map<?, ?> m) {
                b.append('{');
                String in = ind + "  ";
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    b.append(first ? "\n" : ",\n").append(in);
                    first = false;
                    string(b, String.valueOf(e.getKey()));
                    b.append(": ");
                    write(b, e.getValue(), in);
                }
                if (!first) b.append('\n').append(ind);
                b.append('}');
            } else if (v instanceof List<?> l) {
                b.append('[');
                String in = ind + "  ";
                for (int i = 0; i < l.size(); i++) {
                    b.append(i > 0 ? ",\n" : "\n").append(in);
                    write(b, l.get(i), in);
                }
                if (!l.isEmpty()) b.append('\n').append(ind);
                b.append(']');
            } else throw new IllegalArgumentException("cannot write " + v.getClass() + " as JSON");
        }

        private static void string(StringBuilder b, String s) {
            b.append('"');
            for (char ch : s.toCharArray()) {
                switch (ch) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    case '\n' -> b.append("\\n");
                    case '\t' -> b.append("\\t");
                    default -> {
                        if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
                        else b.append(ch);
                    }
                }
            }
            b.append('"');
        }
    }
}
