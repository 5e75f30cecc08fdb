package org.hsajava.kernels;

import static org.hsajava.compute.DType.F32;

import org.hsajava.compute.Checks;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;

/** Filling, copying and bias addition (source {@code kernels/fill.cl}). */
public final class Fill {
    private Fill() {}

    private static final String SRC = "kernels/fill.cl";

    /** {@code x[i] = value}. Arguments: {@code x, n, value}. */
    public static final KernelDef FILL = KernelDef.builder("fill", SRC)
            .out("x", F32).intArg("n").floatArg("value")
            .check(a -> {
                Checks.positive(a, "n", true);
                Checks.atLeast(a, "x", a.i("n"));
            })
            .grid(a -> WorkerGrid.of1D(Math.max(1, a.i("n")), 256))
            .java(a -> {
                float[] x = a.f32("x");
                int o = a.off("x"), n = a.i("n");
                float v = a.f("value");
                Parallel.forRange(n, 1 << 16, (lo, hi) -> java.util.Arrays.fill(x, o + lo, o + hi, v));
            })
            .build();

    /** {@code y[i] = x[i]}. Arguments: {@code x, y, n}. */
    public static final KernelDef COPY = KernelDef.builder("copy", SRC)
            .in("x", F32).out("y", F32).intArg("n")
            .check(a -> {
                Checks.positive(a, "n", true);
                Checks.atLeast(a, "x", a.i("n"));
                Checks.atLeast(a, "y", a.i("n"));
            })
            .grid(a -> WorkerGrid.of1D(Math.max(1, a.i("n")), 256))
            .java(a -> System.arraycopy(a.f32("x"), a.off("x"), a.f32("y"), a.off("y"), a.i("n")))
            .build();

    /** {@code y[r, c] += b[c]}. Arguments: {@code y, b, rows, cols}. */
    public static final KernelDef ADD_BIAS = KernelDef.builder("add_bias", SRC)
            .inOut("y", F32).in("b", F32).intArg("rows").intArg("cols")
            .check(a -> {
                Checks.positive(a, "rows", true);
                Checks.positive(a, "cols", false);
                Checks.atLeast(a, "y", (long) a.i("rows") * a.i("cols"));
                Checks.atLeast(a, "b", a.i("cols"));
            })
            .grid(a -> WorkerGrid.of1D(Math.max(1, (long) a.i("rows") * a.i("cols")), 256))
            .java(a -> {
                float[] y = a.f32("y"), b = a.f32("b");
                int yo = a.off("y"), bo = a.off("b"), rows = a.i("rows"), cols = a.i("cols");
                Parallel.forRange(rows, 64, (lo, hi) -> {
                    for (int r = lo; r < hi; r++) for (int c = 0; c < cols; c++) y[yo + r * cols + c] += b[bo + c];
                });
            })
            .build();
}
