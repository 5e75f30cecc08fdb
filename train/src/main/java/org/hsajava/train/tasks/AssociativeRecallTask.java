package org.hsajava.train.tasks;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.hsajava.train.text.Tokenizer;

/**
 * Multi-query associative recall (MQAR, Arora et al. 2023) in words: a block of key–value pairs
 * {@code " Pairs: apple 4812, river 1193, stone 7730."} at the requested depth, then the queries
 * {@code " Recall: stone 7730, apple 4812."} at the end: {@code queries} of the keys in random order,
 * each followed by its value, which is the answer span ({@code " 7730"}, {@code " 4812"}).
 */
public final class AssociativeRecallTask extends AbstractTask {

    private final int pairs;
    private final int queries;
    private final int digits;

    public AssociativeRecallTask(Tokenizer tokenizer, Filler filler, LossMask lossMask, int pairs, int queries, int digits) {
        super(tokenizer, filler, lossMask);
        this.pairs = positive("pairs", pairs);
        this.queries = positive("queries", queries);
        this.digits = positive("value digits", digits);
        if (queries > pairs) {
            throw new IllegalArgumentException("queries (" + queries + ") must not exceed pairs (" + pairs + ")");
        }
    }

    @Override
    public String name() {
        return "associative_recall";
    }

    @Override
    void compose(SampleBuilder builder, double depth, SplittableRandom rng) {
        List<String> keys = RandomText.distinctWords(pairs, rng);
        List<String> values = RandomText.distinctDigits(pairs, digits, rng);
        List<String> block = new ArrayList<>();
        for (int i = 0; i < pairs; i++) {
            block.add(keys.get(i) + " " + values.get(i));
        }
        builder.primaryNeedle(depth, " Pairs: " + String.join(", ", block) + ".");
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < pairs; i++) {
            order.add(i);
        }
        for (int i = pairs - 1; i > 0; i--) {  // Fisher–Yates with the sample's rng
            int j = rng.nextInt(i + 1);
            order.set(i, order.set(j, order.get(i)));
        }
        builder.prompt(" Recall:");
        for (int q = 0; q < queries; q++) {
            int k = order.get(q);
            builder.prompt((q == 0 ? " " : ", ") + keys.get(k));
            builder.answer(" " + values.get(k));
        }
    }
}
