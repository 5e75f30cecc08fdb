package org.hsajava.compute;

/**
 * One formal parameter of a kernel: a buffer of a given element type, or a scalar.
 * The order of a kernel's params is the order of its OpenCL C arguments.
 */
public record Param(String name, Kind kind, DType dtype, Access access) {

    public enum Kind { BUFFER, INT, FLOAT }

    public enum Access { READ, WRITE, READ_WRITE }

    public static Param buffer(String name, DType dtype, Access access) { return new Param(name, Kind.BUFFER, dtype, access); }

    public static Param intScalar(String name) { return new Param(name, Kind.INT, DType.I32, Access.READ); }

    public static Param floatScalar(String name) { return new Param(name, Kind.FLOAT, DType.F32, Access.READ); }

    public boolean isBuffer() { return kind == Kind.BUFFER; }

    public boolean writes() { return access != Access.READ; }

    public String describe() {
        return switch (kind) {
            case BUFFER -> dtype + " buffer (" + access.name().toLowerCase().replace('_', '/') + ")";
            case INT -> "int";
            case FLOAT -> "float";
        };
    }
}
