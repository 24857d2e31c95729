package ssdspark.kernels.gpu;

import jcuda.driver.CUdeviceptr;

import java.util.Arrays;

/**
 * A packed variable-length batch: sequences of different lengths back to back with no padding, and the tables
 * the kernels use to keep them apart. Sequence s occupies tokens [seqStart[s], seqStart[s]+seqLen[s]); token t
 * belongs to tokSeq[t] at position tokPos[t]. For the SSD scan every sequence is cut into chunks of at most
 * {@code q} tokens starting at its own first token (a chunk never straddles two sequences): chunk c covers
 * [chunkStart[c], chunkStart[c]+chunkLen[c]); sequence s owns chunks [seqChunk0[s], seqChunk0[s]+seqChunks[s]).
 * This is the same chunking as running each sequence alone through {@code SsdScan.chunked(q)}.
 */
public final class Varlen {
    public final int seqs, tokens, chunks, q;
    public final int[] seqStart, seqLen, tokSeq, tokPos, chunkStart, chunkLen, seqChunk0, seqChunks;

    private Varlen(int[] lengths, int q) {
        if (q < 1 || q > GpuSsdScan.MAX_CHUNK) throw new IllegalArgumentException("chunk length " + q + " not in [1, " + GpuSsdScan.MAX_CHUNK + "]");
        if (lengths.length == 0) throw new IllegalArgumentException("empty batch: no sequences");
        this.q = q;
        seqs = lengths.length;
        seqStart = new int[seqs];
        seqLen = lengths.clone();
        seqChunk0 = new int[seqs];
        seqChunks = new int[seqs];
        long t = 0;
        int c = 0;
        for (int s = 0; s < seqs; s++) {
            if (lengths[s] < 1) throw new IllegalArgumentException("sequence " + s + " of the batch is empty (length " + lengths[s] + ")");
            seqStart[s] = (int) t;
            t += lengths[s];
            if (t > Integer.MAX_VALUE / 8) throw new IllegalArgumentException("batch of " + t + " tokens is too large");
            seqChunk0[s] = c;
            seqChunks[s] = (lengths[s] + q - 1) / q;
            c += seqChunks[s];
        }
        tokens = (int) t;
        chunks = c;
        tokSeq = new int[tokens];
        tokPos = new int[tokens];
        chunkStart = new int[chunks];
        chunkLen = new int[chunks];
        for (int s = 0; s < seqs; s++) {
            for (int i = 0; i < seqLen[s]; i++) {
                tokSeq[seqStart[s] + i] = s;
                tokPos[seqStart[s] + i] = i;
            }
            for (int k = 0; k < seqChunks[s]; k++) {
                chunkStart[seqChunk0[s] + k] = seqStart[s] + k * q;
                chunkLen[seqChunk0[s] + k] = Math.min(q, seqLen[s] - k * q);
            }
        }
    }

    public static Varlen of(int[] lengths, int q) { return new Varlen(lengths, q); }

    /** GpuSsdScan's chunk-state schedule for this batch, decided once for all its layers (same heads, same slots). */
    private record WalkChoice(int slots, int heads, boolean walk) {}
    private volatile WalkChoice walkChoice;

    /** {@link GpuSsdScan#walkPays} for this batch's sequences, computed on the first layer's call and kept. */
    boolean walkPays(int slots, int heads) {
        WalkChoice w = walkChoice;
        if (w == null || w.slots != slots || w.heads != heads)
            walkChoice = w = new WalkChoice(slots, heads, GpuSsdScan.walkPays(slots, seqChunks, heads, chunks));
        return w.walk;
    }

    /** Number of ints {@link #upload} writes. */
    public int packedInts() { return 2 * tokens + 2 * chunks + 4 * seqs; }

    /** The tables on the device (pointers into one int buffer). */
    public record OnDevice(Varlen host, CUdeviceptr tokSeq, CUdeviceptr tokPos, CUdeviceptr seqStart,
                           CUdeviceptr seqLen, CUdeviceptr chunkStart, CUdeviceptr chunkLen,
                           CUdeviceptr seqChunk0, CUdeviceptr seqChunks) {}

    /**
     * Queues the tables into buf (at element offset off, {@link #packedInts()} ints) and returns their pointers. Only
     * the per-sequence and per-chunk tables are uploaded; the per-token ones are filled on the device from them
     * (varlen.cuh), equal to {@link #tokSeq}/{@link #tokPos}.
     */
    public OnDevice upload(GpuStream s, DeviceBuffer buf, long off) {
        if (4 * (off + packedInts()) > buf.bytes()) throw new IllegalArgumentException("varlen tables do not fit the buffer");
        int[][] small = {seqStart, seqLen, chunkStart, chunkLen, seqChunk0, seqChunks};
        int[] all = new int[packedInts() - 2 * tokens];
        int[] offs = new int[small.length];
        int o = 0;
        for (int i = 0; i < small.length; i++) {
            offs[i] = o;
            System.arraycopy(small[i], 0, all, o, small[i].length);
            o += small[i].length;
        }
        long base = off + 2L * tokens;
        s.upload(all, buf.at4(base));
        CUdeviceptr tokSeqD = buf.at4(off), tokPosD = buf.at4(off + tokens);
        s.launch("varlen_token_tables", seqs, 1, 1, 256, 0, buf.at4(base + offs[0]), buf.at4(base + offs[1]), tokSeqD, tokPosD);
        return new OnDevice(this, tokSeqD, tokPosD, buf.at4(base + offs[0]), buf.at4(base + offs[1]), buf.at4(base + offs[2]),
                buf.at4(base + offs[3]), buf.at4(base + offs[4]), buf.at4(base + offs[5]));
    }

    @Override
    public String toString() {
        return "Varlen[" + seqs + " seqs, " + tokens + " tokens, " + chunks + " chunks of <= " + q + ", lengths "
                + (seqs <= 8 ? Arrays.toString(seqLen) : "...") + "]";
    }
}
