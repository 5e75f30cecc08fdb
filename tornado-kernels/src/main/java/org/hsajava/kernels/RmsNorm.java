package org.hsajava.kernels;

import static org.hsajava.compute.DType.BF16;
import static org.hsajava.compute.DType.F32;

import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.Function;

import org.hsajava.compute.Bf16;
import org.hsajava.compute.Checks;
import org.hsajava.compute.DeviceInfo;
import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;

/**
 * RMSNorm over rows of length {@code d} (source {@code kernels/rmsnorm.cl}): {@code x, y, dy, dx}
 * are row-major {@code [rows, d]}, {@code w, dw} are {@code [d]}, {@code rstd} is {@code [rows]}.
 * <pre>
 *   forward   y = (x * rstd) * w,  rstd = 1 / sqrt(mean(x^2) + eps)   (saves rstd per row)
 *   backward  dx = rstd * (g - x * rstd^2 * sum(g * x) / d),  g = dy * w
 *             dw = sum over rows of dy * x * rstd
 * </pre>
 * The {@code _NO_WEIGHT} variants drop {@code w} (g = dy). dw is deterministic and atomic-free, in
 * two launches: {@link #DW_PARTIALS} sums blocks of {@code blockRows} rows into
 * {@code partials [ceil(rows / blockRows), d]}, then {@link Reduce#COLUMN_SUM} adds the blocks.
 * The forward and dx run one work-group of {@link #WG} items per row, or on CPU devices one work-item
 * per row ({@link Layout}).
 */
public final class RmsNorm {
    private RmsNorm() {}

    /** Work-group size of the row kernels (a power of two). */
    public static final int WG = 128;
    /** A good {@code blockRows} for {@link #DW_PARTIALS}. */
    public static final int DW_BLOCK_ROWS = 64;

    private static final String SRC = "kernels/rmsnorm.cl";

    /** Work-items per group in the CPU layout (one row each). */
    static final int ITEM_PER_ROW_WG = 64;

    /** The two layouts of the forward and dx kernels; {@link #byDevice} picks one per device type. */
    enum Layout { GROUP_PER_ROW, ITEM_PER_ROW }

    /** Both layouts of each public forward/dx definition (for tests that run both on one device). */
    private static final Map<KernelDef, Map<Layout, KernelDef>> LAYOUTS = new IdentityHashMap<>();

    /** Arguments: {@code x, w, y, rstd, rows, d, eps}. */
    public static final KernelDef FORWARD = byDevice(l -> forward("rmsnorm_forward", true, false, false, l));
    /**
     * {@link #FORWARD} that also writes {@code y16 = bf16(y)} (nearest, ties to even), the operand of
     * the bf16 GEMMs that read the norm's output. Arguments: {@code x, w, y, y16, rstd, rows, d, eps}.
     */
    public static final KernelDef FORWARD_BF16 = byDevice(l -> forward("rmsnorm_forward_bf16", true, false, true, l));
    /**
     * A residual connection and the norm after it in one pass: {@code s = x + add}, then {@link #FORWARD}
     * of s ({@code s} may be {@code x} or {@code add}; the backward reads s). Arguments:
     * {@code x, add, s, w, y, rstd, rows, d, eps}.
     */
    public static final KernelDef FORWARD_ADD = byDevice(l -> forward("rmsnorm_add_forward", true, true, false, l));
    /** {@link #FORWARD_ADD} that also writes {@code y16}. Arguments: {@code x, add, s, w, y, y16, rstd, rows, d, eps}. */
    public static final KernelDef FORWARD_ADD_BF16 = byDevice(l -> forward("rmsnorm_add_forward_bf16", true, true, true, l));
    /** Arguments: {@code x, y, rstd, rows, d, eps}. */
    public static final KernelDef FORWARD_NO_WEIGHT = byDevice(l -> forward("rmsnorm_forward_noweight", false, false, false, l));
    /** Arguments: {@code dy, x, w, rstd, dx, rows, d} (dx is overwritten). */
    public static final KernelDef BACKWARD_DX = byDevice(l -> backwardDx("rmsnorm_backward_dx", true, false, l));
    /**
     * {@code dx = res + ∂/∂x}: the input gradient plus the gradient that reaches x around the norm (a
     * residual connection), in one pass; {@code res} may be {@code dx} (accumulate). Arguments:
     * {@code dy, x, w, rstd, res, dx, rows, d}.
     */
    public static final KernelDef BACKWARD_DX_ADD = byDevice(l -> backwardDx("rmsnorm_backward_dx_add", true, true, l));
    /** Arguments: {@code dy, x, rstd, dx, rows, d}. */
    public static final KernelDef BACKWARD_DX_NO_WEIGHT = byDevice(l -> backwardDx("rmsnorm_backward_dx_noweight", false, false, l));

    /**
     * The group-per-row layout, switched to one work-item per row on CPU devices: PoCL, 2 cores,
     * tiny-passkey-stage1 (8192 rows of 128 and of 32), 2026-12-05: see BENCHMARKS.md.
     */
    private static KernelDef byDevice(Function<Layout, KernelDef.Builder> make) {
        KernelDef item = make.apply(Layout.ITEM_PER_ROW).build();
        KernelDef group = make.apply(Layout.GROUP_PER_ROW).build();
        KernelDef chosen = make.apply(Layout.GROUP_PER_ROW).variant(info -> info.type() == DeviceInfo.Type.CPU ? item : null).build();
        LAYOUTS.put(chosen, Map.of(Layout.GROUP_PER_ROW, group, Layout.ITEM_PER_ROW, item));
        return chosen;
    }

    /** One layout of a public forward/dx definition, whatever the device (tests). */
    static KernelDef layout(KernelDef def, Layout layout) { return LAYOUTS.get(def).get(layout); }

    /**
     * {@code partials[b, c] = sum of dy[r, c] * x[r, c] * rstd[r]} over rows r of block b (blocks of
     * {@code blockRows}, the last one short). Arguments: {@code dy, x, rstd, partials, rows, d, blockRows};
     * then {@code Reduce.COLUMN_SUM(partials, dw, blocks(rows, blockRows), d, accumulate)}.
     */
    public static final KernelDef DW_PARTIALS = KernelDef.builder("rmsnorm_dw_partials", SRC)
            .in("dy", F32).in("x", F32).in("rstd", F32).out("partials", F32).intArg("rows").intArg("d").intArg("blockRows")
            .define("RMS_WG", WG)
            .check(a -> {
                checkRows(a);
                Checks.positive(a, "blockRows", false);
                Checks.atLeast(a, "dy", (long) a.i("rows") * a.i("d"));
                Checks.atLeast(a, "x", (long) a.i("rows") * a.i("d"));
                Checks.atLeast(a, "rstd", a.i("rows"));
                Checks.atLeast(a, "partials", (long) blocks(a.i("rows"), a.i("blockRows")) * a.i("d"));
            })
            .grid(a -> WorkerGrid.of2D(a.i("d"), Math.max(1, blocks(a.i("rows"), a.i("blockRows"))), 64, 1))
            .java(a -> {
                float[] dy = a.f32("dy"), x = a.f32("x"), rstd = a.f32("rstd"), partials = a.f32("partials");
                int dyo = a.off("dy"), xo = a.off("x"), ro = a.off("rstd"), po = a.off("partials");
                int rows = a.i("rows"), d = a.i("d"), blockRows = a.i("blockRows");
                Parallel.forEach(blocks(rows, blockRows), b -> {
                    for (int c = 0; c < d; c++) {
                        float acc = 0;
                        for (int r = b * blockRows; r < Math.min(rows, (b + 1) * blockRows); r++) acc += dy[dyo + r * d + c] * (x[xo + r * d + c] * rstd[ro + r]);
                        partials[po + b * d + c] = acc;
                    }
                });
            })
            .build();

    /**
     * Adds the two tasks of dw to a graph: {@code name + "Partials"} ({@link #DW_PARTIALS} with
     * {@link #dwBlockRows}) and {@code name + "Sum"} ({@link Reduce#COLUMN_SUM}); {@code partials}
     * needs {@code blocks(rows, DW_BLOCK_ROWS) * d} elements. {@code accumulate}: add onto dw.
     */
    public static TaskGraph weightGradient(TaskGraph g, String name, Tensor dy, Tensor x, Tensor rstd, Tensor partials, Tensor dw, int rows, int d, boolean accumulate) {
        int blockRows = dwBlockRows(rows);
        return g.task(name + "Partials", DW_PARTIALS, dy, x, rstd, partials, rows, d, blockRows)
                .task(name + "Sum", Reduce.COLUMN_SUM, partials, dw, blocks(rows, blockRows), d, accumulate ? 1 : 0);
    }

    /** Most blocks {@link #weightGradient} makes: the second stage is d work-items summing one block each. */
    static final int DW_MAX_BLOCKS = 1024;

    /**
     * Rows per block of {@link #weightGradient}: {@link #DW_BLOCK_ROWS}, or more where that would make
     * over {@link #DW_MAX_BLOCKS} blocks. (The q/k norms of small-gpu have 32768 x 16 rows of 32: 8192
     * blocks of 64 left the second stage at 32 work-items summing 8192 values each, 0.19 ms on the H100.)
     */
    static int dwBlockRows(int rows) { return Math.max(DW_BLOCK_ROWS, (rows + DW_MAX_BLOCKS - 1) / DW_MAX_BLOCKS); }

    /** Number of row blocks (rows of the dw partials buffer). */
    public static int blocks(int rows, int blockRows) { return (rows + blockRows - 1) / blockRows; }

    private static KernelDef.Builder withLayout(KernelDef.Builder b, Layout layout) {
        return layout == Layout.GROUP_PER_ROW ? b.define("RMS_WG", WG).grid(RmsNorm::rowGrid)
                : b.define("RMS_WG", ITEM_PER_ROW_WG).define("RMS_ITEM_PER_ROW", 1)
                        .grid(a -> WorkerGrid.of1D(Math.max(1, a.i("rows")), ITEM_PER_ROW_WG));
    }

    private static KernelDef.Builder forward(String entry, boolean weighted, boolean add, boolean bf16Out, Layout layout) {
        KernelDef.Builder b = KernelDef.builder(entry, SRC).in("x", F32);
        if (add) b.in("add", F32).out("s", F32);
        if (weighted) b.in("w", F32);
        b = withLayout(b, layout).out("y", F32);
        if (bf16Out) b.out("y16", BF16);
        return b.out("rstd", F32).intArg("rows").intArg("d").floatArg("eps")
                .check(a -> {
                    checkRows(a);
                    Checks.atLeast(a, "x", (long) a.i("rows") * a.i("d"));
                    if (add) {
                        Checks.atLeast(a, "add", (long) a.i("rows") * a.i("d"));
                        Checks.atLeast(a, "s", (long) a.i("rows") * a.i("d"));
                    }
                    if (weighted) Checks.atLeast(a, "w", a.i("d"));
                    Checks.atLeast(a, "y", (long) a.i("rows") * a.i("d"));
                    if (bf16Out) Checks.atLeast(a, "y16", (long) a.i("rows") * a.i("d"));
                    Checks.atLeast(a, "rstd", a.i("rows"));
                })
                .java(a -> {
                    // With add, the row normalised is s = x + add, written first (the arrays may be one).
                    float[] x = add ? a.f32("s") : a.f32("x"), y = a.f32("y"), rstd = a.f32("rstd");
                    float[] xIn = a.f32("x"), addend = add ? a.f32("add") : null;
                    float[] w = weighted ? a.f32("w") : null;
                    short[] y16 = bf16Out ? a.bf16("y16") : null;
                    int xo = add ? a.off("s") : a.off("x"), xIno = a.off("x"), ao = add ? a.off("add") : 0, wo = weighted ? a.off("w") : 0, yo = a.off("y"), ro = a.off("rstd"), y16o = bf16Out ? a.off("y16") : 0;
                    int d = a.i("d");
                    float eps = a.f("eps");
                    Parallel.forRange(a.i("rows"), Math.max(1, 4096 / d), (lo, hi) -> {
                        for (int r = lo; r < hi; r++) {
                            int base = r * d;
                            if (add) for (int c = 0; c < d; c++) x[xo + base + c] = xIn[xIno + base + c] + addend[ao + base + c];
                            float ss = 0;
                            for (int c = 0; c < d; c++) ss += x[xo + base + c] * x[xo + base + c];
                            float rs = (float) (1.0 / Math.sqrt(ss / d + eps));
                            rstd[ro + r] = rs;
                            for (int c = 0; c < d; c++) {
                                float n = x[xo + base + c] * rs;
                                y[yo + base + c] = weighted ? n * w[wo + c] : n;
                                if (bf16Out) y16[y16o + base + c] = Bf16.fromFloat(y[yo + base + c]);
                            }
                        }
                    });
                });
    }

    private static KernelDef.Builder backwardDx(String entry, boolean weighted, boolean residual, Layout layout) {
        KernelDef.Builder b = KernelDef.builder(entry, SRC).in("dy", F32).in("x", F32);
        if (weighted) b.in("w", F32);
        b = withLayout(b, layout).in("rstd", F32);
        if (residual) b.in("res", F32);
        return b.out("dx", F32).intArg("rows").intArg("d")
                .check(a -> {
                    checkRows(a);
                    Checks.atLeast(a, "dy", (long) a.i("rows") * a.i("d"));
                    Checks.atLeast(a, "x", (long) a.i("rows") * a.i("d"));
                    if (weighted) Checks.atLeast(a, "w", a.i("d"));
                    Checks.atLeast(a, "rstd", a.i("rows"));
                    if (residual) Checks.atLeast(a, "res", (long) a.i("rows") * a.i("d"));
                    Checks.atLeast(a, "dx", (long) a.i("rows") * a.i("d"));
                })
                .java(a -> {
                    float[] dy = a.f32("dy"), x = a.f32("x"), rstd = a.f32("rstd"), dx = a.f32("dx");
                    float[] w = weighted ? a.f32("w") : null, res = residual ? a.f32("res") : null;
                    int dyo = a.off("dy"), xo = a.off("x"), wo = weighted ? a.off("w") : 0, ro = a.off("rstd"), dxo = a.off("dx");
                    int reso = residual ? a.off("res") : 0;
                    int d = a.i("d");
                    Parallel.forRange(a.i("rows"), Math.max(1, 4096 / d), (lo, hi) -> {
                        for (int r = lo; r < hi; r++) {
                            int base = r * d;
                            float dot = 0;
                            for (int c = 0; c < d; c++) dot += (weighted ? dy[dyo + base + c] * w[wo + c] : dy[dyo + base + c]) * x[xo + base + c];
                            float rs = rstd[ro + r];
                            float k = rs * rs * dot / d;
                            for (int c = 0; c < d; c++) {
                                float g = weighted ? dy[dyo + base + c] * w[wo + c] : dy[dyo + base + c];
                                dx[dxo + base + c] = (residual ? res[reso + base + c] : 0f) + rs * (g - x[xo + base + c] * k);
                            }
                        }
                    });
                });
    }

    private static void checkRows(KernelArgs a) {
        Checks.positive(a, "rows", true);
        Checks.positive(a, "d", false);
    }

    /** Work-items per row of the GPU layout: the smallest power of two >= d, at most {@link #WG} (rmsnorm.cl's rms_tpr). */
    static int threadsPerRow(int d) {
        int t = 1;
        while (t < d && t < WG) t <<= 1;
        return t;
    }

    /** The GPU layout's grid: {@code WG / threadsPerRow(d)} rows per work-group. */
    private static WorkerGrid rowGrid(KernelArgs a) {
        int rowsPerGroup = WG / threadsPerRow(a.i("d"));
        return WorkerGrid.of1D((long) Math.max(1, (a.i("rows") + rowsPerGroup - 1) / rowsPerGroup) * WG, WG);
    }
}
