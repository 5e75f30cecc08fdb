package org.hsajava.train.data;

import java.nio.charset.StandardCharsets;

/**
 * A 64-bit hash that is the same on every JVM and machine (String.hashCode is only 32 bits and
 * too weak for splitting): FNV-1a over the UTF-8 bytes, then SplitMix64's finaliser mixed with a seed.
 */
public final class StableHash {

    private StableHash() {
    }

    public static long of(String text, long seed) {
        long h = 0xcbf29ce484222325L;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return mix(h ^ mix(seed));
    }

    /** SplitMix64's finaliser: every input bit affects every output bit. */
    public static long mix(long z) {
        z += 0x9e3779b97f4a7c15L;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** The hash as a double uniform in [0, 1). */
    public static double unit(String text, long seed) {
        return (of(text, seed) >>> 11) * 0x1.0p-53;
    }
}
