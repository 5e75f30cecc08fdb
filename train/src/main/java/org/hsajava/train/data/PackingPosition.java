package org.hsajava.train.data;

/**
 * Where a {@link SequencePacker} stands, small enough for a checkpoint manifest (Jackson writes
 * and reads it as a JSON object of its fields). {@link SequencePacker#resume} continues with
 * exactly the sequence that would have come next.
 *
 * @param sequenceLength tokens per training sequence (inputs; each row holds one more for targets)
 * @param seed           the packer's shuffle seed
 * @param shuffleBlock   sequences per shuffle block
 * @param sequences      sequences handed out so far
 * @param epoch          passes over the corpus completed before the current block's first token
 * @param document       index (in corpus order) of the document holding the current block's first token
 * @param token          index of that token within the document's tokens (eos included)
 */
public record PackingPosition(int sequenceLength, long seed, int shuffleBlock, long sequences,
                              long epoch, long document, long token) {

    public PackingPosition {
        if (sequenceLength < 1 || shuffleBlock < 1 || sequences < 0 || epoch < 0 || document < 0 || token < 0) {
            throw new IllegalArgumentException("invalid packing position " + this);
        }
    }
}
