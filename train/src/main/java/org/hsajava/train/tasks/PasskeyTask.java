package org.hsajava.train.tasks;

import java.util.SplittableRandom;
import org.hsajava.train.text.Tokenizer;

/**
 * Passkey retrieval (Mohtashami and Jaggi 2023): filler with {@code " The passkey is: 71432."} at
 * the depth, then {@code " What is the passkey? The passkey is:"}; the answer is {@code " 71432"}.
 */
public final class PasskeyTask extends AbstractTask {

    private final int digits;

    public PasskeyTask(Tokenizer tokenizer, Filler filler, LossMask lossMask, int digits) {
        super(tokenizer, filler, lossMask);
        this.digits = positive("passkey digits", digits);
    }

    @Override
    public String name() {
        return "passkey";
    }

    @Override
    void compose(SampleBuilder builder, double depth, SplittableRandom rng) {
        String key = RandomText.digits(digits, rng);
        builder.primaryNeedle(depth, " The passkey is: " + key + ".")
                .prompt(" What is the passkey? The passkey is:")
                .answer(" " + key);
    }
}
