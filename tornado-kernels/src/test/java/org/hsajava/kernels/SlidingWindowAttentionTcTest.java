package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.SlidingWindowAttention.Shape;
import org.hsajava.kernels.SlidingWindowAttention.Tc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The tensor-core kernels of {@code swa_tc.h} (NVIDIA, TF32 mma.sync) with their PTX emulated
 * ({@link SlidingWindowAttention#forwardTcEmulated} and the backward twins), on the test OpenCL
 * device, against the fp32 Java oracle: this checks the fragment bookkeeping (which lane holds which
 * score, dim, key and query), the masks of the sliding window at every edge (L not a multiple of 16,
 * L &lt; 16, W = 0, W &ge; L, W not a multiple of 8), the online softmax across key blocks, GQA
 * head mapping and the work split over warps. TF32 rounding is emulated too, so the tolerance is
 * TF32's, 2e-3 of the largest |output| (as {@link HsaAttentionTcTest}). Every output is a view of
 * a NaN-filled buffer with guard zones on both sides: every element must be written (finite) and no
 * guard element may change (rows past L write nothing).
 */
class SlidingWindowAttentionTcTest {

    static final double TOL = HsaAttentionTcTest.TF32_TOL;

    /** Floats of NaN around every output (512 bytes: the sub-buffer base alignment of the devices). */
    static final int GUARD = 128;

    /** Inputs and the Java oracle's outputs for one shape. */
    record Case(Shape s, float[] q, float[] k, float[] v, float[] dO, float[] o, float[] lse, float[] delta, float[] dq, float[] dk, float[] dv) {
        Object[] dims() { return new Object[] {s.batch(), s.length(), s.queryHeads(), s.kvHeads(), s.window(), s.scale()}; }

        int qSize() { return s.batch() * s.length() * s.queryHeads() * s.headDim(); }

        int kvSize() { return s.batch() * s.length() * s.kvHeads() * s.headDim(); }

        int rowSize() { return s.batch() * s.length() * s.queryHeads(); }
    }

    /**
     * Inputs and the oracle's outputs. The backward kernels take delta as an input, and the oracle
     * gets the same one: rowsum(dO∘o) plus noise of the order of dP = dO·v (standard deviation
     * sqrt(D)), so that dS = P (dP - delta) never cancels (with W = 0, or L = 1, dP = delta and dq =
     * 0 in exact arithmetic: TF32's error, which is relative to |dP|, would be measured against
     * nothing), while every element still depends on its row's delta.
     */
    static Case reference(Shape s, long seed) { return reference(s, seed, false); }

    /** As above; with {@code bf16Inputs} q, k, v and dO are rounded to bf16 first (the inputs of the bf16 kernels). */
    static Case reference(Shape s, long seed, boolean bf16Inputs) {
        int d = s.headDim();
        Rand r = new Rand(seed);
        int nq = s.batch() * s.length() * s.queryHeads() * d, nk = s.batch() * s.length() * s.kvHeads() * d, rows = s.rows();
        float[] q = r.normal(nq, 1), k = r.normal(nk, 1), v = r.normal(nk, 1), dO = r.normal(nq, 1);
        if (bf16Inputs) {
            for (float[] x : List.of(q, k, v, dO)) {
                for (int i = 0; i < x.length; i++) x[i] = org.hsajava.compute.Bf16.round(x[i]);
            }
        }
        Device java = TestDevices.java();
        Tensor tq = Tensor.of("q", q.clone()), tk = Tensor.of("k", k.clone()), tv = Tensor.of("v", v.clone()), tdo = Tensor.of("d_o", dO.clone());
        Tensor o = Tensor.f32("o", nq), lse = Tensor.f32("lse", rows), delta = Tensor.f32("delta", rows);
        Tensor dq = Tensor.f32("dq", nq), dk = Tensor.f32("dk", nk), dv = Tensor.f32("dv", nk);
        Object[] dims = {s.batch(), s.length(), s.queryHeads(), s.kvHeads(), s.window(), s.scale()};
        KernelRunner.run(java, SlidingWindowAttention.forward(d), SlidingWindowAttentionTest.cat(new Object[] {tq, tk, tv, o, lse}, dims));
        KernelRunner.run(java, SlidingWindowAttention.backwardDelta(d), o, tdo, delta, rows);
        float[] noisy = delta.toF32Array(), noise = r.normal(rows, (float) Math.sqrt(d));
        for (int i = 0; i < rows; i++) noisy[i] += noise[i];
        delta = Tensor.of("delta", noisy);
        KernelRunner.run(java, SlidingWindowAttention.backwardDq(d), SlidingWindowAttentionTest.cat(new Object[] {tq, tk, tv, tdo, lse, delta, dq}, dims));
        KernelRunner.run(java, SlidingWindowAttention.backwardDkDv(d), SlidingWindowAttentionTest.cat(new Object[] {tq, tk, tv, tdo, lse, delta, dk, dv}, dims));
        return new Case(s, q, k, v, dO, o.toF32Array(), lse.toF32Array(), delta.toF32Array(), dq.toF32Array(), dk.toF32Array(), dv.toF32Array());
    }

    /** An output: a view of n floats in the middle of a NaN-filled buffer with GUARD floats on each side. */
    static Tensor guarded(String name, int n) {
        float[] all = new float[n + 2 * GUARD];
        Arrays.fill(all, Float.NaN);
        return Tensor.of(name + "_buffer", all).view(name, GUARD, n);
    }

    /** {@link #guarded} for a bf16 output: NaN bits (0x7fc0) around it. */
    static Tensor guarded16(String name, int n) {
        short[] all = new short[n + 2 * GUARD];
        Arrays.fill(all, (short) 0x7fc0);
        return Tensor.bf16(name + "_buffer", all.length).set(all).view(name, GUARD, n);
    }

    /**
     * Runs one kernel on the test OpenCL device; the outputs (the guarded views among args) come
     * back whole, guards included, and are checked: every guard still NaN, every element written.
     * Returns the outputs' elements in argument order.
     */
    static List<float[]> runGuarded(String at, KernelDef def, Object... args) {
        Set<Tensor> roots = new LinkedHashSet<>();
        List<Tensor> outs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i] instanceof Tensor t) {
                roots.add(t.root());
                if (def.params().get(i).writes()) outs.add(t);
            }
        }
        TaskGraph g = new TaskGraph("swatc").transferToDevice(DataTransferMode.EVERY_EXECUTION, roots.toArray(Tensor[]::new))
                .task("k", def, args)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, outs.stream().map(Tensor::root).toArray(Tensor[]::new));
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(TestDevices.opencl())) {
            plan.execute();
        }
        List<float[]> result = new ArrayList<>();
        for (Tensor t : outs) {
            float[] all = t.dtype() == org.hsajava.compute.DType.BF16 ? t.root().bf16ToF32Array() : t.root().f32();
            for (int i = 0; i < GUARD; i++) {
                assertTrue(Float.isNaN(all[i]), at + ": " + t.name() + " written before its start, guard " + i);
                assertTrue(Float.isNaN(all[all.length - 1 - i]), at + ": " + t.name() + " written past its end, guard " + i);
            }
            float[] mine = t.dtype() == org.hsajava.compute.DType.BF16 ? t.bf16ToF32Array() : t.toF32Array();
            for (int i = 0; i < mine.length; i++) assertTrue(Float.isFinite(mine[i]), at + ": " + t.name() + "[" + i + "] not written (or not finite): " + mine[i]);
            result.add(mine);
        }
        return result;
    }

    static Stream<Arguments> shapes() {
        // B, L, HQ, H, D, W, warps, block (forward), nt (backward), hold (dk/dv; null: default), small (also under oclgrind)
        return Stream.of(
                Arguments.of(1, 5, 2, 1, 16, 3, 1, 16, 1, null, true),       // L < 16: 11 padding rows in the warp, G = 2
                Arguments.of(2, 37, 4, 1, 32, 0, 4, 16, 2, null, true),      // W = 0: every row sees only itself; B = 2, G = 4
                Arguments.of(1, 1, 4, 4, 32, 4, 4, 16, 2, null, true),       // L = 1: one row, 3 of 4 warps idle
                Arguments.of(1, 100, 4, 4, 16, 1000, 1, 16, 1, null, false), // W >= L: full causal over many blocks; G = 1
                Arguments.of(2, 100, 8, 2, 32, 13, 4, 16, 2, null, false),   // W not a multiple of 8, G = 4, H = 2
                Arguments.of(1, 150, 8, 2, 32, 70, 4, 64, 2, null, false),   // the default shape at D = 32; blocks across warps' ranges
                Arguments.of(1, 70, 16, 1, 64, 29, 2, 24, 3, Boolean.FALSE, false),  // G = 16; dk/dv reloading its fragments
                Arguments.of(1, 40, 2, 1, 128, 20, 1, 32, 2, null, false));  // D = 128 (reloads by default)
    }

    @ParameterizedTest(name = "B={0} L={1} HQ={2} H={3} D={4} W={5} warps={6} block={7} nt={8} hold={9}")
    @MethodSource("shapes")
    void emulatedTensorCoreKernelsMatchJava(int b, int l, int hq, int h, int d, int w, int warps, int block, int nt, Boolean hold, boolean small) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Shape s = new Shape(b, l, hq, h, d, w);
        Tc tc = new Tc(warps, block, nt, hold);
        Case c = reference(s, 41L * l + 7L * w + d + hq);
        String at = s + " " + tc;
        Object[] dims = c.dims();

        List<float[]> fwd = runGuarded(at, SlidingWindowAttention.forwardTcEmulated(d, tc),
                SlidingWindowAttentionTest.cat(new Object[] {Tensor.of("q", c.q().clone()), Tensor.of("k", c.k().clone()), Tensor.of("v", c.v().clone()),
                        guarded("o", c.qSize()), guarded("lse", c.rowSize())}, dims));
        assertClose(at + ": o", c.o(), fwd.get(0), TOL);
        assertClose(at + ": lse", c.lse(), fwd.get(1), TOL);

        // the backward kernels from the oracle's lse and delta
        List<float[]> dq = runGuarded(at, SlidingWindowAttention.backwardDqTcEmulated(d, tc),
                SlidingWindowAttentionTest.cat(new Object[] {Tensor.of("q", c.q().clone()), Tensor.of("k", c.k().clone()), Tensor.of("v", c.v().clone()),
                        Tensor.of("d_o", c.dO().clone()), Tensor.of("lse", c.lse().clone()), Tensor.of("delta", c.delta().clone()), guarded("dq", c.qSize())}, dims));
        assertClose(at + ": dq", c.dq(), dq.get(0), TOL);

        List<float[]> dkdv = runGuarded(at, SlidingWindowAttention.backwardDkDvTcEmulated(d, tc),
                SlidingWindowAttentionTest.cat(new Object[] {Tensor.of("q", c.q().clone()), Tensor.of("k", c.k().clone()), Tensor.of("v", c.v().clone()),
                        Tensor.of("d_o", c.dO().clone()), Tensor.of("lse", c.lse().clone()), Tensor.of("delta", c.delta().clone()),
                        guarded("dk", c.kvSize()), guarded("dv", c.kvSize())}, dims));
        assertClose(at + ": dk", c.dk(), dkdv.get(0), TOL);
        assertClose(at + ": dv", c.dv(), dkdv.get(1), TOL);

        if (l >= 16) {
            // the emulation really runs TF32 arithmetic: not the fp32 bits
            assertFalse(Arrays.equals(c.o(), fwd.get(0)), at + ": o has the fp32 bits");
            assertFalse(Arrays.equals(c.dq(), dq.get(0)), at + ": dq has the fp32 bits");
            assertFalse(Arrays.equals(c.dk(), dkdv.get(0)), at + ": dk has the fp32 bits");
        }
    }

    @Test
    void theThreePassesShareOneProgram() {
        Tc tc = new Tc(4, 64, 2, null);
        KernelDef fwd = SlidingWindowAttention.forwardTcEmulated(32, tc), dq = SlidingWindowAttention.backwardDqTcEmulated(32, tc);
        KernelDef dkdv = SlidingWindowAttention.backwardDkDvTcEmulated(32, tc);
        assertEquals(fwd.defines(), dq.defines());
        assertEquals(fwd.defines(), dkdv.defines());
        assertEquals("1", fwd.defines().get("TC_EMULATE"));
        assertNotEquals(fwd.defines(), SlidingWindowAttention.forwardTcEmulated(32, new Tc(2, 64, 2, null)).defines());
    }

    @Test
    void portableKernelsOnTheTestDevice() {
        // the test device is PoCL (or oclgrind): no tensor cores, so the portable definitions launch there
        for (int d : new int[] {16, 32, 64, 128, 24}) {
            for (KernelDef def : new KernelDef[] {SlidingWindowAttention.forward(d), SlidingWindowAttention.backwardDq(d), SlidingWindowAttention.backwardDkDv(d)}) {
                assertSame(def, def.forDevice(TestDevices.opencl().info()), def.name() + " D=" + d);
                assertSame(def, def.forDevice(TestDevices.java().info()), def.name() + " D=" + d);
                assertNull(def.defines().get("SWA_TC"));
            }
        }
        assertTrue(SlidingWindowAttention.tcHeadDim(32));
        assertFalse(SlidingWindowAttention.tcHeadDim(24));
        assertThrows(IllegalArgumentException.class, () -> SlidingWindowAttention.forwardTcEmulated(24, new Tc(4, 64, 2, null)));
        assertThrows(IllegalArgumentException.class, () -> new Tc(4, 60, 2, null));
    }
}
