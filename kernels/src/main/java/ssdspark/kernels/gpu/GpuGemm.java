package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * C[m][n] = A[m][k] . B[n][k]^T + bias[n] in torch Linear layout. Twin: {@link ssdspark.kernels.Gemm}.
 * bf16 / fp16: tensor cores with fp32 accumulation, rows of A and B strided by a multiple of 8 and zero padded past k
 * ({@link Bf16#ld}): Hopper's wgmma on sm_90 (gemm_sm90.cuh, 128 x 128 tiles), mma.sync m16n8k16 elsewhere
 * (gemm.cuh, 128 x 128 tiles). fp32: SIMT FMA, any strides.
 */
public final class GpuGemm {
    private GpuGemm() {}

    /** Dynamic shared memory of gemm_bf16_tn / lm_head_bf16 (3 stages of 128x32 A and B tiles, padded rows). */
    public static final int MMA_SMEM = 3 * (128 + 128) * 40 * 2;
    /** Tile width (columns of C, vocabulary rows of the LM head) of the wgmma kernels: gemm_sm90.cuh's SSD_WG_BN. */
    public static final int WGMMA_TILE_N = 128;
    /** Dynamic shared memory of the wgmma kernels: 3 stages of 128x64 A and 128x64 B tiles, plus alignment slack. */
    public static final int WGMMA_SMEM = 3 * (128 + WGMMA_TILE_N) * 64 * 2 + 1024;

    /** C = A . B^T + bias, any DType: fp32 goes to the SIMT kernel, bf16 / fp16 to the device's fastest tensor cores. */
    public static void run(GpuStream s, DType t, CUdeviceptr a, int lda, CUdeviceptr b, int ldb, CUdeviceptr c, int ldc,
                           CUdeviceptr bias, int m, int n, int k) {
        launch(s, t, a, lda, b, ldb, c, ldc, bias, m, n, k, false, s.device().hasWgmma());
    }

    /** C += A . B^T + bias (a block's out_proj added into the residual stream). */
    public static void addTo(GpuStream s, DType t, CUdeviceptr a, int lda, CUdeviceptr b, int ldb, CUdeviceptr c, int ldc,
                             CUdeviceptr bias, int m, int n, int k) {
        launch(s, t, a, lda, b, ldb, c, ldc, bias, m, n, k, true, s.device().hasWgmma());
    }

    /** C = A . B^T + bias with the tensor-core kernel chosen: wgmma (sm_90 only) or mma.sync. */
    public static void run(GpuStream s, DType t, CUdeviceptr a, int lda, CUdeviceptr b, int ldb, CUdeviceptr c, int ldc,
                           CUdeviceptr bias, int m, int n, int k, boolean wgmma) {
        launch(s, t, a, lda, b, ldb, c, ldc, bias, m, n, k, false, wgmma);
    }

    private static void launch(GpuStream s, DType t, CUdeviceptr a, int lda, CUdeviceptr b, int ldb, CUdeviceptr c, int ldc,
                               CUdeviceptr bias, int m, int n, int k, boolean accumulate, boolean wgmma) {
        int acc = accumulate ? 1 : 0;
        if (t == DType.F32) {
            if (lda < k || ldb < k || ldc < n)
                throw new IllegalArgumentException("strides " + lda + "/" + ldb + "/" + ldc + " too small for k " + k + ", n " + n);
            s.launch("gemm_f32_tn", (n + 63) / 64, (m + 63) / 64, 1, 256, 0, a, lda, b, ldb, c, ldc, bias, m, n, k, acc);
            return;
        }
        checkBf16(lda, ldb, k);
        if (ldc < n) throw new IllegalArgumentException("ldc " + ldc + " < n " + n);
        if (wgmma) {
            if (!s.device().hasWgmma()) throw new IllegalStateException("wgmma kernels need sm_90 and an sm_90a build");
            s.launch("gemm_" + t.suffix + "_tn_wg", (n + WGMMA_TILE_N - 1) / WGMMA_TILE_N, (m + 127) / 128, 1, 256,
                    WGMMA_SMEM, a, lda, b, ldb, c, ldc, bias, m, n, k, acc);
        } else {
            s.launch("gemm_" + t.suffix + "_tn", (n + 127) / 128, (m + 127) / 128, 1, 256, MMA_SMEM, a, lda, b, ldb, c,
                    ldc, bias, m, n, k, acc);
        }
    }

    // ---------------------------------------------------------------- pre-tiled operands (gemm_sm90_tiled.cuh)

    /** Output tile of gemm_bf16_tn_tiled and lm_head_bf16_tiled: 128 rows x TILED_TILE_N columns (ping-pong: a tile a consumer). */
    public static final int TILED_TILE_N = 128;
    /**
     * Dynamic shared memory of the pre-tiled kernels (ws_gemm::smem_bytes<128, SSD_TILED_STAGES>): 6 stages of 128x64 A
     * and 128x64 B tiles, plus slack and barriers.
     */
    public static final int TILED_SMEM = 6 * (128 + TILED_TILE_N) * 64 * 2 + 2048;
    /**
     * The fewest output columns for which the pre-tiled kernel (A written pre-tiled by its producer) is known to pay:
     * 130M's out_proj, +29 % over gemm_bf16_tn_wg on 32768 x 768 x 1536 (KERNEL_NOTES.md).
     */
    public static final int TILED_MIN_N = 768;

    /**
     * Whether C = A . B^T with n output columns runs faster through {@link #runTiled} on this device, given A arrives
     * pre-tiled: bf16 on an sm_90a build and n >= {@link #TILED_MIN_N}.
     */
    public static boolean tiledPays(GpuDevice d, DType t, int n) { return t == DType.BF16 && n >= TILED_MIN_N && d.hasWgmma(); }

    /** Rows of a pre-tiled copy of a matrix of {@code rows} rows: rounded up to 8. */
    public static int tiledRows(int rows) { return (rows + 7) & ~7; }

    /** Bytes of a pre-tiled copy of a [rows][k] bf16 matrix: ceil(k / 64) blocks of tiledRows(rows) rows of 128 bytes. */
    public static long tiledBytes(int rows, int k) { return (long) ((k + 63) / 64) * tiledRows(rows) * 128; }

    /**
     * dst = x[rows][ld] (bf16, rows zero padded past k) in the pre-tiled layout that {@link #runTiled} reads: for each
     * k-tile of 64, tiledRows(rows) rows of 128 bytes in wgmma's 128-byte swizzle, so a tile is one contiguous block.
     */
    public static void pretile(GpuStream s, CUdeviceptr x, int ld, int rows, int k, CUdeviceptr dst) {
        checkBf16(ld, ld, k);
        long chunks = (long) ((k + 63) / 64) * tiledRows(rows) * 8;
        s.launch("bf16_pretile", (int) ((chunks + 255) / 256), 1, 1, 256, 0, x, ld, rows, k, tiledRows(rows), dst);
    }

    /**
     * C[m][n] = A . B^T + bias with A and B pre-tiled by {@link #pretile} ([m][k] and [n][k]): Hopper's copy engine
     * moves each stage as two bulk copies for a warp-specialised wgmma kernel (sm_90a builds only).
     */
    public static void runTiled(GpuStream s, CUdeviceptr aTiled, int m, CUdeviceptr bTiled, int n, int k, CUdeviceptr c,
                                int ldc, CUdeviceptr bias) {
        if (!s.device().hasWgmma()) throw new IllegalStateException("the pre-tiled GEMM needs sm_90 and an sm_90a build");
        if (ldc < n) throw new IllegalArgumentException("ldc " + ldc + " < n " + n);
        s.launch("gemm_bf16_tn_tiled", tiledGrid(s.device(), m, n), 1, 1, 384, TILED_SMEM, aTiled, tiledRows(m), bTiled,
                tiledRows(n), c, ldc, bias, m, n, k, 0);
    }

    /** Persistent CTAs of a pre-tiled kernel over m x n: one per tile, at most one per multiprocessor. */
    static int tiledGrid(GpuDevice d, int m, int n) {
        long tiles = (long) ((m + 127) / 128) * ((n + TILED_TILE_N - 1) / TILED_TILE_N);
        return (int) Math.min(tiles, d.multiprocessors);
    }

    public static void bf16(GpuStream s, CUdeviceptr a, int lda, CUdeviceptr b, int ldb, CUdeviceptr c, int ldc,
                            CUdeviceptr bias, int m, int n, int k) {
        run(s, DType.BF16, a, lda, b, ldb, c, ldc, bias, m, n, k);
    }

    public static void f32(GpuStream s, CUdeviceptr a, int lda, CUdeviceptr b, int ldb, CUdeviceptr c, int ldc,
                           CUdeviceptr bias, int m, int n, int k) {
        run(s, DType.F32, a, lda, b, ldb, c, ldc, bias, m, n, k);
    }

    static void checkBf16(int lda, int ldb, int k) {
        if (lda % 8 != 0 || ldb % 8 != 0 || lda < k || ldb < k)
            throw new IllegalArgumentException("bf16 GEMM rows need strides that are multiples of 8 and >= k: lda " + lda
                    + ", ldb " + ldb + ", k " + k);
    }
}
