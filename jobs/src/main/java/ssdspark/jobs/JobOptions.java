package ssdspark.jobs;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.TypeConversionException;
import ssdspark.model.DocumentRunner;
import ssdspark.pipeline.DataFormat;
import ssdspark.pipeline.DocumentPipeline;
import ssdspark.pipeline.OnError;
import ssdspark.pipeline.text.TextInputOptions;
import ssdspark.udf.JobSpec;
import ssdspark.udf.JobSpec.Pooling;
import ssdspark.udf.JobSpec.Task;
import ssdspark.udf.ModelCache;
import ssdspark.udf.SpanMode;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The command line of {@code bin/ssdspark score|embed}: {@code --flag value} or {@code --flag=value}.
 *
 * <p>Every flag is one annotated field below: picocli parses it, checks and converts its value, and
 * prints it in {@code --help} with its default; {@link Recorded} says whether and when the output
 * metadata records it ({@link #provenance}). To add a flag, add a field here (in the section of
 * {@code --help} it belongs to) and a row to README's flag table; {@code JobOptionsTest} checks that the
 * two agree. Parsing only checks the flags themselves; {@link Preflight} checks the files they name.
 */
@Command(name = "ssdspark", usageHelpWidth = 120, sortOptions = false,
        customSynopsis = "${COMMAND-NAME} score|embed [flags]",
        description = {
                "",
                "Scores (log-probs, perplexity) or embeds documents with a Mamba-2 model on Spark: text (tokenized on the"
                        + " executors with a Hugging Face tokenizer.json) or token ids, from Parquet, JSON lines or plain-text files, to"
                        + " Parquet (zstd) or JSON lines. Every input row gives one output row, in input order within each partition;"
                        + " rows the model cannot take get a message in 'error'.",
                "With neither --model nor --input it runs the bundled example (" + JobOptions.EXAMPLE_MODEL + " on "
                        + JobOptions.EXAMPLE_INPUT + ", reported by " + JobOptions.EXAMPLE_REPORT_BY + "); with an --input under "
                        + JobOptions.EXAMPLES + "/ the example model and tokenizer are the defaults.",
                "", "Flags (default in brackets):"},
        footer = {
                "",
                "Score output: id, num_tokens, num_scored, sum_logprob, mean_nll, perplexity, [num_bytes, bits_per_byte (text input),]"
                        + " [token_logprobs,] [spans,] error, [kept columns]",
                "Embed output: id, num_tokens, embedding, error, [kept columns]",
                "Exit status: 0 done; 2 a flag, file or column to fix (the message names it); 1 any other failure."})
public final class JobOptions {
    public static final String EXAMPLES = "examples";
    /** The trained demo model (tools/demo), its tokenizer, and the mixed corpus the bundled example scores. */
    public static final String EXAMPLE_MODEL = "examples/demo-mamba2";
    public static final String EXAMPLE_INPUT = "examples/demo-corpus.jsonl";
    public static final String EXAMPLE_TEXT = "examples/corpus-text";
    public static final String EXAMPLE_TOKENIZER = "examples/demo-mamba2/tokenizer.json";
    /** The column of {@link #EXAMPLE_INPUT} that the bundled example reports perplexity by. */
    public static final String EXAMPLE_REPORT_BY = "kind";

    /** Which runs the output metadata records a flag for; flags without it (how to run, not what) are not recorded. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.FIELD)
    @interface Recorded {
        When value() default When.ALWAYS;
    }

    enum When { ALWAYS, SCORE, EMBED, TEXT, TOKENS }

    // ---- Input ----
    @Recorded
    @Option(names = "--model", paramLabel = "DIR", converter = NonBlank.class,
            description = "model folder: config.json + model.safetensors (or shards / pytorch_model.bin)"
                    + " [" + EXAMPLE_MODEL + " (when --input is left out or under " + EXAMPLES + "/)]")
    String model;

    @Recorded
    @Option(names = "--input", paramLabel = "PATH", converter = NonBlank.class,
            description = "corpus file, folder or glob, any Hadoop file system [" + EXAMPLE_INPUT + "]")
    String input;

    /** Null: infer from the input's name or files. */
    @Recorded
    @Option(names = "--format", paramLabel = "json|parquet|text", converter = InputFormat.class,
            description = "input format (text: plain-text files) [from the name (.jsonl/.parquet/.txt) or the files in the folder]")
    TextInputOptions.Format format;

    @Recorded
    @Option(names = "--id-col", paramLabel = "NAME", converter = NonBlank.class, defaultValue = "id",
            description = "document id column, any type; written as id [${DEFAULT-VALUE}]")
    String idCol;

    /** The token column of pre-tokenized input. */
    @Recorded(When.TOKENS)
    @Option(names = "--tokens-col", paramLabel = "NAME", converter = NonBlank.class, defaultValue = "tokens",
            description = "pre-tokenized input: array<int> or array<bigint> [${DEFAULT-VALUE}]")
    String tokensCol;

    /** Null: the input is pre-tokenized (unless it is the bundled text example, see {@link Preflight}). */
    @Recorded(When.TEXT)
    @Option(names = "--tokenizer", paramLabel = "PATH", converter = NonBlank.class,
            description = "text input: HF tokenizer.json (or its folder), local or Hadoop path [none (pre-tokenized)]")
    String tokenizer;

    /** The text column of text input (JSON lines or Parquet). */
    @Recorded(When.TEXT)
    @Option(names = "--text-col", paramLabel = "NAME", converter = NonBlank.class, defaultValue = "text",
            description = "text input: string column of JSON/Parquet [${DEFAULT-VALUE}]")
    String textCol;

    @Recorded(When.TEXT)
    @Option(names = "--doc-per", paramLabel = "file|line", converter = DocPer.class, defaultValue = "file",
            description = "plain text: a document per file (id = path) or per line (id = path:line) [${DEFAULT-VALUE}]")
    TextInputOptions.Unit docPer;

    @Recorded(When.TEXT)
    @Option(names = "--skip-blank-lines",
            description = "plain text per line: drop blank lines (line numbers still count them) [off]")
    boolean skipBlankLines;

    @Recorded(When.TEXT)
    @Option(names = "--strict-utf8", description = "plain text: a document with invalid UTF-8 is an error row naming the first bad byte,"
            + " instead of being scored with U+FFFD in place of each bad sequence (counted in the summary) [off]")
    boolean strictUtf8;

    @Recorded(When.TEXT)
    @Option(names = "--special-tokens", description = "let the tokenizer add its template's special tokens [off]")
    boolean specialTokens;

    @Recorded(When.TEXT)
    @Option(names = "--tokenizer-threads", paramLabel = "N", converter = NonNegative.class, defaultValue = "0",
            description = "text input: threads per task that tokenize (documents stay in input order); 0 = spark.task.cpus,"
                    + " in local mode the machine's cores over the task slots [${DEFAULT-VALUE}]")
    int tokenizerThreads;

    // ---- Model and batching ----
    @Recorded
    @Option(names = "--device", paramLabel = "cpu|gpu|auto", converter = Device.class, defaultValue = ModelCache.AUTO,
            description = "CPU engine, CUDA engine (fails without a GPU), or the GPU when usable [${DEFAULT-VALUE}]")
    String device;

    @Recorded
    @Option(names = "--precision", paramLabel = "bf16|fp16|fp32", converter = GpuPrecision.class,
            defaultValue = JobSpec.DEFAULT_PRECISION, description = "GPU matrix precision [${DEFAULT-VALUE}]")
    String precision;

    @Recorded
    @Option(names = "--chunk-tokens", paramLabel = "N", converter = Positive.class, defaultValue = "" + JobSpec.DEFAULT_CHUNK_TOKENS,
            description = "longest piece of a document per forward pass; the recurrent state is carried across pieces,"
                    + " so results do not depend on N [${DEFAULT-VALUE}]")
    int chunkTokens;

    @Recorded
    @Option(names = "--token-budget", paramLabel = "N", converter = Positive.class, defaultValue = "" + JobSpec.DEFAULT_TOKEN_BUDGET,
            description = "tokens per engine batch (documents packed back to back) [${DEFAULT-VALUE}]")
    int tokenBudget;

    @Recorded
    @Option(names = "--max-batch-docs", paramLabel = "N", converter = Positive.class, defaultValue = "" + JobSpec.DEFAULT_MAX_BATCH_DOCS,
            description = "documents per batch at most [${DEFAULT-VALUE}]")
    int maxBatchDocs;

    @Recorded
    @Option(names = "--max-attention-tokens", paramLabel = "N", converter = Positive.class,
            defaultValue = "" + DocumentRunner.DEFAULT_MAX_ATTENTION_TOKENS,
            description = "hybrid models (attention layers): longer documents get an error row, and documents in flight"
                    + " keep at most N tokens of KV cache together [${DEFAULT-VALUE}]")
    int maxAttentionTokens;

    @Recorded
    @Option(names = "--prefetch", paramLabel = "N", converter = NonNegative.class, defaultValue = "" + DocumentPipeline.DEFAULT_PREFETCH,
            description = "batches read and tokenized ahead of the engine; 0 = none [${DEFAULT-VALUE}]")
    int prefetch;

    @Recorded(When.SCORE)
    @Option(names = "--per-token", description = "score: add token_logprobs [off]")
    boolean perToken;

    /** Null: no spans column. */
    @Recorded(When.SCORE)
    @Option(names = "--spans", paramLabel = "KIND", converter = Spans.class,
            description = "score: add spans, the scores of each line, paragraph or sentence of text input (offsets in code"
                    + " points), or of each tokens:N window of pre-tokenized input [none]")
    SpanMode spans;

    /** A token id ("0") or, with --tokenizer, an added token ("<|endoftext|>"); null: no BOS. */
    @Recorded(When.SCORE)
    @Option(names = "--prepend-bos", paramLabel = "ID|TOKEN", converter = Bos.class,
            description = "score: prepend this token so the first token is scored too; with --tokenizer also an added"
                    + " token such as '<|endoftext|>' [none]")
    String prependBos;

    @Recorded(When.EMBED)
    @Option(names = "--pooling", paramLabel = "mean|last", converter = PoolingName.class, defaultValue = "mean",
            description = "embed: mean of all final hidden states, or the last one [${DEFAULT-VALUE}]")
    Pooling pooling;

    // ---- Output ----
    @Recorded
    @Option(names = "--output", paramLabel = "DIR", converter = NonBlank.class, description = "output folder [out/score / out/embed]")
    String output;

    @Recorded
    @Option(names = "--output-format", paramLabel = "parquet|json", converter = OutputFormat.class, defaultValue = "parquet",
            description = "Parquet (zstd, job metadata in the footers) or JSON lines [${DEFAULT-VALUE}]")
    DataFormat outputFormat;

    @Recorded
    @Option(names = "--partition-by", paramLabel = "COL", split = ",", converter = Column.class,
            description = "write COL=value/ folders; COL is an input column, copied to the output [none]")
    List<String> partitionBy = new ArrayList<>();

    @Recorded
    @Option(names = "--keep-cols", paramLabel = "COL", split = ",", converter = Column.class,
            description = "input columns copied to the output unchanged [none]")
    List<String> keepCols = new ArrayList<>();

    @Option(names = "--overwrite", description = "replace the output folder of an earlier run [off]")
    boolean overwrite;

    @Option(names = "--resume", description = "continue a run that did not finish into --output: write only its missing parts"
            + " (refused when the input files or settings changed); without an --output folder, start one [off]")
    boolean resume;

    @Recorded
    @Option(names = "--on-error", paramLabel = "record|skip|fail", converter = OnErrorName.class, defaultValue = "record",
            description = "a row the model cannot take: an error row (record), no row (skip), or stop the job (fail) [${DEFAULT-VALUE}]")
    OnError onError;

    @Recorded
    @Option(names = "--max-error-rate", paramLabel = "R", converter = Rate.class, defaultValue = "1",
            description = "exit 1 after writing when more than this fraction of rows are errors (e.g. a wrong tokenizer) [${DEFAULT-VALUE}]")
    double maxErrorRate;

    // ---- Spark and reporting ----
    /** Null: spark-submit's master, else local[*]. */
    @Option(names = "--master", paramLabel = "URL", converter = NonBlank.class,
            description = "Spark master [spark-submit's, else local[*] (local[" + Main.LOCAL_GPU_SLOTS + "] with a GPU)]")
    String master;

    /** Extra Spark settings, in order. */
    @Option(names = "--conf", paramLabel = "KEY=VALUE", converter = SparkSetting.class,
            description = "extra Spark setting, repeatable [none]")
    List<Setting> conf = new ArrayList<>();

    @Option(names = "--progress", paramLabel = "S", converter = NonNegative.class, defaultValue = "5",
            description = "progress line every S seconds; 0 = only the summary [${DEFAULT-VALUE}]")
    int progressSeconds;

    /** An input column (copied to the output) whose values the end-of-job report groups by; null: no report. */
    @Option(names = "--report-by", paramLabel = "COL", converter = Column.class,
            description = "score: at the end, print documents, errors, tokens and perplexity per value of input column COL"
                    + " (copied to the output) [none; " + EXAMPLE_REPORT_BY + " for the bundled example]")
    String reportBy;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "list the flags")
    boolean help;

    /** The help's section headings, by the first flag of each section (in field order). */
    private static final Map<String, String> SECTIONS = Map.of("--model", "Input", "--device", "Model and batching",
            "--output", "Output", "--master", "Spark and reporting");

    // ---- Not flags: what parse() works out ----
    @Parameters(arity = "0..1", paramLabel = "score|embed", hidden = true)
    private String command;

    Task task;
    /** True when --model and --input were left out and the bundled example is used. */
    boolean example;
    /** True when --model was left out because the input is one of the bundled examples. */
    boolean exampleModel;
    /** Folder holding examples/ (null: none). */
    Path home;
    /** Every flag given except --conf, by name, with its value as typed ("" for switches), in order. */
    Map<String, String> given = Map.of();

    /** One --conf KEY=VALUE. */
    public record Setting(String key, String value) {}

    private JobOptions() {}

    /** The help text, {@code prog} as the command's name. */
    public static String usage(String prog) {
        CommandLine cmd = commandLine(new JobOptions());
        cmd.setCommandName(prog);
        cmd.setSeparator(" "); // shown as "--model DIR"; both "--model DIR" and "--model=DIR" parse
        cmd.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_OPTION_LIST, help -> {
            StringBuilder sb = new StringBuilder();
            CommandLine.Help.Layout layout = help.createDefaultLayout();
            for (OptionSpec o : help.commandSpec().options()) {
                String heading = SECTIONS.get(o.longestName());
                if (heading != null) {
                    sb.append(layout);
                    if (sb.length() > 0) sb.append(System.lineSeparator());
                    sb.append(heading).append(':').append(System.lineSeparator());
                    layout = help.createDefaultLayout();
                }
                layout.addOption(o, help.createDefaultParamLabelRenderer());
            }
            return sb.append(layout).toString();
        });
        return cmd.getUsageMessage(CommandLine.Help.Ansi.OFF);
    }

    /** The picocli command over one options object: the only place its parser settings are made. */
    static CommandLine commandLine(JobOptions target) {
        CommandLine cmd = new CommandLine(target);
        cmd.setUsageHelpLongOptionsMaxWidth(30);             // "--output-format parquet|json" beside its text
        cmd.setExpandAtFiles(false);                          // "@file" is a value like any other
        cmd.setUnmatchedArgumentsAllowed(true);               // reported by parse(), after a --help anywhere
        cmd.setUnmatchedOptionsAllowedAsOptionParameters(false); // "--model --typo": --model needs a value
        return cmd;
    }

    /**
     * @param home folder holding the bundled examples/ (null: none), used when --model and --input are
     *             both left out, or --model is left out for an input under examples/
     */
    public static JobOptions parse(String[] args, Path home) {
        JobOptions o = new JobOptions();
        o.home = home;
        CommandLine cmd = commandLine(o);
        ParseResult r;
        try {
            r = cmd.parseArgs(args);
        } catch (ParameterException e) {
            throw new UsageException(message(e), e);
        }
        List<String> unmatched = r.unmatched();
        o.help = o.help || "help".equals(o.command) || unmatched.contains("help");
        if (o.help) return o;
        for (String a : unmatched)
            if (a.startsWith("-")) throw new UsageException("unknown flag " + a.replaceFirst("=.*", "") + suggestion(cmd, a)
                    + "; run with --help for the list");
        if (o.command == null) throw new UsageException("say what to do: score or embed (e.g. 'ssdspark score --model DIR --input PATH')");
        o.task = parseTask(o.command);
        if (!unmatched.isEmpty()) throw new UsageException("unexpected argument '" + unmatched.get(0) + "'; flags start with --");

        Map<String, String> given = new LinkedHashMap<>();
        for (OptionSpec s : r.matchedOptions())
            if (!s.longestName().equals("--conf"))
                given.put(s.longestName(), s.arity().max() == 0 ? "" : String.join(",", s.originalStringValues()));
        o.given = Collections.unmodifiableMap(given);
        o.partitionBy = List.copyOf(o.partitionBy);
        o.keepCols = List.copyOf(o.keepCols);
        o.conf = List.copyOf(o.conf);
        o.checkCombinations();
        o.defaultModelAndInput();
        if (o.example && o.task == Task.SCORE && o.reportBy == null) o.reportBy = EXAMPLE_REPORT_BY;
        if (o.output == null) o.output = "out/" + o.task.cliName();
        return o;
    }

    /** The BOS token id of --prepend-bos; -1 when none or given by name (see {@link #bosToken()}). */
    int bosId() {
        return prependBos != null && Bos.isId(prependBos) ? Integer.parseInt(prependBos.trim()) : -1;
    }

    /** --prepend-bos given as an added token of the tokenizer (e.g. "<|endoftext|>"), else null. */
    String bosToken() {
        return prependBos != null && !Bos.isId(prependBos) ? prependBos : null;
    }

    /**
     * The job's settings for the output metadata, defaults included: task, then every {@link Recorded} flag that
     * applies to this run by name, unset ones as "none"; {@code resolved} replaces values the preflight worked out
     * (absolute paths, the inferred format, a BOS looked up in the tokenizer).
     */
    Map<String, String> provenance(boolean text, Map<String, String> resolved) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("task", task.cliName());
        for (OptionSpec s : commandLine(this).getCommandSpec().options()) {
            Recorded rec = ((Field) s.userObject()).getAnnotation(Recorded.class);
            if (rec == null || !applies(rec.value(), text)) continue;
            String name = s.longestName();
            m.put(name, resolved.getOrDefault(name, text(s.getValue())));
        }
        return m;
    }

    private boolean applies(When w, boolean text) {
        switch (w) {
            case SCORE: return task == Task.SCORE;
            case EMBED: return task == Task.EMBED;
            case TEXT: return text;
            case TOKENS: return !text;
            default: return true;
        }
    }

    /** A flag's value as the metadata writes it: as typed on the command line. */
    private static String text(Object v) {
        if (v == null) return "none";
        if (v instanceof List<?> l) return l.isEmpty() ? "none" : String.join(",", l.stream().map(String::valueOf).toList());
        if (v instanceof Enum<?> e) return e.name().toLowerCase(Locale.ROOT);
        return v.toString();
    }

    private void defaultModelAndInput() {
        if (model == null) {
            if (input == null) {
                Path m = home == null ? null : home.resolve(EXAMPLE_MODEL), in = home == null ? null : home.resolve(EXAMPLE_INPUT);
                if (m == null || !Files.isDirectory(m) || !Files.isRegularFile(in))
                    throw new UsageException("--model DIR and --input PATH are required (the bundled example "
                            + EXAMPLE_MODEL + " + " + EXAMPLE_INPUT + " was not found" + (home == null ? "" : " under " + home) + ")");
                model = m.toString();
                input = in.toString();
                example = true;
            } else if (isExample(home, input)) {
                model = home.resolve(EXAMPLE_MODEL).toString();
                exampleModel = true;
            } else {
                throw new UsageException("--input is given but --model is not; give both, or neither to run the bundled example");
            }
        } else if (input == null) {
            throw new UsageException("--model is given but --input is not; give both, or neither to run the bundled example");
        }
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

    static final String TEXT_COL_NEEDS_TOKENIZER = "--text-col names the text of text input: add --tokenizer PATH (a Hugging Face tokenizer.json)";
    static final String SPECIAL_TOKENS_NEED_TOKENIZER = needsTokenizer("--special-tokens");

    /** The message for a flag of text input given without --tokenizer. */
    static String needsTokenizer(String flag) { return flag + " is for text input: add --tokenizer PATH"; }

    static String bosTokenNeedsTokenizer(String token) {
        return "--prepend-bos " + token + " is not a token id; a token name needs --tokenizer to look it up";
    }

    /** Rules between flags; a flag's own value is checked by its converter. */
    private void checkCombinations() {
        if (task == Task.SCORE && given.containsKey("--pooling"))
            throw new UsageException("--pooling is for embed; score has no pooling");
        if (task == Task.EMBED && given.containsKey("--per-token"))
            throw new UsageException("--per-token is for score; embed returns one vector per document");
        if (task == Task.EMBED && given.containsKey("--spans"))
            throw new UsageException("--spans is for score; embed returns one vector per document");
        if (task == Task.EMBED && given.containsKey("--prepend-bos"))
            throw new UsageException("--prepend-bos is for score; embed uses the document's own tokens");
        if (task == Task.EMBED && reportBy != null)
            throw new UsageException("--report-by reports perplexity, which embed does not compute");
        boolean text = tokenizer != null;
        if (text && given.containsKey("--tokens-col"))
            throw new UsageException("--tokens-col is for pre-tokenized input and --tokenizer for text input; give one of them");
        // A bundled example may still get the example tokenizer (Preflight decides from its columns) and checks these then.
        boolean mayGetTokenizer = !text && (input == null && model == null || isExample(home, input));
        if (!text && !mayGetTokenizer && given.containsKey("--text-col"))
            throw new UsageException(TEXT_COL_NEEDS_TOKENIZER);
        if (!text && !mayGetTokenizer && given.containsKey("--special-tokens"))
            throw new UsageException(SPECIAL_TOKENS_NEED_TOKENIZER);
        if (!text && !mayGetTokenizer && given.containsKey("--tokenizer-threads"))
            throw new UsageException(needsTokenizer("--tokenizer-threads"));
        if (bosToken() != null && !text && !mayGetTokenizer)
            throw new UsageException(bosTokenNeedsTokenizer(bosToken()));
        if (format != null && format != TextInputOptions.Format.TEXT && (given.containsKey("--doc-per") || given.containsKey("--skip-blank-lines")))
            throw new UsageException((given.containsKey("--doc-per") ? "--doc-per" : "--skip-blank-lines")
                    + " is for plain-text input (--format text); JSON and Parquet have a row per document");
        if (given.containsKey("--skip-blank-lines") && docPer != TextInputOptions.Unit.LINE)
            throw new UsageException("--skip-blank-lines needs --doc-per line");
        if (resume && overwrite)
            throw new UsageException("--resume keeps what an earlier run wrote and --overwrite replaces it; give one of them");
        if (given.containsKey("--precision") && ModelCache.CPU.equals(device))
            throw new UsageException("--precision is for the GPU engine; the CPU engine is float32 throughout: drop it or use --device gpu|auto");
    }

    private static Task parseTask(String s) {
        for (Task t : Task.values()) if (t.cliName().equals(s)) return t;
        throw new UsageException("unknown command '" + s + "'; use score or embed");
    }

    private static String suggestion(CommandLine cmd, String arg) {
        List<String> s = new CommandLine.UnmatchedArgumentException(cmd, List.of(arg)).getSuggestions();
        return s.isEmpty() ? "" : " (did you mean " + String.join(" or ", s.subList(0, Math.min(2, s.size()))) + "?)";
    }

    /** picocli's complaint as a sentence that names the flag and says what to fix. */
    private static String message(ParameterException e) {
        if (e instanceof CommandLine.MissingParameterException m && !m.getMissing().isEmpty())
            return name(m.getMissing().get(0)) + " needs a value";
        java.util.regex.Matcher flagAsValue = java.util.regex.Pattern.compile("Expected parameter for option '([^']+)' but found '([^']+)'")
                .matcher(String.valueOf(e.getMessage()));
        if (flagAsValue.find()) return flagAsValue.group(1) + " needs a value (got the flag " + flagAsValue.group(2) + ")";
        if (e instanceof CommandLine.OverwrittenOptionException o)
            return name(o.getOverwritten()) + " is given twice";
        ArgSpec arg = e.getArgSpec();
        if (arg != null && e.getCause() instanceof TypeConversionException c) {
            String flag = name(arg);
            if (arg.type() == boolean.class) return flag + " takes no value; drop '=" + e.getValue() + "'";
            return c.getMessage().contains(flag) ? c.getMessage() : flag + " " + c.getMessage();
        }
        return e.getMessage();
    }

    private static String name(ArgSpec a) {
        return a instanceof OptionSpec o ? o.longestName() : a.paramLabel();
    }

    // ---- Value converters: each says what is wrong; message() puts the flag's name in front ----

    static final class OnErrorName implements ITypeConverter<OnError> {
        @Override public OnError convert(String v) {
            try {
                return OnError.parse(v);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    static final class Rate implements ITypeConverter<Double> {
        @Override public Double convert(String v) {
            double r;
            try {
                r = Double.parseDouble(v.trim());
            } catch (NumberFormatException e) {
                throw new TypeConversionException("expects a fraction between 0 and 1, got '" + v + "'");
            }
            if (!(r >= 0 && r <= 1)) throw new TypeConversionException("must be between 0 and 1, got " + v);
            return r;
        }
    }

    static final class NonBlank implements ITypeConverter<String> {
        @Override public String convert(String v) {
            if (v.isBlank()) throw new TypeConversionException("needs a non-empty value");
            return v;
        }
    }

    static final class Column implements ITypeConverter<String> {
        @Override public String convert(String v) {
            if (v.isBlank()) throw new TypeConversionException("expects column names separated by commas, got an empty name");
            return v.trim();
        }
    }

    static final class Positive implements ITypeConverter<Integer> {
        @Override public Integer convert(String v) { return atLeast(v, 1); }
    }

    static final class NonNegative implements ITypeConverter<Integer> {
        @Override public Integer convert(String v) { return atLeast(v, 0); }
    }

    private static int atLeast(String v, int min) {
        int n;
        try {
            n = Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new TypeConversionException("expects an integer, got '" + v + "'");
        }
        if (n < min) throw new TypeConversionException("must be at least " + min + ", got " + v);
        return n;
    }

    static final class Bos implements ITypeConverter<String> {
        static boolean isId(String v) { return v.trim().matches("[+-]?\\d+"); }

        @Override public String convert(String v) {
            if (!isId(v)) return new NonBlank().convert(v);
            int id;
            try {
                id = Integer.parseInt(v.trim());
            } catch (NumberFormatException e) {
                throw new TypeConversionException("expects a token id or name, got '" + v + "'");
            }
            if (id < 0) throw new TypeConversionException("must be a token id >= 0, got " + v);
            return Integer.toString(id);
        }
    }

    static final class Spans implements ITypeConverter<SpanMode> {
        @Override public SpanMode convert(String v) {
            try {
                return SpanMode.parse(v);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage().replaceFirst("^--spans ", ""));
            }
        }
    }

    static final class InputFormat implements ITypeConverter<TextInputOptions.Format> {
        @Override public TextInputOptions.Format convert(String v) {
            try {
                return TextInputOptions.Format.parse(v);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("must be json, parquet or text, got '" + v + "'");
            }
        }
    }

    static final class OutputFormat implements ITypeConverter<DataFormat> {
        @Override public DataFormat convert(String v) {
            try {
                return DataFormat.parse(v);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("must be json or parquet, got '" + v + "'");
            }
        }
    }

    static final class DocPer implements ITypeConverter<TextInputOptions.Unit> {
        @Override public TextInputOptions.Unit convert(String v) {
            try {
                return TextInputOptions.Unit.parse(v);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    static final class PoolingName implements ITypeConverter<Pooling> {
        @Override public Pooling convert(String v) {
            try {
                return Pooling.parse(v.trim());
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("must be mean or last, got '" + v + "'");
            }
        }
    }

    static final class Device implements ITypeConverter<String> {
        @Override public String convert(String v) {
            try {
                return ModelCache.checkDevice(v);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    static final class GpuPrecision implements ITypeConverter<String> {
        @Override public String convert(String v) {
            try {
                return ModelCache.checkPrecision(v);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("must be bf16, fp16 or fp32, got '" + v + "'");
            }
        }
    }

    static final class SparkSetting implements ITypeConverter<Setting> {
        @Override public Setting convert(String v) {
            int eq = v.indexOf('=');
            if (eq <= 0) throw new TypeConversionException("expects KEY=VALUE, got '" + v + "'");
            return new Setting(v.substring(0, eq).trim(), v.substring(eq + 1));
        }
    }
}
