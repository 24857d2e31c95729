package ssdspark.model;

/**
 * A token id outside the model's vocabulary, found by an engine that reads ids where they are (device memory): the id
 * at position {@code pos} of sequence {@code seq} of the batch, where pos equal to the sequence's length means the id
 * right after it (its document goes on). Nothing has run when it is thrown, so the batch can run again without that
 * sequence's document.
 */
public final class BadTokenId extends IllegalArgumentException {
    public final int seq, pos, id;

    public BadTokenId(String message, int seq, int pos, int id) {
        super(message);
        this.seq = seq;
        this.pos = pos;
        this.id = id;
    }
}
