package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.stream.Stream;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.HsaAttentionTcTest.Grads;
import org.hsajava.kernels.HsaAttentionTcTest.KvGrads;
import org.hsajava.kernels.HsaAttentionTcTest.Out;
import org.hsajava.kernels.HsaAttentionTest.Case;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fp32 kernels' cp.async variant ({@code -DHSA_ASYNC=1}: the forward and backward dq keep two K/V
 * tile buffers and copy the next tile of their stream while the current one is used; the backward dk/dv
 * does the same with the query and output-gradient rows of its CSR steps) with synchronous copies
 * ({@link HsaAttention#forwardAsyncEmulated}, {@link HsaAttention#backwardQAsyncEmulated},
 * {@link HsaAttention#backwardKvAsyncEmulated}, the latter with two buffer sets and with one), on the test
 * OpenCL device: it must give the portable kernels' bits exactly (same arithmetic, only the staging
 * differs, even where the two buffers make its tiles smaller) and match the Java oracle. This checks
 * the tile stream's bookkeeping (which slot, K or V, which rows, which buffer) on any machine.
 */
class HsaAttentionAsyncTest {

    /** Each shape with the copies made at once and held until their wait (see hsa_attn.cl). */
    static Stream<Arguments> shapes() {
        return baseShapes().flatMap(a -> Stream.of(false, true).map(deferred -> {
            Object[] x = java.util.Arrays.copyOf(a.get(), a.get().length + 1);
            x[x.length - 1] = deferred;
            return Arguments.of(x);
        }));
    }

    static Stream<Arguments> baseShapes() {
        // B, L, HQ, H, D, S, K, n, small (also under oclgrind)
        return Stream.of(
                Arguments.of(1, 5, 1, 1, 16, 16, 2, 0, true),        // L < S: no chunks, every output 0
                Arguments.of(3, 53, 2, 2, 16, 16, 2, 1, true),       // G = 1, H = 2, off-by-one softmax
                Arguments.of(1, 67, 16, 1, 16, 16, 3, 0, true),      // G = 16; K larger than some tokens' eligible count
                Arguments.of(2, 101, 20, 1, 32, 16, 8, 1, false),    // G = 20
                Arguments.of(1, 150, 4, 1, 128, 32, 2, 1, false),    // D = 128
                Arguments.of(1, 200, 16, 1, 64, 64, 3, 0, false),    // the bench's heads and tiles (bwd_q: two tiles per chunk)
                Arguments.of(1, 300, 16, 1, 128, 128, 3, 0, false)); // 16-row tiles: 8 K and 8 V tiles per slot
    }

    private static String label(int B, int L, int HQ, int H, int D, int S, int K, int n, boolean deferred) {
        return String.format("B=%d L=%d HQ=%d H=%d D=%d S=%d K=%d n=%d deferred=%b", B, L, HQ, H, D, S, K, n, deferred);
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void asyncForwardGivesThePortableBitsAndMatchesJava(int B, int L, int HQ, int H, int D, int S, int K, int n, boolean small, boolean deferred) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Case cs = Case.random(13L * L + HQ + D, B, L, HQ, H, D, S, K, n);
        int G = HQ / H;
        String at = label(B, L, HQ, H, D, S, K, n, deferred);
        KernelDef async = HsaAttention.forwardAsyncEmulated(D, S, G, deferred);
        assertEquals("1", async.defines().get("HSA_ASYNC"));
        Out java = HsaAttentionTcTest.run(TestDevices.java(), HsaAttention.forward(D, S, G), false, cs, 0, 0);
        Out portable = HsaAttentionTcTest.run(TestDevices.opencl(), HsaAttention.forward(D, S, G), false, cs, 0, 0);
        Out staged = HsaAttentionTcTest.run(TestDevices.opencl(), async, false, cs, 0, 0);
        assertArrayEquals(portable.o(), staged.o(), at + ": o");
        assertArrayEquals(portable.lse(), staged.lse(), at + ": lse");
        assertClose(at + ": o vs Java", java.o(), staged.o(), 1e-5);
        assertClose(at + ": lse vs Java", java.lse(), staged.lse(), 1e-5);
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void asyncForwardAtGivesThePortableBits(int B, int L, int HQ, int H, int D, int S, int K, int n, boolean small, boolean deferred) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        // the window form over the same data: rows from t0 = S + 3 on, memory of all chunks of the sequence
        int t0 = Math.min(S + 3, L - 1), rows = L - t0, C = L / S;
        Case full = Case.random(17L * L + HQ + D, B, L, HQ, H, D, S, K, n);
        float[] q = HsaAttentionAtTest.rows(full.q(), B, L, HQ * D, t0, rows);
        float[] w = HsaAttentionAtTest.rows(full.w(), B, L, H * K, t0, rows);
        int[] idx = HsaAttentionAtTest.rows(full.idx(), B, L, H * K, t0, rows);
        Case cs = new Case(B, rows, HQ, H, D, S, K, n, q, full.k(), full.v(), idx, w, null);
        int G = HQ / H;
        String at = String.format("B=%d rows=%d t0=%d HQ=%d H=%d D=%d S=%d K=%d n=%d deferred=%b", B, rows, t0, HQ, H, D, S, K, n, deferred);
        Out java = HsaAttentionTcTest.run(TestDevices.java(), HsaAttention.forwardAt(D, S, G), true, cs, t0, C);
        Out portable = HsaAttentionTcTest.run(TestDevices.opencl(), HsaAttention.forwardAt(D, S, G), true, cs, t0, C);
        Out staged = HsaAttentionTcTest.run(TestDevices.opencl(), HsaAttention.forwardAtAsyncEmulated(D, S, G, deferred), true, cs, t0, C);
        assertArrayEquals(portable.o(), staged.o(), at + ": o");
        assertArrayEquals(portable.lse(), staged.lse(), at + ": lse");
        assertClose(at + ": o vs Java", java.o(), staged.o(), 1e-5);
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void asyncBackwardQGivesThePortableBitsAndMatchesJava(int B, int L, int HQ, int H, int D, int S, int K, int n, boolean small, boolean deferred) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Case cs = Case.random(19L * L + HQ + D, B, L, HQ, H, D, S, K, n);
        int G = HQ / H;
        String at = label(B, L, HQ, H, D, S, K, n, deferred);
        float[] lse = HsaAttentionTcTest.run(TestDevices.java(), HsaAttention.forward(D, S, G), false, cs, 0, 0).lse();
        Grads java = HsaAttentionTcTest.runBackwardQ(TestDevices.java(), HsaAttention.backwardQ(D, S, G), cs, lse);
        Grads portable = HsaAttentionTcTest.runBackwardQ(TestDevices.opencl(), HsaAttention.backwardQ(D, S, G), cs, lse);
        KernelDef async = HsaAttention.backwardQAsyncEmulated(D, S, G, deferred);
        Grads staged = HsaAttentionTcTest.runBackwardQ(TestDevices.opencl(), async, cs, lse);
        boolean wholeChunks = String.valueOf(S).equals(async.defines().get("HSA_T"));
        if (!wholeChunks) {
            // several tiles per chunk: the portable kernel's arithmetic, only the staging differs
            // (with whole chunks dp stays in registers and delta is summed in another order)
            assertArrayEquals(portable.dq(), staged.dq(), at + ": dq");
            assertArrayEquals(portable.dw(), staged.dw(), at + ": dweights");
            assertArrayEquals(portable.delta(), staged.delta(), at + ": delta");
        }
        assertClose(at + ": dq vs portable", portable.dq(), staged.dq(), 1e-6);
        assertClose(at + ": delta vs Java", java.delta(), staged.delta(), 1e-5);
        assertClose(at + ": dq vs Java", java.dq(), staged.dq(), 1e-5);
        assertClose(at + ": dweights vs Java", java.dw(), staged.dw(), 1e-5);
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void asyncBackwardKvGivesThePortableBitsAndMatchesJava(int B, int L, int HQ, int H, int D, int S, int K, int n, boolean small, boolean deferred) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Case cs = Case.random(23L * L + HQ + D, B, L, HQ, H, D, S, K, n);
        int G = HQ / H;
        String at = label(B, L, HQ, H, D, S, K, n, deferred);
        float[] lse = HsaAttentionTcTest.run(TestDevices.java(), HsaAttention.forward(D, S, G), false, cs, 0, 0).lse();
        float[] delta = HsaAttentionTcTest.runBackwardQ(TestDevices.java(), HsaAttention.backwardQ(D, S, G), cs, lse).delta();
        KvGrads java = HsaAttentionTcTest.runBackwardKv(TestDevices.java(), HsaAttention.backwardKv(D, S, G), cs, lse, delta);
        KvGrads portable = HsaAttentionTcTest.runBackwardKv(TestDevices.opencl(),
                HsaAttention.backwardKvPortable(D, S, G, HsaAttention.LOCAL_FLOATS), cs, lse, delta);
        // both stagings: two buffer sets, and one set with the query and output-gradient rows copied apart
        for (boolean oneSet : new boolean[] {false, true}) {
            String form = at + (oneSet ? " one set" : " two sets");
            KernelDef async = HsaAttention.backwardKvAsyncEmulated(D, S, G, deferred, oneSet);
            assertEquals("1", async.defines().get("HSA_ASYNC"));
            assertEquals(oneSet ? "1" : null, async.defines().get("HSA_KV_ONESET"));
            KvGrads staged = HsaAttentionTcTest.runBackwardKv(TestDevices.opencl(), async, cs, lse, delta);
            assertArrayEquals(portable.dk(), staged.dk(), form + ": dk");
            assertArrayEquals(portable.dv(), staged.dv(), form + ": dv");
            assertClose(form + ": dk vs Java", java.dk(), staged.dk(), 1e-5);
            assertClose(form + ": dv vs Java", java.dv(), staged.dv(), 1e-5);
        }
    }

    @org.junit.jupiter.api.Test
    void asyncTilesAtTheBenchShapeAreTheMeasuredOnes() {
        // D = S = 64, G = 16 (BENCHMARKS.md): whole-chunk K/V buffers in the forward and in bwd_q
        // (bwd_q's dp in registers, 48 KiB), one CSR entry per bwd_kv step with 32-row blocks
        KernelDef fwd = HsaAttention.forwardAsyncEmulated(64, 64, 16, false), bwdq = HsaAttention.backwardQAsyncEmulated(64, 64, 16, false);
        KernelDef bwdkv = HsaAttention.backwardKvAsyncEmulated(64, 64, 16, false, false);
        assertEquals("64", fwd.defines().get("HSA_T"));
        assertEquals("64", bwdq.defines().get("HSA_T"));
        assertEquals("32", bwdkv.defines().get("HSA_BR"));
        assertEquals("1", bwdkv.defines().get("HSA_E"));
        // with one buffer set (hsa.attn.kvOneSet) two entries per step fit in the same 44 KiB
        KernelDef oneSet = HsaAttention.backwardKvAsyncEmulated(64, 64, 16, false, true);
        assertEquals("32", oneSet.defines().get("HSA_BR"));
        assertEquals("2", oneSet.defines().get("HSA_E"));
        // cp.async is the default where it can run (hsa.attn.async unset, as in this test JVM) ...
        if (System.getProperty("hsa.attn.async") == null) assertTrue(HsaAttention.async(HsaAttention.Kind.FWD));
        // ... but the async variants are never what the test device (no NVIDIA GPU) launches
        assertEquals(null, HsaAttention.forward(64, 64, 16).forDevice(TestDevices.opencl().info()).defines().get("HSA_ASYNC"));
        assertEquals(null, HsaAttention.backwardQ(64, 64, 16).forDevice(TestDevices.opencl().info()).defines().get("HSA_ASYNC"));
        assertEquals(null, HsaAttention.backwardKv(64, 64, 16).forDevice(TestDevices.opencl().info()).defines().get("HSA_ASYNC"));
    }

    @org.junit.jupiter.api.Test
    void asyncNeedsWholeWarps() {
        // bwd_q's row sums are warp shuffles: a tuning run's group size that is not a multiple of 32
        // keeps the plain copies instead of failing to compile
        String key = "hsa.attn.wg.BWD_Q", before = System.getProperty(key);
        try {
            System.setProperty(key, "48");
            assertFalse(HsaAttention.async(HsaAttention.Kind.BWD_Q));
            System.setProperty(key, "64");
            if (System.getProperty("hsa.attn.async") == null) assertTrue(HsaAttention.async(HsaAttention.Kind.BWD_Q));
        } finally {
            if (before == null) System.clearProperty(key);
            else System.setProperty(key, before);
        }
    }
}
