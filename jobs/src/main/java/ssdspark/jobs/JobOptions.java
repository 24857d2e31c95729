package ssdspark.jobs;

import ssdspark.pipeline.DataFormat;
import ssdspark.udf.JobSpec.Pooling;
import ssdspark.udf.JobSpec.Task;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The command line of {@code bin/ssdspark score|embed}: {@code --flag value} or {@code --flag=value}.
 * Parsing only checks the flags themselves; {@link Preflight} checks the files they name.
 */
public final class JobOptions {
    public static final int DEFAULT_CHUNK_TOKENS = 2048;
    public static final String EXAMPLE_MODEL = "examples/tiny-mamba2";
    public static final String EXAMPLE_INPUT = "examples/corpus-tokens.jsonl";

    public final boolean help;
    public final Task task;
    public final String model, input, output;
    /** Null: infer from the input's name or files. */
    public final DataFormat format;
    public final DataFormat outputFormat;
    public final String idCol, tokensCol;
    public final boolean perToken, overwrite;
    public final int chunkTokens;
    /** Negative: no BOS. */
    public final int bosId;
    public final Pooling pooling;
    public final String device;
    /** Null: spark-submit's master, else local[*]. */
    public final String master;
    /** KEY=VALUE pairs for the Spark session, in order. */
    public final List<String[]> conf;
    /** True when --model and --input were left out and the bundled example is used. */
    public final boolean example;

    private JobOptions(Builder b) {
        help = b.help;
        task = b.task;
        model = b.model;
        input = b.input;
        output = b.output;
        format = b.format;
        outputFormat = b.outputFormat;
        idCol = b.idCol;
        tokensCol = b.tokensCol;
        perToken = b.perToken;
        overwrite = b.overwrite;
        chunkTokens = b.chunkTokens;
        bosId = b.bosId;
        pooling = b.pooling;
        device = b.device;
        master = b.master;
        conf = List.copyOf(b.conf);
        example = b.example;
    }

    public static String usage(String prog) {
        return String.join("\n",
                "Usage: " + prog + " score|embed [flags]",
                "",
                "Scores (log-probs, perplexity) or embeds pre-tokenized documents with a Mamba-2 model on Spark.",
                "Every input row gives one output row; rows the model cannot take get a message in 'error'.",
                "With neither --model nor --input it runs the bundled example (" + EXAMPLE_MODEL + " on " + EXAMPLE_INPUT + ").",
                "",
                "Flags (default in brackets):",
                "  --model DIR             model folder: config.json + model.safetensors        [" + EXAMPLE_MODEL + "]",
                "  --input PATH            corpus file or folder, JSON lines or Parquet        [" + EXAMPLE_INPUT + "]",
                "  --format json|parquet   input format                                        [from the input's name or files]",
                "  --id-col NAME           document id column, any type; output as 'id'        [id]",
                "  --tokens-col NAME       token id column, array<int> or array<bigint>        [tokens]",
                "  --output DIR            output folder                                       [out/score or out/embed]",
                "  --output-format F       parquet (zstd) or json (JSON lines)                 [parquet]",
                "  --overwrite             replace the output folder of an earlier run         [off]",
                "  --chunk-tokens N        tokens per forward pass; state carried across       [" + DEFAULT_CHUNK_TOKENS + "]",
                "  --per-token             score: add token_logprobs (element i scores token i+1) [off]",
                "  --prepend-bos ID        score: prepend token ID so the first token is scored [none]",
                "  --pooling mean|last     embed: mean of all hidden states, or the last one   [mean]",
                "  --device cpu            engine backend                                      [cpu]",
                "  --master URL            Spark master                                        [spark-submit's, else local[*]]",
                "  --conf KEY=VALUE        extra Spark setting; repeatable                     [none]",
                "  -h, --help              print this help",
                "",
                "Score output: id, num_tokens, num_scored, sum_logprob, mean_nll, perplexity, [token_logprobs,] error",
                "Embed output: id, num_tokens, embedding, error",
                "");
    }

    /**
     * @param home folder holding the bundled examples/ (null: none), used when --model and --input are
     *             both left out
     */
    public static JobOptions parse(String[] args, Path home) {
        Builder b = new Builder();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help") || a.equals("help")) {
                b.help = true;
                return new JobOptions(b);
            }
        }
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("-")) {
                if (b.task != null) throw new UsageException("unexpected argument '" + a + "'; flags start with --");
                b.task = parseTask(a);
                continue;
            }
            String name = a, value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                name = a.substring(0, eq);
                value = a.substring(eq + 1);
            }
            if (!name.equals("--conf") && !seen.add(name)) throw new UsageException(name + " is given twice");
            switch (name) {
                case "--per-token": b.perToken = flag(name, value); break;
                case "--overwrite": b.overwrite = flag(name, value); break;
                default: {
                    if (value == null) {
                        if (i + 1 >= args.length || args[i + 1].startsWith("--"))
                            throw new UsageException(name.startsWith("--") && KNOWN.contains(name)
                                    ? name + " needs a value" : unknown(name));
                        value = args[++i];
                    }
                    set(b, name, value);
                }
            }
        }
        if (b.task == null) throw new UsageException("say what to do: score or embed (e.g. 'ssdspark score --model DIR --input PATH')");
        if (b.task == Task.SCORE && seen.contains("--pooling"))
            throw new UsageException("--pooling is for embed; score has no pooling");
        if (b.task == Task.EMBED && seen.contains("--per-token"))
            throw new UsageException("--per-token is for score; embed returns one vector per document");
        if (b.task == Task.EMBED && seen.contains("--prepend-bos"))
            throw new UsageException("--prepend-bos is for score; embed uses the document's own tokens");
        if ((b.model == null) != (b.input == null))
            throw new UsageException(b.model == null
                    ? "--input is given but --model is not; give both, or neither to run the bundled example"
                    : "--model is given but --input is not; give both, or neither to run the bundled example");
        if (b.model == null) {
            Path m = home == null ? null : home.resolve(EXAMPLE_MODEL), in = home == null ? null : home.resolve(EXAMPLE_INPUT);
            if (m == null || !Files.isDirectory(m) || !Files.isRegularFile(in))
                throw new UsageException("--model DIR and --input PATH are required (the bundled example "
                        + EXAMPLE_MODEL + " + " + EXAMPLE_INPUT + " was not found" + (home == null ? "" : " under " + home) + ")");
            b.model = m.toString();
            b.input = in.toString();
            b.example = true;
        }
        if (b.output == null) b.output = "out/" + b.task.cliName();
        return new JobOptions(b);
    }

    private static final Set<String> KNOWN = Set.of("--model", "--input", "--format", "--id-col", "--tokens-col", "--output",
            "--output-format", "--chunk-tokens", "--prepend-bos", "--pooling", "--device", "--master", "--conf");

    private static void set(Builder b, String name, String v) {
        switch (name) {
            case "--model": b.model = nonBlank(name, v); break;
            case "--input": b.input = nonBlank(name, v); break;
            case "--output": b.output = nonBlank(name, v); break;
            case "--format": b.format = format(name, v); break;
            case "--output-format": b.outputFormat = format(name, v); break;
            case "--id-col": b.idCol = nonBlank(name, v); break;
            case "--tokens-col": b.tokensCol = nonBlank(name, v); break;
            case "--chunk-tokens": {
                b.chunkTokens = integer(name, v);
                if (b.chunkTokens < 1) throw new UsageException("--chunk-tokens must be at least 1, got " + v);
                break;
            }
            case "--prepend-bos": {
                b.bosId = integer(name, v);
                if (b.bosId < 0) throw new UsageException("--prepend-bos must be a token id >= 0, got " + v);
                break;
            }
            case "--pooling": {
                try {
                    b.pooling = Pooling.parse(v.trim());
                } catch (IllegalArgumentException e) {
                    throw new UsageException("--pooling must be mean or last, got '" + v + "'");
                }
                break;
            }
            case "--device": {
                b.device = nonBlank(name, v).trim();
                if (!b.device.equalsIgnoreCase("cpu"))
                    throw new UsageException("--device " + v + " is not available in this build; use --device cpu");
                b.device = "cpu";
                break;
            }
            case "--master": b.master = nonBlank(name, v); break;
            case "--conf": {
                int eq = v.indexOf('=');
                if (eq <= 0) throw new UsageException("--conf expects KEY=VALUE, got '" + v + "'");
                b.conf.add(new String[] {v.substring(0, eq).trim(), v.substring(eq + 1)});
                break;
            }
            default: throw new UsageException(unknown(name));
        }
    }

    private static String unknown(String name) {
        return "unknown flag " + name + "; run with --help for the list";
    }

    private static Task parseTask(String s) {
        for (Task t : Task.values()) if (t.cliName().equals(s)) return t;
        throw new UsageException("unknown command '" + s + "'; use score or embed");
    }

    private static boolean flag(String name, String value) {
        if (value != null) throw new UsageException(name + " takes no value; drop '=" + value + "'");
        return true;
    }

    private static String nonBlank(String name, String v) {
        if (v.isBlank()) throw new UsageException(name + " needs a non-empty value");
        return v;
    }

    private static int integer(String name, String v) {
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException(name + " expects an integer, got '" + v + "'");
        }
    }

    private static DataFormat format(String name, String v) {
        try {
            return DataFormat.parse(v);
        } catch (IllegalArgumentException e) {
            throw new UsageException(name + " must be json or parquet, got '" + v + "'");
        }
    }

    private static final class Builder {
        boolean help, perToken, overwrite, example;
        Task task;
        String model, input, output, idCol = "id", tokensCol = "tokens", device = "cpu", master;
        DataFormat format, outputFormat = DataFormat.PARQUET;
        int chunkTokens = DEFAULT_CHUNK_TOKENS, bosId = -1;
        Pooling pooling = Pooling.MEAN;
        final List<String[]> conf = new ArrayList<>();
    }
}
