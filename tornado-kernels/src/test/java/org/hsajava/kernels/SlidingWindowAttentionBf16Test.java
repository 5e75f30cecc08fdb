package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.hsajava.kernels.SlidingWindowAttentionTcTest.guarded;
import static org.hsajava.kernels.SlidingWindowAttentionTcTest.guarded16;
import static org.hsajava.kernels.SlidingWindowAttentionTcTest.runGuarded;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.List;
import java.util.stream.Stream;
import org.hsajava.compute.DType;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.SlidingWindowAttention.Shape;
import org.hsajava.kernels.SlidingWindowAttention.Tc;
import org.hsajava.kernels.SlidingWindowAttentionTcTest.Case;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The bf16 kernels of {@code swa_tc.h} ({@code -DSWA_BF16=1}: q, k, v, dO stored as bf16, products on
 * {@code mma.sync.m16n8k16}) with their PTX emulated, on the test OpenCL device, against the fp32
 * Java oracle run on the same bf16-rounded inputs: the fragment bookkeeping of attn_tc_bf16.h (which
 * lane holds which dims, rows and pairs), the masks at every edge and the online softmax, as
 * {@link SlidingWindowAttentionTcTest} does for TF32. The kernels also round P and dS to bf16 before
 * their products and the oracle does not, so the tolerance is 1e-2 of the largest |output| (measured: at most 2.1e-3; bf16's
 * unit roundoff is 2^-9 ≈ 2e-3; a wrong mapping of rows or dims gives errors of order 1). Outputs are
 * guarded views as there: every element written, nothing outside.
 */
class SlidingWindowAttentionBf16Test {

    static final double TOL = 1e-2;

    static Stream<Arguments> shapes() {
        // B, L, HQ, H, D, W, warps, block (forward), nt (backward), hold (dk/dv; null: default), small (also under oclgrind)
        return Stream.of(
                Arguments.of(1, 5, 2, 1, 16, 3, 1, 16, 2, null, true),       // L < 16: 11 padding rows in the warp, G = 2
                Arguments.of(2, 37, 4, 1, 32, 0, 4, 16, 2, null, true),      // W = 0: every row sees only itself; B = 2, G = 4
                Arguments.of(1, 1, 4, 4, 32, 4, 4, 16, 2, null, true),       // L = 1: one row, 3 of 4 warps idle
                Arguments.of(1, 100, 4, 4, 16, 1000, 1, 32, 2, null, false), // W >= L: full causal over many blocks; G = 1
                Arguments.of(2, 100, 8, 2, 32, 13, 4, 16, 4, null, false),   // W not a multiple of 8, G = 4, H = 2, nt 4
                Arguments.of(1, 150, 8, 2, 32, 70, 4, 64, 2, null, false),   // the default shape at D = 32
                Arguments.of(1, 70, 16, 1, 64, 29, 2, 32, 2, Boolean.FALSE, false),  // G = 16; dk/dv reloading its fragments
                Arguments.of(1, 40, 2, 1, 128, 20, 1, 32, 2, null, false));  // D = 128
    }

    /** A bf16 tensor holding the (already bf16-exact) values x. */
    static Tensor bf16(String name, float[] x) { return Tensor.ofBf16(name, x); }

    @ParameterizedTest(name = "B={0} L={1} HQ={2} H={3} D={4} W={5} warps={6} block={7} nt={8} hold={9}")
    @MethodSource("shapes")
    void emulatedBf16KernelsMatchJava(int b, int l, int hq, int h, int d, int w, int warps, int block, int nt, Boolean hold, boolean small) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Shape s = new Shape(b, l, hq, h, d, w);
        Tc tc = new Tc(warps, block, nt, hold);
        Case c = SlidingWindowAttentionTcTest.reference(s, 43L * l + 5L * w + d + hq, true);
        String at = s + " " + tc + " bf16";
        Object[] dims = c.dims();

        List<float[]> fwd = runGuarded(at, SlidingWindowAttention.forwardBf16(d, tc),
                SlidingWindowAttentionTest.cat(new Object[] {bf16("q", c.q()), bf16("k", c.k()), bf16("v", c.v()),
                        guarded16("o", c.qSize()), guarded("lse", c.rowSize())}, dims));
        assertClose(at + ": o", c.o(), fwd.get(0), TOL);
        assertClose(at + ": lse", c.lse(), fwd.get(1), TOL);

        // delta = rowsum(dO ∘ o) from the bf16 o just computed and a bf16 dO, against its Java twin on the same inputs
        Object[] deltaArgs = {bf16("o", fwd.get(0)), bf16("d_o", c.dO()), null, c.rowSize()};
        float[][] deltas = new float[2][];
        org.hsajava.compute.Device[] devices = {TestDevices.java(), TestDevices.opencl()};
        for (int i = 0; i < 2; i++) {
            Tensor delta = Tensor.f32("delta", c.rowSize());
            deltaArgs[2] = delta;
            org.hsajava.compute.KernelRunner.run(devices[i], SlidingWindowAttention.backwardDeltaBf16(d), deltaArgs);
            deltas[i] = delta.toF32Array();
        }
        assertClose(at + ": delta", deltas[0], deltas[1], 1e-5);

        List<float[]> dq = runGuarded(at, SlidingWindowAttention.backwardDqBf16(d, tc),
                SlidingWindowAttentionTest.cat(new Object[] {bf16("q", c.q()), bf16("k", c.k()), bf16("v", c.v()), bf16("d_o", c.dO()),
                        Tensor.of("lse", c.lse().clone()), Tensor.of("delta", c.delta().clone()), guarded("dq", c.qSize())}, dims));
        assertClose(at + ": dq", c.dq(), dq.get(0), TOL);

        List<float[]> dkdv = runGuarded(at, SlidingWindowAttention.backwardDkDvBf16(d, tc),
                SlidingWindowAttentionTest.cat(new Object[] {bf16("q", c.q()), bf16("k", c.k()), bf16("v", c.v()), bf16("d_o", c.dO()),
                        Tensor.of("lse", c.lse().clone()), Tensor.of("delta", c.delta().clone()),
                        guarded("dk", c.kvSize()), guarded("dv", c.kvSize())}, dims));
        assertClose(at + ": dk", c.dk(), dkdv.get(0), TOL);
        assertClose(at + ": dv", c.dv(), dkdv.get(1), TOL);
    }

    @Test
    void definitionsTakeBf16InputsAndSwitchToTensorCoresOnlyWhereEnabled() {
        KernelDef fwd = SlidingWindowAttention.forwardBf16(32);
        assertEquals(DType.BF16, fwd.params().get(0).dtype());
        assertEquals(DType.BF16, fwd.params().get(3).dtype(), "o");
        assertEquals(DType.F32, fwd.params().get(4).dtype(), "lse");
        assertEquals("1", fwd.defines().get("SWA_BF16"));
        assertEquals("1", fwd.defines().get("TC_EMULATE"));
        assertSame(fwd, fwd.forDevice(TestDevices.opencl().info()), "no tensor cores on the test device: the emulation runs");
        assertNotSame(SlidingWindowAttention.forward(32), fwd);
        assertEquals(SlidingWindowAttention.backwardDqBf16(32).defines(), fwd.defines(), "one program for the four kernels");
        assertEquals(SlidingWindowAttention.backwardDeltaBf16(32).defines(), fwd.defines(), "one program for the four kernels");
        assertThrows(IllegalArgumentException.class, () -> SlidingWindowAttention.forwardBf16(32, new Tc(4, 24, 2, null)), "blocks of 16 keys");
        assertThrows(IllegalArgumentException.class, () -> SlidingWindowAttention.backwardDqBf16(32, new Tc(4, 64, 3, null)), "an even nt");
    }
}
