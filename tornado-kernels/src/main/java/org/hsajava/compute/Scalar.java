package org.hsajava.compute;

/**
 * A scalar kernel argument whose value can change between executions of a plan (a step counter,
 * a learning rate). Plain {@code Integer}/{@code Float} arguments are fixed when the task is built.
 * {@link #offsetOf} makes one that follows another at a fixed offset (a position minus a lag).
 */
public final class Scalar {
    private final String name;
    private double value;
    private final Scalar base;  // non-null: this scalar reads base + value and cannot be set

    private Scalar(String name, double value, Scalar base) {
        this.name = name;
        this.value = value;
        this.base = base;
    }

    public static Scalar of(String name, double value) { return new Scalar(name, value, null); }

    /** A scalar that always reads {@code base.get() + offset}. */
    public static Scalar offsetOf(Scalar base, double offset) {
        return new Scalar(base.name + (offset < 0 ? "" : "+") + offset, offset, base);
    }

    public String name() { return name; }

    public double get() { return base == null ? value : base.get() + value; }

    public Scalar set(double v) {
        if (base != null) throw new UnsupportedOperationException(name + " follows " + base.name + "; set that one instead");
        this.value = v;
        return this;
    }

    @Override
    public String toString() { return name + "=" + get(); }
}
