package ssdspark.jobs;

import org.apache.hadoop.conf.Configuration;
import ssdspark.model.Mamba2Config;
import ssdspark.pipeline.DataFormat;
import ssdspark.pipeline.LocalPaths;
import ssdspark.pipeline.output.RunManifest;
import ssdspark.pipeline.text.TextInputOptions;
import ssdspark.pipeline.text.TokenizerSpec;
import ssdspark.udf.JobSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Checks the files the options name before any Spark work, so a typo costs a second, not a cluster
 * start: the model folder and its config, the input and its format, the tokenizer, the output folder.
 */
public final class Preflight {
    /**
     * Everything a run needs, resolved.
     *
     * @param tokenizerPath the --tokenizer path (null: pre-tokenized input)
     * @param tokenizer     the tokenizer, read and checked; null when pre-tokenized, or when tokenizerPath is on a
     *                      remote file system (then {@link #withTokenizer} completes the plan once Spark is up)
     * @param text          how to read text input (null: pre-tokenized)
     * @param tokensCol     the token column of pre-tokenized input
     * @param carried       input columns passed through to the output: --partition-by's, then --keep-cols'
     * @param inputFooter   the footer of the local Parquet input's first data file, read for its columns (null: none read)
     */
    public record Plan(JobSpec spec, Mamba2Config config, String input, TextInputOptions.Format inputFormat, String output,
                       DataFormat outputFormat, String tokenizerPath, TokenizerSpec tokenizer, TextInputOptions text,
                       String tokensCol, List<String> carried, List<String> partitionBy, String bosToken, boolean specialTokens,
                       ParquetSchema.Footer inputFooter) {

        public boolean isText() { return text != null; }

        /** The flags whose values the preflight worked out, by name: absolute paths, the format, the tokenizer, the BOS id. */
        public Map<String, String> resolvedFlags() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("--model", spec.modelPath());
            m.put("--input", input);
            m.put("--format", inputFormat.name().toLowerCase(Locale.ROOT));
            m.put("--output", output);
            if (tokenizer != null) m.put("--tokenizer", tokenizer.path());
            if (spec.bosId() >= 0) m.put("--prepend-bos", Integer.toString(spec.bosId()));
            return m;
        }

        /** The plan with tokenizer t (as read by {@link TokenizerSpec#read}) checked against the model and applied. */
        public Plan withTokenizer(TokenizerSpec t) {
            TokenizerSpec s = t.withSpecialTokens(specialTokens);
            if (s.vocabSize() > config.vocabSize)
                throw new UsageException("tokenizer " + s.path() + " produces ids up to " + (s.vocabSize() - 1) + " but the model's vocabulary is [0, "
                        + config.vocabSize + "); use the tokenizer the model was trained with");
            JobSpec sp = spec;
            if (bosToken != null) {
                Integer id = s.addedTokens().get(bosToken);
                if (id == null)
                    throw new UsageException("--prepend-bos " + bosToken + ": the tokenizer has no such added token (it has "
                            + new java.util.TreeSet<>(s.addedTokens().keySet()) + "); pass one of them or a token id");
                sp = spec.withBos(id);
            }
            return new Plan(sp, config, input, inputFormat, output, outputFormat, tokenizerPath, s, text, tokensCol, carried,
                    partitionBy, bosToken, specialTokens, inputFooter);
        }
    }

    private Preflight() {}

    public static Plan check(JobOptions o) {
        Path model = modelFolder(o.model);
        Mamba2Config cfg;
        try {
            cfg = Mamba2Config.load(model);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            throw new UsageException("model " + model + " has an unusable config.json: " + e.getMessage(), e);
        }
        if (o.bosId() >= cfg.vocabSize)
            throw new UsageException("--prepend-bos " + o.bosId() + " is outside the model's vocabulary [0, " + cfg.vocabSize + ")");
        JobSpec spec = (o.task == JobSpec.Task.SCORE
                ? JobSpec.score(model.toString(), o.device, o.chunkTokens, o.bosId(), o.perToken)
                : JobSpec.embed(model.toString(), o.device, o.chunkTokens, o.pooling))
                .withPrecision(o.precision).withBatching(o.tokenBudget, o.maxBatchDocs).withMaxAttentionTokens(o.maxAttentionTokens);

        String input = o.input;
        Path localIn = LocalPaths.local(input);
        if (localIn != null) {
            if (!Files.exists(localIn)) throw new UsageException("input " + input + " does not exist; check --input");
            if (!Files.isReadable(localIn)) throw new UsageException("input " + input + " is not readable (permissions)");
            input = localIn.toAbsolutePath().normalize().toString();
        }
        TextInputOptions.Format format = o.format != null ? o.format : inferFormat(input);
        if (format == null)
            throw new UsageException("cannot tell the format of input " + input + " from its name; pass --format json, parquet or text");

        // the columns of a local JSON/Parquet input, read now: a wrong column name costs a second, not Spark's start and a model load
        InputColumns.Found columns = localIn == null ? null : InputColumns.of(localIn, format).orElse(null);

        String tokenizerPath = o.tokenizer;
        if (tokenizerPath == null && isTextExample(o, input, format, columns))
            tokenizerPath = o.home.resolve(JobOptions.EXAMPLE_TOKENIZER).toAbsolutePath().normalize().toString(); // a bundled text example
        if (tokenizerPath == null && format == TextInputOptions.Format.TEXT)
            throw new UsageException("plain-text input needs a tokenizer: pass --tokenizer PATH (a Hugging Face tokenizer.json)");
        if (tokenizerPath == null && o.bosToken() != null) throw new UsageException(JobOptions.bosTokenNeedsTokenizer(o.bosToken()));
        if (tokenizerPath == null && o.given.containsKey("--text-col")) throw new UsageException(JobOptions.TEXT_COL_NEEDS_TOKENIZER);
        if (tokenizerPath == null && o.given.containsKey("--special-tokens")) throw new UsageException(JobOptions.SPECIAL_TOKENS_NEED_TOKENIZER);
        if (tokenizerPath == null && o.given.containsKey("--tokenizer-threads")) throw new UsageException(JobOptions.needsTokenizer("--tokenizer-threads"));
        if (format != TextInputOptions.Format.TEXT && o.strictUtf8)
            throw new UsageException("--strict-utf8 is for plain-text input; " + input + " is " + format.name().toLowerCase(Locale.ROOT)
                    + ", whose text Spark's reader decodes");
        if (format != TextInputOptions.Format.TEXT && (o.given.containsKey("--doc-per") || o.given.containsKey("--skip-blank-lines")))
            throw new UsageException("--doc-per and --skip-blank-lines are for plain-text input; " + input + " is "
                    + format.name().toLowerCase(Locale.ROOT) + " (a row per document)");

        if (format == TextInputOptions.Format.TEXT)
            for (String f : new String[] {"--id-col", "--text-col"})
                if (o.given.containsKey(f))
                    throw new UsageException(f + " names a column of JSON/Parquet input; plain-text input has no columns (ids are the file path,"
                            + " or path:line with --doc-per line): drop " + f + ", or pass --format json|parquet if " + input + " is not plain text");

        List<String> carried = new ArrayList<>(o.partitionBy);
        for (String c : o.keepCols) if (!carried.contains(c)) carried.add(c);
        if (o.reportBy != null && format == TextInputOptions.Format.TEXT)
            throw new UsageException("--report-by needs a column, and plain-text input has none besides id and text; use JSON lines or Parquet");
        if (o.reportBy != null && o.reportBy.equals(o.idCol))
            throw new UsageException("--report-by " + o.reportBy + " is the document id column: every document would be its own group;"
                    + " name a column with a few values (a source, a language, a kind)");
        if (o.reportBy != null && !carried.contains(o.reportBy)) carried.add(o.reportBy); // the report reads it from the output
        if (!carried.isEmpty() && format == TextInputOptions.Format.TEXT)
            throw new UsageException("plain-text input has no columns besides id and text to keep or partition by; use JSON lines or Parquet for --partition-by/--keep-cols");
        if (columns != null) checkColumns(o, input, columns, tokenizerPath != null, carried);
        for (String c : o.partitionBy)
            if (o.keepCols.contains(c)) throw new UsageException("column '" + c + "' is in both --partition-by and --keep-cols; --partition-by keeps it already");

        TextInputOptions text = null;
        if (tokenizerPath != null) {
            text = TextInputOptions.of(format, input).withIdCol(o.idCol).withTextCol(o.textCol)
                    .withUnit(o.docPer).withSkipBlankLines(o.skipBlankLines).withStrictUtf8(o.strictUtf8);
        }

        String output = o.output;
        Path localOut = LocalPaths.local(output);
        if (localOut != null) {
            localOut = localOut.toAbsolutePath().normalize();
            checkOutput(localOut, o.overwrite, o.resume, localIn == null ? null : localIn.toAbsolutePath().normalize(), model);
            output = localOut.toString();
        }
        try {
            spec = spec.withInput(text != null, o.spans);
        } catch (IllegalArgumentException e) { // --spans that does not fit the input
            throw new UsageException(e.getMessage(), e);
        }
        Plan plan = new Plan(spec, cfg, input, format, output, o.outputFormat, tokenizerPath, null, text,
                o.tokensCol, List.copyOf(carried), o.partitionBy, o.bosToken(), o.specialTokens, columns == null ? null : columns.footer());
        if (tokenizerPath != null && isLocal(tokenizerPath)) plan = plan.withTokenizer(readTokenizer(tokenizerPath, new Configuration()));
        return plan;
    }

    /**
     * Whether input is one of the bundled text examples, tokenized with the example tokenizer unless --tokenizer is
     * given: plain text under examples/, or JSON/Parquet there with a text column and no token column.
     */
    private static boolean isTextExample(JobOptions o, String input, TextInputOptions.Format format, InputColumns.Found columns) {
        if (o.home == null || !JobOptions.isExample(o.home, input) || !Files.isRegularFile(o.home.resolve(JobOptions.EXAMPLE_TOKENIZER)))
            return false;
        if (format == TextInputOptions.Format.TEXT) return true;
        return columns != null && !o.given.containsKey("--tokens-col") && columns.has(o.textCol) && !columns.has(o.tokensCol);
    }

    /** The columns the flags name, against those of the input's first file; each message names the flag to change. */
    private static void checkColumns(JobOptions o, String input, InputColumns.Found columns, boolean text, List<String> carried) {
        String have = " (" + columns.source() + ": " + columns.list() + ")";
        if (!columns.has(o.idCol))
            throw new UsageException("input " + input + " has no column '" + o.idCol + "' for the document id; pass --id-col NAME" + have);
        if (text && !columns.has(o.textCol))
            throw new UsageException("input " + input + " has no column '" + o.textCol + "' for the document text; pass --text-col NAME" + have);
        if (!text && !columns.has(o.tokensCol))
            throw new UsageException("input " + input + " has no column '" + o.tokensCol + "' for the token ids; pass --tokens-col NAME"
                    + (columns.has(o.textCol) ? ", or --tokenizer PATH to tokenize its text column '" + o.textCol + "'" : "") + have);
        for (String c : carried)
            if (!columns.has(c))
                throw new UsageException("input " + input + " has no column '" + c + "' to " + (c.equals(o.reportBy) ? "report by; check --report-by"
                        : "keep or partition by; check --partition-by and --keep-cols") + have);
    }

    /** A path without a scheme, or file: (read before Spark starts); others wait for the session's Hadoop settings. */
    static boolean isLocal(String path) {
        return path.startsWith("file:") || !path.matches("^[A-Za-z][A-Za-z0-9+.-]*:.*");
    }

    /** The tokenizer.json at path; a message naming --tokenizer when it cannot be read or is not one. */
    static TokenizerSpec readTokenizer(String path, Configuration conf) {
        try {
            return TokenizerSpec.read(path, conf);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage().contains("--tokenizer") ? e.getMessage() : "--tokenizer " + path + ": " + e.getMessage(), e);
        } catch (UncheckedIOException e) {
            throw new UsageException("cannot read --tokenizer " + path + ": " + e.getMessage(), e);
        }
    }

    /** json/parquet/text from the input's name, or for a local folder from the names of its files; null when unclear. */
    static TextInputOptions.Format inferFormat(String path) {
        if (isTextName(path)) return TextInputOptions.Format.TEXT;
        DataFormat f = DataFormat.infer(path);
        if (f != null) return f == DataFormat.JSON ? TextInputOptions.Format.JSON : TextInputOptions.Format.PARQUET;
        Path local = LocalPaths.local(path);
        if (local == null || !Files.isDirectory(local)) return null;
        try (Stream<Path> files = Files.walk(local, 8)) {
            List<String> names = files.filter(Files::isRegularFile).map(p -> p.getFileName().toString())
                    .filter(n -> !n.startsWith("_") && !n.startsWith(".")).limit(10_000).toList();
            return !names.isEmpty() && names.stream().allMatch(Preflight::isTextName) ? TextInputOptions.Format.TEXT : null;
        } catch (IOException e) {
            throw new UsageException("cannot list input " + path + ": " + e.getMessage(), e);
        }
    }

    private static boolean isTextName(String name) {
        String n = name.toLowerCase(Locale.ROOT).replaceAll("/+$", "");
        for (String z : new String[] {".gz", ".bz2", ".zst", ".deflate", ".lz4"})
            if (n.endsWith(z)) n = n.substring(0, n.length() - z.length());
        return n.endsWith(".txt") || n.endsWith(".text");
    }

    private static Path modelFolder(String m) {
        Path p = LocalPaths.local(m);
        if (p == null)
            throw new UsageException("--model " + m + " must be a local folder (on a cluster: one mounted at the same path on every executor)");
        p = p.toAbsolutePath().normalize();
        if (!Files.exists(p)) throw new UsageException("model folder " + p + " does not exist; check --model");
        if (!Files.isDirectory(p)) throw new UsageException("--model " + p + " is a file; point it at the folder holding config.json and the weights");
        if (!Files.isRegularFile(p.resolve("config.json"))) throw new UsageException("model folder " + p + " has no config.json");
        if (!hasWeights(p))
            throw new UsageException("model folder " + p + " has no weights (model.safetensors, *.safetensors shards, pytorch_model.bin)");
        return p;
    }

    private static boolean hasWeights(Path dir) {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path f : ds) {
                String n = f.getFileName().toString();
                if (n.endsWith(".safetensors") || n.endsWith(".safetensors.index.json")
                        || n.equals("pytorch_model.bin") || n.equals("pytorch_model.bin.index.json")) return true;
            }
            return false;
        } catch (IOException e) {
            throw new UsageException("cannot list model folder " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void checkOutput(Path out, boolean overwrite, boolean resume, Path in, Path model) {
        if (in != null && (in.startsWith(out) || out.startsWith(in)))
            throw new UsageException("--output " + out + " overlaps --input " + in + "; write somewhere else");
        if (model.startsWith(out) || out.startsWith(model))
            throw new UsageException("--output " + out + " overlaps the model folder " + model + "; write somewhere else");
        if (!Files.exists(out)) return;
        // a killed run leaves its manifest and committed parts (or Spark's _temporary/) and no _SUCCESS
        boolean unfinished = Files.isDirectory(out) && !Files.exists(out.resolve("_SUCCESS"))
                && (Files.isDirectory(out.resolve("_temporary")) || Files.exists(out.resolve(RunManifest.FILE)));
        if (resume) {
            if (!Files.exists(out.resolve(RunManifest.FILE)))
                throw new UsageException("cannot --resume into " + out + ": it has no " + RunManifest.FILE + " (not the output of an ssdspark run"
                        + " that can be resumed); pass --overwrite to start it again, or pick another --output");
            return;
        }
        if (!overwrite)
            throw new UsageException(unfinished
                    ? "output " + out + " was left by a run that did not finish (no _SUCCESS); pass --resume to write only its missing parts,"
                    + " or --overwrite to start again"
                    : "output " + out + " already exists; delete it, pick another --output, or pass --overwrite");
        // --overwrite replaces the whole folder: only allow it on what looks like an earlier job's output.
        if (!Files.isDirectory(out) || !(Files.exists(out.resolve("_SUCCESS")) || unfinished || isEmpty(out)))
            throw new UsageException("refusing to --overwrite " + out + ": it is not the output of an earlier run (no _SUCCESS file); delete it yourself if it can go");
    }

    private static boolean isEmpty(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            throw new UsageException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }
}
