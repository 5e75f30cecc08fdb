package org.hsajava.train.tasks;

import java.util.SplittableRandom;

/** A generator of long-context retrieval samples, shared by training and evaluation. */
public interface SyntheticTask {

    String name();

    /**
     * A sample of exactly {@code lengthTokens} tokens with its (queried) needle at {@code depth} of
     * the filler (0 = right after the leading eos, 1 = right before the question), snapped to the
     * nearest sentence boundary. Everything random comes from {@code rng}: the same rng state gives
     * the same sample. Throws {@link IllegalArgumentException} when the needle(s), question and
     * answer alone need more tokens than {@code lengthTokens}, saying how many.
     */
    Sample generate(int lengthTokens, double depth, SplittableRandom rng);
}
