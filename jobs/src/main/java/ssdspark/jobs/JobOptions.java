package ssdspark.jobs;

import ssdspark.pipeline.DataFormat;
import ssdspark.pipeline.DocumentPipeline;
import ssdspark.pipeline.text.TextInputOptions;
import ssdspark.udf.JobSpec;
import ssdspark.udf.JobSpec.Pooling;
import ssdspark.udf.JobSpec.Task;
import ssdspark.udf.ModelCache;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The command line of {@code bin/ssdspark score|embed}: {@code --flag value} or {@code --flag=value}.
 * Parsing only checks the flags themselves; {@link Preflight} checks the files they name.
 */
public final class JobOptions {
    public static final int DEFAULT_CHUNK_TOKENS = 2048;
    public static final int DEFAULT_PROGRESS_SECONDS = 5;
    public static final String EXAMPLES = "examples";
    public static final String EXAMPLE_MODEL = "examples/tiny-mamba2";
    public static final String EXAMPLE_INPUT = "examples/corpus-tokens.jsonl";
    public static final String EXAMPLE_TEXT = "examples/corpus-text";
    public static final String EXAMPLE_TOKENIZER = "examples/tiny-tokenizer.json";

    public final boolean help;
    public final Task task;
    public final String model, input, output;
    /** Null: infer from the input's name or files. */
    public final TextInputOptions.Format format;
    public final DataFormat outputFormat;
    /** tokensCol is for pre-tokenized input, textCol for text input (JSON lines or Parquet). */
    public final String idCol, tokensCol, textCol;
    /** Null: the input is pre-tokenized (unless it is the bundled text example, see {@link Preflight}). */
    public final String tokenizer;
    public final TextInputOptions.Unit docPer;
    public final boolean skipBlankLines, specialTokens;
    public final boolean perToken, overwrite;
    public final int chunkTokens, tokenBudget, maxBatchDocs, prefetch;
    /** Negative: no BOS, or a token name in bosToken to be looked up in the tokenizer. */
    public final int bosId;
    /** --prepend-bos given as an added token of the tokenizer (e.g. "<|endoftext|>"), else null. */
    public final String bosToken;
    public final Pooling pooling;
    public final String device, precision;
    public final List<String> partitionBy, keepCols;
    public final int progressSeconds;
    /** Null: spark-submit's master, else local[*]. */
    public final String master;
    /** KEY=VALUE pairs for the Spark session, in order. */
    public final List<String[]> conf;
    /** True when --model and --input were left out and the bundled example is used. */
    public final boolean example;
    /** True when --model was left out because the input is one of the bundled examples. */
    public final boolean exampleModel;
    /** Folder holding examples/ (null: none). */
    public final Path home;
    /** Every flag given, by name, with its value ("" for switches), in order: for the output metadata. */
    public final Map<String, String> given;

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
        textCol = b.textCol;
        tokenizer = b.tokenizer;
        docPer = b.docPer;
        skipBlankLines = b.skipBlankLines;
        specialTokens = b.specialTokens;
        perToken = b.perToken;
        overwrite = b.overwrite;
        chunkTokens = b.chunkTokens;
        tokenBudget = b.tokenBudget;
        maxBatchDocs = b.maxBatchDocs;
        prefetch = b.prefetch;
        bosId = b.bosId;
        bosToken = b.bosToken;
        pooling = b.pooling;
        device = b.device;
        precision = b.precision;
        partitionBy = List.copyOf(b.partitionBy);
        keepCols = List.copyOf(b.keepCols);
        progressSeconds = b.progressSeconds;
        master = b.master;
        conf = List.copyOf(b.conf);
        example = b.example;
        exampleModel = b.exampleModel;
        home = b.home;
        given = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(b.given));
    }

    public static String usage(String prog) {
        return String.join("\n",
                "Usage: " + prog + " score|embed [flags]",
                "",
                "Scores (log-probs, perplexity) or embeds documents with a Mamba-2 model on Spark: text (tokenized on the",
                "executors with a Hugging Face tokenizer.json) or token ids, from Parquet, JSON lines or plain-text files, to",
                "Parquet (zstd) or JSON lines. Every input row gives one output row, in input order within each partition;",
                "rows the model cannot take get a message in 'error'.",
                "With neither --model nor --input it runs the bundled example (" + EXAMPLE_MODEL + " on " + EXAMPLE_INPUT + ");",
                "with an --input under " + EXAMPLES + "/ the example model and tokenizer are the defaults.",
                "",
                "Input (default in brackets):",
                "  --model DIR             model folder: config.json + model.safetensors        [" + EXAMPLE_MODEL + "]",
                "  --input PATH            corpus file, folder or glob (any Hadoop file system) [" + EXAMPLE_INPUT + "]",
                "  --format F              json, parquet or text (plain-text files)            [from the input's name or files]",
                "  --id-col NAME           document id column, any type; output as 'id'        [id]",
                "  --tokens-col NAME       pre-tokenized input: array<int> or array<bigint>    [tokens]",
                "  --tokenizer PATH        text input: Hugging Face tokenizer.json (or its folder), local or Hadoop path [none: pre-tokenized]",
                "  --text-col NAME         text input: the string column of JSON/Parquet input [text]",
                "  --doc-per file|line     plain text: a document per file (id = path) or per line (id = path:line) [file]",
                "  --skip-blank-lines      plain text per line: drop blank lines (line numbers still count them) [off]",
                "  --special-tokens        text input: let the tokenizer add its special tokens (template BOS/EOS) [off]",
                "",
                "Model and batching:",
                "  --device cpu|gpu|auto   engine: pure-Java CPU, CUDA GPU (fails without one), or the GPU when usable [auto]",
                "  --precision P           GPU matrices: bf16, fp16 or fp32                    [" + JobSpec.DEFAULT_PRECISION + "]",
                "  --chunk-tokens N        longest piece of a document per forward pass; state carried across [" + DEFAULT_CHUNK_TOKENS + "]",
                "  --token-budget N        tokens per engine batch (documents packed back to back) [" + JobSpec.DEFAULT_TOKEN_BUDGET + "]",
                "  --max-batch-docs N      documents per engine batch at most                  [" + JobSpec.DEFAULT_MAX_BATCH_DOCS + "]",
                "  --prefetch N            batches read and tokenized ahead of the engine; 0 = none [" + DocumentPipeline.DEFAULT_PREFETCH + "]",
                "  --per-token             score: add token_logprobs (element i scores token i+1) [off]",
                "  --prepend-bos ID|TOKEN  score: prepend this token so the first token is scored too;",
                "                          an id, or with --tokenizer an added token such as '<|endoftext|>' [none]",
                "  --pooling mean|last     embed: mean of all hidden states, or the last one   [mean]",
                "",
                "Output:",
                "  --output DIR            output folder                                       [out/score or out/embed]",
                "  --output-format F       parquet (zstd, job metadata in the footers) or json (JSON lines) [parquet]",
                "  --partition-by COL[,COL] write COL=value/ folders; COL is an input column, carried to the output [none]",
                "  --keep-cols COL[,COL]   input columns copied to the output unchanged        [none]",
                "  --overwrite             replace the output folder of an earlier run         [off]",
                "",
                "Spark and reporting:",
                "  --master URL            Spark master               [spark-submit's, else local[*] (local[" + Main.LOCAL_GPU_SLOTS + "] with a GPU)]",
                "  --conf KEY=VALUE        extra Spark setting; repeatable                     [none]",
                "  --progress SECONDS      progress line every SECONDS; 0 = only the summary   [" + DEFAULT_PROGRESS_SECONDS + "]",
                "  -h, --help              print this help",
                "",
                "Score output: id, num_tokens, num_scored, sum_logprob, mean_nll, perplexity, [token_logprobs,] error, [kept columns]",
                "Embed output: id, num_tokens, embedding, error, [kept columns]",
                "Exit status: 0 done; 2 a flag, file or column to fix (the message names it); 1 any other failure.",
                "");
    }

    /**
     * @param home folder holding the bundled examples/ (null: none), used when --model and --input are
     *             both left out, or --model is left out for an input under examples/
     */
    public static JobOptions parse(String[] args, Path home) {
        Builder b = new Builder();
        b.home = home;
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help") || a.equals("help")) {
                b.help = true;
                return new JobOptions(b);
            }
            if (KNOWN.contains(a) && i + 1 < args.length && !args[i + 1].startsWith("--")) i++; // a value, e.g. --id-col help
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
            if (SWITCHES.contains(name)) {
                flag(name, value);
                setSwitch(b, name);
                b.given.put(name, "");
                continue;
            }
            if (value == null) {
                if (i + 1 >= args.length || args[i + 1].startsWith("--"))
                    throw new UsageException(name.startsWith("--") && KNOWN.contains(name) ? name + " needs a value" : unknown(name));
                value = args[++i];
            }
            set(b, name, value);
            if (!name.equals("--conf")) b.given.put(name, value);
        }
        if (b.task == null) throw new UsageException("say what to do: score or embed (e.g. 'ssdspark score --model DIR --input PATH')");
        checkCombinations(b, seen);
        if (b.model == null) {
            if (b.input == null) {
                Path m = home == null ? null : home.resolve(EXAMPLE_MODEL), in = home == null ? null : home.resolve(EXAMPLE_INPUT);
                if (m == null || !Files.isDirectory(m) || !Files.isRegularFile(in))
                    throw new UsageException("--model DIR and --input PATH are required (the bundled example "
                            + EXAMPLE_MODEL + " + " + EXAMPLE_INPUT + " was not found" + (home == null ? "" : " under " + home) + ")");
                b.model = m.toString();
                b.input = in.toString();
                b.example = true;
            } else if (isExample(home, b.input)) {
                b.model = home.resolve(EXAMPLE_MODEL).toString();
                b.exampleModel = true;
            } else {
                throw new UsageException("--input is given but --model is not; give both, or neither to run the bundled example");
            }
        } else if (b.input == null) {
            throw new UsageException("--model is given but --input is not; give both, or neither to run the bundled example");
        }
        if (b.output == null) b.output = "out/" + b.task.cliName();
        return new JobOptions(b);
    }

    /** Whether path is a local path inside home/examples (the bundled inputs). */
    static boolean isExample(Path home, String path) {
        if (home == null || path == null || path.matches("^[A-Za-z][A-Za-z0-9+.-]*:.*")) return false;
        try {
            Path p = Path.of(path).toAbsolutePath().normalize(), ex = home.resolve(EXAMPLES).toAbsolutePath().normalize();
            return p.startsWith(ex) && Files.isDirectory(home.resolve(EXAMPLE_MODEL));
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static void checkCombinations(Builder b, Set<String> seen) {
        if (b.task == Task.SCORE && seen.contains("--pooling"))
            throw new UsageException("--pooling is for embed; score has no pooling");
        if (b.task == Task.EMBED && seen.contains("--per-token"))
            throw new UsageException("--per-token is for score; embed returns one vector per document");
        if (b.task == Task.EMBED && seen.contains("--prepend-bos"))
            throw new UsageException("--prepend-bos is for score; embed uses the document's own tokens");
        boolean text = b.tokenizer != null;
        if (text && seen.contains("--tokens-col"))
            throw new UsageException("--tokens-col is for pre-tokenized input and --tokenizer for text input; give one of them");
        if (!text && seen.contains("--text-col"))
            throw new UsageException("--text-col names the text of text input: add --tokenizer PATH (a Hugging Face tokenizer.json)");
        if (!text && seen.contains("--special-tokens"))
            throw new UsageException("--special-tokens is for text input: add --tokenizer PATH");
        if (b.bosToken != null && !text)
            throw new UsageException("--prepend-bos " + b.bosToken + " is not a token id; a token name needs --tokenizer to look it up");
        if (b.format != null && b.format != TextInputOptions.Format.TEXT && (seen.contains("--doc-per") || seen.contains("--skip-blank-lines")))
            throw new UsageException((seen.contains("--doc-per") ? "--doc-per" : "--skip-blank-lines")
                    + " is for plain-text input (--format text); JSON and Parquet have a row per document");
        if (seen.contains("--skip-blank-lines") && b.docPer != TextInputOptions.Unit.LINE)
            throw new UsageException("--skip-blank-lines needs --doc-per line");
        if (seen.contains("--precision") && ModelCache.CPU.equals(b.device))
            throw new UsageException("--precision is for the GPU engine; the CPU engine is float32 throughout: drop it or use --device gpu|auto");
    }

    private static final Set<String> SWITCHES = Set.of("--per-token", "--overwrite", "--skip-blank-lines", "--special-tokens");

    private static final Set<String> KNOWN = Set.of("--model", "--input", "--format", "--id-col", "--tokens-col", "--text-col",
            "--tokenizer", "--doc-per", "--output", "--output-format", "--chunk-tokens", "--token-budget", "--max-batch-docs",
            "--prefetch", "--prepend-bos", "--pooling", "--device", "--precision", "--partition-by", "--keep-cols",
            "--progress", "--master", "--conf");

    private static void setSwitch(Builder b, String name) {
        switch (name) {
            case "--per-token": b.perToken = true; break;
            case "--overwrite": b.overwrite = true; break;
            case "--skip-blank-lines": b.skipBlankLines = true; break;
            case "--special-tokens": b.specialTokens = true; break;
            default: throw new UsageException(unknown(name));
        }
    }

    private static void set(Builder b, String name, String v) {
        switch (name) {
            case "--model": b.model = nonBlank(name, v); break;
            case "--input": b.input = nonBlank(name, v); break;
            case "--output": b.output = nonBlank(name, v); break;
            case "--format": {
                try {
                    b.format = TextInputOptions.Format.parse(v);
                } catch (IllegalArgumentException e) {
                    throw new UsageException("--format must be json, parquet or text, got '" + v + "'");
                }
                break;
            }
            case "--output-format": {
                try {
                    b.outputFormat = DataFormat.parse(v);
                } catch (IllegalArgumentException e) {
                    throw new UsageException("--output-format must be json or parquet, got '" + v + "'");
                }
                break;
            }
            case "--id-col": b.idCol = nonBlank(name, v); break;
            case "--tokens-col": b.tokensCol = nonBlank(name, v); break;
            case "--text-col": b.textCol = nonBlank(name, v); break;
            case "--tokenizer": b.tokenizer = nonBlank(name, v); break;
            case "--doc-per": {
                try {
                    b.docPer = TextInputOptions.Unit.parse(v);
                } catch (IllegalArgumentException e) {
                    throw new UsageException(e.getMessage());
                }
                break;
            }
            case "--chunk-tokens": b.chunkTokens = atLeast(name, v, 1); break;
            case "--token-budget": b.tokenBudget = atLeast(name, v, 1); break;
            case "--max-batch-docs": b.maxBatchDocs = atLeast(name, v, 1); break;
            case "--prefetch": b.prefetch = atLeast(name, v, 0); break;
            case "--progress": b.progressSeconds = atLeast(name, v, 0); break;
            case "--prepend-bos": {
                String t = v.trim();
                if (t.matches("[+-]?\\d+")) {
                    b.bosId = integer(name, t);
                    if (b.bosId < 0) throw new UsageException("--prepend-bos must be a token id >= 0, got " + v);
                } else {
                    b.bosToken = nonBlank(name, v);
                }
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
                try {
                    b.device = ModelCache.checkDevice(v);
                } catch (IllegalArgumentException e) {
                    throw new UsageException(e.getMessage());
                }
                break;
            }
            case "--precision": {
                try {
                    b.precision = ModelCache.checkPrecision(v);
                } catch (IllegalArgumentException e) {
                    throw new UsageException("--precision must be bf16, fp16 or fp32, got '" + v + "'");
                }
                break;
            }
            case "--partition-by": b.partitionBy.addAll(columns(name, v)); break;
            case "--keep-cols": b.keepCols.addAll(columns(name, v)); break;
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

    private static List<String> columns(String name, String v) {
        List<String> out = new ArrayList<>();
        for (String c : v.split(",")) {
            if (c.isBlank()) throw new UsageException(name + " expects column names separated by commas, got '" + v + "'");
            out.add(c.trim());
        }
        return out;
    }

    private static String unknown(String name) {
        return "unknown flag " + name + "; run with --help for the list";
    }

    private static Task parseTask(String s) {
        for (Task t : Task.values()) if (t.cliName().equals(s)) return t;
        throw new UsageException("unknown command '" + s + "'; use score or embed");
    }

    private static void flag(String name, String value) {
        if (value != null) throw new UsageException(name + " takes no value; drop '=" + value + "'");
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

    private static int atLeast(String name, String v, int min) {
        int n = integer(name, v);
        if (n < min) throw new UsageException(name + " must be at least " + min + ", got " + v);
        return n;
    }

    /** The job's settings with defaults filled in, by flag name: what the output metadata records. */
    Map<String, String> effective() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("task", task.cliName());
        m.put("--model", model);
        m.put("--input", input);
        if (format != null) m.put("--format", format.name().toLowerCase(java.util.Locale.ROOT));
        m.put("--id-col", idCol);
        if (tokenizer != null) {
            m.put("--tokenizer", tokenizer);
            m.put("--text-col", textCol);
            m.put("--doc-per", docPer.name().toLowerCase(java.util.Locale.ROOT));
            m.put("--skip-blank-lines", Boolean.toString(skipBlankLines));
            m.put("--special-tokens", Boolean.toString(specialTokens));
        } else {
            m.put("--tokens-col", tokensCol);
        }
        m.put("--device", device);
        m.put("--precision", precision);
        m.put("--chunk-tokens", Integer.toString(chunkTokens));
        m.put("--token-budget", Integer.toString(tokenBudget));
        m.put("--max-batch-docs", Integer.toString(maxBatchDocs));
        m.put("--prefetch", Integer.toString(prefetch));
        if (task == Task.SCORE) {
            m.put("--per-token", Boolean.toString(perToken));
            m.put("--prepend-bos", bosToken != null ? bosToken : bosId >= 0 ? Integer.toString(bosId) : "none");
        } else {
            m.put("--pooling", pooling.cliName());
        }
        m.put("--output", output);
        m.put("--output-format", outputFormat.sparkName());
        if (!partitionBy.isEmpty()) m.put("--partition-by", String.join(",", partitionBy));
        if (!keepCols.isEmpty()) m.put("--keep-cols", String.join(",", keepCols));
        return m;
    }

    private static final class Builder {
        boolean help, perToken, overwrite, example, exampleModel, skipBlankLines, specialTokens;
        Task task;
        String model, input, output, idCol = "id", tokensCol = "tokens", textCol = "text", tokenizer, bosToken, master;
        String device = ModelCache.AUTO, precision = JobSpec.DEFAULT_PRECISION;
        TextInputOptions.Format format;
        TextInputOptions.Unit docPer = TextInputOptions.Unit.FILE;
        DataFormat outputFormat = DataFormat.PARQUET;
        int chunkTokens = DEFAULT_CHUNK_TOKENS, bosId = -1, tokenBudget = JobSpec.DEFAULT_TOKEN_BUDGET,
                maxBatchDocs = JobSpec.DEFAULT_MAX_BATCH_DOCS, prefetch = DocumentPipeline.DEFAULT_PREFETCH,
                progressSeconds = DEFAULT_PROGRESS_SECONDS;
        Pooling pooling = Pooling.MEAN;
        final List<String> partitionBy = new ArrayList<>(), keepCols = new ArrayList<>();
        final List<String[]> conf = new ArrayList<>();
        final Map<String, String> given = new LinkedHashMap<>();
        Path home;
    }
}
