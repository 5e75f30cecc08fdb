package org.hsajava.train.tasks;

import java.util.Arrays;
import java.util.List;

/**
 * One synthetic long-context example: exactly {@code tokens.length} tokens, starting with eos (as
 * every document does in packed training text) and ending with the answer(s). Teacher-forced
 * exact match: the sample counts as solved when the argmax at position {@code p - 1} equals
 * {@code tokens[p]} for every answer position p.
 *
 * @param task         the generator's name
 * @param tokens       the whole sample
 * @param answers      answer spans, in order
 * @param needleStart  first token of the needle that was placed at {@code depth}
 * @param fillerTokens how many filler tokens the sample has (depth is a fraction of these)
 * @param depth        requested needle depth in [0, 1]
 * @param lossMask     which tokens {@link #targetMask()} marks
 */
public record Sample(String task, int[] tokens, List<AnswerSpan> answers, int needleStart, int fillerTokens,
                     double depth, LossMask lossMask) {

    public Sample {
        answers = List.copyOf(answers);
    }

    public int length() {
        return tokens.length;
    }

    /** Every answer token's position, ascending. */
    public int[] answerPositions() {
        return answers.stream()
                .flatMapToInt(a -> java.util.stream.IntStream.range(a.start(), a.start() + a.length()))
                .toArray();
    }

    /** The answers' texts joined in order (what the answer positions decode to). */
    public String answerText() {
        StringBuilder text = new StringBuilder();
        answers.forEach(a -> text.append(a.text()));
        return text.toString();
    }

    /**
     * {@code mask[p]} is true when token p is a training target (its loss is taken from the output at
     * position p - 1); {@code mask[0]} is always false.
     */
    public boolean[] targetMask() {
        boolean[] mask = new boolean[tokens.length];
        if (lossMask == LossMask.ALL) {
            Arrays.fill(mask, 1, mask.length, true);
        } else {
            for (int p : answerPositions()) {
                mask[p] = true;
            }
        }
        return mask;
    }
}
