package org.hsajava.compute;

import java.util.function.Function;

/** Backend plumbing: gives a Java kernel's {@link KernelArgs} access to device arrays. */
public final class KernelLaunches {
    private KernelLaunches() {}

    /** The same arguments, with {@code storage} mapping each root tensor to its device array. */
    public static KernelArgs withStorage(KernelArgs args, Function<Tensor, Object> storage) {
        return args.withStorage(storage);
    }

    /** Arguments of a direct launch (tests, benchmarks) that bypasses task graphs. */
    public static KernelArgs of(KernelDef kernel, java.util.List<Object> values) {
        return new KernelArgs(kernel, values, null);
    }
}
