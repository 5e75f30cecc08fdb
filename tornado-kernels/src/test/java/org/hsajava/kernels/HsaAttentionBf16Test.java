package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.Arrays;
import java.util.stream.Stream;
import org.hsajava.compute.Bf16;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.HsaAttentionTest.Case;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link HsaAttentionBf16}: the bf16 packing of K and V, bit for bit on both backends, and the bf16
 * tensor-core forward with its PTX emulated on the test OpenCL device against the Java oracle (which
 * rounds the same operands: the two differ by summation order and, rarely, by one bf16 step of a
 * weighted probability) and, more loosely, against the fp32 forward of {@link HsaAttention}.
 */
class HsaAttentionBf16Test {

    /** OpenCL (emulated mma) against the Java oracle of the same rounding, relative to the largest |o|. */
    static final double SAME_ROUNDING_TOL = 1e-3;
    /** bf16 forward against the fp32 forward: a few units of bf16's roundoff 2^-9 of the largest |o|. */
    static final double BF16_TOL = 1.5e-2;

    record Packed(short[] kb, short[] vt) {}

    static Packed pack(Device dev, Case cs) {
        int n = cs.k().length;
        Tensor k = Tensor.of("k", cs.k().clone()), v = Tensor.of("v", cs.v().clone());
        Tensor kb = Tensor.bf16("kb", n), vt = Tensor.bf16("vt", n);
        TaskGraph g = new TaskGraph("pack").transferToDevice(DataTransferMode.EVERY_EXECUTION, k, v)
                .task("pack", HsaAttentionBf16.packKv(cs.D(), cs.S()), k, v, kb, vt, cs.B(), cs.C() * cs.S(), cs.H())
                .transferToHost(DataTransferMode.EVERY_EXECUTION, kb, vt);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
            plan.execute();
        }
        return new Packed(kb.bf16().clone(), vt.bf16().clone());
    }

    static HsaAttentionTcTest.Out forward(Device dev, Case cs, Packed p) {
        Tensor q = Tensor.of("q", cs.q().clone());
        Tensor kb = Tensor.bf16("kb", p.kb().length).set(p.kb().clone()), vt = Tensor.bf16("vt", p.vt().length).set(p.vt().clone());
        Tensor idx = Tensor.of("indices", cs.idx().clone()), w = Tensor.of("weights", cs.w().clone());
        float[] nanO = new float[cs.q().length], nanL = new float[cs.B() * cs.L() * cs.HQ() * cs.K()];
        Arrays.fill(nanO, Float.NaN);
        Arrays.fill(nanL, Float.NaN);
        Tensor o = Tensor.of("o", nanO), lse = Tensor.of("lse", nanL);
        TaskGraph g = new TaskGraph("hsa").transferToDevice(DataTransferMode.EVERY_EXECUTION, q, kb, vt, idx, w, o, lse)
                .task("fwd", HsaAttentionBf16.forward(cs.D(), cs.S(), cs.G()), q, kb, vt, idx, w, o, lse, cs.B(), cs.L(), cs.HQ(), cs.H(), cs.K(), cs.n(), cs.scale())
                .transferToHost(DataTransferMode.EVERY_EXECUTION, o, lse);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
            plan.execute();
        }
        return new HsaAttentionTcTest.Out(o.toF32Array(), lse.toF32Array());
    }

    static Stream<Arguments> shapes() {
        // B, L, HQ, H, D, S, K, n, small (also under oclgrind)
        return Stream.of(
                Arguments.of(1, 5, 1, 1, 16, 16, 2, 0, true),       // L < S: no chunks, every output 0
                Arguments.of(3, 53, 2, 2, 16, 16, 2, 1, true),      // G = 1: 15 of the 16 rows of the tile are padding; L not a multiple of S
                Arguments.of(1, 67, 16, 1, 16, 16, 3, 0, true),     // G = 16: one whole tile
                Arguments.of(2, 101, 20, 1, 32, 16, 8, 1, false),   // G = 20: two tiles, the second 4 rows; K above the eligible count
                Arguments.of(1, 130, 12, 2, 64, 32, 4, 0, false),   // G = 6, H = 2
                Arguments.of(1, 200, 16, 1, 64, 64, 2, 0, false),   // DESIGN.md's D = S = 64
                Arguments.of(1, 150, 4, 1, 128, 32, 2, 1, false),   // D = 128
                Arguments.of(1, 300, 2, 1, 16, 128, 2, 0, false));  // S = 128
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void packingIsExactOnBothBackends(int B, int L, int HQ, int H, int D, int S, int K, int n, boolean small) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Case cs = Case.random(3L * L + D, B, L, HQ, H, D, S, K, n);
        Packed java = pack(TestDevices.java(), cs), cl = pack(TestDevices.opencl(), cs);
        assertArrayEquals(java.kb(), cl.kb(), "kb");
        assertArrayEquals(java.vt(), cl.vt(), "vt");
        // the layouts: kb element i is k[i] rounded; vt[b, h, c, d, j] is v[b, c*S + j, h, d] rounded
        int C = L / S;
        for (int i = 0; i < cs.k().length; i++) assertEquals(Bf16.fromFloat(cs.k()[i]), java.kb()[i]);
        for (int b = 0; b < B; b++) for (int h = 0; h < H; h++) for (int c = 0; c < C; c++) for (int d = 0; d < D; d++) for (int j = 0; j < S; j++) {
            assertEquals(Bf16.fromFloat(cs.v()[((b * C * S + c * S + j) * H + h) * D + d]), java.vt()[(((b * H + h) * C + c) * D + d) * S + j]);
        }
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void emulatedBf16ForwardMatchesJavaAndFp32(int B, int L, int HQ, int H, int D, int S, int K, int n, boolean small) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Case cs = Case.random(11L * L + HQ + D, B, L, HQ, H, D, S, K, n);
        String at = String.format("B=%d L=%d HQ=%d H=%d D=%d S=%d K=%d n=%d", B, L, HQ, H, D, S, K, n);
        Packed p = pack(TestDevices.java(), cs);
        HsaAttentionTcTest.Out java = forward(TestDevices.java(), cs, p);
        HsaAttentionTcTest.Out cl = forward(TestDevices.opencl(), cs, p);
        assertClose(at + ": o", java.o(), cl.o(), SAME_ROUNDING_TOL);
        assertClose(at + ": lse", java.lse(), cl.lse(), 1e-5);
        for (int b = 0; b < B; b++) {
            for (int i = 0; i < Math.min(L, S) * HQ * D; i++) assertEquals(0f, cl.o()[b * L * HQ * D + i], at + ": o of a token with no valid slot");
        }
        for (float x : cl.o()) assertTrue(Float.isFinite(x), at + ": non-finite (or unwritten) o");
        for (float x : cl.lse()) assertTrue(Float.isFinite(x), at + ": non-finite (or unwritten) lse");
        // and what it approximates: the fp32 forward
        HsaAttentionTcTest.Out fp32 = HsaAttentionTcTest.run(TestDevices.java(), HsaAttention.forward(D, S, HQ / H), false, cs, 0, 0);
        assertClose(at + ": o against fp32", fp32.o(), cl.o(), BF16_TOL);
        assertClose(at + ": lse against fp32", fp32.lse(), cl.lse(), BF16_TOL);
        if (L >= 2 * S) assertTrue(!Arrays.equals(fp32.o(), java.o()), at + ": the bf16 oracle gave the fp32 bits");
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals((short) 0x3f80, Bf16.fromFloat(1f));
        assertEquals((short) 0x3f80, Bf16.fromFloat(Float.intBitsToFloat(0x3f808000)));   // tie, even below
        assertEquals((short) 0x3f82, Bf16.fromFloat(Float.intBitsToFloat(0x3f818000)));   // tie, even above
        assertEquals((short) 0x3f81, Bf16.fromFloat(Float.intBitsToFloat(0x3f808001)));
        assertEquals((short) 0x7f80, Bf16.fromFloat(Float.MAX_VALUE));                    // overflows to infinity
        assertTrue(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(Float.intBitsToFloat(0x7f800001)))), "a NaN with only low mantissa bits stays NaN");
        assertEquals(-2.5f, Bf16.round(-2.5f));
    }

    @Test
    void rejectsMismatchedShapes() {
        Tensor q = Tensor.f32("q", 16), kb = Tensor.bf16("kb", 16), vt = Tensor.bf16("vt", 16);
        Tensor idx = Tensor.i32("indices", 2), w = Tensor.f32("weights", 2), o = Tensor.f32("o", 16), lse = Tensor.f32("lse", 2);
        TaskGraph g = new TaskGraph("bad");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> g.task("fwd", HsaAttentionBf16.forward(16, 16, 1), q, kb, vt, idx, w, o, lse, 1, 1, 1, 1, 2, 0, 0.25f));
        assertTrue(e.getMessage().contains("kb"), e.getMessage());
    }
}
