package ssdspark.jobs;

import java.nio.file.Path;

/**
 * The random-weight tiny model (vocabulary 317), its tokenizer and a pre-tokenized corpus under examples/: what the job
 * tests run on, being fast. Its perplexities mean nothing; the bundled example's trained model is {@link JobOptions#EXAMPLE_MODEL}.
 */
final class TinyModel {
    static final Path DIR = Main.home().resolve("examples/tiny-mamba2").toAbsolutePath().normalize();
    static final Path TOKENIZER = Main.home().resolve("examples/tiny-tokenizer.json").toAbsolutePath().normalize();
    static final Path TOKENS_CORPUS = Main.home().resolve("examples/corpus-tokens.jsonl").toAbsolutePath().normalize();

    private TinyModel() {}
}
