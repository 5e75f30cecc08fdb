package org.hsajava.kernels;

import static org.hsajava.compute.DType.F32;
import static org.hsajava.compute.DType.I32;

import org.hsajava.compute.Checks;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;

/**
 * Token embedding lookup and its backward (source {@code kernels/embedding.cl}).
 * Layouts: {@code ids [rows]} int, {@code table, dtable [vocab, d]}, {@code out, dout [rows, d]}.
 *
 * <p>The backward scatters rows of {@code dout} into {@code dtable}; several tokens may share an id,
 * so a direct scatter would race. The host builds an inverted index instead ({@link #invertIds}:
 * the ids come from the host data loader anyway) and the kernel gives every (used row, column)
 * element one owner that adds its terms in a fixed order: deterministic, no atomics.
 */
public final class Embedding {
    private Embedding() {}

    private static final String SRC = "kernels/embedding.cl";

    /**
     * {@code out[n, :] = table[ids[n], :]}. Arguments: {@code ids, table, out, rows, d, vocab}.
     * The argument check also scans the host copy of {@code ids} (what the data loader filled and a
     * step uploads) and names the position of an out-of-range id. Ids that exist only on the device
     * are not seen there: on OpenCL an out-of-range id then gives a zero row, on the Java backend an
     * exception.
     */
    public static final KernelDef FORWARD = KernelDef.builder("embedding_forward", SRC)
            .in("ids", I32).in("table", F32).out("out", F32).intArg("rows").intArg("d").intArg("vocab")
            .check(a -> {
                Checks.positive(a, "rows", true);
                Checks.positive(a, "d", false);
                Checks.positive(a, "vocab", false);
                Checks.atLeast(a, "ids", a.i("rows"));
                Checks.atLeast(a, "table", (long) a.i("vocab") * a.i("d"));
                Checks.atLeast(a, "out", (long) a.i("rows") * a.i("d"));
                Tensor ids = a.tensor("ids");
                checkIds(ids.i32(), ids.rootOffset(), a.i("rows"), a.i("vocab"));
            })
            .grid(a -> WorkerGrid.of2D(a.i("d"), Math.max(1, a.i("rows")), 64, 1))
            .java(a -> {
                int[] ids = a.i32("ids");
                float[] table = a.f32("table"), out = a.f32("out");
                int io = a.off("ids"), to = a.off("table"), oo = a.off("out");
                int rows = a.i("rows"), d = a.i("d"), vocab = a.i("vocab");
                Parallel.forRange(rows, Math.max(1, 4096 / d), (lo, hi) -> {
                    for (int n = lo; n < hi; n++) {
                        int id = ids[io + n];
                        if (id < 0 || id >= vocab) throw new IllegalArgumentException(outOfRange(n, id, vocab));
                        System.arraycopy(table, to + id * d, out, oo + n * d, d);
                    }
                });
            })
            .build();

    /**
     * {@code dtable[rowIds[u], :] += sum of dout[positions[k], :] for k in [offsets[u], offsets[u+1])},
     * for each used row {@code u < used}, terms in CSR order. Arguments:
     * {@code dout, rowIds, offsets, positions, dtable, used, rows, d, vocab}; the index buffers come
     * from {@link #invertIds} ({@code rowIds} needs room for {@code used} entries, {@code offsets} for
     * {@code used + 1}, {@code positions} for {@code rows}; buffers sized min(rows, vocab), rows + 1 and
     * rows serve every batch, with {@code used} a per-batch {@link org.hsajava.compute.Scalar}).
     * Rows of {@code dtable} whose id does not occur are untouched (zero it first for a fresh gradient).
     */
    public static final KernelDef BACKWARD = KernelDef.builder("embedding_backward", SRC)
            .in("dout", F32).in("rowIds", I32).in("offsets", I32).in("positions", I32).inOut("dtable", F32)
            .intArg("used").intArg("rows").intArg("d").intArg("vocab")
            .check(a -> {
                Checks.positive(a, "used", true);
                Checks.positive(a, "rows", true);
                Checks.positive(a, "d", false);
                Checks.positive(a, "vocab", false);
                if (a.i("used") > Math.min(a.i("rows"), a.i("vocab"))) {
                    throw new IllegalArgumentException("argument 'used' (" + a.i("used") + ") exceeds min(rows, vocab) = " + Math.min(a.i("rows"), a.i("vocab")));
                }
                Checks.atLeast(a, "dout", (long) a.i("rows") * a.i("d"));
                Checks.atLeast(a, "rowIds", a.i("used"));
                Checks.atLeast(a, "offsets", a.i("used") + 1L);
                Checks.atLeast(a, "positions", a.i("rows"));
                Checks.atLeast(a, "dtable", (long) a.i("vocab") * a.i("d"));
            })
            .grid(a -> WorkerGrid.of2D(a.i("d"), Math.max(1, a.i("used")), 64, 1))
            .java(a -> {
                float[] dout = a.f32("dout"), dtable = a.f32("dtable");
                int[] rowIds = a.i32("rowIds"), offsets = a.i32("offsets"), positions = a.i32("positions");
                int go = a.off("dout"), ro = a.off("rowIds"), oo = a.off("offsets"), po = a.off("positions"), to = a.off("dtable");
                int d = a.i("d");
                Parallel.forEach(a.i("used"), u -> {
                    int row = to + rowIds[ro + u] * d;
                    float[] acc = new float[d];
                    for (int k = offsets[oo + u]; k < offsets[oo + u + 1]; k++) {
                        int src = go + positions[po + k] * d;
                        for (int c = 0; c < d; c++) acc[c] += dout[src + c];
                    }
                    for (int c = 0; c < d; c++) dtable[row + c] += acc[c];
                });
            })
            .build();

    /**
     * The inverted index of one batch of ids: {@code rowIds[u]} (u &lt; {@link #used()}) are the
     * distinct ids in increasing order, and id {@code rowIds[u]} occurs at the positions
     * {@code positions[offsets[u]] .. positions[offsets[u+1]-1]}, increasing.
     */
    public record InvertedIds(int[] rowIds, int[] offsets, int[] positions) {
        public int used() { return rowIds.length; }
    }

    /**
     * Builds the inverted index by a counting sort over the vocabulary (O(rows + vocab), stable, so
     * positions stay increasing within each id). Throws, naming the first position, if an id lies
     * outside {@code [0, vocab)}.
     */
    public static InvertedIds invertIds(int[] ids, int vocab) {
        checkIds(ids, vocab);
        int[] count = new int[vocab + 1];
        for (int id : ids) count[id + 1]++;
        int used = 0;
        for (int v = 0; v < vocab; v++) if (count[v + 1] > 0) used++;
        for (int v = 0; v < vocab; v++) count[v + 1] += count[v]; // count[v] = first slot of id v
        int[] positions = new int[ids.length];
        int[] next = count.clone();
        for (int n = 0; n < ids.length; n++) positions[next[ids[n]]++] = n;
        int[] rowIds = new int[used];
        int[] offsets = new int[used + 1];
        int u = 0;
        for (int v = 0; v < vocab; v++) {
            if (count[v + 1] > count[v]) {
                rowIds[u] = v;
                offsets[u] = count[v];
                u++;
            }
        }
        offsets[used] = ids.length;
        return new InvertedIds(rowIds, offsets, positions);
    }

    /** Throws {@link IllegalArgumentException} naming the first position whose id is outside {@code [0, vocab)}. */
    public static void checkIds(int[] ids, int vocab) { checkIds(ids, 0, ids.length, vocab); }

    /** As {@link #checkIds(int[], int)} over {@code ids[from .. from+count)}; positions count from {@code from}. */
    public static void checkIds(int[] ids, int from, int count, int vocab) {
        if (vocab <= 0) throw new IllegalArgumentException("vocab must be > 0, got " + vocab);
        for (int n = 0; n < count; n++) {
            int id = ids[from + n];
            if (id < 0 || id >= vocab) throw new IllegalArgumentException(outOfRange(n, id, vocab));
        }
    }

    private static String outOfRange(int position, int id, int vocab) {
        return "token id " + id + " at position " + position + " is outside the vocabulary [0, " + vocab + ")";
    }
}
