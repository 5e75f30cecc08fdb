package org.hsajava.kernels;

import static org.hsajava.compute.DType.I32;

import org.hsajava.compute.Checks;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;

/**
 * The inverted selection index (source {@code kernels/hsa_csr.cl}): for each (batch, KV head, chunk)
 * the list of (token, slot) pairs that selected the chunk, so that per-chunk gradients (dK, dV of
 * the HSA attention, dlandmarks) run per chunk, deterministically and in time linear in L.
 *
 * <p>Format (shared with the HSA attention backward; do not change): for {@code bh = b·H + h},
 * the entries of chunk c are {@code entries[chunkStart[bh·(C+1)+c] .. chunkStart[bh·(C+1)+c+1])};
 * {@code chunkStart} is int {@code [B·H·(C+1)]} of absolute offsets (the first is 0, consecutive bh
 * follow each other); {@code entries} is int {@code [B·H·L·K]} (capacity; the used prefix is
 * {@code chunkStart[B·H·(C+1)−1]}) holding {@code t·K + k}, ascending within each chunk, valid slots
 * only ({@code k < min(K, min(C, (t0+t)/S))}). Entries past the used prefix are scratch.
 *
 * <p>Built on the device by a stable LSD radix sort of the chunk keys ({@link #addBuildTasks}): no
 * position depends on scheduling. {@link #reference} is the plain-Java result it must equal.
 */
public final class HsaCsr {
    private HsaCsr() {}

    /** The index as host arrays. */
    public record Csr(int[] chunkStart, int[] entries, int used) {}

    // Mirrors of the #defines in hsa_csr.cl.
    static final int BITS = 4;
    static final int BUCKETS = 1 << BITS;
    static final int WG = 128;
    static final int PER = 8;
    static final int TILE = WG * PER;
    static final int SCAN_WG = 256;

    private static final String SRC = "kernels/hsa_csr.cl";

    /**
     * Slot keys in (b, h, t, k) order. Arguments: {@code indices [B,L,H,K], keys (out, [B·H·L·K]), vals (out),
     * B, L, H, C, S, t0, K}: {@code keys = bh·C + chunk} for a valid slot, {@code B·H·C} otherwise; {@code vals = t·K + k}.
     */
    public static final KernelDef KEYS = KernelDef.builder("hsa_csr_keys", SRC)
            .in("indices", I32).out("keys", I32).out("vals", I32)
            .intArg("B").intArg("L").intArg("H").intArg("C").intArg("S").intArg("t0").intArg("K")
            .check(a -> {
                for (String s : new String[] {"B", "L", "H", "S", "K"}) Checks.positive(a, s, false);
                Checks.positive(a, "C", true);
                HsaSelection.checkT0(a);
                long n = (long) a.i("B") * a.i("L") * a.i("H") * a.i("K");
                Checks.exactly(a, "indices", n);
                Checks.atLeast(a, "keys", n);
                Checks.atLeast(a, "vals", n);
            })
            .grid(a -> WorkerGrid.of1D((long) a.i("B") * a.i("L") * a.i("H") * a.i("K"), 64))
            .java(a -> {
                int[] idx = a.i32("indices"), keys = a.i32("keys"), vals = a.i32("vals");
                int io = a.off("indices"), ko = a.off("keys"), vo = a.off("vals");
                int B = a.i("B"), L = a.i("L"), H = a.i("H"), C = a.i("C"), S = a.i("S"), t0 = a.i("t0"), K = a.i("K");
                Parallel.forRange(B * H * L * K, 1 << 14, (lo, hi) -> {
                    for (int n = lo; n < hi; n++) {
                        int k = n % K, t = (n / K) % L, bh = n / (K * L), b = bh / H, h = bh % H;
                        boolean valid = k < HsaSelection.validSlots(t0 + t, S, C, K);
                        keys[ko + n] = valid ? bh * C + idx[io + ((b * L + t) * H + h) * K + k] : B * H * C;
                        vals[vo + n] = t * K + k;
                    }
                });
            })
            .build();

    /** Per-tile digit counts, digit-major. Arguments: {@code keys, tileHist (out, [16·numTiles]), N, shift}. */
    public static final KernelDef HIST = KernelDef.builder("hsa_csr_hist", SRC)
            .in("keys", I32).out("tileHist", I32).intArg("N").intArg("shift")
            .check(a -> {
                Checks.positive(a, "N", false);
                Checks.atLeast(a, "keys", a.i("N"));
                Checks.atLeast(a, "tileHist", (long) BUCKETS * tiles(a.i("N")));
            })
            .grid(a -> WorkerGrid.of1D((long) tiles(a.i("N")) * WG, WG))
            .java(a -> {
                int[] keys = a.i32("keys"), hist = a.i32("tileHist");
                int ko = a.off("keys"), ho = a.off("tileHist"), n = a.i("N"), shift = a.i("shift"), tiles = tiles(n);
                Parallel.forRange(tiles, 16, (lo, hi) -> {
                    for (int tile = lo; tile < hi; tile++) {
                        int[] c = new int[BUCKETS];
                        for (int i = tile * TILE; i < Math.min(n, (tile + 1) * TILE); i++) c[digit(keys[ko + i], shift)]++;
                        for (int d = 0; d < BUCKETS; d++) hist[ho + d * tiles + tile] = c[d];
                    }
                });
            })
            .build();

    /** Exclusive prefix sum by one work-group. Arguments: {@code in, out, n}: {@code out[j] = Σ_{i<j} in[i]}. */
    public static final KernelDef SCAN = KernelDef.builder("hsa_csr_scan", SRC)
            .in("in", I32).out("out", I32).intArg("n")
            .check(a -> {
                Checks.positive(a, "n", true);
                Checks.atLeast(a, "in", a.i("n"));
                Checks.atLeast(a, "out", a.i("n"));
            })
            .grid(a -> WorkerGrid.of1D(SCAN_WG, SCAN_WG))
            .java(a -> {
                int[] in = a.i32("in"), out = a.i32("out");
                int io = a.off("in"), oo = a.off("out"), run = 0;
                for (int j = 0; j < a.i("n"); j++) {
                    int v = in[io + j];
                    out[oo + j] = run;
                    run += v;
                }
            })
            .build();

    /**
     * One stable radix pass. Arguments: {@code keysIn, valsIn, tileBase (scanned tileHist), keysOut, valsOut, N, shift}:
     * element n of tile T with digit d moves to {@code tileBase[d·numTiles+T]} plus the number of earlier
     * elements of T with digit d.
     */
    public static final KernelDef SCATTER = KernelDef.builder("hsa_csr_scatter", SRC)
            .in("keysIn", I32).in("valsIn", I32).in("tileBase", I32).out("keysOut", I32).out("valsOut", I32).intArg("N").intArg("shift")
            .check(a -> {
                Checks.positive(a, "N", false);
                for (String s : new String[] {"keysIn", "valsIn", "keysOut", "valsOut"}) Checks.atLeast(a, s, a.i("N"));
                Checks.atLeast(a, "tileBase", (long) BUCKETS * tiles(a.i("N")));
            })
            .grid(a -> WorkerGrid.of1D((long) tiles(a.i("N")) * WG, WG))
            .java(a -> {
                int[] ki = a.i32("keysIn"), vi = a.i32("valsIn"), base = a.i32("tileBase"), ko = a.i32("keysOut"), vo = a.i32("valsOut");
                int kio = a.off("keysIn"), vio = a.off("valsIn"), bo = a.off("tileBase"), koo = a.off("keysOut"), voo = a.off("valsOut");
                int n = a.i("N"), shift = a.i("shift"), tiles = tiles(n);
                Parallel.forRange(tiles, 16, (lo, hi) -> {
                    for (int tile = lo; tile < hi; tile++) {
                        int[] next = new int[BUCKETS];
                        for (int d = 0; d < BUCKETS; d++) next[d] = base[bo + d * tiles + tile];
                        for (int i = tile * TILE; i < Math.min(n, (tile + 1) * TILE); i++) {
                            int key = ki[kio + i], pos = next[digit(key, shift)]++;
                            ko[koo + pos] = key;
                            vo[voo + pos] = vi[vio + i];
                        }
                    }
                });
            })
            .build();

    /** Chunk starts from the sorted keys. Arguments: {@code keys, chunkStart (out, [BH·(C+1)]), N, BH, C}. */
    public static final KernelDef STARTS = KernelDef.builder("hsa_csr_starts", SRC)
            .in("keys", I32).out("chunkStart", I32).intArg("N").intArg("BH").intArg("C")
            .check(a -> {
                Checks.positive(a, "N", true);
                Checks.positive(a, "BH", false);
                Checks.positive(a, "C", true);
                Checks.atLeast(a, "keys", a.i("N"));
                Checks.exactly(a, "chunkStart", (long) a.i("BH") * (a.i("C") + 1));
            })
            .grid(a -> WorkerGrid.of1D((long) a.i("BH") * (a.i("C") + 1), 64))
            .java(a -> {
                int[] keys = a.i32("keys"), cs = a.i32("chunkStart");
                int ko = a.off("keys"), co = a.off("chunkStart"), n = a.i("N"), C = a.i("C");
                for (int g = 0; g < a.i("BH") * (C + 1); g++) {
                    int target = (g / (C + 1)) * C + g % (C + 1), lo = 0, hi = n;
                    while (lo < hi) {
                        int mid = (lo + hi) >>> 1;
                        if (keys[ko + mid] < target) lo = mid + 1; else hi = mid;
                    }
                    cs[co + g] = lo;
                }
            })
            .build();

    /**
     * Appends the tasks that build the index from {@code indices [B,L,H,K]} into {@code chunkStart}
     * ({@code [B·H·(C+1)]}) and {@code entries} ({@code [B·H·L·K]}). Scratch tensors (3·B·H·L·K ints plus
     * the tile histograms) are created here, named after {@code prefix}, and live only on the device.
     * Task names start with {@code prefix}.
     */
    public static TaskGraph addBuildTasks(TaskGraph g, String prefix, Tensor indices, Tensor chunkStart, Tensor entries,
                                          int B, int L, int H, int C, int S, int t0, int K) {
        int n = Math.multiplyExact(Math.multiplyExact(B * H, L), K);
        int tiles = tiles(n);
        Tensor keysA = Tensor.i32(prefix + "KeysA", n), valsA = Tensor.i32(prefix + "ValsA", n), keysB = Tensor.i32(prefix + "KeysB", n);
        Tensor hist = Tensor.i32(prefix + "TileHist", BUCKETS * tiles), base = Tensor.i32(prefix + "TileBase", BUCKETS * tiles);
        int passes = passes(B * H * C);
        // Ping-pong so that the last pass writes (keysB, entries).
        Tensor[][] sets = {{keysA, valsA}, {keysB, entries}};
        Tensor[] first = sets[(passes % 2 == 0) ? 1 : 0];
        g.task(prefix + "Keys", KEYS, indices, first[0], first[1], B, L, H, C, S, t0, K);
        Tensor[] in = first;
        for (int p = 0; p < passes; p++) {
            Tensor[] out = in == sets[0] ? sets[1] : sets[0];
            int shift = p * BITS;
            g.task(prefix + "Hist" + p, HIST, in[0], hist, n, shift);
            g.task(prefix + "Scan" + p, SCAN, hist, base, BUCKETS * tiles);
            g.task(prefix + "Scatter" + p, SCATTER, in[0], in[1], base, out[0], out[1], n, shift);
            in = out;
        }
        g.task(prefix + "Starts", STARTS, keysB, chunkStart, n, B * H, C);
        return g;
    }

    /** Builds the index on {@code device} from host indices (uploads, runs, downloads): for tests and one-off work. */
    public static Csr build(Device device, int[] indices, int B, int L, int H, int C, int S, int t0, int K) {
        Tensor idx = Tensor.of("indices", indices.clone(), B, L, H, K);
        Tensor cs = Tensor.i32("chunkStart", B * H * (C + 1)), ent = Tensor.i32("entries", B * H * L * K);
        TaskGraph g = new TaskGraph("csr").transferToDevice(DataTransferMode.EVERY_EXECUTION, idx);
        addBuildTasks(g, "csr", idx, cs, ent, B, L, H, C, S, t0, K);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, cs, ent);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device)) {
            plan.execute();
        }
        int[] starts = cs.toI32Array();
        return new Csr(starts, ent.toI32Array(), starts[starts.length - 1]);
    }

    /** The index computed directly (the oracle): entries in the used prefix, zeros after it. */
    public static Csr reference(int[] indices, int B, int L, int H, int C, int S, int t0, int K) {
        int bhCount = B * H;
        int[] counts = new int[bhCount * C];
        for (int bh = 0; bh < bhCount; bh++) {
            int b = bh / H, h = bh % H;
            for (int t = 0; t < L; t++) {
                for (int k = 0; k < HsaSelection.validSlots(t0 + t, S, C, K); k++) counts[bh * C + indices[((b * L + t) * H + h) * K + k]]++;
            }
        }
        int[] starts = new int[bhCount * (C + 1)];
        int run = 0;
        for (int bh = 0; bh < bhCount; bh++) {
            for (int c = 0; c < C; c++) {
                starts[bh * (C + 1) + c] = run;
                run += counts[bh * C + c];
            }
            starts[bh * (C + 1) + C] = run;
        }
        int[] entries = new int[B * H * L * K];
        int[] next = new int[bhCount * C];
        for (int bh = 0; bh < bhCount; bh++) for (int c = 0; c < C; c++) next[bh * C + c] = starts[bh * (C + 1) + c];
        for (int bh = 0; bh < bhCount; bh++) {
            int b = bh / H, h = bh % H;
            for (int t = 0; t < L; t++) { // ascending t*K + k within each chunk, by construction
                for (int k = 0; k < HsaSelection.validSlots(t0 + t, S, C, K); k++) {
                    entries[next[bh * C + indices[((b * L + t) * H + h) * K + k]]++] = t * K + k;
                }
            }
        }
        return new Csr(starts, entries, run);
    }

    /** Radix passes needed for keys up to {@code maxKey} (at least one, so the values always reach entries). */
    static int passes(int maxKey) {
        int bits = 32 - Integer.numberOfLeadingZeros(Math.max(1, maxKey));
        return Math.max(1, (bits + BITS - 1) / BITS);
    }

    static int tiles(int n) { return Math.max(1, (n + TILE - 1) / TILE); }

    private static int digit(int key, int shift) { return (key >> shift) & (BUCKETS - 1); }
}
