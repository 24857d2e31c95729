package ssdspark.model.gpu;

import java.util.Locale;

/**
 * Weight and matmul precision of the GPU engine. BF16 (default): in_proj, out_proj, embedding and LM head in bf16 on
 * tensor cores with fp32 accumulation; everything else (residual stream, norms, conv, SSD scan, log-softmax) in
 * fp32. FP32: every matmul in fp32 too (for checks against the CPU engine; several times slower).
 */
public enum Precision {
    BF16, FP32;

    public static Precision parse(String s) {
        if (s == null || s.isBlank()) return BF16;
        switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "bf16": case "bfloat16": return BF16;
            case "fp32": case "f32": case "float32": case "float": return FP32;
            default: throw new IllegalArgumentException("precision must be bf16 or fp32, got '" + s + "'");
        }
    }

    @Override public String toString() { return name().toLowerCase(Locale.ROOT); }
}
