package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * The LM head fused with log-softmax and target gather (lm_head.cuh): the [rows x vocab] logits never reach
 * global memory. Twin: {@link ssdspark.kernels.LmHead#logProbsCpu}.
 *
 * <p>Rows are tiled (128 bf16 / 64 fp32); the vocabulary is cut into splits so that small batches still fill the
 * GPU; each CTA keeps an online logsumexp per row over its split, and lm_head_finish merges the splits.
 */
public final class GpuLmHead {
    private GpuLmHead() {}

    /**
     * How a call is cut: splits x tilesPerSplit vocabulary tiles; wgmma: the Hopper kernel; tiled: the pre-tiled
     * warp-specialised one ({@link #logProbsTiled}: one split per vocabulary tile).
     */
    public record Plan(int rowTile, int vocabTile, int splits, int tilesPerSplit, boolean wgmma, boolean tiled) {
        /** Scratch floats: partial max and sum per split and row, plus the target logit per row. */
        public long scratchFloats(int rows) { return (2L * splits + 1) * rows; }
    }

    public static Plan plan(GpuDevice dev, int rows, int vocab, DType type) {
        return plan(dev, rows, vocab, type, type.isHalf() && dev.hasWgmma());
    }

    /** As above with the tensor-core kernel chosen (wgmma needs {@link GpuDevice#hasWgmma()}). */
    public static Plan plan(GpuDevice dev, int rows, int vocab, DType type, boolean wgmma) {
        boolean tc = type.isHalf();
        wgmma &= tc;
        int rt = tc ? 128 : 64, vt = wgmma ? GpuGemm.WGMMA_TILE_N : tc ? 128 : 64;
        int rowTiles = (rows + rt - 1) / rt, vtiles = (vocab + vt - 1) / vt;
        int wantCtas = 2 * dev.multiprocessors;  // two CTAs resident per SM
        int splits = Math.max(1, Math.min(vtiles, (wantCtas + rowTiles - 1) / rowTiles));
        int per = (vtiles + splits - 1) / splits;
        splits = (vtiles + per - 1) / per;
        return new Plan(rt, vt, splits, per, wgmma, false);
    }

    /** The plan of {@link #logProbsTiled}: 128-row tiles, a split per vocabulary tile of {@link GpuGemm#TILED_TILE_N}. */
    public static Plan planTiled(int vocab) {
        int vt = GpuGemm.TILED_TILE_N;
        return new Plan(128, vt, (vocab + vt - 1) / vt, 1, true, true);
    }

    /**
     * out[i] = log softmax(H[i] . E^T)[targets[i]] for 0 <= i < rows (NaN where targets[i] < 0; targets must be
     * < vocab). H[rows][ldh], E[vocab][lde] (k = d_model) both of DType type; scratch holds plan.scratchFloats(rows).
     */
    public static void logProbs(GpuStream s, DType type, CUdeviceptr h, int ldh, CUdeviceptr e, int lde, int rows,
                                int vocab, int k, CUdeviceptr targets, Plan p, CUdeviceptr scratch, CUdeviceptr out) {
        if (type.isHalf()) GpuGemm.checkBf16(ldh, lde, k);
        Scratch sc = Scratch.of(scratch, p, rows);
        CUdeviceptr partM = sc.partM(), partS = sc.partS(), tl = sc.targetLogit();
        int rowTiles = (rows + p.rowTile() - 1) / p.rowTile();
        if (p.wgmma())
            s.launch("lm_head_" + type.suffix + "_wg", p.splits(), rowTiles, 1, 256, GpuGemm.WGMMA_SMEM, h, ldh, e, lde, rows,
                    vocab, k, targets, p.tilesPerSplit(), partM, partS, tl);
        else if (type.isHalf())
            s.launch("lm_head_" + type.suffix, p.splits(), rowTiles, 1, 256, GpuGemm.MMA_SMEM, h, ldh, e, lde, rows, vocab, k,
                    targets, p.tilesPerSplit(), partM, partS, tl);
        else
            s.launch("lm_head_f32", p.splits(), rowTiles, 1, 256, 0, h, ldh, e, lde, rows, vocab, k, targets,
                    p.tilesPerSplit(), partM, partS, tl);
        sc.finish(s, p, rows, targets, out);
    }

    /**
     * {@link #logProbs} for bf16 on Hopper with both operands pre-tiled ({@link GpuGemm#pretile}'s layout): hTiled holds
     * hRows >= rows padded rows ({@link GpuGemm#tiledRows}), eTiled the head's vocab rows; p = {@link #planTiled}.
     */
    public static void logProbsTiled(GpuStream s, CUdeviceptr hTiled, int hRows, CUdeviceptr eTiled, int rows, int vocab,
                                     int k, CUdeviceptr targets, Plan p, CUdeviceptr scratch, CUdeviceptr out) {
        if (!p.tiled()) throw new IllegalArgumentException("not a plan of planTiled: " + p);
        if (!s.device().hasWgmma()) throw new IllegalStateException("the pre-tiled LM head needs sm_90 and an sm_90a build");
        if (hRows < rows) throw new IllegalArgumentException("tiled hidden holds " + hRows + " rows, " + rows + " asked");
        Scratch sc = Scratch.of(scratch, p, rows);
        s.launch("lm_head_bf16_tiled", GpuGemm.tiledGrid(s.device(), rows, vocab), 1, 1, 384, GpuGemm.TILED_SMEM, hTiled,
                GpuGemm.tiledRows(hRows), eTiled, GpuGemm.tiledRows(vocab), rows, vocab, k, targets, sc.partM(), sc.partS(),
                sc.targetLogit());
        sc.finish(s, p, rows, targets, out);
    }

    /** The scratch of a call: partial max and sum [splits][rows], then the target logit [rows] (Plan.scratchFloats). */
    private record Scratch(CUdeviceptr partM, CUdeviceptr partS, CUdeviceptr targetLogit) {
        static Scratch of(CUdeviceptr scratch, Plan p, int rows) {
            return new Scratch(scratch, scratch.withByteOffset(4L * p.splits() * rows), scratch.withByteOffset(8L * p.splits() * rows));
        }

        /** out = logit[target] - logsumexp, merging the splits' partials. */
        void finish(GpuStream s, Plan p, int rows, CUdeviceptr targets, CUdeviceptr out) {
            s.launch("lm_head_finish", (rows + 255) / 256, 1, 1, 256, 0, partM, partS, p.splits(), rows, targetLogit, targets, out);
        }
    }
}
