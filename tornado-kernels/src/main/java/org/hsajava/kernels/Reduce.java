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
     * {@code partials[b, c] = sum of in[r, c]} over the rows of block b (blocks of {@code blockRows}, the last
     * one short), rows in order. Arguments: {@code in, partials, rows, cols, blockRows}.
     */
    public static final KernelDef COLUMN_SUM_PARTIALS = KernelDef.builder("column_sum_partials", SRC)
            .in("in", F32).out("partials", F32).intArg("rows").intArg("cols").intArg("blockRows")
            .check(a -> {
                Checks.positive(a, "rows", true);
                Checks.positive(a, "cols", false);
                Checks.positive(a, "blockRows", false);
                Checks.atLeast(a, "in", (long) a.i("rows") * a.i("cols"));
                Checks.atLeast(a, "partials", (long) blocks(a.i("rows"), a.i("blockRows")) * a.i("cols"));
            })
            .grid(a -> WorkerGrid.of2D(a.i("cols"), Math.max(1, blocks(a.i("rows"), a.i("blockRows"))), 64, 1))
            .java(a -> {
                float[] in = a.f32("in"), partials = a.f32("partials");
                int io = a.off("in"), po = a.off("partials"), rows = a.i("rows"), cols = a.i("cols"), blockRows = a.i("blockRows");
                Parallel.forEach(blocks(rows, blockRows), b -> {
                    for (int c = 0; c < cols; c++) {
                        float acc = 0;
                        for (int r = b * blockRows; r < Math.min(rows, (b + 1) * blockRows); r++) acc += in[io + r * cols + c];
                        partials[po + b * cols + c] = acc;
                    }
                });
            })
            .build();

    /** Work-items a tall column sum's first stage aims for (enough to fill a large GPU). */
    static final int COLUMN_SUM_ITEMS = 1 << 18;
    /** The fewest rows a block of that stage sums. */
    static final int COLUMN_SUM_MIN_BLOCK = 64;

    /**
     * Rows per block of the first stage of {@link #columnSum} for a {@code rows x cols} input: blocks
     * of at least {@link #COLUMN_SUM_MIN_BLOCK} rows, about {@link #COLUMN_SUM_ITEMS} / cols of them;
     * {@code rows} (one block: no first stage) when that leaves fewer than 4 blocks.
     */
    public static int columnBlockRows(int rows, int cols) {
        long wanted = Math.max(1, COLUMN_SUM_ITEMS / Math.max(1, cols));
        int blockRows = (int) Math.max(COLUMN_SUM_MIN_BLOCK, (rows + wanted - 1) / wanted);
        return blocks(rows, blockRows) < 4 ? Math.max(1, rows) : blockRows;
    }

    /** Floats of scratch {@link #columnSum} needs for a {@code rows x cols} input (0: none). */
    public static long columnSumScratch(int rows, int cols) {
        int blockRows = columnBlockRows(rows, cols);
        return blockRows >= rows ? 0 : (long) blocks(rows, blockRows) * cols;
    }

    /**
     * Adds {@code out[c] = (accumulate ? out[c] : 0) + sum over r of in[r, c]} for a row-major {@code [rows, cols]}
     * input: one {@link #COLUMN_SUM} task {@code name} where the rows are few, else first
     * {@code name + "Partials"} ({@link #COLUMN_SUM_PARTIALS} into {@code scratch}, blocks of
     * {@link #columnBlockRows}) and then {@code name} over the blocks. Both orders are fixed, so the
     * result is deterministic. {@code scratch} needs {@link #columnSumScratch} floats (null where that is 0).
     */
    public static TaskGraph columnSum(TaskGraph g, String name, Tensor in, Tensor out, int rows, int cols, boolean accumulate, Tensor scratch) {
        int blockRows = columnBlockRows(rows, cols);
        if (blockRows >= rows) return g.task(name, COLUMN_SUM, in, out, rows, cols, accumulate ? 1 : 0);
        int blocks = blocks(rows, blockRows);
        if ((long) blocks * cols > scratch.size()) {
            throw new IllegalArgumentException(name + ": the column sum of " + rows + " x " + cols + " needs " + (long) blocks * cols + " floats of scratch, " + scratch + " has " + scratch.size());
        }
        return g.task(name + "Partials", COLUMN_SUM_PARTIALS, in, scratch, rows, cols, blockRows)
                .task(name, COLUMN_SUM, scratch, out, blocks, cols, accumulate ? 1 : 0);
    }

    private static int blocks(int rows, int blockRows) { return (rows + blockRows - 1) / blockRows; }

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
