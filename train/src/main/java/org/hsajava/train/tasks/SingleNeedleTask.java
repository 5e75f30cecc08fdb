package org.hsajava.train.tasks;

import java.util.SplittableRandom;
import org.hsajava.train.text.Tokenizer;

/**
 * Single needle in a haystack (RULER's S-NIAH): {@code " One of the special magic numbers for
 * river is: 4817263."} in real text, then {@code " What is the special magic number for river?
 * The special magic number for river is:"}; the answer is {@code " 4817263"}.
 */
public final class SingleNeedleTask extends AbstractTask {

    private final int digits;

    public SingleNeedleTask(Tokenizer tokenizer, Filler filler, LossMask lossMask, int digits) {
        super(tokenizer, filler, lossMask);
        this.digits = positive("value digits", digits);
    }

    @Override
    public String name() {
        return "niah_single";
    }

    static String needle(String key, String value) {
        return " One of the special magic numbers for " + key + " is: " + value + ".";
    }

    @Override
    void compose(SampleBuilder builder, double depth, SplittableRandom rng) {
        String key = RandomText.distinctWords(1, rng).getFirst();
        String value = RandomText.digits(digits, rng);
        builder.primaryNeedle(depth, needle(key, value))
                .prompt(" What is the special magic number for " + key + "? The special magic number for " + key + " is:")
                .answer(" " + value);
    }
}
