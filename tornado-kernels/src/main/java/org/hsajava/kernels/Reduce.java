package org.hsajava.kernels;

import static org.hsajava.compute.DType.F32;

import org.hsajava.compute.Checks;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;

/**
 * Deterministic reductions (source {@code kernels/reduce.cl}); no atomics, fixed summation order.
 *
 * <p>Sum of squares (the global gradient norm) takes two launches: {@link #SUM_OF_SQUARES} writes
 * one partial per work-group into {@code partials [parts]}, then {@link #SUM_PARTIALS} adds them
 * in one work-group into {@code out[0]}. {@link #sumOfSquares} adds both tasks to a graph.
 * Each work-item's strided run is Kahan-compensated and the rest is pairwise (tree) summation, so
 * the float result of a 100M-element sum stays within a few 1e-7 of the exact one.
 */
public final class Reduce {
    private Reduce() {}

    /** Work-group size of the reduction kernels (a power of two). */
    public static final int WG = 256;
    /** A good number of partials (work-groups) for {@link #SUM_OF_SQUARES}: enough to fill a large GPU. */
    public static final int DEFAULT_PARTS = 512;

    private static final String SRC = "kernels/reduce.cl";

    /**
     * Stage 1: {@code partials[g] = sum of x[i]^2 over i = g*WG + lane + k*parts*WG < n}, for g < parts.
     * Arguments: {@code x, partials, n, parts}; launch exactly {@code parts} groups of {@link #WG}.
     */
    public static final KernelDef SUM_OF_SQUARES = KernelDef.builder("sum_of_squares_partials", SRC)
            .in("x", F32).out("partials", F32).intArg("n").intArg("parts")
            .define("RED_WG", WG)
            .check(a -> {
                Checks.positive(a, "n", true);
                Checks.positive(a, "parts", false);
                Checks.atLeast(a, "x", a.i("n"));
                Checks.atLeast(a, "partials", a.i("parts"));
            })
            .grid(a -> WorkerGrid.of1D((long) a.i("parts") * WG, WG))
            .java(a -> {
                float[] x = a.f32("x"), partials = a.f32("partials");
                int xo = a.off("x"), po = a.off("partials"), n = a.i("n"), parts = a.i("parts");
                // Same item/group structure as the OpenCL kernel, so both backends round alike.
                long stride = (long) parts * WG;
                Parallel.forEach(parts, g -> {
                    float[] item = new float[WG];
                    for (int lane = 0; lane < WG; lane++) {
                        float s = 0, comp = 0;
                        for (long i = (long) g * WG + lane; i < n; i += stride) {
                            float v = x[xo + (int) i];
                            float y = v * v - comp;
                            float t = s + y;
                            comp = (t - s) - y;
                            s = t;
                        }
                        item[lane] = s;
                    }
                    partials[po + g] = treeSum(item);
                });
            })
            .build();

    /** Stage 2: {@code out[0] = sum of partials[0 .. parts)}. Arguments: {@code partials, out, parts}; one group of {@link #WG}. */
    public static final KernelDef SUM_PARTIALS = KernelDef.builder("sum_partials", SRC)
            .in("partials", F32).out("out", F32).intArg("parts")
            .define("RED_WG", WG)
            .check(a -> {
                Checks.positive(a, "parts", false);
                Checks.atLeast(a, "partials", a.i("parts"));
                Checks.atLeast(a, "out", 1);
            })
            .grid(a -> WorkerGrid.of1D(WG, WG))
            .java(a -> {
                float[] partials = a.f32("partials"), out = a.f32("out");
                int po = a.off("partials"), parts = a.i("parts");
                float[] item = new float[WG];
                for (int lane = 0; lane < WG; lane++) {
                    float s = 0, comp = 0;
                    for (int i = lane; i < parts; i += WG) {
                        float y = partials[po + i] - comp;
                        float t = s + y;
                        comp = (t - s) - y;
                        s = t;
                    }
                    item[lane] = s;
                }
                out[a.off("out")] = treeSum(item);
            })
            .build();

    /**
     * {@code out[c] = (accumulate != 0 ? out[c] : 0) + sum over r of in[r, c]} for a row-major
     * {@code [rows, cols]} input, rows added in order. Arguments: {@code in, out, rows, cols, accumulate}.
     */
    public static final KernelDef COLUMN_SUM = KernelDef.builder("column_sum", SRC)
            .in("in", F32).inOut("out", F32).intArg("rows").intArg("cols").intArg("accumulate")
            .check(a -> {
                Checks.positive(a, "rows", true);
                Checks.positive(a, "cols", false);
                Checks.atLeast(a, "in", (long) a.i("rows") * a.i("cols"));
                Checks.atLeast(a, "out", a.i("cols"));
            })
            .grid(a -> WorkerGrid.of1D(a.i("cols"), 64))
            .java(a -> {
                float[] in = a.f32("in"), out = a.f32("out");
                int io = a.off("in"), oo = a.off("out"), rows = a.i("rows"), cols = a.i("cols");
                boolean accumulate = a.i("accumulate") != 0;
                Parallel.forRange(cols, 256, (lo, hi) -> {
                    for (int c = lo; c < hi; c++) {
                        float acc = 0;
                        for (int r = 0; r < rows; r++) acc += in[io + r * cols + c];
                        out[oo + c] = accumulate ? out[oo + c] + acc : acc;
                    }
                });
            })
            .build();

    /**
     * Adds the two tasks {@code name + "Partials"} and {@code name + "Total"} computing
     * {@code out[0] = sum of x[i]^2, i < n} through {@code partials} (at least {@code parts} elements).
     */
    public static TaskGraph sumOfSquares(TaskGraph g, String name, Tensor x, int n, Tensor partials, int parts, Tensor out) {
        return g.task(name + "Partials", SUM_OF_SQUARES, x, partials, n, parts)
                .task(name + "Total", SUM_PARTIALS, partials, out, parts);
    }

    /** The pairwise tree of the OpenCL work-group reduction, over a power-of-two array (destroys it). */
    private static float treeSum(float[] v) {
        for (int s = v.length / 2; s > 0; s >>= 1) for (int i = 0; i < s; i++) v[i] += v[i + s];
        return v[0];
    }
}
