package ssdspark.kernels;

/**
 * Rotary position embeddings as mamba_ssm's attention applies them (flash_attn's RotaryEmbedding, no xpos scaling):
 * in each head the first {@code rotaryDim} channels are taken as rotaryDim/2 pairs, pair i turned by the angle
 * {@code position · invFreq[i]}, {@code invFreq[i] = 1 / base^(2i / rotaryDim)}; the other channels pass through.
 * Pairs are (2i, 2i+1) when interleaved (GPT-J style), else (i, i + rotaryDim/2) (GPT-NeoX style, the default).
 *
 * <p>Angles are computed as flash_attn computes its cos/sin cache, in float32: float32 inverse frequencies and a
 * float32 product position × frequency (the model was trained with those angles; at position 16 K they differ from
 * exact ones by up to ~1e-3 rad); only cos and sin of that float32 angle are taken in double.
 */
public final class Rotary {
    private Rotary() {}

    /** invFreq[i] = 1 / base^(2i / rotaryDim) in float32 arithmetic, i < rotaryDim/2. */
    public static float[] inverseFrequencies(int rotaryDim, double base) {
        if (rotaryDim < 0 || rotaryDim % 2 != 0) throw new IllegalArgumentException("rotary dim must be even and >= 0, got " + rotaryDim);
        float[] f = new float[rotaryDim / 2];
        for (int i = 0; i < f.length; i++) {
            float e = (float) (2 * i) / (float) rotaryDim;
            f[i] = 1f / (float) Math.pow((float) base, e);
        }
        return f;
    }

    /**
     * Rotates, in place, rows t < n of x (row t starts at off + t·ld) at positions[posOff + t]: each of its heads
     * (headDim channels apart, from the row's start) gets its first 2·invFreq.length channels turned.
     */
    public static void apply(float[] x, int off, int ld, int n, int heads, int headDim, float[] invFreq, boolean interleaved,
                             int[] positions, int posOff) {
        int half = invFreq.length;
        if (2 * half > headDim) throw new IllegalArgumentException("rotary dim " + 2 * half + " exceeds head dim " + headDim);
        if (half == 0 || n <= 0) return;
        Parallel.forRange(n, t -> {
            float[] cos = new float[half], sin = new float[half];
            float pos = positions[posOff + t];
            for (int i = 0; i < half; i++) {
                double angle = pos * invFreq[i]; // float32 product, as flash_attn's cache
                cos[i] = (float) Math.cos(angle);
                sin[i] = (float) Math.sin(angle);
            }
            for (int h = 0; h < heads; h++) {
                int b = off + t * ld + h * headDim;
                for (int i = 0; i < half; i++) {
                    int i0 = interleaved ? b + 2 * i : b + i, i1 = interleaved ? i0 + 1 : i0 + half;
                    float x0 = x[i0], x1 = x[i1];
                    x[i0] = x0 * cos[i] - x1 * sin[i];
                    x[i1] = x1 * cos[i] + x0 * sin[i];
                }
            }
        });
    }
}
