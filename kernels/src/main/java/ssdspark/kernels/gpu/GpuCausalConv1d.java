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
        forward(s, null, v, in, ldIn, inOff, channels, weight, bias, kernel, state, stateSeqStride, true, silu, out);
    }

    /**
     * {@link #forward} with the windows' replacement queued on {@code side} (null: on s) after the conv: nothing in the
     * batch reads them again, so it runs beside s's next work. The caller makes s wait for side before anything
     * overwrites {@code in} (GpuSsdScan.forward's join does). keepWindows false: the windows are read, not replaced
     * (no caller keeps them).
     */
    public static void forward(GpuStream s, GpuStream side, Varlen.OnDevice v, CUdeviceptr in, int ldIn, int inOff,
                               int channels, CUdeviceptr weight, CUdeviceptr bias, int kernel, CUdeviceptr state,
                               long stateSeqStride, boolean keepWindows, boolean silu, CUdeviceptr out) {
        int act = silu ? 1 : 0;
        int bx = (channels + 127) / 128, T = v.host().tokens;
        if (kernel >= 2 && kernel <= 4 && channels % 4 == 0) // 4 channels a thread, 16 tokens' inputs loaded at once
            s.launch("causal_conv1d_fwd_k" + kernel + "_x4", (T + 15) / 16, (channels / 4 + 127) / 128, 1, 128, 0, in, ldIn,
                    inOff, channels, weight, bias, T, v.tokSeq(), v.tokPos(), state, stateSeqStride, act, out);
        else if (kernel >= 2 && kernel <= 4) // register sliding window, 16 tokens per thread
            s.launch("causal_conv1d_fwd_k" + kernel, (T + 15) / 16, bx, 1, 128, 0, in, ldIn, inOff, channels, weight, bias,
                    T, v.tokSeq(), v.tokPos(), state, stateSeqStride, act, out);
        else
            s.launch("causal_conv1d_fwd", T, bx, 1, 128, 0, in, ldIn, inOff, channels, weight, bias, kernel,
                    v.tokSeq(), v.tokPos(), state, stateSeqStride, act, out);
        if (kernel <= 1 || !keepWindows) return;
        GpuStream on = side == null ? s : side;
        if (side != null) side.waitFor(s);  // the conv has read the old windows
        on.launch("causal_conv1d_state", bx, v.host().seqs, 1, 128, 0, in, ldIn, inOff, channels, kernel, v.seqStart(),
                v.seqLen(), state, stateSeqStride);
    }
}
