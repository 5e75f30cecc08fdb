package org.hsajava.train.tasks;

/** Tokens {@code [start, start + length)} of a sample are an answer, decoding to {@code text}. */
public record AnswerSpan(int start, int length, String text) {
}
