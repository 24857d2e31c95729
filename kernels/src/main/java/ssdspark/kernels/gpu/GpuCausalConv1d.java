package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

/**
 * Causal depthwise conv1d + bias (+ SiLU) over a packed varlen batch with carried windows (conv1d.cuh).
 * Twin: {@link ssdspark.kernels.CausalConv1d#cpu} run on each sequence alone.
 */
public final class GpuCausalConv1d {
    private GpuCausalConv1d() {}

    /**
     * in[t][ldIn] columns [inOff, inOff+channels), weight[channels][kernel], bias[channels] or null -> out[t][channels].
     * state + s*stateSeqStride holds sequence s's window [kernel-1][channels] (oldest first); it is read, then
     * replaced by the window after the sequence. SiLU follows unless {@code silu} is false (attention layers).
     */
    public static void forward(GpuStream s, Varlen.OnDevice v, CUdeviceptr in, int ldIn, int inOff, int channels,
                               CUdeviceptr weight, CUdeviceptr bias, int kernel, CUdeviceptr state, long stateSeqStride,
                               boolean silu, CUdeviceptr out) {
        int act = silu ? 1 : 0;
        int bx = (channels + 127) / 128, T = v.host().tokens;
        if (fourChannels(kernel, channels)) // 4 channels a thread, 16 tokens' inputs loaded at once
            s.launch("causal_conv1d_fwd_k" + kernel + "_x4", (T + 15) / 16, (channels / 4 + 127) / 128, 1, 128, 0, in, ldIn,
                    inOff, channels, weight, bias, T, v.tokSeq(), v.tokPos(), state, stateSeqStride, act, out, 0);
        else if (kernel >= 2 && kernel <= 4) // register sliding window, 16 tokens per thread
            s.launch("causal_conv1d_fwd_k" + kernel, (T + 15) / 16, bx, 1, 128, 0, in, ldIn, inOff, channels, weight, bias,
                    T, v.tokSeq(), v.tokPos(), state, stateSeqStride, act, out);
        else
            s.launch("causal_conv1d_fwd", T, bx, 1, 128, 0, in, ldIn, inOff, channels, weight, bias, kernel,
                    v.tokSeq(), v.tokPos(), state, stateSeqStride, act, out);
        if (kernel > 1) updateState(s, v, in, ldIn, inOff, channels, kernel, state, stateSeqStride);
    }

    /** Whether the 4-channel kernel runs (and {@link #forwardFrom} may be used): kernel 2-4, channels % 4 == 0. */
    public static boolean fourChannels(int kernel, int channels) {
        return kernel >= 2 && kernel <= 4 && channels % 4 == 0;
    }

    /**
     * {@link #forward} of channels [cStart, channels) only (cStart % 4 == 0, {@link #fourChannels}), windows left as
     * they are: the x channels' conv runs inside the chunk-state kernel (GpuSsdScan.ConvX), which reads the old windows,
     * so {@link #updateState} follows the scan.
     */
    public static void forwardFrom(GpuStream s, Varlen.OnDevice v, int cStart, CUdeviceptr in, int ldIn, int inOff,
                                   int channels, CUdeviceptr weight, CUdeviceptr bias, int kernel, CUdeviceptr state,
                                   long stateSeqStride, CUdeviceptr out) {
        if (!fourChannels(kernel, channels) || cStart % 4 != 0 || cStart < 0 || cStart >= channels)
            throw new IllegalArgumentException("forwardFrom needs kernel 2-4, channels % 4 == 0 and 0 <= cStart % 4 == 0 < channels");
        int T = v.host().tokens;
        s.launch("causal_conv1d_fwd_k" + kernel + "_x4", (T + 15) / 16, ((channels - cStart) / 4 + 127) / 128, 1, 128, 0, in,
                ldIn, inOff, channels, weight, bias, T, v.tokSeq(), v.tokPos(), state, stateSeqStride, 1, out, cStart);
    }

    /** Replaces each sequence's window [kernel-1][channels] with the one after it (after every reader of the old one). */
    public static void updateState(GpuStream s, Varlen.OnDevice v, CUdeviceptr in, int ldIn, int inOff, int channels,
                                   int kernel, CUdeviceptr state, long stateSeqStride) {
        s.launch("causal_conv1d_state", (channels + 127) / 128, v.host().seqs, 1, 128, 0, in, ldIn, inOff, channels, kernel,
                v.seqStart(), v.seqLen(), state, stateSeqStride);
    }
}
