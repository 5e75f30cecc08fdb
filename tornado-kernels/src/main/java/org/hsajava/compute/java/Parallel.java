package org.hsajava.compute.java;

import java.util.stream.IntStream;

/** Splits a loop over {@code [0, n)} into blocks run on the common fork-join pool. */
public final class Parallel {
    private Parallel() {}

    /** A loop body over a half-open block of indices. */
    @FunctionalInterface
    public interface Block {
        void run(int from, int to);
    }

    /** Runs {@code body} over blocks of about {@code grain} indices; sequential when n is small. */
    public static void forRange(int n, int grain, Block body) {
        if (n <= 0) return;
        int threads = Runtime.getRuntime().availableProcessors();
        if (threads == 1 || n <= grain) {
            body.run(0, n);
            return;
        }
        int blocks = Math.min((n + grain - 1) / grain, threads * 4);
        int per = (n + blocks - 1) / blocks;
        IntStream.range(0, blocks).parallel().forEach(b -> {
            int lo = b * per, hi = Math.min(n, lo + per);
            if (lo < hi) body.run(lo, hi);
        });
    }

    /** Runs {@code body(i)} for each i in parallel (one task per index; use for coarse work items such as rows). */
    public static void forEach(int n, java.util.function.IntConsumer body) {
        if (n <= 0) return;
        if (n == 1 || Runtime.getRuntime().availableProcessors() == 1) {
            for (int i = 0; i < n; i++) body.accept(i);
            return;
        }
        IntStream.range(0, n).parallel().forEach(body);
    }
}
