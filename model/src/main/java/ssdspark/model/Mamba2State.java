package ssdspark.model;

/**
 * The recurrent state of one sequence after some prefix: per layer the last d_conv-1 conv inputs
 * (conv[layer][(d_conv-1) × conv_dim], oldest first) and the SSM state
 * (ssm[layer][nheads × headdim × d_state]). Its size does not depend on how many tokens were seen.
 */
public final class Mamba2State {
    public final float[][] conv;
    public final float[][] ssm;

    public Mamba2State(Mamba2Config c) {
        conv = new float[c.nLayer][(c.dConv - 1) * c.convDim()];
        ssm = new float[c.nLayer][c.nheads * c.headdim * c.dState];
    }

    private Mamba2State(float[][] conv, float[][] ssm) {
        this.conv = conv;
        this.ssm = ssm;
    }

    public Mamba2State copy() {
        float[][] c = new float[conv.length][], s = new float[ssm.length][];
        for (int i = 0; i < conv.length; i++) { c[i] = conv[i].clone(); s[i] = ssm[i].clone(); }
        return new Mamba2State(c, s);
    }
}
