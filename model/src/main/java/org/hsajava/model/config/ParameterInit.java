package org.hsajava.model.config;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Fills a flat parameter buffer by each tensor's {@link InitRule}. Every tensor draws from its own
 * generator, seeded from the run seed and the tensor's name, so a tensor's initial values do not
 * change when other tensors are added or removed (e.g. toggling {@code enable_qk_norm}).
 */
public final class ParameterInit {
    private ParameterInit() {}

    public static void fill(ParameterLayout layout, float[] buffer, long seed) {
        if (buffer.length != layout.totalSize()) {
            throw new IllegalArgumentException("buffer has " + buffer.length + " floats, the layout needs " + layout.totalSize());
        }
        Arrays.fill(buffer, 0f); // alignment padding stays zero
        for (ParameterSpec s : layout.specs()) {
            int from = Math.toIntExact(s.offset()), to = Math.toIntExact(s.end());
            switch (s.init()) {
                case ONES -> Arrays.fill(buffer, from, to, 1f);
                case ZEROS -> Arrays.fill(buffer, from, to, 0f);
                case NORMAL -> {
                    SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ s.name().hashCode());
                    for (int i = from; i < to; i++) buffer[i] = (float) (r.nextGaussian() * s.std());
                }
            }
        }
    }

    public static float[] create(ParameterLayout layout, long seed) {
        float[] b = new float[Math.toIntExact(layout.totalSize())];
        fill(layout, b, seed);
        return b;
    }
}
