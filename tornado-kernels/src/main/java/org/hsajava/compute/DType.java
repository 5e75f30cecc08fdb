package org.hsajava.compute;

/** Element types a {@link Tensor} can hold. Sizes are in bytes. */
public enum DType {
    F32(4, "float"),
    I32(4, "int");

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
