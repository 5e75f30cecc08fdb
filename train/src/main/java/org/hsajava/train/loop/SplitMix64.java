package org.hsajava.train.loop;

/**
 * The trainer's random stream: SplitMix64, whose whole state is one long, so a checkpoint can store
 * it and a resumed run continues the same stream ({@link java.util.SplittableRandom} hides its
 * state). Each synthetic sample gets its own {@code SplittableRandom} seeded from this stream.
 */
public final class SplitMix64 {
    private long state;

    public SplitMix64(long state) { this.state = state; }

    public long state() { return state; }

    public void setState(long state) { this.state = state; }

    public long nextLong() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Uniform in [0, 1) with 53 random bits. */
    public double nextDouble() { return (nextLong() >>> 11) * 0x1.0p-53; }
}
