package ssdspark.jobs;

import ssdspark.model.Mamba2Config;
import ssdspark.pipeline.DataFormat;
import ssdspark.pipeline.LocalPaths;
import ssdspark.udf.JobSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Checks the files the options name before any Spark work, so a typo costs a second, not a cluster
 * start: the model folder and its config, the input and its format, the output folder.
 */
public final class Preflight {
    /** Everything a run needs, resolved. */
    public record Plan(JobSpec spec, Mamba2Config config, String input, DataFormat inputFormat, String output,
                       DataFormat outputFormat) {}

    private Preflight() {}

    public static Plan check(JobOptions o) {
        Path model = modelFolder(o.model);
        Mamba2Config cfg;
        try {
            cfg = Mamba2Config.load(model);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            throw new UsageException("model " + model + " has an unusable config.json: " + e.getMessage(), e);
        }
        if (o.bosId >= cfg.vocabSize)
            throw new UsageException("--prepend-bos " + o.bosId + " is outside the model's vocabulary [0, " + cfg.vocabSize + ")");
        JobSpec spec = o.task == JobSpec.Task.SCORE
                ? JobSpec.score(model.toString(), o.device, o.chunkTokens, o.bosId, o.perToken)
                : JobSpec.embed(model.toString(), o.device, o.chunkTokens, o.pooling);

        String input = o.input;
        Path localIn = LocalPaths.local(input);
        if (localIn != null) {
            if (!Files.exists(localIn)) throw new UsageException("input " + input + " does not exist; check --input");
            if (!Files.isReadable(localIn)) throw new UsageException("input " + input + " is not readable (permissions)");
            input = localIn.toAbsolutePath().normalize().toString();
        }
        DataFormat inFormat = o.format != null ? o.format : DataFormat.infer(input);
        if (inFormat == null)
            throw new UsageException("cannot tell the format of input " + input + " from its name; pass --format json or --format parquet");

        String output = o.output;
        Path localOut = LocalPaths.local(output);
        if (localOut != null) {
            localOut = localOut.toAbsolutePath().normalize();
            checkOutput(localOut, o.overwrite, localIn == null ? null : localIn.toAbsolutePath().normalize(), model);
            output = localOut.toString();
        }
        return new Plan(spec, cfg, input, inFormat, output, o.outputFormat);
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

    private static void checkOutput(Path out, boolean overwrite, Path in, Path model) {
        if (in != null && (in.startsWith(out) || out.startsWith(in)))
            throw new UsageException("--output " + out + " overlaps --input " + in + "; write somewhere else");
        if (model.startsWith(out) || out.startsWith(model))
            throw new UsageException("--output " + out + " overlaps the model folder " + model + "; write somewhere else");
        if (!Files.exists(out)) return;
        if (!overwrite)
            throw new UsageException("output " + out + " already exists; delete it, pick another --output, or pass --overwrite");
        // Spark's overwrite deletes the whole folder: only allow it on what looks like an earlier job's output.
        if (!Files.isDirectory(out) || !(Files.exists(out.resolve("_SUCCESS")) || isEmpty(out)))
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
