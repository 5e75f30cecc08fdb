package org.hsajava.train.checkpoint;

/** Element types this project reads and writes in safetensors files, with their header names. */
public enum SafeDType {
    F32(4), BF16(2), F16(2), I32(4), I64(8);

    private final int bytes;

    SafeDType(int bytes) { this.bytes = bytes; }

    public int bytes() { return bytes; }

    /** Whether values convert to and from float (the weight types). */
    public boolean isFloat() { return this == F32 || this == BF16 || this == F16; }

    /** The dtype for a header name, or null when we do not support it. */
    static SafeDType ofHeader(String name) {
        for (SafeDType t : values()) if (t.name().equals(name)) return t;
        return null;
    }
}
