package org.hsajava.compute;

import java.util.Arrays;
import java.util.Objects;

/**
 * A named, typed, shaped array: the unit of data that task graphs move and kernels read and write.
 *
 * <p>The host copy ({@link #f32()} / {@link #i32()} / {@link #bf16()}) is allocated on first use, so tensors that only
 * ever live on the device (activations, scratch) cost no host memory. A tensor can be a
 * {@linkplain #view view} of a contiguous range of a parent tensor; views share the parent's host
 * and device storage (the flat parameter buffer with one view per weight is the main use).
 */
public final class Tensor {
    private final String name;
    private final DType dtype;
    private final int[] shape;
    private final int size;
    private final Tensor parent;
    private final int offset;
    private Object host;

    private Tensor(String name, DType dtype, int[] shape, Tensor parent, int offset, Object host) {
        this.name = Objects.requireNonNull(name, "name");
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = shape.clone();
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
            n *= d;
        }
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("tensor '" + name + "': " + n + " elements exceed the 2^31 limit");
        this.size = (int) n;
        this.parent = parent;
        this.offset = offset;
        this.host = host;
    }

    public static Tensor f32(String name, int... shape) { return new Tensor(name, DType.F32, shape, null, 0, null); }

    public static Tensor i32(String name, int... shape) { return new Tensor(name, DType.I32, shape, null, 0, null); }

    /** A bfloat16 tensor (host copy: the bit patterns as shorts, see {@link Bf16}). */
    public static Tensor bf16(String name, int... shape) { return new Tensor(name, DType.BF16, shape, null, 0, null); }

    /** Wraps an existing array as a 1-D (or given-shape) tensor; the array is the host copy. */
    public static Tensor of(String name, float[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : shape;
        Tensor t = new Tensor(name, DType.F32, s, null, 0, data);
        if (t.size != data.length) throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(s) + " does not match " + data.length + " elements");
        return t;
    }

    /** A bf16 tensor holding {@code values} rounded to bf16 ({@link Bf16#fromFloat}); 1-D, or the given shape. */
    public static Tensor ofBf16(String name, float[] values, int... shape) {
        short[] bits = new short[values.length];
        for (int i = 0; i < values.length; i++) bits[i] = Bf16.fromFloat(values[i]);
        Tensor t = bf16(name, shape.length == 0 ? new int[] {values.length} : shape);
        if (t.size != values.length) throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " does not match " + values.length + " elements");
        return t.set(bits);
    }

    public static Tensor of(String name, int[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : shape;
        Tensor t = new Tensor(name, DType.I32, s, null, 0, data);
        if (t.size != data.length) throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(s) + " does not match " + data.length + " elements");
        return t;
    }

    /** A contiguous range of this tensor, starting at element {@code offset}, with its own name and shape. */
    public Tensor view(String viewName, int offset, int... viewShape) {
        Tensor v = new Tensor(viewName, dtype, viewShape, root(), rootOffset() + offset, null);
        if (offset < 0 || offset + v.size > size) {
            throw new IllegalArgumentException("view '" + viewName + "' [" + offset + ", " + (offset + v.size) + ") lies outside '" + name + "' of " + size + " elements");
        }
        return v;
    }

    public String name() { return name; }
    public DType dtype() { return dtype; }
    public int[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public int dim(int i) { return shape[i]; }
    /** Number of elements. */
    public int size() { return size; }
    public long bytes() { return (long) size * dtype.bytes(); }
    public boolean isView() { return parent != null; }
    /** The tensor owning the storage (itself unless this is a view). */
    public Tensor root() { return parent == null ? this : parent; }
    /** Offset of element 0 in the root's storage. */
    public int rootOffset() { return offset; }

    /** Host copy of a float tensor (the root's array for a view: index it from {@link #rootOffset()}). */
    public float[] f32() {
        requireType(DType.F32);
        Tensor r = root();
        if (r.host == null) r.host = new float[r.size];
        return (float[]) r.host;
    }

    public int[] i32() {
        requireType(DType.I32);
        Tensor r = root();
        if (r.host == null) r.host = new int[r.size];
        return (int[]) r.host;
    }

    /** Host copy of a bfloat16 tensor: bit patterns (see {@link Bf16}), indexed like {@link #f32()}. */
    public short[] bf16() {
        requireType(DType.BF16);
        Tensor r = root();
        if (r.host == null) r.host = new short[r.size];
        return (short[]) r.host;
    }

    /** The host copy as an array of the tensor's type (float[], int[] or short[]), allocated on first use. */
    public Object hostArray() {
        return switch (dtype) {
            case F32 -> f32();
            case I32 -> i32();
            case BF16 -> bf16();
        };
    }

    /** Copies this tensor's elements (a view's range only) out of the host copy. */
    public float[] toF32Array() { return Arrays.copyOfRange(f32(), offset, offset + size); }

    public int[] toI32Array() { return Arrays.copyOfRange(i32(), offset, offset + size); }

    /** This bfloat16 tensor's elements widened to floats (exactly). */
    public float[] bf16ToF32Array() {
        short[] h = bf16();
        float[] out = new float[size];
        for (int i = 0; i < size; i++) out[i] = Bf16.toFloat(h[offset + i]);
        return out;
    }

    /** Copies values into the host copy of this tensor (a view writes its own range). */
    public Tensor set(float[] values) {
        if (values.length != size) throw new IllegalArgumentException("tensor '" + name + "' has " + size + " elements, got " + values.length);
        System.arraycopy(values, 0, f32(), offset, size);
        return this;
    }

    public Tensor set(int[] values) {
        if (values.length != size) throw new IllegalArgumentException("tensor '" + name + "' has " + size + " elements, got " + values.length);
        System.arraycopy(values, 0, i32(), offset, size);
        return this;
    }

    /** Copies bfloat16 bit patterns into the host copy of this tensor (a view writes its own range). */
    public Tensor set(short[] values) {
        if (values.length != size) throw new IllegalArgumentException("tensor '" + name + "' has " + size + " elements, got " + values.length);
        System.arraycopy(values, 0, bf16(), offset, size);
        return this;
    }

    private void requireType(DType t) {
        if (dtype != t) throw new IllegalStateException("tensor '" + name + "' is " + dtype + ", not " + t);
    }

    @Override
    public String toString() {
        return name + ":" + dtype + Arrays.toString(shape) + (parent != null ? "@" + parent.name + "+" + offset : "");
    }
}
