package ssdspark.model.gpu;

import ssdspark.kernels.gpu.DType;
import ssdspark.kernels.gpu.DeviceBuffer;
import ssdspark.kernels.gpu.GpuSsdScan;
import ssdspark.kernels.gpu.GpuDevice;
import ssdspark.kernels.gpu.GpuStream;
import ssdspark.model.Mamba2Config;
import ssdspark.model.Mamba2Weights;

import java.util.ArrayList;
import java.util.List;

/**
 * A model's weights on one device, uploaded once and shared (read-only) by every task thread of the executor.
 * Matrices (in_proj, out_proj, embedding, LM head) are bf16 / fp16 rows padded to a multiple of 8, or plain fp32;
 * the small per-channel tensors are always fp32, and A = -exp(A_log) is precomputed.
 */
final class GpuWeights implements AutoCloseable {
    final GpuDevice device;
    final Precision precision;
    final Mamba2Config cfg;
    /** Row strides (elements) of matrices whose rows have d_model / d_inner elements. */
    final int ldModel, ldInner;
    final int embeddingRows, headRows;
    final DeviceBuffer embedding, head, normF;
    final Layer[] layers;
    final long bytes;
    private final List<DeviceBuffer> all = new ArrayList<>();

    static final class Layer {
        DeviceBuffer norm, inProj, inProjBias, convWeight, convBias, gatedNorm, outProj, outProjBias;
        GpuSsdScan.Params ssm;  // dt_bias, A = -exp(A_log), D, the dt clamp
    }

    GpuWeights(Mamba2Weights w, GpuDevice dev, Precision p) {
        this.device = dev;
        this.precision = p;
        this.cfg = w.cfg;
        Mamba2Config c = w.cfg;
        DType bf = p.matrixType;
        ldModel = bf.ld(c.dModel);
        ldInner = bf.ld(c.dInner);
        embeddingRows = w.embeddingRows;
        headRows = w.headRows;
        try (GpuStream s = dev.newStream()) {
            embedding = matrix(s, w.embedding, w.embeddingRows, c.dModel, bf);
            head = w.lmHead == w.embedding ? embedding : matrix(s, w.lmHead, w.headRows, c.dModel, bf);
            normF = vec(s, w.normF);
            layers = new Layer[c.nLayer];
            for (int i = 0; i < c.nLayer; i++) {
                Mamba2Weights.Layer l = w.layers[i];
                Layer g = new Layer();
                g.norm = vec(s, l.norm);
                g.inProj = matrix(s, l.inProj, c.dInProj(), c.dModel, bf);
                g.inProjBias = vec(s, l.inProjBias);
                g.convWeight = vec(s, l.convWeight);
                g.convBias = vec(s, l.convBias);
                float[] negA = new float[c.nheads];
                for (int h = 0; h < c.nheads; h++) negA[h] = (float) -Math.exp(l.aLog[h]);
                g.ssm = new GpuSsdScan.Params(vec(s, l.dtBias).ptr(), vec(s, negA).ptr(), c.dtMin, c.dtMax, vec(s, l.d).ptr(), c.dHasHdim);
                g.gatedNorm = vec(s, l.gatedNorm);
                g.outProj = matrix(s, l.outProj, c.dModel, c.dInner, bf);
                g.outProjBias = vec(s, l.outProjBias);
                layers[i] = g;
                s.sync(); // keep the host copies of one layer alive at a time
            }
            s.sync();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        long b = 0;
        for (DeviceBuffer d : all) b += d.bytes();
        bytes = b;
    }

    private DeviceBuffer vec(GpuStream s, float[] v) {
        if (v == null) return null;
        DeviceBuffer b = device.alloc(4L * v.length);
        all.add(b);
        s.upload(v, b.ptr());
        return b;
    }

    private DeviceBuffer matrix(GpuStream s, float[] m, int rows, int cols, DType bf) {
        if (!bf.isHalf()) {
            DeviceBuffer b = device.alloc(4L * rows * cols);
            all.add(b);
            s.upload(m, 0, rows * cols, b.ptr());
            return b;
        }
        short[] h = bf.pack(m, 0, rows, cols);
        DeviceBuffer b = device.alloc(2L * h.length);
        all.add(b);
        s.upload(h, 0, h.length, b.ptr());
        return b;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : all) b.close();
        all.clear();
    }
}
