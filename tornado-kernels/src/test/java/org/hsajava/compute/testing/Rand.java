package org.hsajava.compute.testing;

import java.util.SplittableRandom;
import org.hsajava.compute.Tensor;

/** Seeded random tensors for tests. */
public final class Rand {
    private final SplittableRandom rng;

    public Rand(long seed) { this.rng = new SplittableRandom(seed); }

    public float[] uniform(int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * rng.nextDouble());
        return a;
    }

    /** Standard normal values times {@code std}. */
    public float[] normal(int n, double std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (std * gaussian());
        return a;
    }

    public int[] ints(int n, int bound) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = rng.nextInt(bound);
        return a;
    }

    public int nextInt(int bound) { return rng.nextInt(bound); }

    public double nextDouble() { return rng.nextDouble(); }

    public Tensor f32(String name, double std, int... shape) {
        Tensor t = Tensor.f32(name, shape);
        t.set(normal(t.size(), std));
        return t;
    }

    private double gaussian() {
        double u = 1.0 - rng.nextDouble(), v = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
