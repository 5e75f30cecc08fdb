package org.hsajava.train.checkpoint;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One named tensor as stored in a safetensors file: dtype, shape (row-major, outermost first) and
 * its raw little-endian bytes. Factories convert from Java arrays; accessors convert back.
 */
public final class SafeTensor {
    private final String name;
    private final SafeDType dtype;
    private final long[] shape;
    private final byte[] data;

    /** Wraps raw little-endian bytes; their length must be the shape's element count times the dtype size. */
    public SafeTensor(String name, SafeDType dtype, long[] shape, byte[] data) {
        if (name == null || name.isEmpty()) throw new IllegalArgumentException("tensor name must be non-empty");
        if (name.equals(Safetensors.METADATA_KEY)) throw new IllegalArgumentException("'" + name + "' is reserved for metadata");
        this.name = name;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.data = data;
        long n = elementCount(name, this.shape);
        if (data.length != n * dtype.bytes()) {
            throw new IllegalArgumentException("tensor '" + name + "': " + data.length + " bytes given, shape "
                    + Arrays.toString(shape) + " of " + dtype + " needs " + n * dtype.bytes());
        }
    }

    static long elementCount(String name, long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Floats from {@code src[offset..offset+count)} stored as F32, BF16 (round to nearest even) or F16. */
    public static SafeTensor ofFloats(String name, SafeDType dtype, long[] shape, float[] src, int offset) {
        if (!dtype.isFloat()) throw new IllegalArgumentException("tensor '" + name + "': " + dtype + " is not a float type");
        int n = Math.toIntExact(elementCount(name, shape));
        ByteBuffer b = ByteBuffer.allocate(n * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            float v = src[offset + i];
            switch (dtype) {
                case F32 -> b.putFloat(v);
                case BF16 -> b.putShort(toBf16(v));
                case F16 -> b.putShort(Float.floatToFloat16(v));
                default -> throw new AssertionError();
            }
        }
        return new SafeTensor(name, dtype, shape, b.array());
    }

    public static SafeTensor ofFloats(String name, SafeDType dtype, long[] shape, float[] values) {
        return ofFloats(name, dtype, shape, values, 0);
    }

    public static SafeTensor ofInts(String name, long[] shape, int[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) b.putInt(v);
        return new SafeTensor(name, SafeDType.I32, shape, b.array());
    }

    public static SafeTensor ofLongs(String name, long[] shape, long[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) b.putLong(v);
        return new SafeTensor(name, SafeDType.I64, shape, b.array());
    }

    /** bfloat16 bits of f, rounded to nearest even (PyTorch's conversion); NaN stays a quiet NaN. */
    static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x0040);
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    static float fromBf16(short s) { return Float.intBitsToFloat((s & 0xFFFF) << 16); }

    public String name() { return name; }

    public SafeDType dtype() { return dtype; }

    public long[] shape() { return shape.clone(); }

    public long elementCount() { return elementCount(name, shape); }

    /** The raw little-endian bytes (not a copy: do not modify). */
    byte[] rawData() { return data; }

    /** Converts a float tensor (F32/BF16/F16) into {@code dst[offset..]}. */
    public void copyFloatsTo(float[] dst, int offset) {
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int n = Math.toIntExact(elementCount());
        switch (dtype) {
            case F32 -> { for (int i = 0; i < n; i++) dst[offset + i] = b.getFloat(); }
            case BF16 -> { for (int i = 0; i < n; i++) dst[offset + i] = fromBf16(b.getShort()); }
            case F16 -> { for (int i = 0; i < n; i++) dst[offset + i] = Float.float16ToFloat(b.getShort()); }
            default -> throw new IllegalStateException("tensor '" + name + "' is " + dtype + ", not a float type");
        }
    }

    public float[] toFloats() {
        float[] out = new float[Math.toIntExact(elementCount())];
        copyFloatsTo(out, 0);
        return out;
    }

    public int[] toInts() {
        if (dtype != SafeDType.I32) throw new IllegalStateException("tensor '" + name + "' is " + dtype + ", not I32");
        int[] out = new int[Math.toIntExact(elementCount())];
        ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(out);
        return out;
    }

    public long[] toLongs() {
        if (dtype != SafeDType.I64) throw new IllegalStateException("tensor '" + name + "' is " + dtype + ", not I64");
        long[] out = new long[Math.toIntExact(elementCount())];
        ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
        return out;
    }

    @Override
    public String toString() { return name + " " + dtype + Arrays.toString(shape); }
}
