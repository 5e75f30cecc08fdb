package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.DeviceInfo;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Golden;
import org.hsajava.compute.testing.FakeDevices;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class HsaAttentionTest {

    /** One problem: sizes plus inputs (indices/weights follow the selection convention). */
    record Case(int B, int L, int HQ, int H, int D, int S, int K, int n,
                float[] q, float[] k, float[] v, int[] idx, float[] w, float[] dout) {
        int G() { return HQ / H; }
        int C() { return L / S; }
        float scale() { return (float) (1 / Math.sqrt(D)); }

        static Case random(long seed, int B, int L, int HQ, int H, int D, int S, int K, int n) {
            Rand r = new Rand(seed);
            int lkv = L / S * S;
            int[] idx = new int[B * L * H * K];
            float[] w = new float[B * L * H * K];
            for (int b = 0; b < B; b++) {
                for (int t = 0; t < L; t++) {
                    for (int h = 0; h < H; h++) {
                        int eligible = t / S, nv = Math.min(K, eligible), at = ((b * L + t) * H + h) * K;
                        // nv distinct eligible chunks, most recent first
                        boolean[] taken = new boolean[eligible];
                        for (int i = 0; i < nv; i++) {
                            int c;
                            do c = r.nextInt(eligible); while (taken[c]);
                            taken[c] = true;
                        }
                        int slot = 0;
                        for (int c = eligible - 1; c >= 0; c--) if (taken[c]) { idx[at + slot] = c; w[at + slot] = (float) (0.05 + 0.9 * r.nextDouble()); slot++; }
                    }
                }
            }
            return new Case(B, L, HQ, H, D, S, K, n, r.normal(B * L * HQ * D, 1), r.normal(B * lkv * H * D, 1), r.normal(B * lkv * H * D, 1),
                    idx, w, r.normal(B * L * HQ * D, 1));
        }

        static Case golden(Golden g) {
            return new Case(g.metaInt("B"), g.metaInt("L"), g.metaInt("HQ"), g.metaInt("H"), g.metaInt("D"), g.metaInt("S"), g.metaInt("K"), g.metaInt("n"),
                    g.f32("q"), g.f32("k"), g.f32("v"), g.i32("indices"), g.f32("weights"), g.f32("d_out"));
        }
    }

    record Result(float[] o, float[] lse, float[] dq, float[] dw, float[] delta, float[] dk, float[] dv) {}

    /**
     * The inverted selection index (chunk -> list of t*K+slot, ascending, valid slots only), built
     * the obvious way; the format is branch hsasel's convention.
     */
    static int[][] invertSelection(int[] idx, int B, int L, int H, int S, int K) {
        int C = L / S;
        int[] start = new int[B * H * (C + 1)];
        int[] entries = new int[B * H * L * K];
        int pos = 0;
        for (int bh = 0; bh < B * H; bh++) {
            int b = bh / H, h = bh % H;
            for (int c = 0; c < C; c++) {
                start[bh * (C + 1) + c] = pos;
                for (int t = 0; t < L; t++) {
                    for (int k = 0; k < Math.min(K, t / S); k++) if (idx[((b * L + t) * H + h) * K + k] == c) entries[pos++] = t * K + k;
                }
            }
            start[bh * (C + 1) + C] = pos;
        }
        return new int[][] {start, entries};
    }

    /** Runs forward, backwardQ and backwardKv as one task graph; outputs start as NaN so an unwritten element shows. */
    static Result run(Device dev, Case cs) { return run(dev, cs, HsaAttention.backwardKv(cs.D, cs.S, cs.G())); }

    /** As {@link #run(Device, Case)} with a given dk/dv kernel (one tile budget or another). */
    static Result run(Device dev, Case cs, KernelDef backwardKv) {
        int[][] csr = invertSelection(cs.idx, cs.B, cs.L, cs.H, cs.S, cs.K);
        int qn = cs.q.length, sel = cs.idx.length, lsen = cs.B * cs.L * cs.HQ * cs.K, kvn = cs.k.length;
        Tensor q = Tensor.of("q", cs.q.clone()), k = Tensor.of("k", cs.k.clone()), v = Tensor.of("v", cs.v.clone());
        Tensor idx = Tensor.of("indices", cs.idx.clone()), w = Tensor.of("weights", cs.w.clone()), dout = Tensor.of("dout", cs.dout.clone());
        Tensor start = Tensor.of("chunkStart", csr[0]), entries = Tensor.of("entries", csr[1]);
        Tensor o = nan("o", qn), lse = nan("lse", lsen), dq = nan("dq", qn), dw = nan("dweights", sel), delta = nan("delta", lsen);
        Tensor dk = nan("dk", kvn), dv = nan("dv", kvn);
        int B = cs.B, L = cs.L, HQ = cs.HQ, H = cs.H, K = cs.K, D = cs.D, S = cs.S, G = cs.G();
        float scale = cs.scale();
        TaskGraph g = new TaskGraph("hsa")
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, q, k, v, idx, w, dout, start, entries, o, lse, dq, dw, delta, dk, dv)
                .task("fwd", HsaAttention.forward(D, S, G), q, k, v, idx, w, o, lse, B, L, HQ, H, K, cs.n, scale)
                .task("bwdq", HsaAttention.backwardQ(D, S, G), q, k, v, idx, w, dout, lse, dq, dw, delta, B, L, HQ, H, K, scale)
                .task("bwdkv", backwardKv, q, k, v, w, dout, lse, delta, start, entries, dk, dv, B, L, HQ, H, K, scale)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, o, lse, dq, dw, delta, dk, dv);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
            plan.execute();
        }
        return new Result(o.toF32Array(), lse.toF32Array(), dq.toF32Array(), dw.toF32Array(), delta.toF32Array(), dk.toF32Array(), dv.toF32Array());
    }

    private static Tensor nan(String name, int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, Float.NaN);
        return Tensor.of(name, a);
    }

    // ------------------------------------------------------------------ golden vectors

    @ParameterizedTest
    @ValueSource(strings = {"hsa_e2e_stick", "hsa_e2e_softmax_n1", "hsa_e2e_s16_k8"})
    void matchesGoldenVectors(String file) {
        Golden gold = Golden.load(file);
        Case cs = Case.golden(gold);
        List<Device> devices = new ArrayList<>(List.of(TestDevices.java()));
        if (!TestDevices.underOclgrind()) devices.add(TestDevices.opencl());  // too large for the simulator
        for (Device dev : devices) {
            Result r = run(dev, cs);
            String at = file + " on " + dev;
            assertClose(at + ": o", gold.f32("o"), r.o, 1e-4);
            assertClose(at + ": grad_q", gold.f32("grad_q"), r.dq, 1e-4);
            assertClose(at + ": grad_k", gold.f32("grad_k"), r.dk, 1e-4);
            assertClose(at + ": grad_v", gold.f32("grad_v"), r.dv, 1e-4);
            assertClose(at + ": grad_weights", validSlotsOnly(cs, gold.f32("grad_weights")), r.dw, 1e-4);
        }
    }

    /**
     * The golden grad_weights also holds, for invalid slots, dout·O of the chunk their index 0
     * points at (the reference attends every slot, weighted by 0). Our forward leaves invalid
     * slots out altogether, so their exact gradient is 0, which is what the kernel writes; the
     * selection backward multiplies these entries by their zero weight in either convention.
     */
    private static float[] validSlotsOnly(Case cs, float[] gradWeights) {
        float[] masked = gradWeights.clone();
        for (int i = 0; i < masked.length; i++) {
            int slot = i % cs.K, t = i / (cs.K * cs.H) % cs.L;
            if (slot >= Math.min(cs.K, t / cs.S)) masked[i] = 0f;
        }
        return masked;
    }

    // ------------------------------------------------------------------ OpenCL vs Java

    static Stream<Arguments> shapes() {
        // B, L, HQ, H, D, S, K, n, small (run under oclgrind too)
        return Stream.of(
                Arguments.of(1, 5, 1, 1, 16, 16, 2, 0, true),       // L < S: no chunks, empty k/v
                Arguments.of(1, 1, 16, 1, 32, 32, 3, 1, true),      // a single token, G = 16
                Arguments.of(3, 53, 2, 2, 16, 16, 2, 1, true),      // G = 1, B = 3, L not a multiple of S
                Arguments.of(1, 67, 16, 1, 16, 16, 3, 0, true),     // G = 16, L prime
                Arguments.of(3, 101, 16, 1, 32, 16, 8, 1, false),   // K > chunks for most tokens
                Arguments.of(1, 130, 2, 2, 64, 32, 4, 0, false),
                Arguments.of(1, 200, 8, 1, 64, 64, 2, 1, false),
                Arguments.of(1, 300, 16, 1, 128, 128, 2, 0, false), // largest tiles: G*D = G*S = 2048
                Arguments.of(2, 131, 1, 1, 128, 16, 5, 1, false));
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void openClMatchesJava(int B, int L, int HQ, int H, int D, int S, int K, int n, boolean small) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Case cs = Case.random(31L * L + HQ + D, B, L, HQ, H, D, S, K, n);
        Result cl = run(TestDevices.opencl(), cs), java = run(TestDevices.java(), cs);
        String at = String.format("B=%d L=%d HQ=%d H=%d D=%d S=%d K=%d n=%d", B, L, HQ, H, D, S, K, n);
        assertClose(at + ": o", java.o, cl.o, 2e-5);
        assertClose(at + ": lse", java.lse, cl.lse, 2e-5);
        assertClose(at + ": dq", java.dq, cl.dq, 2e-5);
        assertClose(at + ": dweights", java.dw, cl.dw, 2e-5);
        assertClose(at + ": delta", java.delta, cl.delta, 2e-5);
        assertClose(at + ": dk", java.dk, cl.dk, 2e-5);
        assertClose(at + ": dv", java.dv, cl.dv, 2e-5);
        // the dk/dv pass with both tile budgets whatever the device (the GPU's and the larger CPU one)
        for (int budget : new int[] {HsaAttention.LOCAL_FLOATS, 65536}) {
            if (TestDevices.underOclgrind() && budget > HsaAttention.LOCAL_FLOATS) continue;   // oclgrind offers 32 KiB of local memory
            Result other = run(TestDevices.opencl(), cs, HsaAttention.backwardKvPortable(D, S, cs.G(), budget));
            assertClose(at + ": dk, budget " + budget, java.dk, other.dk, 2e-5);
            assertClose(at + ": dv, budget " + budget, java.dv, other.dv, 2e-5);
        }
        for (Result r : new Result[] {cl, java}) {
            // tokens before the first whole chunk select nothing: exactly zero, never NaN
            for (int b = 0; b < B; b++) {
                for (int i = 0; i < Math.min(L, S) * HQ * D; i++) {
                    int at0 = b * L * HQ * D + i;
                    assertEquals(0f, r.o[at0], at + ": o of a token with no valid slot");
                    assertEquals(0f, r.dq[at0], at + ": dq of a token with no valid slot");
                }
            }
            for (float[] a : new float[][] {r.o, r.lse, r.dq, r.dw, r.delta, r.dk, r.dv}) for (float x : a) assertTrue(Float.isFinite(x), at + ": non-finite output");
        }
    }

    @Test
    void cpuDevicesGetWholeChunkDkDvGroups() {
        DeviceInfo cpu = FakeDevices.cpu(512 << 10), smallCpu = FakeDevices.cpu(32 << 10), gpu = FakeDevices.gpu(132);
        KernelDef kv = HsaAttention.backwardKv(64, 64, 16);
        assertEquals("64", kv.forDevice(cpu).defines().get("HSA_BR"), "a whole chunk per group on a CPU with 512 KiB of local memory");
        assertEquals(kv.defines().get("HSA_BR"), kv.forDevice(gpu).defines().get("HSA_BR"), "GPUs keep the default tiles");
        assertTrue(Integer.parseInt(kv.defines().get("HSA_BR")) < 64, "the default budget does not fit a whole chunk of D = S = 64, G = 16");
        assertEquals(HsaAttention.LOCAL_FLOATS, HsaAttention.cpuLocalFloats(smallCpu), "never below the default budget");
    }

    @Test
    void openClResultsAreBitwiseRepeatable() {
        // no atomics, fixed summation orders: two runs must agree to the last bit
        Case cs = TestDevices.underOclgrind() ? Case.random(5, 1, 40, 4, 1, 16, 16, 2, 1) : Case.random(5, 2, 150, 16, 1, 32, 16, 4, 1);
        Result a = run(TestDevices.opencl(), cs), b = run(TestDevices.opencl(), cs);
        assertArrayEquals(a.o, b.o);
        assertArrayEquals(a.dq, b.dq);
        assertArrayEquals(a.dw, b.dw);
        assertArrayEquals(a.dk, b.dk);
        assertArrayEquals(a.dv, b.dv);
    }

    // ------------------------------------------------------------------ finite differences

    /** Independent double-precision forward, straight from the formula; returns sum(o * dout). */
    static double loss(Case cs, double[] q, double[] k, double[] v, double[] w) {
        int D = cs.D, S = cs.S, G = cs.G(), lkv = cs.C() * S;
        double scale = 1 / Math.sqrt(D), total = 0;
        for (int b = 0; b < cs.B; b++) {
            for (int t = 0; t < cs.L; t++) {
                for (int hq = 0; hq < cs.HQ; hq++) {
                    int h = hq / G, row = (b * cs.L + t) * cs.HQ + hq;
                    double[] o = new double[D];
                    for (int slot = 0; slot < Math.min(cs.K, t / S); slot++) {
                        int sel = ((b * cs.L + t) * cs.H + h) * cs.K + slot, c = cs.idx[sel];
                        double[] e = new double[S];
                        double z = cs.n;
                        for (int j = 0; j < S; j++) {
                            int kr = ((b * lkv + c * S + j) * cs.H + h) * D;
                            double s = 0;
                            for (int d = 0; d < D; d++) s += q[row * D + d] * k[kr + d];
                            e[j] = Math.exp(s * scale);
                            z += e[j];
                        }
                        for (int j = 0; j < S; j++) {
                            int vr = ((b * lkv + c * S + j) * cs.H + h) * D;
                            for (int d = 0; d < D; d++) o[d] += w[sel] * e[j] / z * v[vr + d];
                        }
                    }
                    for (int d = 0; d < D; d++) total += o[d] * cs.dout[row * D + d];
                }
            }
        }
        return total;
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1})
    void gradientsMatchFiniteDifferences(int n) {
        // G = 2, two KV heads, L not a multiple of S, K smaller than the number of chunks late on
        Case cs = Case.random(7 + n, 1, 53, 4, 2, 16, 16, 2, n);
        double[] q = toDouble(cs.q), k = toDouble(cs.k), v = toDouble(cs.v), w = toDouble(cs.w);
        List<Device> devices = List.of(TestDevices.java(), TestDevices.opencl());
        List<Result> results = devices.stream().map(d -> run(d, cs)).toList();
        Rand pick = new Rand(99);
        String[] names = {"dq", "dk", "dv", "dweights"};
        double[][] params = {q, k, v, w};
        for (int p = 0; p < params.length; p++) {
            double[] x = params[p];
            int samples = Math.min(x.length, 160);
            double[] fd = new double[samples];
            int[] at = new int[samples];
            for (int s = 0; s < samples; s++) {
                at[s] = samples == x.length ? s : pick.nextInt(x.length);
                double keep = x[at[s]], hstep = 1e-5;
                x[at[s]] = keep + hstep;
                double up = loss(cs, q, k, v, w);
                x[at[s]] = keep - hstep;
                double down = loss(cs, q, k, v, w);
                x[at[s]] = keep;
                fd[s] = (up - down) / (2 * hstep);
            }
            for (int r = 0; r < results.size(); r++) {
                Result res = results.get(r);
                float[] analytic = switch (p) { case 0 -> res.dq; case 1 -> res.dk; case 2 -> res.dv; default -> res.dw; };
                float[] got = new float[samples];
                for (int s = 0; s < samples; s++) got[s] = analytic[at[s]];
                assertClose(names[p] + " vs finite differences (n=" + n + ") on " + devices.get(r), fd, got, 1e-4);
            }
        }
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    // ------------------------------------------------------------------ argument checks

    @Test
    void rejectsMismatchedArguments() {
        Case cs = Case.random(1, 1, 40, 2, 1, 16, 16, 2, 0);
        Tensor q = Tensor.of("q", cs.q), k = Tensor.of("k", cs.k), v = Tensor.of("v", cs.v), idx = Tensor.of("indices", cs.idx), w = Tensor.of("weights", cs.w);
        Tensor o = Tensor.f32("o", cs.q.length), lse = Tensor.f32("lse", 40 * 2 * 3);  // K=2 needs 160
        var e = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("bad").task("fwd", HsaAttention.forward(16, 16, 2), q, k, v, idx, w, o, lse, 1, 40, 2, 1, 2, 0, 0.25f));
        assertTrue(e.getMessage().contains("'lse'"), e.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("bad").task("fwd", HsaAttention.forward(16, 16, 1), q, k, v, idx, w, o, lse, 1, 40, 2, 1, 2, 0, 0.25f));
        assertTrue(e2.getMessage().contains("'HQ'"), e2.getMessage());
        assertThrows(IllegalArgumentException.class, () -> HsaAttention.forward(48, 16, 1));
        assertThrows(IllegalArgumentException.class, () -> HsaAttention.forward(128, 128, 32));
    }
}
