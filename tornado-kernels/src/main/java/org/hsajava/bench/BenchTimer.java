package org.hsajava.bench;

import java.util.Arrays;

/**
 * Times a piece of device work the simple, robust way for the bench command: warm-up runs, then
 * repeated timed runs of a body that ends with the device idle (an {@code ExecutionPlan.execute()}
 * does), reporting the median and the spread. JMH benches exist beside it for the same kernels.
 */
public final class BenchTimer {
    private BenchTimer() {}

    /** Median, min and max of the timed runs, in milliseconds. */
    public record Stats(double medianMs, double minMs, double maxMs, int runs) {
        @Override
        public String toString() { return String.format("%.3f ms (min %.3f, max %.3f, %d runs)", medianMs, minMs, maxMs, runs); }
    }

    /**
     * Runs {@code body} {@code warmup} times untimed, then times it until both {@code minRuns} runs
     * and {@code minSeconds} have passed (at most 1000 runs).
     */
    public static Stats time(Runnable body, int warmup, int minRuns, double minSeconds) {
        for (int i = 0; i < warmup; i++) body.run();
        double[] samples = new double[1000];
        int n = 0;
        long start = System.nanoTime();
        while (n < samples.length && (n < minRuns || (System.nanoTime() - start) < minSeconds * 1e9)) {
            long t0 = System.nanoTime();
            body.run();
            samples[n++] = (System.nanoTime() - t0) / 1e6;
        }
        double[] s = Arrays.copyOf(samples, n);
        Arrays.sort(s);
        double median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
        return new Stats(median, s[0], s[n - 1], n);
    }
}
