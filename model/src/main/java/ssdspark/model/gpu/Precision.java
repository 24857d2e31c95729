package ssdspark.model.gpu;

import ssdspark.kernels.gpu.DType;

import java.util.Locale;

/**
 * Weight and matmul precision of the GPU engine. BF16 (default): in_proj, out_proj, embedding and LM head in bf16 on
 * tensor cores with fp32 accumulation (and their input activations rounded to bf16); everything else (residual
 * stream, norms, conv, SSD scan, log-softmax) in fp32. FP16: the same in IEEE half (8x finer rounding than bf16, same
 * speed; weights and activations must stay within +-65504). FP32: every matmul in fp32 too (for checks against the
 * CPU engine; slower).
 */
public enum Precision {
    BF16(DType.BF16), FP16(DType.F16), FP32(DType.F32);

    /** Element type of the matrices and of their input activations. */
    public final DType matrixType;

    Precision(DType t) { this.matrixType = t; }

    public static Precision parse(String s) {
        if (s == null || s.isBlank()) return BF16;
        switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "bf16": case "bfloat16": return BF16;
            case "fp16": case "f16": case "float16": case "half": return FP16;
            case "fp32": case "f32": case "float32": case "float": return FP32;
            default: throw new IllegalArgumentException("precision must be bf16, fp16 or fp32, got '" + s + "'");
        }
    }

    @Override public String toString() { return name().toLowerCase(Locale.ROOT); }
}
