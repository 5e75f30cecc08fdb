package org.hsajava.eval;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from a logits row: greedy (temperature 0: the argmax, ties to the lower id)
 * or a draw from {@code softmax(logits / temperature)} restricted to the {@code topK} largest
 * logits (0: all), with a seeded generator so that a run repeats.
 */
public final class Sampler {
    private final double temperature;
    private final int topK;
    private final SplittableRandom rng;

    public Sampler(double temperature, int topK, long seed) {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) throw new IllegalArgumentException("--temperature must be a finite number >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("--top-k must be >= 0 (0: no limit), got " + topK);
        this.temperature = temperature;
        this.topK = topK;
        this.rng = new SplittableRandom(seed);
    }

    public int next(float[] logits) {
        if (temperature == 0) return argmax(logits);
        Integer[] ids = new Integer[logits.length];
        for (int i = 0; i < ids.length; i++) ids[i] = i;
        Arrays.sort(ids, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        int n = topK == 0 ? ids.length : Math.min(topK, ids.length);
        double max = logits[ids[0]], total = 0;
        double[] weight = new double[n];
        for (int i = 0; i < n; i++) total += weight[i] = Math.exp((logits[ids[i]] - max) / temperature);
        double u = rng.nextDouble() * total;
        for (int i = 0; i < n; i++) {
            u -= weight[i];
            if (u < 0) return ids[i];
        }
        return ids[n - 1];
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }
}
