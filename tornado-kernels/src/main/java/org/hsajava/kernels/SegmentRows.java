package org.hsajava.kernels;

import static org.hsajava.compute.DType.F32;

import org.hsajava.compute.Checks;
import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;

/**
 * Row moves between a token stream and its segments, and the per-segment mean (source
 * {@code kernels/segment_rows.cl}). All matrices are row-major with {@code cols} floats per row.
 * The chunk memory uses them to cut the residual stream {@code [B, L, D]} into chunks with an
 * appended CLS row ({@code [B·C, S+1, D]}), to pick the CLS rows or the token rows out of the
 * encoder output, and to send gradients back the same way. (Activation tensors cannot be offset
 * views on OpenCL, whose sub-buffers must be aligned, so strided row access lives in a kernel.)
 */
public final class SegmentRows {
    private SegmentRows() {}

    private static final String SRC = "kernels/segment_rows.cl";

    /**
     * Where block {@code (b, c)} of a strided copy starts: row {@code b·batch + c·stride + offset};
     * strides count rows, 0 broadcasts.
     */
    public record Layout(int batch, int stride, int offset) {
        public Layout {
            if (batch < 0 || stride < 0 || offset < 0) throw new IllegalArgumentException("layout strides and offset must be >= 0, got " + batch + ", " + stride + ", " + offset);
        }

        long lastRow(int b, int c, int rows) { return (long) (b - 1) * batch + (long) (c - 1) * stride + offset + rows - 1; }
    }

    /**
     * {@code dst[row(b, c) + r] (+)= src[row(b, c) + r]} for {@code b < B, c < C, r < rows}, rows
     * located by each side's {@link Layout}. Arguments: {@code src, dst, B, C, rows, cols, srcBatch,
     * srcStride, srcOffset, dstBatch, dstStride, dstOffset, accumulate}. Destination blocks must not
     * overlap (each element is written once).
     */
    public static final KernelDef COPY_ROWS = KernelDef.builder("copy_rows", SRC)
            .in("src", F32).inOut("dst", F32)
            .intArg("B").intArg("C").intArg("rows").intArg("cols")
            .intArg("srcBatch").intArg("srcStride").intArg("srcOffset")
            .intArg("dstBatch").intArg("dstStride").intArg("dstOffset").intArg("accumulate")
            .check(SegmentRows::checkCopy)
            .grid(a -> WorkerGrid.of3D(Math.max(1, a.i("cols")), Math.max(1, (long) a.i("rows") * a.i("C")), Math.max(1, a.i("B")), 64, 1, 1))
            .java(a -> {
                float[] src = a.f32("src"), dst = a.f32("dst");
                int so = a.off("src"), dso = a.off("dst");
                int bs = a.i("B"), cs = a.i("C"), rows = a.i("rows"), cols = a.i("cols");
                Layout s = layout(a, "src"), d = layout(a, "dst");
                boolean acc = a.i("accumulate") != 0;
                Parallel.forEach(bs * cs, bc -> {
                    int b = bc / cs, c = bc % cs;
                    for (int r = 0; r < rows; r++) {
                        int from = so + (b * s.batch() + c * s.stride() + s.offset() + r) * cols;
                        int to = dso + (b * d.batch() + c * d.stride() + d.offset() + r) * cols;
                        for (int x = 0; x < cols; x++) dst[to + x] = acc ? dst[to + x] + src[from + x] : src[from + x];
                    }
                });
            })
            .build();

    /** {@code m[n] = mean over t < S of in[n·S + t]}. Arguments: {@code in, m, N, S, cols}. */
    public static final KernelDef MEAN = KernelDef.builder("segment_mean", SRC)
            .in("in", F32).out("m", F32).intArg("N").intArg("S").intArg("cols")
            .check(a -> {
                checkMean(a);
                Checks.atLeast(a, "in", (long) a.i("N") * a.i("S") * a.i("cols"));
                Checks.atLeast(a, "m", (long) a.i("N") * a.i("cols"));
            })
            .grid(a -> WorkerGrid.of2D(Math.max(1, a.i("cols")), Math.max(1, a.i("N")), 64, 1))
            .java(a -> {
                float[] in = a.f32("in"), m = a.f32("m");
                int io = a.off("in"), mo = a.off("m"), s = a.i("S"), cols = a.i("cols");
                Parallel.forEach(a.i("N"), n -> {
                    for (int x = 0; x < cols; x++) {
                        float acc = 0;
                        for (int t = 0; t < s; t++) acc += in[io + (n * s + t) * cols + x];
                        m[mo + n * cols + x] = acc / s;
                    }
                });
            })
            .build();

    /** {@code din[n·S + t] += dm[n] / S}. Arguments: {@code dm, din, N, S, cols}. */
    public static final KernelDef MEAN_BACKWARD = KernelDef.builder("segment_mean_backward", SRC)
            .in("dm", F32).inOut("din", F32).intArg("N").intArg("S").intArg("cols")
            .check(a -> {
                checkMean(a);
                Checks.atLeast(a, "dm", (long) a.i("N") * a.i("cols"));
                Checks.atLeast(a, "din", (long) a.i("N") * a.i("S") * a.i("cols"));
            })
            .grid(a -> WorkerGrid.of2D(Math.max(1, a.i("cols")), Math.max(1, (long) a.i("N") * a.i("S")), 64, 1))
            .java(a -> {
                float[] dm = a.f32("dm"), din = a.f32("din");
                int mo = a.off("dm"), io = a.off("din"), s = a.i("S"), cols = a.i("cols");
                Parallel.forEach(a.i("N") * s, nt -> {
                    int n = nt / s;
                    for (int x = 0; x < cols; x++) din[io + nt * cols + x] += dm[mo + n * cols + x] / s;
                });
            })
            .build();

    /** Appends a {@link #COPY_ROWS} task. */
    public static TaskGraph copy(TaskGraph g, String name, Tensor src, Layout from, Tensor dst, Layout to,
                                 int batches, int blocks, int rows, int cols, boolean accumulate) {
        return g.task(name, COPY_ROWS, src, dst, batches, blocks, rows, cols,
                from.batch(), from.stride(), from.offset(), to.batch(), to.stride(), to.offset(), accumulate ? 1 : 0);
    }

    private static Layout layout(KernelArgs a, String side) {
        return new Layout(a.i(side + "Batch"), a.i(side + "Stride"), a.i(side + "Offset"));
    }

    private static void checkCopy(KernelArgs a) {
        for (String s : new String[] {"B", "C", "rows", "cols", "srcBatch", "srcStride", "srcOffset", "dstBatch", "dstStride", "dstOffset"}) {
            Checks.positive(a, s, true);
        }
        int b = a.i("B"), c = a.i("C"), rows = a.i("rows"), cols = a.i("cols");
        if (b == 0 || c == 0 || rows == 0 || cols == 0) return;
        for (String side : new String[] {"src", "dst"}) {
            Checks.atLeast(a, side, (layout(a, side).lastRow(b, c, rows) + 1) * cols);
        }
        if (a.tensor("src").root() == a.tensor("dst").root()) throw new IllegalArgumentException("arguments 'src' and 'dst' must not share storage");
    }

    private static void checkMean(KernelArgs a) {
        Checks.positive(a, "N", true);
        Checks.positive(a, "S", false);
        Checks.positive(a, "cols", false);
    }
}
