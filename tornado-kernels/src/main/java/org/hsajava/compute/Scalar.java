package org.hsajava.compute;

/**
 * A scalar kernel argument whose value can change between executions of a plan (a step counter,
 * a learning rate). Plain {@code Integer}/{@code Float} arguments are fixed when the task is built.
 */
public final class Scalar {
    private final String name;
    private double value;

    private Scalar(String name, double value) {
        this.name = name;
        this.value = value;
    }

    public static Scalar of(String name, double value) { return new Scalar(name, value); }

    public String name() { return name; }

    public double get() { return value; }

    public Scalar set(double v) {
        this.value = v;
        return this;
    }

    @Override
    public String toString() { return name + "=" + value; }
}
