package org.hsajava.compute;

import java.util.List;
import java.util.function.Function;

/**
 * Actual arguments of one kernel launch, looked up by parameter name. The Java reference kernels
 * read their arrays through {@link #f32(String)} / {@link #i32(String)}; an array belongs to the
 * root tensor, so index it from {@link #off(String)} (non-zero for views).
 */
public final class KernelArgs {
    private final KernelDef kernel;
    private final List<Object> values;
    private final Function<Tensor, Object> storage;

    KernelArgs(KernelDef kernel, List<Object> values, Function<Tensor, Object> storage) {
        this.kernel = kernel;
        this.values = values;
        this.storage = storage;
    }

    public KernelDef kernel() { return kernel; }

    KernelArgs withStorage(Function<Tensor, Object> s) { return new KernelArgs(kernel, values, s); }

    /** Number of actual arguments. */
    public int count() { return values.size(); }

    public Object value(int index) {
        Object v = values.get(index);
        return v instanceof Scalar s ? s.get() : v;
    }

    public Tensor tensor(String name) { return (Tensor) values.get(kernel.indexOf(name)); }

    public int i(String name) { return ((Number) value(kernel.indexOf(name))).intValue(); }

    public float f(String name) { return ((Number) value(kernel.indexOf(name))).floatValue(); }

    /** Device storage of a float buffer argument (Java backend only). */
    public float[] f32(String name) { return (float[]) backing(name); }

    public int[] i32(String name) { return (int[]) backing(name); }

    /** Device storage of a bfloat16 buffer argument: bit patterns ({@link Bf16}; Java backend only). */
    public short[] bf16(String name) { return (short[]) backing(name); }

    /** Element offset of the argument inside its array (views of a larger tensor). */
    public int off(String name) { return tensor(name).rootOffset(); }

    /** Number of elements of a buffer argument. */
    public int size(String name) { return tensor(name).size(); }

    private Object backing(String name) {
        if (storage == null) throw new IllegalStateException("kernel '" + kernel.name() + "': array access is only available to Java kernels");
        return storage.apply(tensor(name).root());
    }
}
