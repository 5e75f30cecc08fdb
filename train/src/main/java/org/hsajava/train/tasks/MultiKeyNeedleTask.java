package org.hsajava.train.tasks;

import java.util.List;
import java.util.SplittableRandom;
import org.hsajava.train.text.Tokenizer;

/**
 * Multi-key needles (RULER's MK-/MQ-NIAH): {@code keys} needles {@code " One of the special magic
 * numbers for KEY is: VALUE."} with different keys and values; {@code queries} of them are asked
 * for. The first queried needle sits at the requested depth, every other needle at a random
 * depth. One query: {@code "... What is the special magic number for K? The special magic number
 * for K is:"} answer {@code " V"}; several: {@code "... What are the special magic numbers for A, B
 * and C? The special magic numbers for A, B and C are:"} answers {@code " VA"}, {@code ","},
 * {@code " VB"}, ... (one span per value; the commas in between are prompt).
 */
public final class MultiKeyNeedleTask extends AbstractTask {

    private final int keys;
    private final int queries;
    private final int digits;

    public MultiKeyNeedleTask(Tokenizer tokenizer, Filler filler, LossMask lossMask, int keys, int queries, int digits) {
        super(tokenizer, filler, lossMask);
        this.keys = positive("keys", keys);
        this.queries = positive("queries", queries);
        this.digits = positive("value digits", digits);
        if (queries > keys) {
            throw new IllegalArgumentException("queries (" + queries + ") must not exceed keys (" + keys + ")");
        }
    }

    @Override
    public String name() {
        return "niah_multikey";
    }

    @Override
    void compose(SampleBuilder builder, double depth, SplittableRandom rng) {
        List<String> names = RandomText.distinctWords(keys, rng);
        List<String> values = RandomText.distinctDigits(keys, digits, rng);
        // the first `queries` keys are asked for; their order in the text is set by the depths
        builder.primaryNeedle(depth, SingleNeedleTask.needle(names.getFirst(), values.getFirst()));
        for (int i = 1; i < keys; i++) {
            builder.needle(randomDepth(rng), SingleNeedleTask.needle(names.get(i), values.get(i)));
        }
        List<String> asked = names.subList(0, queries);
        if (queries == 1) {
            String key = asked.getFirst();
            builder.prompt(" What is the special magic number for " + key + "? The special magic number for " + key + " is:");
        } else {
            String listed = RandomText.listed(asked);
            builder.prompt(" What are the special magic numbers for " + listed + "? The special magic numbers for "
                    + listed + " are:");
        }
        for (int i = 0; i < queries; i++) {
            if (i > 0) {
                builder.prompt(",");
            }
            builder.answer(" " + values.get(i));
        }
    }
}
