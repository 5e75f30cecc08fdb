package org.hsajava.train.tasks;

import java.util.SplittableRandom;
import org.hsajava.train.text.Tokenizer;

/** What every task holds: tokenizer, filler and loss mask; and the argument checks. */
abstract class AbstractTask implements SyntheticTask {

    protected final Tokenizer tokenizer;
    protected final Filler filler;
    protected final LossMask lossMask;

    AbstractTask(Tokenizer tokenizer, Filler filler, LossMask lossMask) {
        this.tokenizer = tokenizer;
        this.filler = filler;
        this.lossMask = lossMask;
    }

    @Override
    public final Sample generate(int lengthTokens, double depth, SplittableRandom rng) {
        if (lengthTokens < 2) {
            throw new IllegalArgumentException(name() + ": lengthTokens must be at least 2, got " + lengthTokens);
        }
        if (!(depth >= 0 && depth <= 1)) {
            throw new IllegalArgumentException(name() + ": depth must lie in [0, 1], got " + depth);
        }
        SampleBuilder builder = new SampleBuilder(tokenizer);
        compose(builder, depth, rng);
        return builder.build(name(), lengthTokens, depth, filler, rng, lossMask);
    }

    /** Adds the needles, question and answers (drawing keys and values from rng). */
    abstract void compose(SampleBuilder builder, double depth, SplittableRandom rng);

    static int positive(String what, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(what + " must be at least 1, got " + value);
        }
        return value;
    }

    /** Depths for needles other than the primary: uniform over the filler. */
    static double randomDepth(SplittableRandom rng) {
        return rng.nextDouble();
    }
}
