package org.hsajava.train.tasks;

import java.util.SplittableRandom;

/** Haystack text for the synthetic tasks. */
public interface Filler {

    /** Exactly {@code tokens} tokens of filler, chosen by {@code rng} only (the same rng state gives the same text). */
    FillerText fill(int tokens, SplittableRandom rng);

    /** Tokens of the longest sentence: how far a needle can move when it is snapped to a sentence boundary. */
    int longestSentence();
}
