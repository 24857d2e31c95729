package ssdspark.pipeline;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256, as the output metadata records files (the tokenizer, the model's weights): lower-case hex. */
public final class Sha256 {
    private Sha256() {}

    public static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    public static String hex(byte[] digest) { return HexFormat.of().formatHex(digest); }

    public static String of(byte[] bytes) { return hex(digest().digest(bytes)); }
}
