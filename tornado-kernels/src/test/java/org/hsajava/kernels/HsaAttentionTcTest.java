package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.Arrays;
import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.DeviceInfo;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.opencl.TensorCores;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.HsaAttentionTest.Case;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The tensor-core forward of {@code hsa_attn.cl} (NVIDIA, TF32 mma.sync) with its PTX instructions
 * emulated ({@link HsaAttention#forwardTcEmulated}), on the test OpenCL device, against the fp32 Java
 * forward: this checks the fragment bookkeeping (which lane holds which score, dim and chunk row),
 * the in-register softmax, the warps' slot split and the sum over warps on any machine; and the
 * same for the tensor-core backward dq/dweights/delta ({@link HsaAttention#backwardQTcEmulated}) and dk/dv
 * ({@link HsaAttention#backwardKvTcEmulated}: the column bookkeeping over CSR entries). The TF32
 * rounding is emulated too, so the tolerance is TF32's: 2e-3 of the largest |output| (unit roundoff
 * of TF32 is 2^-11 = 4.9e-4; the measured errors are a few 1e-4).
 */
class HsaAttentionTcTest {

    /** Tolerance of a TF32 forward against the fp32 reference, relative to the largest magnitude. */
    static final double TF32_TOL = 2e-3;

    record Out(float[] o, float[] lse) {}

    static Out run(Device dev, KernelDef def, boolean at, Case cs, int t0, int C) {
        Tensor q = Tensor.of("q", cs.q().clone()), k = Tensor.of("k", cs.k().clone()), v = Tensor.of("v", cs.v().clone());
        Tensor idx = Tensor.of("indices", cs.idx().clone()), w = Tensor.of("weights", cs.w().clone());
        Tensor o = nan("o", cs.q().length), lse = nan("lse", cs.B() * cs.L() * cs.HQ() * cs.K());
        TaskGraph g = new TaskGraph("hsa").transferToDevice(DataTransferMode.EVERY_EXECUTION, q, k, v, idx, w, o, lse);
        if (at) g.task("fwd", def, q, k, v, idx, w, o, lse, cs.B(), cs.L(), cs.HQ(), cs.H(), cs.K(), cs.n(), cs.scale(), t0, C);
        else g.task("fwd", def, q, k, v, idx, w, o, lse, cs.B(), cs.L(), cs.HQ(), cs.H(), cs.K(), cs.n(), cs.scale());
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, o, lse);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
            plan.execute();
        }
        return new Out(o.toF32Array(), lse.toF32Array());
    }

    private static Tensor nan(String name, int n) {
        float[] a = new float[n];
        Arrays.fill(a, Float.NaN);
        return Tensor.of(name, a);
    }

    static Stream<Arguments> shapes() {
        // B, L, HQ, H, D, S, K, n, work-group size (warps = wg/32), small (also under oclgrind)
        return Stream.of(
                Arguments.of(1, 5, 1, 1, 16, 16, 2, 0, 64, true),       // L < S: no chunks, every output 0
                Arguments.of(3, 53, 2, 2, 16, 16, 2, 1, 32, true),      // G = 1: 15 of the 16 rows of the tile are padding
                Arguments.of(1, 67, 16, 1, 16, 16, 3, 0, 64, true),     // G = 16: one whole tile; 3 slots over 2 warps
                Arguments.of(2, 101, 20, 1, 32, 16, 8, 1, 64, false),   // G = 20: two tiles, the second 4 rows
                Arguments.of(2, 101, 20, 1, 32, 16, 8, 1, 32, false),   // the same with one warp (the NVIDIA default)
                Arguments.of(1, 130, 12, 2, 64, 32, 4, 0, 128, false),  // G = 6, H = 2, 4 warps
                Arguments.of(1, 150, 4, 1, 128, 32, 2, 1, 32, false),   // D = 128
                Arguments.of(1, 300, 2, 1, 16, 128, 2, 0, 64, false));  // S = 128
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void emulatedTensorCoreForwardMatchesJava(int B, int L, int HQ, int H, int D, int S, int K, int n, int wg, boolean small) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Case cs = Case.random(7L * L + HQ + D, B, L, HQ, H, D, S, K, n);
        int G = HQ / H;
        String at = String.format("B=%d L=%d HQ=%d H=%d D=%d S=%d K=%d n=%d WG=%d", B, L, HQ, H, D, S, K, n, wg);
        Out java = run(TestDevices.java(), HsaAttention.forward(D, S, G), false, cs, 0, 0);
        Out tc = run(TestDevices.opencl(), HsaAttention.forwardTcEmulated(D, S, G, wg), false, cs, 0, 0);
        assertClose(at + ": o", java.o(), tc.o(), TF32_TOL);
        assertClose(at + ": lse", java.lse(), tc.lse(), TF32_TOL);
        for (int b = 0; b < B; b++) {
            for (int i = 0; i < Math.min(L, S) * HQ * D; i++) assertEquals(0f, tc.o()[b * L * HQ * D + i], at + ": o of a token with no valid slot");
        }
        for (float x : tc.o()) assertTrue(Float.isFinite(x), at + ": non-finite o");
        for (float x : tc.lse()) assertTrue(Float.isFinite(x), at + ": non-finite lse");
        if (L >= 2 * S) {
            // the emulation really runs TF32 arithmetic: not the fp32 kernel's bits
            Out fp32 = run(TestDevices.opencl(), HsaAttention.forward(D, S, G), false, cs, 0, 0);
            assertFalse(Arrays.equals(fp32.o(), tc.o()), at + ": TF32 path gave the fp32 path's bits");
        }
    }

    record Grads(float[] dq, float[] dw, float[] delta) {}

    /** backward dq on one device, from the given lse. */
    static Grads runBackwardQ(Device dev, KernelDef def, Case cs, float[] lseIn) {
        Tensor q = Tensor.of("q", cs.q().clone()), k = Tensor.of("k", cs.k().clone()), v = Tensor.of("v", cs.v().clone());
        Tensor idx = Tensor.of("indices", cs.idx().clone()), w = Tensor.of("weights", cs.w().clone()), dout = Tensor.of("dout", cs.dout().clone());
        Tensor lse = Tensor.of("lse", lseIn.clone());
        Tensor dq = nan("dq", cs.q().length), dw = nan("dweights", cs.idx().length), delta = nan("delta", lseIn.length);
        TaskGraph g = new TaskGraph("hsa").transferToDevice(DataTransferMode.EVERY_EXECUTION, q, k, v, idx, w, dout, lse, dq, dw, delta)
                .task("bwdq", def, q, k, v, idx, w, dout, lse, dq, dw, delta, cs.B(), cs.L(), cs.HQ(), cs.H(), cs.K(), cs.scale())
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dq, dw, delta);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
            plan.execute();
        }
        return new Grads(dq.toF32Array(), dw.toF32Array(), delta.toF32Array());
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void emulatedTensorCoreBackwardQMatchesJava(int B, int L, int HQ, int H, int D, int S, int K, int n, int wg, boolean small) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Case cs = Case.random(13L * L + HQ + D, B, L, HQ, H, D, S, K, n);
        int G = HQ / H;
        String at = String.format("B=%d L=%d HQ=%d H=%d D=%d S=%d K=%d n=%d WG=%d", B, L, HQ, H, D, S, K, n, wg);
        float[] lse = run(TestDevices.java(), HsaAttention.forward(D, S, G), false, cs, 0, 0).lse();
        Grads java = runBackwardQ(TestDevices.java(), HsaAttention.backwardQ(D, S, G), cs, lse);
        Grads tc = runBackwardQ(TestDevices.opencl(), HsaAttention.backwardQTcEmulated(D, S, G, wg), cs, lse);
        assertClose(at + ": dq", java.dq(), tc.dq(), TF32_TOL);
        assertClose(at + ": dweights", java.dw(), tc.dw(), TF32_TOL);
        assertClose(at + ": delta", java.delta(), tc.delta(), TF32_TOL);
        for (int b = 0; b < B; b++) {
            for (int i = 0; i < Math.min(L, S) * HQ * D; i++) assertEquals(0f, tc.dq()[b * L * HQ * D + i], at + ": dq of a token with no valid slot");
        }
        for (float[] a : new float[][] {tc.dq(), tc.dw(), tc.delta()}) for (float x : a) assertTrue(Float.isFinite(x), at + ": non-finite output");
        if (L >= 2 * S) {
            Grads fp32 = runBackwardQ(TestDevices.opencl(), HsaAttention.backwardQ(D, S, G), cs, lse);
            assertFalse(Arrays.equals(fp32.dq(), tc.dq()), at + ": TF32 path gave the fp32 path's bits");
        }
    }

    record KvGrads(float[] dk, float[] dv) {}

    /** backward dk/dv on one device, from the given lse and delta. */
    static KvGrads runBackwardKv(Device dev, KernelDef def, Case cs, float[] lseIn, float[] deltaIn) {
        int[][] csr = HsaAttentionTest.invertSelection(cs.idx(), cs.B(), cs.L(), cs.H(), cs.S(), cs.K());
        Tensor q = Tensor.of("q", cs.q().clone()), k = Tensor.of("k", cs.k().clone()), v = Tensor.of("v", cs.v().clone());
        Tensor w = Tensor.of("weights", cs.w().clone()), dout = Tensor.of("dout", cs.dout().clone());
        Tensor lse = Tensor.of("lse", lseIn.clone()), delta = Tensor.of("delta", deltaIn.clone());
        Tensor start = Tensor.of("chunkStart", csr[0]), entries = Tensor.of("entries", csr[1]);
        Tensor dk = nan("dk", cs.k().length), dv = nan("dv", cs.k().length);
        TaskGraph g = new TaskGraph("hsa").transferToDevice(DataTransferMode.EVERY_EXECUTION, q, k, v, w, dout, lse, delta, start, entries, dk, dv)
                .task("bwdkv", def, q, k, v, w, dout, lse, delta, start, entries, dk, dv, cs.B(), cs.L(), cs.HQ(), cs.H(), cs.K(), cs.scale())
                .transferToHost(DataTransferMode.EVERY_EXECUTION, dk, dv);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
            plan.execute();
        }
        return new KvGrads(dk.toF32Array(), dv.toF32Array());
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void emulatedTensorCoreBackwardKvMatchesJava(int B, int L, int HQ, int H, int D, int S, int K, int n, int wg, boolean small) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Case cs = Case.random(17L * L + HQ + D, B, L, HQ, H, D, S, K, n);
        // sequence 0, KV head 0 never selects its last chunk (chunk 0 twice instead: allowed, the
        // kernels sum over slots), so that the zero rows of an unselected chunk are checked
        int C = L / S;
        for (int t = 0; t < L && C >= 2; t++) for (int slot = 0; slot < K; slot++) if (cs.idx()[t * H * K + slot] == C - 1) cs.idx()[t * H * K + slot] = 0;
        int G = HQ / H;
        String at = String.format("B=%d L=%d HQ=%d H=%d D=%d S=%d K=%d n=%d", B, L, HQ, H, D, S, K, n);
        float[] lse = run(TestDevices.java(), HsaAttention.forward(D, S, G), false, cs, 0, 0).lse();
        float[] delta = runBackwardQ(TestDevices.java(), HsaAttention.backwardQ(D, S, G), cs, lse).delta();
        KvGrads java = runBackwardKv(TestDevices.java(), HsaAttention.backwardKv(D, S, G), cs, lse, delta);
        // the loop shapes: one n-tile per step and one warp per row block; two n-tiles and (where the
        // local sum fits) two warps per row block, whose partial sums go through local memory; one
        // n-tile and four warps per row block (the default at D <= 32)
        boolean fits = HsaAttention.KvTc.splitFits(D, S);
        HsaAttention.KvTc shape = wg == 32 ? new HsaAttention.KvTc(1, 1, null)
                : wg == 128 || D == 32 ? new HsaAttention.KvTc(1, fits ? 4 : 1, null)
                : new HsaAttention.KvTc(2, fits ? 2 : 1, D == 16 ? Boolean.FALSE : null);
        at += " " + shape;
        KvGrads tc = runBackwardKv(TestDevices.opencl(), HsaAttention.backwardKvTcEmulated(D, S, G, shape), cs, lse, delta);
        assertClose(at + ": dk", java.dk(), tc.dk(), TF32_TOL);
        assertClose(at + ": dv", java.dv(), tc.dv(), TF32_TOL);
        for (float[] a : new float[][] {tc.dk(), tc.dv()}) for (float x : a) assertTrue(Float.isFinite(x), at + ": non-finite (or unwritten) dk/dv");
        // chunks that no token selected (empty CSR rows) get exact zeros
        int[] start = HsaAttentionTest.invertSelection(cs.idx(), B, L, H, S, K)[0];
        int unselected = 0;
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                for (int c = 0; c < C; c++) {
                    if (start[(b * H + h) * (C + 1) + c] != start[(b * H + h) * (C + 1) + c + 1]) continue;
                    unselected++;
                    for (int j = 0; j < S; j++) {
                        for (int d = 0; d < D; d++) {
                            int i = (((b * C + c) * S + j) * H + h) * D + d;
                            assertEquals(0f, tc.dk()[i], at + ": dk of a chunk nobody selected");
                            assertEquals(0f, tc.dv()[i], at + ": dv of a chunk nobody selected");
                        }
                    }
                }
            }
        }
        if (C >= 2) assertTrue(unselected > 0, at + ": the case should leave a chunk unselected");
        if (L >= 2 * S) {
            KvGrads fp32 = runBackwardKv(TestDevices.opencl(), HsaAttention.backwardKv(D, S, G), cs, lse, delta);
            assertFalse(Arrays.equals(fp32.dk(), tc.dk()), at + ": TF32 path gave the fp32 path's bits");
        }
    }

    static Stream<Arguments> windows() {
        // B, L (rows), HQ, H, D, S, K, n, t0, C
        return Stream.of(
                Arguments.of(1, 37, 20, 1, 16, 32, 5, 1, 1000, 40),  // deep positions, two tiles of heads
                Arguments.of(2, 3, 16, 1, 64, 64, 8, 0, 130, 3),     // fewer chunks than K: 2 or 3 valid slots
                Arguments.of(1, 4, 2, 2, 16, 16, 2, 1, 7, 0));       // empty memory
    }

    @ParameterizedTest
    @MethodSource("windows")
    void emulatedTensorCoreForwardAtMatchesJava(int B, int L, int HQ, int H, int D, int S, int K, int n, int t0, int C) {
        // a random selection over the C chunks of the memory, valid slots k < min(K, C, t/S)
        Case base = Case.random(11L * t0 + C, B, (t0 + L), HQ, H, D, S, K, n);
        float[] q = HsaAttentionAtTest.rows(base.q(), B, t0 + L, HQ * D, t0, L);
        float[] w = HsaAttentionAtTest.rows(base.w(), B, t0 + L, H * K, t0, L);
        int[] idx = HsaAttentionAtTest.rows(base.idx(), B, t0 + L, H * K, t0, L);
        int kvPer = C * S * H * D, basePer = (t0 + L) / S * S * H * D;
        float[] k = new float[B * kvPer], v = new float[B * kvPer];
        for (int b = 0; b < B; b++) {
            System.arraycopy(base.k(), b * basePer, k, b * kvPer, Math.min(kvPer, basePer));
            System.arraycopy(base.v(), b * basePer, v, b * kvPer, Math.min(kvPer, basePer));
        }
        for (int row = 0; row < B * L * H; row++) {   // slots past the memory: indices the kernel must not follow
            int valid = Math.min(K, Math.min(C, (t0 + row / H % L) / S));
            for (int slot = 0; slot < K; slot++) {
                if (slot >= valid) { idx[row * K + slot] = 1 << 20; w[row * K + slot] = Float.NaN; }
                else idx[row * K + slot] = Math.min(idx[row * K + slot], C - 1 - slot);
            }
        }
        Case cs = new Case(B, L, HQ, H, D, S, K, n, q, k, v, idx, w, null);
        String at = String.format("B=%d L=%d HQ=%d H=%d D=%d S=%d K=%d t0=%d C=%d", B, L, HQ, H, D, S, K, t0, C);
        Out java = run(TestDevices.java(), HsaAttention.forwardAt(D, S, HQ / H), true, cs, t0, C);
        Out tc = run(TestDevices.opencl(), HsaAttention.forwardAtTcEmulated(D, S, HQ / H, 64), true, cs, t0, C);
        assertClose(at + ": o", java.o(), tc.o(), TF32_TOL);
        assertClose(at + ": lse", java.lse(), tc.lse(), TF32_TOL);
        for (float x : tc.o()) assertTrue(Float.isFinite(x), at + ": non-finite o");
    }

    @org.junit.jupiter.api.Test
    void tensorCoresAreNeverChosenForTheTestDevice() {
        // the test device is PoCL (or oclgrind) in CI: the portable path must be compiled there
        assertFalse(TensorCores.enabled(TestDevices.opencl().info()), "tensor cores on " + TestDevices.opencl());
        assertFalse(TensorCores.enabled(TestDevices.java().info()));
        assertEquals("fp32", TensorCores.describe(TestDevices.java().info()));
        // so the definitions launched there are the portable ones themselves
        KernelDef fwd = HsaAttention.forward(64, 64, 16), at = HsaAttention.forwardAt(64, 64, 16);
        assertSame(fwd, fwd.forDevice(TestDevices.opencl().info()));
        assertSame(at, at.forDevice(TestDevices.opencl().info()));
        assertFalse(fwd.defines().containsKey("HSA_TC"));
        KernelDef bwdq = HsaAttention.backwardQ(64, 64, 16), bwdkv = HsaAttention.backwardKv(64, 64, 16);
        assertSame(bwdq, bwdq.forDevice(TestDevices.opencl().info()));
        // bwd_kv: the portable kernel too, with the CPU tile budget where the device is a CPU
        KernelDef launched = bwdkv.forDevice(TestDevices.opencl().info());
        assertFalse(launched.defines().containsKey("HSA_TC_KV"));
        assertFalse(launched.defines().containsKey("HSA_TC"));
        if (TestDevices.opencl().info().type() == DeviceInfo.Type.CPU) {
            assertSame(HsaAttention.backwardKvPortable(64, 64, 16, HsaAttention.cpuLocalFloats(TestDevices.opencl().info())), launched);
        } else {
            assertSame(bwdkv, launched);
        }
    }
}
