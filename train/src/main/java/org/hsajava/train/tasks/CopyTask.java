package org.hsajava.train.tasks;

import java.util.SplittableRandom;
import org.hsajava.train.text.Tokenizer;

/**
 * Long-range copy, a training task for the induction ability that passkey and NIAH rest on: a random
 * string {@code " Copy: q3x9...k."} of {@code minChars..maxChars} lower-case letters and digits at the
 * depth, then at the end {@code " Copy: q"} (its first character as a cue) and, as the answer, the
 * rest of the string. Every answer token is predictable only by finding the string far back and
 * continuing it, so each sample gives tens of supervised copy steps where a passkey sample gives five
 * digits; passkey itself is this task with a fixed prefix ({@code " The passkey is: "}) and digits.
 */
public final class CopyTask extends AbstractTask {

    private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

    private final int minChars;
    private final int maxChars;

    public CopyTask(Tokenizer tokenizer, Filler filler, LossMask lossMask, int minChars, int maxChars) {
        super(tokenizer, filler, lossMask);
        this.minChars = positive("copy string length", minChars);
        if (minChars < 2 || maxChars < minChars) {
            throw new IllegalArgumentException("copy string length must satisfy 2 <= min <= max, got " + minChars + ".." + maxChars);
        }
        this.maxChars = maxChars;
    }

    @Override
    public String name() {
        return "copy";
    }

    @Override
    void compose(SampleBuilder builder, double depth, SplittableRandom rng) {
        int n = minChars + rng.nextInt(maxChars - minChars + 1);
        StringBuilder s = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            s.append(ALPHABET.charAt(rng.nextInt(ALPHABET.length())));
        }
        String text = s.toString();
        builder.primaryNeedle(depth, " Copy: " + text + ".")
                .prompt(" Copy: " + text.charAt(0))
                .answer(text.substring(1) + ".");
    }
}
