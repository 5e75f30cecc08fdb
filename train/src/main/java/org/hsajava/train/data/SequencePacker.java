package org.hsajava.train.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.SplittableRandom;
import org.hsajava.train.text.Tokenizer;

/**
 * GPT-style packing: the corpus becomes one endless token stream (documents separated by eos,
 * sequences crossing document boundaries), cut every {@code sequenceLength} tokens. Sequence k is
 * stream tokens {@code [k·L, k·L + L]} (L + 1 tokens: inputs and next-token targets), so nothing is
 * dropped and consecutive sequences share one token.
 *
 * <p>Order: the stream is taken in blocks of {@code shuffleBlock} consecutive sequences, and each
 * block is handed out in a permutation drawn from {@code (seed, block number)}; a block of 1 keeps
 * stream order. The same corpus, tokenizer, length, seed and block give the same sequences on
 * every run, and {@link #position()} / {@link #resume} continue a run exactly. Memory: one block
 * of sequences plus the current document's tokens.
 */
public final class SequencePacker implements AutoCloseable {

    private final TokenStream stream;
    private final int length;
    private final long seed;
    private final int block;
    private final int[][] rows;
    private final int[] order;
    private long sequences;
    private int usedInBlock;
    private boolean blockLoaded;
    private long blockEpoch, blockDocument, blockToken;

    public SequencePacker(Corpus corpus, Tokenizer tokenizer, int sequenceLength, long seed, int shuffleBlock) {
        this(corpus, tokenizer, new PackingPosition(sequenceLength, seed, shuffleBlock, 0, 0, 0, 0));
    }

    private SequencePacker(Corpus corpus, Tokenizer tokenizer, PackingPosition at) {
        this.stream = new TokenStream(corpus, tokenizer);
        this.length = at.sequenceLength();
        this.seed = at.seed();
        this.block = at.shuffleBlock();
        this.rows = new int[block][];
        this.order = new int[block];
        try {
            stream.seek(at.epoch(), at.document(), at.token());
            this.sequences = at.sequences();
            this.usedInBlock = (int) (sequences % block);
            if (usedInBlock > 0) {
                loadBlock();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (RuntimeException e) {
            closeQuietly();
            throw e;
        }
    }

    /**
     * A packer that continues from {@code position} (taken from {@link #position()} of a packer over
     * the same corpus and tokenizer): its sequences are exactly those the original would have given next.
     */
    public static SequencePacker resume(Corpus corpus, Tokenizer tokenizer, PackingPosition position) {
        return new SequencePacker(corpus, tokenizer, position);
    }

    public int sequenceLength() {
        return length;
    }

    /** The next sequence: {@code sequenceLength + 1} tokens. */
    public int[] next() {
        try {
            if (!blockLoaded || usedInBlock == block) {
                usedInBlock = 0;
                loadBlock();
            }
            int[] row = rows[order[usedInBlock++]];
            sequences++;
            return row.clone();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The next {@code size} sequences as one flat batch (see {@link Batch}). */
    public Batch nextBatch(int size) {
        if (size < 1) {
            throw new IllegalArgumentException("batch size must be positive, got " + size);
        }
        int stride = length + 1;
        int[] tokens = new int[Math.multiplyExact(size, stride)];
        for (int r = 0; r < size; r++) {
            System.arraycopy(next(), 0, tokens, r * stride, stride);
        }
        return new Batch(size, length, tokens);
    }

    /** Where to {@link #resume} so that the next sequence is the one {@link #next()} would give now. */
    public PackingPosition position() {
        if (blockLoaded && usedInBlock < block) {
            return new PackingPosition(length, seed, block, sequences, blockEpoch, blockDocument, blockToken);
        }
        // Between blocks (or before the first): the stream already stands at the next block's start.
        return new PackingPosition(length, seed, block, sequences, stream.epoch(), stream.document(), stream.token());
    }

    /** Reads the block containing sequence {@code sequences} from the stream, which stands at its start. */
    private void loadBlock() throws IOException {
        stream.peek();  // settles the stream on a real token (it may stand past a document's end)
        blockEpoch = stream.epoch();
        blockDocument = stream.document();
        blockToken = stream.token();
        for (int r = 0; r < block; r++) {
            int[] row = new int[length + 1];
            for (int t = 0; t < length; t++) {
                row[t] = stream.next();
            }
            row[length] = stream.peek();
            rows[r] = row;
        }
        long blockNumber = sequences / block;
        SplittableRandom rng = new SplittableRandom(StableHash.mix(seed ^ StableHash.mix(blockNumber)));
        for (int i = 0; i < block; i++) {
            order[i] = i;
        }
        for (int i = block - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
        blockLoaded = true;
    }

    private void closeQuietly() {
        try {
            stream.close();
        } catch (IOException ignored) {
            // the constructor's own exception is the one to report
        }
    }

    @Override
    public void close() throws IOException {
        stream.close();
    }
}
