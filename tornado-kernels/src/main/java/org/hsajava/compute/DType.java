package org.hsajava.compute;

/**
 * Element types a {@link Tensor} can hold. Sizes are in bytes.
 *
 * <p>{@code BF16} is bfloat16 storage (the upper 16 bits of an fp32 number: 8 exponent bits, 7
 * mantissa bits): kernels see {@code ushort} bit patterns, the host a {@code short[]} of the same
 * bits ({@link Bf16} converts). It halves the bytes that memory-bound kernels move.
 */
public enum DType {
    F32(4, "float"),
    I32(4, "int"),
    BF16(2, "ushort");

    private final int bytes;
    private final String clName;

    DType(int bytes, String clName) {
        this.bytes = bytes;
        this.clName = clName;
    }

    public int bytes() { return bytes; }

    /** The OpenCL C type name, for messages and generated code. */
    public String clName() { return clName; }
}
