package org.hsajava.train.tasks;

/** Filler tokens and the offsets where its sentences start (ascending, the first is 0 when non-empty). */
public record FillerText(int[] tokens, int[] sentenceStarts) {
}
