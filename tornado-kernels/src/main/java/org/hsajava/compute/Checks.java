package org.hsajava.compute;

/** Small helpers for {@link KernelDef} argument checks; each failure names the argument. */
public final class Checks {
    private Checks() {}

    /** Requires buffer {@code name} to hold at least {@code needed} elements. */
    public static void atLeast(KernelArgs a, String name, long needed) {
        int have = a.size(name);
        if (have < needed) {
            throw new IllegalArgumentException("argument '" + name + "' (" + a.tensor(name) + ") has " + have + " elements, needs at least " + needed);
        }
    }

    /** Requires buffer {@code name} to hold exactly {@code needed} elements. */
    public static void exactly(KernelArgs a, String name, long needed) {
        int have = a.size(name);
        if (have != needed) {
            throw new IllegalArgumentException("argument '" + name + "' (" + a.tensor(name) + ") has " + have + " elements, expected " + needed);
        }
    }

    /** Requires scalar {@code name} to be positive (or zero when {@code allowZero}). */
    public static void positive(KernelArgs a, String name, boolean allowZero) {
        int v = a.i(name);
        if (v < 0 || (v == 0 && !allowZero)) throw new IllegalArgumentException("argument '" + name + "' must be " + (allowZero ? ">= 0" : "> 0") + ", got " + v);
    }
}
