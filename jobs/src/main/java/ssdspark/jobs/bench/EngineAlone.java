package ssdspark.jobs.bench;

import ssdspark.model.Backends;
import ssdspark.model.DocumentRunner;
import ssdspark.model.DocumentRunner.Outcome;
import ssdspark.model.DocumentRunner.ScoreOptions;
import ssdspark.model.DocumentRunner.ScoreResult;
import ssdspark.model.Engine;
import ssdspark.model.gpu.Precision;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The engine alone, no Spark: scores a corpus the way the job's partition function does (consecutive documents
 * packed into batches of --token-budget tokens / --max-batch-docs documents, each through
 * DocumentRunner.scoreAll), from a binary file written by tools/pipeline/make_gpu_inputs.py, and prints tokens/s.
 * With --threads T the documents are cut into T contiguous slices run by T threads on one shared engine (as T
 * Spark task slots would). The yardstick for the job's end-to-end throughput.
 *
 * <pre>java -cp JOBS_JAR:SPARK_CLASSPATH ssdspark.jobs.bench.EngineAlone MODEL CORPUS.bin [--device gpu] [--precision bf16]
 *     [--token-budget 16384] [--max-batch-docs 1024] [--chunk-tokens 2048] [--threads 1] [--max-tokens N]</pre>
 *
 * Corpus file (little-endian): "SSDC", int32 docs, int64 offsets[docs + 1], int32 tokens[offsets[docs]].
 */
public final class EngineAlone {
    private EngineAlone() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: EngineAlone MODEL CORPUS.bin [--device gpu] [--precision bf16] [--token-budget N] [--max-batch-docs N] [--chunk-tokens N] [--threads T]");
            System.exit(2);
        }
        Path model = Path.of(args[0]), corpus = Path.of(args[1]);
        String device = "gpu", precision = "bf16";
        int budget = 16384, maxDocs = 1024, chunk = 2048, threads = 1;
        long maxTokens = Long.MAX_VALUE;
        for (int i = 2; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--device": device = args[i + 1]; break;
                case "--precision": precision = args[i + 1]; break;
                case "--token-budget": budget = Integer.parseInt(args[i + 1]); break;
                case "--max-batch-docs": maxDocs = Integer.parseInt(args[i + 1]); break;
                case "--chunk-tokens": chunk = Integer.parseInt(args[i + 1]); break;
                case "--threads": threads = Integer.parseInt(args[i + 1]); break;
                case "--max-tokens": maxTokens = Long.parseLong(args[i + 1]); break;
                default: throw new IllegalArgumentException("unknown flag " + args[i]);
            }
        }
        long t0 = System.nanoTime();
        List<int[]> docs = read(corpus);
        long total = 0;
        int keep = 0;
        while (keep < docs.size() && total < maxTokens) total += docs.get(keep++).length; // the first documents, up to --max-tokens
        docs = docs.subList(0, keep);
        System.out.printf(Locale.ROOT, "engine-alone: %d docs, %d tokens read in %.1f s%n", docs.size(), total, (System.nanoTime() - t0) / 1e9);
        t0 = System.nanoTime();
        Engine engine = Backends.open(model, device, 0, Precision.parse(precision));
        System.out.printf(Locale.ROOT, "engine-alone: %s loaded in %.1f s%n", engine.backend(), (System.nanoTime() - t0) / 1e9);
        DocumentRunner runner = new DocumentRunner(engine);
        ScoreOptions opts = new ScoreOptions(chunk, -1, false);

        // warm-up: one batch (workspace allocation, kernel loading), not timed
        runner.scoreAll(docs.subList(0, Math.min(8, docs.size())), opts, budget);

        AtomicLong tokens = new AtomicLong();
        double[] sum = new double[threads];
        int per = (docs.size() + threads - 1) / threads;
        List<Thread> ts = new ArrayList<>();
        final int b = budget, m = maxDocs, piece = Math.min(chunk, budget);
        long start = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            final int k = t;
            List<int[]> slice = docs.subList(Math.min(docs.size(), t * per), Math.min(docs.size(), (t + 1) * per));
            Thread th = new Thread(() -> {
                // the job's batches (TokenBudgetBatcher: a batch with a long document gets a budget per pass it needs)
                var batches = new ssdspark.udf.TokenBudgetBatcher(slice.stream().map(d -> ssdspark.udf.Doc.of(null, d, null)).iterator(),
                        b, m, piece);
                while (batches.hasNext()) {
                    List<int[]> batch = batches.next().stream().map(ssdspark.udf.Doc::tokens).toList();
                    long n = 0;
                    for (int[] d : batch) n += d.length;
                    for (Outcome<ScoreResult> o : runner.scoreAll(batch, opts, b)) {
                        if (!o.ok()) throw new IllegalStateException(o.error());
                        sum[k] += o.result().sumLogprob();
                    }
                    tokens.addAndGet(n);
                }
            }, "engine-alone-" + t);
            th.start();
            ts.add(th);
        }
        for (Thread th : ts) th.join();
        double s = (System.nanoTime() - start) / 1e9;
        double all = 0;
        for (double x : sum) all += x;
        System.out.printf(Locale.ROOT, "ENGINE-ALONE %s threads=%d budget=%d chunk=%d: %d tokens in %.2f s = %.0f tok/s (sum log-prob %.6e)%n",
                engine.backend(), threads, budget, chunk, tokens.get(), s, tokens.get() / s, all);
        engine.close();
    }

    static List<int[]> read(Path file) throws IOException { return read(file, 0, Integer.MAX_VALUE); }

    /** Documents [from, min(to, docs)) of a corpus file. */
    static List<int[]> read(Path file, int from, int to) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size()).order(ByteOrder.LITTLE_ENDIAN);
            byte[] magic = new byte[4];
            buf.get(magic);
            if (!new String(magic, java.nio.charset.StandardCharsets.US_ASCII).equals("SSDC"))
                throw new IOException(file + " is not a corpus file (no SSDC magic)");
            int n = buf.getInt();
            long[] off = new long[n + 1];
            for (int i = 0; i <= n; i++) off[i] = buf.getLong();
            int end = Math.min(to, n);
            List<int[]> docs = new ArrayList<>(Math.max(0, end - from));
            long base = buf.position();
            for (int i = from; i < end; i++) {
                int[] d = new int[(int) (off[i + 1] - off[i])];
                buf.position(Math.toIntExact(base + 4 * off[i]));
                buf.asIntBuffer().get(d);
                docs.add(d);
            }
            return docs;
        }
    }
}
