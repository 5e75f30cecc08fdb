package org.hsajava.train.tasks;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.hsajava.train.text.Tokenizer;

/**
 * Variable tracking (RULER's VT): chains {@code " VAR QXZTB = 48172."}, {@code " VAR KLMNO =
 * QXZTB."}, ... ({@code hops} re-bindings after the first); {@code chains} chains with different
 * values. The queried chain starts at the requested depth and its later statements follow at
 * evenly spaced depths up to the end; the other chains' statements sit at random depths, in chain
 * order. Question {@code " Find all variables that are assigned the value 48172. They are:"};
 * answer: every name of the queried chain in chain order, {@code " QXZTB KLMNO ..."}.
 */
public final class VariableTrackingTask extends AbstractTask {

    private final int chains;
    private final int hops;
    private final int digits;

    public VariableTrackingTask(Tokenizer tokenizer, Filler filler, LossMask lossMask, int chains, int hops, int digits) {
        super(tokenizer, filler, lossMask);
        this.chains = positive("chains", chains);
        if (hops < 0) {
            throw new IllegalArgumentException("hops must not be negative, got " + hops);
        }
        this.hops = hops;
        this.digits = positive("value digits", digits);
    }

    @Override
    public String name() {
        return "variable_tracking";
    }

    @Override
    void compose(SampleBuilder builder, double depth, SplittableRandom rng) {
        int perChain = hops + 1;
        List<String> names = RandomText.distinctNames(chains * perChain, rng);
        List<String> values = RandomText.distinctDigits(chains, digits, rng);
        for (int c = 0; c < chains; c++) {
            List<String> chain = names.subList(c * perChain, (c + 1) * perChain);
            double[] depths = new double[perChain];
            if (c == 0) {
                for (int i = 0; i < perChain; i++) {
                    depths[i] = depth + (1 - depth) * i / perChain;
                }
            } else {
                for (int i = 0; i < perChain; i++) {
                    depths[i] = randomDepth(rng);
                }
                Arrays.sort(depths);
            }
            for (int i = 0; i < perChain; i++) {
                String statement = " VAR " + chain.get(i) + " = " + (i == 0 ? values.get(c) : chain.get(i - 1)) + ".";
                if (c == 0 && i == 0) {
                    builder.primaryNeedle(depths[i], statement);
                } else {
                    builder.needle(depths[i], statement);
                }
            }
        }
        builder.prompt(" Find all variables that are assigned the value " + values.getFirst() + ". They are:");
        builder.answer(" " + String.join(" ", new ArrayList<>(names.subList(0, perChain))));
    }
}
